//go:build !unix

package widen

import "github.com/gomerge/gomerge/merge"

// mapTensor returns nil: inputs are read with ReadRaw.
func mapTensor(src merge.RawReader) (elems []uint16, mapping []byte) { return nil, nil }

// unmapTensor does nothing (mapTensor never maps).
func unmapTensor(m []byte) {}

// dropPages does nothing (mapTensor never maps).
func dropPages(m []byte, elems []uint16, lo, hi int64) {}
