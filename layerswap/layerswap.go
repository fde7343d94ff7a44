// Package layerswap implements layer swapping (Bandarkar et al. 2025) and the per-layer change analysis that guides it.
package layerswap

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return nil }
