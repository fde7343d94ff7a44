//go:build !unix

package widen

// mapCache returns nil: the cache is allocated on the Go heap instead.
func mapCache(n int) []byte { return nil }

// unmapCache does nothing (mapCache never maps).
func unmapCache(b []byte) {}
