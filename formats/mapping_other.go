//go:build !unix

package formats

import "fmt"

// Map reports ErrMapUnsupported: this platform reads tensors with ReadAt.
func (t *Tensor) Map() (*Mapping, error) {
	return nil, fmt.Errorf("%s: tensor %q: %w", t.File, t.Name, ErrMapUnsupported)
}

// Close does nothing (no mapping is ever made here).
func (m *Mapping) Close() error { return nil }

// Drop does nothing (no mapping is ever made here).
func (m *Mapping) Drop(off, n int64) {}
