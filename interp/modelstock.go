package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

func modelStockSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "model_stock",
		Aliases: []string{"model-stock"},
		Summary: "Model Stock: move from the base towards the models' average by their mutual cosine",
		Long: `model_stock averages N ≥ 2 fine-tuned models and interpolates between that
average and the base with a ratio chosen from the geometry of the offsets
δ_k = x_k − base: cos θ is the mean pairwise cosine of the offsets (each
clamped to [−1, 1], norms products clamped below at 1e-6), then
  t = N·cos θ / (1 + (N−1)·cos θ),   result = t·mean_k(x_k) + (1−t)·base.
t is not clamped: a negative cosine extrapolates away from the average,
as in mergekit. With --filter-wise each row (the last dimension; a 1-D
tensor is one row) gets its own cosine and t.

Paper: Jang et al. 2024, "Model Stock: All we need is just a few fine-tuned
models" (arXiv:2403.19522).

Example:
  gomerge model-stock base.safetensors ft1.safetensors ft2.safetensors -o out/

Differences from mergekit: when 1 + (N−1)·cos θ vanishes (|…| < 1e-6,
cos θ = −1/(N−1)), mergekit divides by zero and writes Inf/NaN; gomerge
stops with an error naming the tensor (and row). Cosines are accumulated in
float64 over chunks.`,
		Base:      merge.BaseRequired,
		MinModels: 2,
		Params: []merge.ParamSpec{
			{Name: "filter_wise", Kind: merge.Bool, Default: false, Help: "one ratio per row instead of per tensor"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			m := &modelStockMethod{kind: wholeTensor}
			if g.Bool("filter_wise", false) {
				m.kind = rowVectors
			}
			return m, nil
		},
	}
}

// modelStockMethod is mergekit's model_stock.
type modelStockMethod struct {
	kind vectorKind
	tile int64
}

// Merge implements merge.Method.
func (m *modelStockMethod) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("tensor %q: model_stock needs the base model's tensor", t.Name)
	}
	n := len(t.Inputs)
	if n == 0 {
		return copyInput(ctx, t, t.Base)
	}
	if n < 2 {
		return fmt.Errorf("tensor %q: model_stock needs at least two models besides the base, got %d", t.Name, n)
	}
	v := newVectorView(t.Shape, m.kind, m.tile)
	g, err := gramPass(ctx, t, v, n, true, func(d *tileData) [][]float32 {
		d.subtractBase()
		return d.xs
	})
	if err != nil {
		return err
	}
	w := gramWidth(n)
	coef := make([]float32, 2*v.count())
	for r := range v.count() {
		tr, err := modelStockRatio(g[r*int64(w):][:w], n)
		if err != nil {
			if m.kind == rowVectors {
				return fmt.Errorf("tensor %q: row %d: %w", t.Name, r, err)
			}
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		coef[2*r], coef[2*r+1] = tr, 1-tr
	}
	return combinePass(ctx, t, v, 2, true, coef, func(d *tileData) ([][]float32, []float32) {
		// avg = (Σ x_k)/N, accumulated into the first input's buffer.
		avg := d.xs[0]
		for _, x := range d.xs[1:] {
			simd.Add(avg, avg, x)
		}
		for i := range avg {
			avg[i] /= float32(n)
		}
		return [][]float32{avg, d.base}, nil
	})
}

// modelStockRatio returns the interpolation ratio t from the packed Gram
// matrix of the offsets of one vector.
func modelStockRatio(g []float64, n int) (float32, error) {
	var sum float64
	pairs := 0
	for i := range n {
		for j := i + 1; j < n; j++ {
			ni := math.Sqrt(max(g[gramIndex(n, i, i)], 0))
			nj := math.Sqrt(max(g[gramIndex(n, j, j)], 0))
			c := g[gramIndex(n, i, j)] / max(ni*nj, 1e-6)
			sum += min(max(c, -1), 1)
			pairs++
		}
	}
	cos := sum / float64(pairs)
	den := 1 + float64(n-1)*cos
	if math.Abs(den) < 1e-6 || math.IsNaN(den) {
		return 0, fmt.Errorf("model_stock: the mean cosine of the offsets is %.7g = −1/(N−1) for N = %d, so t = N·cos/(1+(N−1)·cos) divides by zero", cos, n)
	}
	return float32(float64(n) * cos / den), nil
}
