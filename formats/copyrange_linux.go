//go:build linux

package formats

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// copyRange copies n bytes from src at srcOff to dst at dstOff inside the
// kernel (copy_file_range), without passing them through user memory. It
// returns the number of bytes copied; ok is false when the kernel or file
// system cannot do it and the caller should fall back to read and write.
func copyRange(dst, src *os.File, dstOff, srcOff, n int64) (copied int64, ok bool, err error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	wc, err := dst.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var opErr error
	ctlErr := rc.Control(func(rfd uintptr) {
		cerr := wc.Control(func(wfd uintptr) {
			for copied < n {
				k, e := unix.CopyFileRange(int(rfd), &srcOff, int(wfd), &dstOff, int(min(n-copied, 1<<30)), 0)
				if e == unix.EINTR {
					continue
				}
				if e != nil {
					opErr = e
					return
				}
				if k == 0 {
					return // end of the source file
				}
				copied += int64(k)
			}
		})
		if cerr != nil {
			opErr = cerr
		}
	})
	if ctlErr != nil {
		return 0, false, nil
	}
	if opErr != nil {
		if copied == 0 && (errors.Is(opErr, unix.ENOSYS) || errors.Is(opErr, unix.EXDEV) ||
			errors.Is(opErr, unix.EINVAL) || errors.Is(opErr, unix.EOPNOTSUPP) || errors.Is(opErr, unix.EPERM)) {
			return 0, false, nil
		}
		return copied, true, opErr
	}
	return copied, true, nil
}
