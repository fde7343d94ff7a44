package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

// slerpDotThreshold is mergekit's colinearity threshold: when the cosine
// of the two tensors exceeds it in magnitude, SLERP falls back to lerp.
const slerpDotThreshold = 0.9995

func slerpSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "slerp",
		Summary: "Spherical linear interpolation between the base and one model",
		Long: `slerp interpolates along the great circle from the base (t = 0) to the other
model (t = 1), treating each flattened tensor as one vector. The angle θ comes
from the cosine of the two normalised tensors; the result is
sin((1−t)θ)/sin θ · base + sin(tθ)/sin θ · model, with the original (not
normalised) tensors. When |cos θ| > 0.9995 the tensors are nearly colinear
and plain linear interpolation (1−t)·base + t·model is used instead.
Recipes usually give t as a gradient over the layers with filters such as
self_attn and mlp.

Reference: Shoemake 1985, "Animating rotation with quaternion curves"; the
mergekit formulation (t = 0 is the base model).

Example:
  gomerge slerp base.safetensors other.safetensors --t 0.3 -o out/

Differences from mergekit: none in the maths. Norms and the cosine are
accumulated in float64 over chunks (mergekit uses float32 numpy), so results
agree to float32 rounding; t = 0 returns the base and t = 1 the other model
exactly.`,
		Base:      merge.BaseRequired,
		MinModels: 1,
		MaxModels: 1,
		Params: []merge.ParamSpec{
			{Name: "t", Kind: merge.Float, Required: true, Help: "interpolation factor: 0 gives the base, 1 the other model"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			t := g.Float("t", math.NaN())
			if !finite(t) {
				return nil, fmt.Errorf("t must be a finite number")
			}
			return &slerpMethod{t: t}, nil
		},
	}
}

// slerpMethod interpolates on the sphere between base and one model.
type slerpMethod struct {
	t    float64
	tile int64
}

// Merge implements merge.Method.
func (m *slerpMethod) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("tensor %q: slerp needs the base model's tensor", t.Name)
	}
	if len(t.Inputs) == 0 {
		return copyInput(ctx, t, t.Base)
	}
	if len(t.Inputs) != 1 {
		return fmt.Errorf("tensor %q: slerp takes exactly one model besides the base, got %d", t.Name, len(t.Inputs))
	}
	v := newVectorView(t.Shape, wholeTensor, m.tile)
	both := func(d *tileData) [][]float32 { return [][]float32{d.base, d.xs[0]} }
	g, err := gramPass(ctx, t, v, 2, true, both)
	if err != nil {
		return err
	}
	c0, c1 := slerpCoefficients(m.t, g[0], g[1], g[2])
	coef := []float32{float32(c0), float32(c1)}
	return combinePass(ctx, t, v, 2, true, coef, func(d *tileData) ([][]float32, []float32) { return both(d), nil })
}

// slerpCoefficients returns mergekit's SLERP coefficients (result =
// c0·v0 + c1·v1) from the Gram entries ⟨v0,v0⟩, ⟨v0,v1⟩, ⟨v1,v1⟩. A vector
// is normalised only when its norm exceeds 1e-8.
func slerpCoefficients(t, g00, g01, g11 float64) (c0, c1 float64) {
	n0, n1 := math.Sqrt(g00), math.Sqrt(g11)
	if n0 <= 1e-8 {
		n0 = 1
	}
	if n1 <= 1e-8 {
		n1 = 1
	}
	dot := g01 / (n0 * n1)
	if math.Abs(dot) > slerpDotThreshold {
		return 1 - t, t
	}
	theta := math.Acos(dot)
	s := math.Sin(theta)
	thetaT := theta * t
	return math.Sin(theta-thetaT) / s, math.Sin(thetaT) / s
}
