// Package widen implements WIDEN merging (weight disentanglement, Yu et al.
// 2024, arXiv 2408.03092) with the semantics of the paper's official code.
//
// Every 2-D weight is split into per-column magnitudes (the L2 norm of each
// column over the output dimension) and directions (the unit columns). For
// each fine-tuned model the columns are ranked, separately, by how much the
// magnitude and the direction moved away from the base; the ranks become
// per-column importance scores (softmax over the models, with columns
// ranked above α times the model's mean rank calibrated to a fixed score),
// and each model's task vector is added with the mean of its magnitude and
// direction scores, one weight per column. Token embeddings are transposed
// first, so their "columns" are tokens. 1-D tensors (norms, biases) use the
// softmax of the raw |Δ| instead of ranks.
//
// The merge streams: each tensor is read twice, chunk by chunk — once for
// the per-column statistics (norms of the base and model columns and their
// dot products, accumulated in float64 and combined in chunk order), once
// for the weighted sum — so memory does not depend on the tensor's size
// apart from a few vectors with one entry per column.
//
// Both passes sweep cache-sized blocks of whole rows. On amd64 with AVX2
// and FMA, assembly kernels accumulate the column statistics (one sweep
// for the base and two models) and fuse the weighted sum
// (columns_amd64.s); they give the bits of the Go reference loops in
// columns.go, which run elsewhere. Stored bfloat16 tensors are fed to the
// kernels as bit patterns, without a float32 copy: their files are mapped
// read-only for the two passes of a tensor (only that tensor's pages, and
// unmapped after it), so both passes read the page cache in place;
// where a file cannot be mapped the blocks are read with pread instead.
// The mapped pages count towards the resident set: the tensors being
// merged plus at most two just finished whose pages are being released in
// the background (about 400–600 MB for a 1B-parameter family of three).
package widen

import (
	"context"
	"fmt"
	"math"
	"regexp"

	"github.com/gomerge/gomerge/merge"
)

// Methods returns the merge methods of this package: widen.
func Methods() []*merge.MethodSpec { return []*merge.MethodSpec{Spec} }

// Spec describes the widen method to the engine, the CLI and recipes.
var Spec = &merge.MethodSpec{
	Name:    "widen",
	Summary: "WIDEN: weight each model's task vector per column by how much its magnitude and direction changed",
	Long: `WIDEN (Yu et al. 2024, "Extend Model Merging from Fine-Tuned to Pre-Trained Large
Language Models via Weight Disentanglement") with the semantics of its official code:

  * every [out, in] weight is split into per-column magnitudes (norm over the output
    dimension) and unit directions; token embeddings are transposed first, so a "column"
    is a token (an untied lm_head is treated like any linear layer);
  * for each model the columns are ranked, separately, by |m_k − m_0| and by
    1 − cos(d_k, d_0) (stable ascending sort, rank/C, a zero column sorts last);
  * scores are the softmax of the ranks over the models; a column whose rank index i
    satisfies 2·i > alpha·(C−1) (above alpha times the model's mean rank) gets the score
    --calibration instead;
  * merged = base + Σ_k w_k ⊙ (model_k − base), w_k = (magnitude score + direction score)/2
    per column;
  * 1-D tensors (norms, biases): scores are the softmax over the models of the raw |Δ|,
    calibrated where |Δ| > alpha · mean |Δ| of that model.

There is no softmax temperature (the official code has none). With one model every
score is 1 or --calibration. Recipes may also call the parameters by the official
names above_average_value_ratio and score_calibration_value. Norms, dot products and
softmaxes are computed in float64 (the official code uses float32): columns a model did
not change tie exactly and keep their index order instead of a rounding-noise order;
otherwise results agree with the official code to float32 tolerance. Tensors matched by --exclude keep the base's values.
Tensors with more than two dimensions and GPT-2 style Conv1D weights are not supported
(exclude them). Token embeddings of different vocabulary sizes are cropped to the base's
(the official code pads them with mean-embedding rows instead).

Example:
  gomerge widen base/ chat/ math/ -o merged/ --alpha 1.0 --calibration 1.0`,
	Base:       merge.BaseRequired,
	MinModels:  1,
	TaskVector: true,
	Params: []merge.ParamSpec{
		{Name: "alpha", Aliases: []string{"above_average_value_ratio"}, Kind: merge.Float, Default: 1.0,
			Help: "a column is important when its significance exceeds alpha times its model's mean"},
		{Name: "calibration", Aliases: []string{"score_calibration_value"}, Kind: merge.Float, Default: 1.0,
			Help: "the score given to important columns (replacing their softmax score)"},
	},
	New: New,
}

// Method is the WIDEN merge with its two hyperparameters.
type Method struct {
	// Alpha is the above-average ratio α: a column (or element) is important
	// when its significance exceeds α times its model's mean significance.
	Alpha float64
	// Calibration is the score s given to important columns.
	Calibration float64

	// readOnly makes the passes read stored bfloat16 inputs block by block
	// instead of mapping their files (tests compare both).
	readOnly bool
	// dropAll makes every tensor drop its mapped pages chunk by chunk
	// (tests: the drop path without a tensor above keepMappedBytes).
	dropAll bool
	// unmapping holds a token per tensor whose input mappings are being
	// released in the background (see release).
	unmapping chan struct{}
}

// New returns the WIDEN method for the global parameters alpha and
// calibration (defaults 1.0 each).
func New(global merge.Params) (merge.Method, error) {
	m := &Method{Alpha: global.Float("alpha", 1), Calibration: global.Float("calibration", 1), unmapping: make(chan struct{}, maxPendingUnmaps)}
	if math.IsNaN(m.Alpha) || math.IsInf(m.Alpha, 0) {
		return nil, fmt.Errorf("alpha %v: want a finite number", m.Alpha)
	}
	if math.IsNaN(m.Calibration) || math.IsInf(m.Calibration, 0) {
		return nil, fmt.Errorf("calibration %v: want a finite number", m.Calibration)
	}
	return m, nil
}

// tokenEmbeddingRE matches input token embeddings, whose rows are tokens.
// Output heads (lm_head, embed_out, output) are treated as linear layers.
var tokenEmbeddingRE = regexp.MustCompile(`(^|\.)(embed_tokens|wte|word_embeddings|embed_in|tok_embeddings)\.weight$`)

// isTokenEmbedding reports whether a 2-D tensor is an input token
// embedding [vocab, hidden], which WIDEN transposes so that a column is a
// token.
func isTokenEmbedding(name string) bool {
	return merge.IsEmbedding(name) && tokenEmbeddingRE.MatchString(name)
}

// conv1DRE matches GPT-2 style Conv1D weights, stored [in, out].
var conv1DRE = regexp.MustCompile(`(^|\.)(c_attn|c_proj|c_fc)\.weight$`)

// Merge computes one output tensor.
func (m *Method) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("widen: tensor %q: the base model has no such tensor", t.Name)
	}
	if len(t.Inputs) == 0 {
		return fmt.Errorf("widen: tensor %q: no model to merge", t.Name)
	}
	n := t.Len()
	for k, in := range append([]merge.Source{t.Base}, t.Inputs...) {
		if in.Len() != n {
			return fmt.Errorf("widen: tensor %q: input %d has %d elements, want %d", t.Name, k, in.Len(), n)
		}
	}
	switch len(t.Shape) {
	case 0, 1:
		return m.mergeVector(ctx, t)
	case 2:
		if conv1DRE.MatchString(t.Name) {
			return fmt.Errorf("widen: tensor %q: GPT-2 style Conv1D weights ([in, out]) are not supported yet; exclude them with --exclude", t.Name)
		}
		return m.mergeMatrix(ctx, t, isTokenEmbedding(t.Name))
	}
	return fmt.Errorf("widen: tensor %q: shape %v: WIDEN merges only 1-D and 2-D tensors (as its official code); exclude it with --exclude", t.Name, t.Shape)
}
