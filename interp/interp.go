// Package interp implements the interpolating merge methods: linear,
// SLERP, NuSLERP, multislerp, Karcher mean, model stock, nearswap and
// passthrough, with mergekit's names, parameters and semantics.
//
// Every method streams: element-wise methods work chunk by chunk, and the
// methods that need whole-tensor (or whole-row) statistics — norms and dot
// products — get them from one chunked pass that accumulates Gram matrices
// in float64 in a fixed order, then write the result chunk by chunk in a
// second pass. The spherical methods (SLERP, NuSLERP, multislerp, Karcher)
// all produce, per vector, a linear combination of their inputs, so the
// Gram matrix is all they need: their iterations run on N×N matrices, never
// on a copy of a tensor.
package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec {
	return []*merge.MethodSpec{
		linearSpec(),
		slerpSpec(),
		nuslerpSpec(),
		multislerpSpec(),
		karcherSpec(),
		modelStockSpec(),
		nearswapSpec(),
		passthroughSpec(),
	}
}

// weightParam is the per-model weight parameter.
func weightParam(help string) merge.ParamSpec {
	return merge.ParamSpec{Name: "weight", Kind: merge.Float, Required: true, PerModel: true, Help: help}
}

// modelWeights returns the per-model "weight" of every input of t.
func modelWeights(t *merge.Task) ([]float64, error) {
	w := make([]float64, len(t.Inputs))
	for k := range t.Inputs {
		var p merge.Params
		if k < len(t.Model) {
			p = t.Model[k]
		}
		if !p.Has("weight") {
			return nil, fmt.Errorf("tensor %q: model %d has no weight", t.Name, k)
		}
		w[k] = p.Float("weight", 0)
		if math.IsNaN(w[k]) || math.IsInf(w[k], 0) {
			return nil, fmt.Errorf("tensor %q: model %d: weight %v is not a finite number", t.Name, k, w[k])
		}
	}
	return w, nil
}

// finite reports whether v is a finite number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// copyInput writes src unchanged to t.Out, chunk by chunk.
func copyInput(ctx context.Context, t *merge.Task, src merge.Source) error {
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		buf := merge.GetFloats(c.Len())
		defer merge.PutFloats(buf)
		if err := src.Read(buf, c.Lo); err != nil {
			return err
		}
		return t.Out.Write(buf, c.Lo)
	})
}
