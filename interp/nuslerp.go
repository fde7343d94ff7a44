package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

func nuslerpSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "nuslerp",
		Summary: "SLERP of two models by weights, flattened, per row or per column, optionally on task vectors",
		Long: `nuslerp ("new SLERP") interpolates two models on the sphere with
t = w2/(w1 + w2) taken from their weights (t = 0.5 when |w1 + w2| < 1e-6).
The result is (sin((1−t)θ)·v1 + sin(tθ)·v2)/sin θ, where θ is the angle
between v1 and v2; where |sin θ| < 1e-8 the vectors are colinear and plain
(1−t)·v1 + t·v2 is used. With --base, v1 and v2 are the task vectors
(model − base) and the base is added back.

--nuslerp-flatten (default true) treats each flattened tensor as one vector.
With --nuslerp-flatten=false the tensor is split into vectors:
  --nuslerp-row-wise=false (default): each row W[r, :] (the last dimension)
                                      is interpolated on its own;
  --nuslerp-row-wise=true:            each column W[:, c] (the first
                                      dimension) is.
mergekit's documentation describes row_wise the other way round; gomerge
follows mergekit's code, which is what its merges compute.

Reference: mergekit's NuSLERP (Goddard et al., "Arcee's MergeKit",
arXiv:2403.13257).

Example:
  gomerge nuslerp a.safetensors b.safetensors --weight 0.6,0.4 -o out/
  gomerge nuslerp --base base.safetensors a b --weight 1,1 --nuslerp-flatten=false -o out/

Differences from mergekit: norms and cosines are accumulated in float64
over chunks, so results agree to float32 rounding.`,
		Base:      merge.BaseOptional,
		MinModels: 2,
		MaxModels: 2,
		Params: []merge.ParamSpec{
			weightParam("relative weight of each model; t = w2/(w1+w2)"),
			{Name: "nuslerp_flatten", Kind: merge.Bool, Default: true, Help: "interpolate each flattened tensor as one vector"},
			{Name: "nuslerp_row_wise", Kind: merge.Bool, Default: false, Help: "without flatten: interpolate columns (true) instead of rows (false), as mergekit's code does"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			m := &nuslerpMethod{kind: wholeTensor}
			if !g.Bool("nuslerp_flatten", true) {
				m.kind = rowVectors
				if g.Bool("nuslerp_row_wise", false) {
					m.kind = columnVectors
				}
			}
			return m, nil
		},
	}
}

// nuslerpMethod is mergekit's NuSLERP.
type nuslerpMethod struct {
	kind vectorKind
	// tile overrides the tile size (tests); 0 means merge.ChunkElems.
	tile int64
}

// Merge implements merge.Method.
func (m *nuslerpMethod) Merge(ctx context.Context, t *merge.Task) error {
	if len(t.Inputs) != 2 {
		return fmt.Errorf("tensor %q: nuslerp takes exactly two models, got %d", t.Name, len(t.Inputs))
	}
	w, err := modelWeights(t)
	if err != nil {
		return err
	}
	tt := 0.5
	if s := w[0] + w[1]; math.Abs(s) >= 1e-6 {
		tt = w[1] / s
	}
	withBase := t.Base != nil
	vecs := func(d *tileData) [][]float32 {
		if withBase {
			d.subtractBase()
		}
		return d.xs
	}
	v := newVectorView(t.Shape, m.kind, m.tile)
	g, err := gramPass(ctx, t, v, 2, withBase, vecs)
	if err != nil {
		return err
	}
	coef := make([]float32, 2*v.count())
	for i := range v.count() {
		c0, c1 := nuslerpCoefficients(tt, g[3*i], g[3*i+1], g[3*i+2])
		coef[2*i], coef[2*i+1] = float32(c0), float32(c1)
	}
	return combinePass(ctx, t, v, 2, withBase, coef, func(d *tileData) ([][]float32, []float32) {
		return vecs(d), d.base
	})
}

// nuslerpCoefficients returns mergekit's NuSLERP coefficients (result =
// c0·v0 + c1·v1) from the Gram entries of one vector pair: norms are
// clamped below at 1e-7, and |sin θ| < 1e-8 falls back to lerp.
func nuslerpCoefficients(t, g00, g01, g11 float64) (c0, c1 float64) {
	n0 := max(math.Sqrt(g00), 1e-7)
	n1 := max(math.Sqrt(g11), 1e-7)
	cos := min(max(g01/(n0*n1), -1), 1)
	theta := math.Acos(cos)
	s := math.Sin(theta)
	if math.Abs(s) < 1e-8 {
		return 1 - t, t
	}
	return math.Sin((1-t)*theta) / s, math.Sin(t*theta) / s
}
