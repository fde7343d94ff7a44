// Package tasks implements task vectors and the task-arithmetic family of merge methods (mergekit semantics).
package tasks

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return nil }
