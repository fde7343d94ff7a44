// Package pcb implements PCB merging (parameter competition balancing, Du et al. 2024).
package pcb

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return nil }
