package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

func nearswapSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "nearswap",
		Summary: "Take the other model's value where it is close to the base, interpolate elsewhere",
		Long: `nearswap blends each element by how close the two models are:
  w = clamp(t / max(|base − x|, 1e-6), 0, 1),   result = w·x + (1 − w)·base,
so elements that differ by at most t take the other model's value and
elements that differ a lot stay near the base. t = 0 returns the base.

Reference: alchemonaut's QuartetAnemoi-70B-t0.0001 merge, as implemented in
mergekit's nearswap.

Example:
  gomerge nearswap base.safetensors other.safetensors --t 0.0001 -o out/

Differences from mergekit: none (this is the formula of mergekit's current
nearswap; its older implementation divided by |base − x| without the 1e-6
floor and rejected t ≤ 0).`,
		Base:      merge.BaseRequired,
		MinModels: 1,
		MaxModels: 1,
		Params: []merge.ParamSpec{
			{Name: "t", Kind: merge.Float, Required: true, Help: "sameness threshold: elements closer than t take the other model's value"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			t := g.Float("t", math.NaN())
			if !finite(t) {
				return nil, fmt.Errorf("t must be a finite number, got %v", t)
			}
			return &nearswapMethod{t: float32(t)}, nil
		},
	}
}

// nearswapMethod is mergekit's nearswap.
type nearswapMethod struct {
	t float32
}

// Merge implements merge.Method.
func (m *nearswapMethod) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("tensor %q: nearswap needs the base model's tensor", t.Name)
	}
	if len(t.Inputs) == 0 {
		return copyInput(ctx, t, t.Base)
	}
	if len(t.Inputs) != 1 {
		return fmt.Errorf("tensor %q: nearswap takes exactly one model besides the base, got %d", t.Name, len(t.Inputs))
	}
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		d, err := readTile(t, c, true)
		if err != nil {
			return err
		}
		defer d.release()
		out := d.xs[0]
		nearswapKernel(out, d.base, d.xs[0], m.t)
		return t.Out.Write(out, c.Lo)
	})
}

// nearswapKernel computes dst[i] = w·x[i] + (1−w)·base[i] with
// w = clamp(t/max(|base[i]−x[i]|, 1e-6), 0, 1) in float32 (a NaN stays NaN,
// as in PyTorch). dst may be x.
func nearswapKernel(dst, base, x []float32, t float32) {
	const floor = float32(1e-6)
	for i := range dst {
		b, v := base[i], x[i]
		w := t / max(float32(math.Abs(float64(b-v))), floor)
		if w > 1 {
			w = 1
		} else if w < 0 {
			w = 0
		}
		dst[i] = w*v + (1-w)*b
	}
}
