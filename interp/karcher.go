package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

func karcherSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "karcher",
		Summary: "Karcher (Riemannian) mean of the models' directions, scaled by their mean norm",
		Long: `karcher treats each flattened tensor as a point on the unit sphere (its
direction) and a norm. It computes the Karcher mean of the directions — the
point minimising the sum of squared geodesic distances, found by Riemannian
gradient steps (at most --max-iter, stopping when the step is shorter than
--tol) — and scales it by the average norm. All models have equal weight;
models whose norm is at most --tol do not take part in the direction.

Reference: H. Karcher 1977, "Riemannian center of mass and mollifier
smoothing"; mergekit's karcher method.

Example:
  gomerge karcher a.safetensors b.safetensors c.safetensors -o out/

Computation: every iterate of the mean is a linear combination Σ c_k·u_k of
the unit vectors u_k = x_k/‖x_k‖, so the whole iteration runs on the N×N
Gram matrix of the models (one streaming float64 pass):
  dot_k = ⟨u_k, m⟩ = (G·c)_k, θ_k = acos(dot_k),
  T = Σ a_k (θ_k/sin θ_k)(u_k − dot_k·m) → coefficients
      d = Σ a_k (θ_k/sin θ_k)(e_k − dot_k·c), ‖T‖² = dᵀGd,
  c ← cos‖T‖·c + sin‖T‖·d/‖T‖, then c ← c/√(cᵀGc).
The result (Σ a_k‖x_k‖)·Σ c_k u_k = Σ β_k x_k is written in a second pass.
The iteration is done in float64 (mergekit: float32), so results agree to
float32 rounding.`,
		Base:      merge.BaseNone,
		MinModels: 1,
		Params: []merge.ParamSpec{
			{Name: "max_iter", Kind: merge.Int, Default: 10, Help: "maximum number of iterations"},
			{Name: "tol", Kind: merge.Float, Default: 1e-5, Help: "convergence tolerance (also the smallest norm that counts)"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			it := g.Float("max_iter", 10)
			tol := g.Float("tol", 1e-5)
			if !finite(it) || it < 0 || it != math.Trunc(it) {
				return nil, fmt.Errorf("max_iter must be a whole number ≥ 0, got %v", it)
			}
			if !finite(tol) || tol < 0 {
				return nil, fmt.Errorf("tol must be a finite number ≥ 0, got %v", tol)
			}
			return &karcherMethod{maxIter: int(it), tol: tol}, nil
		},
	}
}

// karcherMethod is mergekit's Karcher mean.
type karcherMethod struct {
	maxIter int
	tol     float64
	tile    int64
}

// Merge implements merge.Method. A base, if the engine passes one, is
// just another input.
func (m *karcherMethod) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base != nil {
		tt := *t
		tt.Inputs = append([]merge.Source{t.Base}, t.Inputs...)
		tt.Base = nil
		t = &tt
	}
	n := len(t.Inputs)
	if n == 0 {
		return fmt.Errorf("tensor %q: karcher has no model to merge", t.Name)
	}
	if n == 1 {
		return copyInput(ctx, t, t.Inputs[0])
	}
	v := newVectorView(t.Shape, wholeTensor, m.tile)
	raw := func(d *tileData) [][]float32 { return d.xs }
	g, err := gramPass(ctx, t, v, n, false, raw)
	if err != nil {
		return err
	}
	beta := karcherCoefficients(unpackGram(g, n), m.maxIter, m.tol)
	coef := make([]float32, n)
	for k, b := range beta {
		coef[k] = float32(b)
	}
	return combinePass(ctx, t, v, n, false, coef, func(d *tileData) ([][]float32, []float32) { return d.xs, nil })
}

// karcherCoefficients returns β with result = Σ β_k·x_k from the Gram
// matrix X of the inputs, following mergekit's iteration with equal
// weights a_k = 1/N (see the command's help for the derivation).
func karcherCoefficients(x [][]float64, maxIter int, tol float64) []float64 {
	n := len(x)
	norms := make([]float64, n)
	var valid []int
	for k := range n {
		norms[k] = math.Sqrt(max(x[k][k], 0))
		if norms[k] > tol {
			valid = append(valid, k)
		}
	}
	beta := make([]float64, n)
	if len(valid) == 0 {
		return beta
	}
	// Gram matrix of the valid unit vectors, and their weights.
	v := len(valid)
	g := make([][]float64, v)
	for i, ki := range valid {
		g[i] = make([]float64, v)
		for j, kj := range valid {
			g[i][j] = x[ki][kj] / (norms[ki] * norms[kj])
		}
	}
	alpha := make([]float64, v)
	for i := range alpha {
		alpha[i] = 1 / float64(v)
	}
	c := append([]float64(nil), alpha...)
	if mn := math.Sqrt(max(quadForm(g, c, c), 0)); mn < tol {
		clear(c)
		c[0] = 1
	} else {
		for i := range c {
			c[i] /= mn
		}
	}
	d := make([]float64, v)
	for range maxIter {
		clear(d)
		var shift float64
		for i := range v {
			var dot float64
			for j := range v {
				dot += g[i][j] * c[j]
			}
			dot = min(max(dot, -1), 1)
			theta := math.Acos(dot)
			if theta < tol {
				continue
			}
			s := alpha[i] * theta / math.Sin(theta)
			d[i] += s
			shift += s * dot
		}
		for i := range d {
			d[i] -= shift * c[i]
		}
		tn := math.Sqrt(max(quadForm(g, d, d), 0))
		if tn < tol {
			break
		}
		cos, sin := math.Cos(tn), math.Sin(tn)
		for i := range c {
			c[i] = cos*c[i] + sin*d[i]/tn
		}
		if un := math.Sqrt(max(quadForm(g, c, c), 0)); un > tol {
			for i := range c {
				c[i] /= un
			}
		}
	}
	var scale float64
	for k := range n {
		scale += norms[k] / float64(n)
	}
	for i, k := range valid {
		beta[k] = scale * c[i] / norms[k]
	}
	return beta
}
