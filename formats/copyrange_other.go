//go:build !linux

package formats

import "os"

// copyRange reports that in-kernel copies are not available: the caller
// reads and writes instead.
func copyRange(dst, src *os.File, dstOff, srcOff, n int64) (int64, bool, error) {
	return 0, false, nil
}
