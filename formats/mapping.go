package formats

import "errors"

// Mapping is a read-only memory mapping of one tensor's stored bytes
// (Tensor.Map).
type Mapping struct {
	// Data holds the tensor's Size bytes.
	Data []byte

	region []byte // the whole mapped region (page-aligned start)
}

// ErrMapUnsupported is returned by Tensor.Map where memory mapping is not
// available (the platform, or a file that is not a regular file); callers
// read with ReadAt instead.
var ErrMapUnsupported = errors.New("memory mapping not supported")
