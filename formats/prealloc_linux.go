package formats

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate sets f's size to size and reserves its blocks (fallocate).
// Writing into reserved blocks is several times faster than into a sparse
// file on ext4 and xfs, where every first write to a block allocates it
// (2 GiB: 0.6–0.9 s instead of 2.9–3.3 s on the development VM), and a
// disk too small for the output fails here, before any work is done.
// File systems without fallocate get a sparse file (ftruncate).
func preallocate(f *os.File, size int64) error {
	if size <= 0 {
		return f.Truncate(size)
	}
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOSPC), errors.Is(err, unix.EDQUOT):
		return err
	}
	return f.Truncate(size)
}
