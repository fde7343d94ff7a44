// Package widen implements WIDEN merging (weight disentanglement, Yu et al. 2024).
package widen

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return nil }
