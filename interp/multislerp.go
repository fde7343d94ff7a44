package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

func multislerpSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "multislerp",
		Summary: "Weighted spherical interpolation of any number of models (barycentre on the hypersphere)",
		Long: `multislerp generalises SLERP to N models. Each flattened tensor (or task
vector, with --base) is projected onto the unit sphere; the weighted mean of
the unit vectors, normalised, is the point of tangency; the unit vectors are
projected onto the tangent plane there, averaged with the weights, and
mapped back to the sphere with the exponential map. The result is scaled by
Σ w_k·‖x_k‖ (and the base added back with --base).

Reference: C. Goddard, "Multi-SLERP" (goddard.blog), as in mergekit.

Example:
  gomerge multislerp a b c --weight 0.5,0.3,0.2 -o out/
  gomerge multislerp --base base a b --weight 1,1 -o out/

Computation: every quantity multislerp needs — norms, the mean direction,
the tangent vectors and their norms — is a linear combination of the inputs,
so gomerge computes the N×N Gram matrix of the inputs in one streaming pass
(float64) and writes the result as Σ β_k·x_k in a second pass.

Differences from mergekit: when --normalize-weights is set and the weights
sum to zero, gomerge stops with an error instead of dividing by zero. Like
mergekit, when the weighted mean direction vanishes two models fall back to
linear interpolation and more models are an error — except when every
input is zero (with --base: a tensor no model changed), where mergekit
stops with that error and gomerge returns the base (zero without --base).`,
		Base:      merge.BaseOptional,
		MinModels: 1,
		Params: []merge.ParamSpec{
			weightParam("weight of each model"),
			{Name: "normalize_weights", Kind: merge.Bool, Default: true, Help: "divide the weights by their sum"},
			{Name: "eps", Kind: merge.Float, Default: 1e-8, Help: "small constant for numerical stability"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			eps := g.Float("eps", 1e-8)
			if !finite(eps) || eps < 0 {
				return nil, fmt.Errorf("eps must be a finite number ≥ 0, got %v", eps)
			}
			return &multislerpMethod{normalize: g.Bool("normalize_weights", true), eps: eps}, nil
		},
	}
}

// multislerpMethod is mergekit's multislerp.
type multislerpMethod struct {
	normalize bool
	eps       float64
	tile      int64
}

// Merge implements merge.Method.
func (m *multislerpMethod) Merge(ctx context.Context, t *merge.Task) error {
	n := len(t.Inputs)
	if n == 0 {
		return fmt.Errorf("tensor %q: multislerp has no model to merge", t.Name)
	}
	if n == 1 {
		return copyInput(ctx, t, t.Inputs[0])
	}
	if t.Len() == 0 {
		return nil
	}
	w, err := modelWeights(t)
	if err != nil {
		return err
	}
	if m.normalize {
		var s, abs float64
		for _, x := range w {
			s += x
			abs += math.Abs(x)
		}
		if math.Abs(s) <= 1e-6*abs {
			return fmt.Errorf("tensor %q: multislerp weights %v sum to zero, cannot normalize", t.Name, w)
		}
		for k := range w {
			w[k] /= s
		}
	}
	withBase := t.Base != nil
	vecs := func(d *tileData) [][]float32 {
		if withBase {
			d.subtractBase()
		}
		return d.xs
	}
	v := newVectorView(t.Shape, wholeTensor, m.tile)
	g, err := gramPass(ctx, t, v, n, withBase, vecs)
	if err != nil {
		return err
	}
	beta, err := multislerpCoefficients(unpackGram(g, n), w, m.eps)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	coef := make([]float32, n)
	for k, b := range beta {
		coef[k] = float32(b)
	}
	return combinePass(ctx, t, v, n, withBase, coef, func(d *tileData) ([][]float32, []float32) {
		return vecs(d), d.base
	})
}

// unpackGram expands a packed upper triangle into a full k×k matrix.
func unpackGram(g []float64, k int) [][]float64 {
	out := make([][]float64, k)
	for i := range out {
		out[i] = make([]float64, k)
		for j := range out[i] {
			out[i][j] = g[gramIndex(k, i, j)]
		}
	}
	return out
}

// quadForm returns aᵀ·G·b.
func quadForm(g [][]float64, a, b []float64) float64 {
	var s float64
	for i := range a {
		if a[i] == 0 {
			continue
		}
		var r float64
		for j := range b {
			r += g[i][j] * b[j]
		}
		s += a[i] * r
	}
	return s
}

// multislerpCoefficients returns β with result = Σ β_k·x_k, given the Gram
// matrix X of the inputs x_k and the (already normalised) weights w.
//
// mergekit works with unit vectors u_k = x_k/(‖x_k‖+ε). Writing every
// vector as coefficients on the u_k, with U_ij = ⟨u_i,u_j⟩ =
// X_ij/((n_i+ε)(n_j+ε)):
//
//	mean   m = Σ w_k u_k                → coefficients w, ‖m‖² = wᵀUw
//	m̂ = m/‖m‖                            → coefficients w/‖m‖
//	dot_k = ⟨u_k, m̂⟩                     = (U·m̂)_k
//	tangent T = Σ w_k (u_k − dot_k m̂)   → coefficients w − (Σ w_k dot_k)·m̂
//	τ = ‖T‖ + ε,                           ‖T‖² = TᵀUT
//	r = cos τ·m̂ + (sin τ/τ)·T
//	result = (Σ w_k n_k)·r              → β_k = (Σ w_j n_j)·r_k/(n_k+ε)
func multislerpCoefficients(x [][]float64, w []float64, eps float64) ([]float64, error) {
	n := len(w)
	norms := make([]float64, n)
	a := make([]float64, n)
	u := make([][]float64, n)
	for k := range n {
		norms[k] = math.Sqrt(max(x[k][k], 0))
		a[k] = 1 / (norms[k] + eps)
	}
	for i := range n {
		u[i] = make([]float64, n)
		for j := range n {
			u[i][j] = x[i][j] * a[i] * a[j]
		}
	}
	meanNorm := math.Sqrt(max(quadForm(u, w, w), 0))
	if meanNorm < eps {
		allZero := true
		for _, nk := range norms {
			allZero = allZero && nk == 0
		}
		if n == 2 || allZero {
			// Linear fallback; with all-zero inputs (task vectors of
			// tensors no model changed) the result is zero (the base).
			return w, nil
		}
		return nil, fmt.Errorf("multislerp: the weighted mean of the unit vectors is zero (antipodal models whose weights cancel); change the weights")
	}
	mhat := make([]float64, n)
	for k := range mhat {
		mhat[k] = w[k] / meanNorm
	}
	var wdot float64
	for k := range n {
		var d float64
		for j := range n {
			d += u[k][j] * mhat[j]
		}
		wdot += w[k] * d
	}
	tan := make([]float64, n)
	for k := range tan {
		tan[k] = w[k] - wdot*mhat[k]
	}
	tn := math.Sqrt(max(quadForm(u, tan, tan), 0)) + eps
	var avgNorm float64
	for k := range n {
		avgNorm += norms[k] * w[k]
	}
	beta := make([]float64, n)
	cos, sin := math.Cos(tn), math.Sin(tn)
	for k := range n {
		r := mhat[k]*cos + tan[k]*(sin/tn)
		beta[k] = avgNorm * r * a[k]
	}
	return beta, nil
}
