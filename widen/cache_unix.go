//go:build unix

package widen

import "golang.org/x/sys/unix"

// mapCache returns n bytes of anonymous memory outside the Go heap (so the
// cache does not raise the garbage collector's heap target, which would
// let garbage grow by as much again), or nil if the mapping fails. Huge
// pages are requested: fewer page faults on first touch.
func mapCache(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil
	}
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice only
	return b
}

// unmapCache releases memory from mapCache.
func unmapCache(b []byte) { _ = unix.Munmap(b) }
