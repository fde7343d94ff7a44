//go:build !linux

package formats

import "os"

// preallocate sets f's size to size (a sparse file: this platform has no
// fallocate support here).
func preallocate(f *os.File, size int64) error { return f.Truncate(size) }
