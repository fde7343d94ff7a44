package cmd

import (
	"github.com/gomerge/gomerge/fusion"
	"github.com/gomerge/gomerge/interp"
	"github.com/gomerge/gomerge/layerswap"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/pcb"
	"github.com/gomerge/gomerge/tasks"
	"github.com/gomerge/gomerge/widen"
)

// methodRegistry lists every merge method gomerge knows.
func methodRegistry() *merge.Registry {
	r := merge.NewRegistry()
	for _, group := range [][]*merge.MethodSpec{tasks.Methods(), interp.Methods(), fusion.Methods(), widen.Methods(), pcb.Methods(), layerswap.Methods()} {
		for _, s := range group {
			r.Add(s)
		}
	}
	return r
}
