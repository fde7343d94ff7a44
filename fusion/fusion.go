// Package fusion implements arcee_fusion (importance-gated task-vector fusion).
package fusion

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return nil }
