package interp

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
)

func linearSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "linear",
		Summary: "Weighted average of the models (model soup)",
		Long: `linear computes Σ w_k·x_k for every tensor, divided by Σ w_k when --normalize
is true (the default). No base model is used: every model is an argument.

Paper: Wortsman et al. 2022, "Model soups: averaging weights of multiple
fine-tuned models improves accuracy without increasing inference time"
(arXiv:2203.05482).

Example:
  gomerge linear a.safetensors b.safetensors --weight 0.7,0.3 -o soup/

Differences from mergekit: with --normalize and weights that sum to zero,
mergekit divides by zero and writes Inf/NaN; gomerge stops with an error
naming the tensor (a sum within 1e-6·Σ|w| of zero counts as zero).
A model whose weight is exactly 0 does not take part in the sum, so
weights 1,0 return the first model bit for bit.`,
		Base:      merge.BaseNone,
		MinModels: 1,
		Params: []merge.ParamSpec{
			weightParam("weight of each model in the sum"),
			{Name: "normalize", Kind: merge.Bool, Default: true, Help: "divide the sum by the sum of the weights"},
		},
		New: func(g merge.Params) (merge.Method, error) {
			return &linearMethod{normalize: g.Bool("normalize", true)}, nil
		},
	}
}

// linearMethod is the weighted sum of the inputs.
type linearMethod struct {
	normalize bool
}

// weights returns the float32 weights and their sum, or an error for a
// weight sum of zero under normalize.
func (m *linearMethod) weights(t *merge.Task) ([]float32, float32, error) {
	w64, err := modelWeights(t)
	if err != nil {
		return nil, 0, err
	}
	if len(w64) == 0 {
		return nil, 0, fmt.Errorf("tensor %q: linear has no model to merge", t.Name)
	}
	w := make([]float32, len(w64))
	var sum float32
	var sum64, abs64 float64
	for k, v := range w64 {
		w[k] = float32(v)
		sum += w[k]
		sum64 += v
		abs64 += math.Abs(v)
	}
	// A sum that cancels to rounding noise (0.1+0.2−0.3) is zero too.
	if m.normalize && (sum == 0 || math.Abs(sum64) <= 1e-6*abs64) {
		return nil, 0, fmt.Errorf("tensor %q: linear weights %v sum to zero, cannot normalize (set --normalize=false or change the weights)", t.Name, w64)
	}
	return w, sum, nil
}

// Check implements merge.Checker: a zero weight sum is reported while
// planning, before any output exists.
func (m *linearMethod) Check(t *merge.Task) error {
	_, _, err := m.weights(t)
	return err
}

// Merge implements merge.Method.
func (m *linearMethod) Merge(ctx context.Context, t *merge.Task) error {
	w, sum, err := m.weights(t)
	if err != nil {
		return err
	}
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		d, err := readTile(t, c, false)
		if err != nil {
			return err
		}
		defer d.release()
		out := merge.GetFloats(c.Len())
		defer merge.PutFloats(out)
		combineRun(out, w, d.xs, 0, c.Len(), nil)
		if m.normalize && sum != 1 {
			for i := range out {
				out[i] /= sum
			}
		}
		return t.Out.Write(out, c.Lo)
	})
}
