package interp

import (
	"context"
	"fmt"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

func passthroughSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "passthrough",
		Summary: "Copy one model's tensors, optionally scaled (layer stacking, frankenmerges)",
		Long: `passthrough copies the tensors of exactly one model, multiplied by --scale
when it is given. On its own it converts or rescales a model; in recipes
with slices it stacks layers of several models into a new one (a
"frankenmerge"), and a per-tensor scale (with filters, e.g. 0 for o_proj)
lets stacked layers start as near-identity.

Example:
  gomerge passthrough model.safetensors --scale 0.5 -o out/

Differences from mergekit: none.`,
		Base:      merge.BaseNone,
		MinModels: 1,
		MaxModels: 1,
		Params: []merge.ParamSpec{
			{Name: "scale", Kind: merge.Float, PerModel: true, Help: "multiply the tensor by this factor (default: copy unchanged)"},
		},
		New: func(merge.Params) (merge.Method, error) { return passthroughMethod{}, nil },
	}
}

// passthroughMethod copies its one input, optionally scaled.
type passthroughMethod struct{}

// Merge implements merge.Method.
func (passthroughMethod) Merge(ctx context.Context, t *merge.Task) error {
	src, p := merge.Source(nil), merge.Params(nil)
	switch {
	case len(t.Inputs) == 1 && t.Base == nil:
		src = t.Inputs[0]
		if len(t.Model) > 0 {
			p = t.Model[0]
		}
	case len(t.Inputs) == 0 && t.Base != nil:
		src = t.Base
	default:
		n := len(t.Inputs)
		if t.Base != nil {
			n++
		}
		return fmt.Errorf("tensor %q: passthrough takes exactly one input tensor, got %d", t.Name, n)
	}
	if !p.Has("scale") {
		return copyInput(ctx, t, src)
	}
	scale := p.Float("scale", 1)
	if !finite(scale) {
		return fmt.Errorf("tensor %q: scale %v is not a finite number", t.Name, scale)
	}
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		buf := merge.GetFloats(c.Len())
		defer merge.PutFloats(buf)
		if err := src.Read(buf, c.Lo); err != nil {
			return err
		}
		simd.Scale(buf, float32(scale))
		return t.Out.Write(buf, c.Lo)
	})
}
