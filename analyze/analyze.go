// Package analyze measures where fine-tuned experts changed their base
// model: per expert, per transformer layer and per module type (q, k, v, o,
// gate, up, down, norms, embeddings, lm_head) the mean absolute change, the
// relative change ‖Δ‖/‖θ₀‖ and the fraction of (nearly) unchanged elements;
// between experts the cosine similarity of their task vectors and the rate
// of sign conflicts. For two experts it suggests the layer-swapping split
// (b, u) by the rule of ../shared/specs/layerswap.md §3.3.
//
// The models are read in one streaming pass, chunk by chunk; statistics
// accumulate in float64, per chunk and then in chunk and tensor-name order,
// so the results do not depend on the thread count.
package analyze

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// DefaultZeroTol is the default near-zero tolerance: an element counts as
// unchanged when |Δ| ≤ ZeroTol·|θ₀|. 1e-3 lies below the smallest relative
// step of bfloat16 (2⁻⁸ ≈ 3.9e-3), so for bf16 checkpoints only exact zeros
// count, while float32 changes below a thousandth of the weight count as
// unchanged too.
const DefaultZeroTol = 1e-3

// Module types, in report order.
const (
	ModQ      = "q"
	ModK      = "k"
	ModV      = "v"
	ModQKV    = "qkv"
	ModO      = "o"
	ModGate   = "gate"
	ModUp     = "up"
	ModDown   = "down"
	ModNorm   = "norm"
	ModEmbed  = "embed"
	ModLMHead = "lm_head"
	ModOther  = "other"
)

// ModuleOrder lists the module types in report order.
var moduleOrder = []string{ModQ, ModK, ModV, ModQKV, ModO, ModGate, ModUp, ModDown, ModNorm, ModEmbed, ModLMHead, ModOther}

// ModuleOf classifies a tensor name into a module type (Llama/Mistral/Qwen
// names, with the common GPT-2, GPT-NeoX and Llama-original spellings).
func ModuleOf(name string) string {
	n := strings.ToLower(name)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(n, s) {
				return true
			}
		}
		return false
	}
	switch {
	case merge.IsEmbedding(name) && has("lm_head", "embed_out", "output.weight"):
		return ModLMHead
	case merge.IsEmbedding(name) || has("embed_tokens", "wte", "word_embeddings"):
		return ModEmbed
	case has("norm", "ln_", ".ln"):
		return ModNorm
	case has("q_proj", ".wq.", "query."):
		return ModQ
	case has("k_proj", ".wk.", "key."):
		return ModK
	case has("v_proj", ".wv.", "value."):
		return ModV
	case has("qkv", "c_attn", "query_key_value"):
		return ModQKV
	case has("o_proj", ".wo.", "out_proj", "attn.c_proj", "attention.dense"):
		return ModO
	case has("gate_proj", ".w1."):
		return ModGate
	case has("up_proj", ".w3.", "c_fc", "fc1", "dense_h_to_4h"):
		return ModUp
	case has("down_proj", ".w2.", "mlp.c_proj", "fc2", "dense_4h_to_h"):
		return ModDown
	}
	return ModOther
}

// Options configure Run.
type Options struct {
	// Threads is the parallelism (≤ 1: one).
	Threads int
	// ZeroTol is the near-zero tolerance: |Δ| ≤ ZeroTol·|θ₀| counts as
	// unchanged (0: exact zeros only; the CLI's default is DefaultZeroTol).
	ZeroTol float64
	// LangExpert is the 1-based position among the experts of the
	// language expert for the layer-swap suggestion (two experts only; the
	// other is the task expert). 0 means 2: the experts are given in the
	// order task, language, as in gomerge layerswap --task T --lang L.
	LangExpert int
	// Warn receives warnings about skipped tensors (nil: discarded).
	Warn io.Writer
	// Progress, if set, is called with the number of input bytes read.
	Progress func(n int64)
}

// Sums are the raw accumulated statistics of a group of elements of one
// expert.
type Sums struct {
	// N is the number of elements.
	N int64 `json:"elements"`
	// SumAbs = Σ|Δ|, SumSq = ΣΔ², BaseSumSq = Σθ₀².
	SumAbs    float64 `json:"sum_abs_delta"`
	SumSq     float64 `json:"sum_sq_delta"`
	BaseSumSq float64 `json:"sum_sq_base"`
	// NearZero counts the elements with |Δ| ≤ ZeroTol·|θ₀|.
	NearZero int64 `json:"near_zero"`
}

func (s *Sums) add(o Sums) {
	s.N += o.N
	s.SumAbs += o.SumAbs
	s.SumSq += o.SumSq
	s.BaseSumSq += o.BaseSumSq
	s.NearZero += o.NearZero
}

// MeanAbs is the mean absolute change Σ|Δ|/n.
func (s Sums) MeanAbs() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return s.SumAbs / float64(s.N)
}

// Rel is the relative change ‖Δ‖_F/‖θ₀‖_F (NaN when the base is zero).
func (s Sums) Rel() float64 {
	if s.BaseSumSq == 0 {
		if s.SumSq == 0 {
			return 0
		}
		return math.NaN()
	}
	return math.Sqrt(s.SumSq) / math.Sqrt(s.BaseSumSq)
}

// ZeroFrac is the fraction of near-zero changes.
func (s Sums) ZeroFrac() float64 {
	if s.N == 0 {
		return math.NaN()
	}
	return float64(s.NearZero) / float64(s.N)
}

// PairSums are the raw statistics of two experts' task vectors over a group
// of elements.
type PairSums struct {
	// Dot = Σ Δ_a·Δ_b; SqA, SqB the squared norms.
	Dot float64 `json:"dot"`
	SqA float64 `json:"sum_sq_a"`
	SqB float64 `json:"sum_sq_b"`
	// Both counts elements where both changes are non-zero; Conflicts those
	// of them whose signs differ.
	Both      int64 `json:"both_nonzero"`
	Conflicts int64 `json:"sign_conflicts"`
}

func (p *PairSums) add(o PairSums) {
	p.Dot += o.Dot
	p.SqA += o.SqA
	p.SqB += o.SqB
	p.Both += o.Both
	p.Conflicts += o.Conflicts
}

// Cos is the cosine similarity of the two task vectors (NaN if one is zero).
func (p PairSums) Cos() float64 {
	if p.SqA == 0 || p.SqB == 0 {
		return math.NaN()
	}
	return p.Dot / (math.Sqrt(p.SqA) * math.Sqrt(p.SqB))
}

// ConflictRate is the fraction of elements changed by both experts whose
// changes have opposite signs (NaN if no element changed in both).
func (p PairSums) ConflictRate() float64 {
	if p.Both == 0 {
		return math.NaN()
	}
	return float64(p.Conflicts) / float64(p.Both)
}

// tensorJob is one input tensor of the analysis.
type tensorJob struct {
	name   string
	layer  int
	module string
	base   *merge.TensorSource
	// experts[k] is nil when expert k cannot be compared on this tensor.
	experts []*merge.TensorSource
	chunks  []merge.Chunk
	// results per chunk, combined in chunk order.
	sums  [][]Sums     // [chunk][expert]
	pairs [][]PairSums // [chunk][pair]
}

// Run analyses the experts against the base in one pass and returns the
// report. Tensors that are not floating point, or that an expert lacks or
// has in another shape, are skipped for that expert with a warning.
func Run(ctx context.Context, base *formats.Model, experts []*formats.Model, opts Options) (*Report, error) {
	if len(experts) == 0 {
		return nil, errors.New("analyze needs at least one expert besides the base")
	}
	tol := opts.ZeroTol
	if tol < 0 || math.IsNaN(tol) {
		return nil, fmt.Errorf("near-zero tolerance %g must be ≥ 0", tol)
	}
	lang := 1
	if opts.LangExpert != 0 {
		if len(experts) != 2 || (opts.LangExpert != 1 && opts.LangExpert != 2) {
			return nil, fmt.Errorf("the language expert must be expert 1 or 2 of two experts, got %d of %d", opts.LangExpert, len(experts))
		}
		lang = opts.LangExpert - 1
	}
	var jobs []*tensorJob
	var skipped []string
	layers := 0
	for _, name := range base.Names() {
		bt, _ := base.Tensor(name)
		if !bt.DType.IsFloat() {
			continue
		}
		bs, err := merge.NewSource(bt, nil)
		if err != nil {
			return nil, err
		}
		j := &tensorJob{name: name, layer: merge.LayerIndex(name), module: ModuleOf(name), base: bs}
		any := false
		for _, e := range experts {
			et, ok := e.Tensor(name)
			var es *merge.TensorSource
			switch {
			case !ok:
				skipped = append(skipped, fmt.Sprintf("tensor %q is missing from %s", name, e.Path))
			case !equalShape(et.Shape, bt.Shape):
				skipped = append(skipped, fmt.Sprintf("tensor %q has shape %v in %s but %v in the base", name, et.Shape, e.Path, bt.Shape))
			case !et.DType.IsFloat():
				skipped = append(skipped, fmt.Sprintf("tensor %q has dtype %s in %s", name, et.DType, e.Path))
			default:
				if es, err = merge.NewSource(et, nil); err != nil {
					return nil, err
				}
				any = true
			}
			j.experts = append(j.experts, es)
		}
		if !any {
			continue
		}
		layers = max(layers, j.layer+1)
		j.chunks = merge.Chunks(bs.Len(), 1)
		j.sums = make([][]Sums, len(j.chunks))
		j.pairs = make([][]PairSums, len(j.chunks))
		jobs = append(jobs, j)
	}
	for _, e := range experts {
		for _, name := range e.Names() {
			if _, ok := base.Tensor(name); !ok {
				skipped = append(skipped, fmt.Sprintf("tensor %q of %s is not in the base", name, e.Path))
			}
		}
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("the base %s and the experts share no floating-point tensors", base.Path)
	}
	for _, s := range skipped {
		if opts.Warn != nil {
			fmt.Fprintf(opts.Warn, "warning: skipped: %s\n", s)
		}
	}
	type work struct {
		job   *tensorJob
		chunk int
	}
	var works []work
	for _, j := range jobs {
		for c := range j.chunks {
			works = append(works, work{j, c})
		}
	}
	units := make([]merge.Chunk, len(works))
	for i := range units {
		units[i] = merge.Chunk{Index: i}
	}
	ne := len(experts)
	err := merge.Parallel(ctx, max(opts.Threads, 1), units, func(u merge.Chunk) error {
		w := works[u.Index]
		c := w.job.chunks[w.chunk]
		sums, pairs, err := analyzeChunk(w.job, c, ne, float32(tol))
		if err != nil {
			return err
		}
		w.job.sums[w.chunk], w.job.pairs[w.chunk] = sums, pairs
		if opts.Progress != nil {
			var n int64
			for _, s := range append([]*merge.TensorSource{w.job.base}, w.job.experts...) {
				if s != nil {
					n += int64(c.Len()) * int64(s.T.DType.Size())
				}
			}
			opts.Progress(n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return buildReport(base, experts, jobs, layers, tol, lang, skipped), nil
}

// analyzeChunk computes the statistics of one chunk of one tensor.
func analyzeChunk(j *tensorJob, c merge.Chunk, ne int, tol float32) ([]Sums, []PairSums, error) {
	n := c.Len()
	b := merge.GetFloats(n)
	defer merge.PutFloats(b)
	if err := j.base.Read(b, c.Lo); err != nil {
		return nil, nil, err
	}
	baseSq := simd.SumSquares(b)
	deltas := make([][]float32, ne)
	defer func() {
		for _, d := range deltas {
			if d != nil {
				merge.PutFloats(d)
			}
		}
	}()
	sums := make([]Sums, ne)
	for k, src := range j.experts {
		if src == nil {
			continue
		}
		d := merge.GetFloats(n)
		deltas[k] = d
		if err := src.Read(d, c.Lo); err != nil {
			return nil, nil, err
		}
		simd.Sub(d, d, b)
		sums[k] = Sums{N: int64(n), SumAbs: simd.SumAbs(d), SumSq: simd.SumSquares(d), BaseSumSq: baseSq,
			NearZero: countNearZero(d, b, tol)}
	}
	var pairs []PairSums
	for a := 0; a < ne; a++ {
		for bb := a + 1; bb < ne; bb++ {
			var p PairSums
			if deltas[a] != nil && deltas[bb] != nil {
				p = PairSums{Dot: simd.Dot(deltas[a], deltas[bb]), SqA: sums[a].SumSq, SqB: sums[bb].SumSq}
				p.Both, p.Conflicts = signConflicts(deltas[a], deltas[bb])
			}
			pairs = append(pairs, p)
		}
	}
	return sums, pairs, nil
}

// countNearZero counts the i with |d[i]| ≤ tol·|b[i]|.
func countNearZero(d, b []float32, tol float32) int64 {
	b = b[:len(d)]
	var n int64
	for i, v := range d {
		if math.Float32frombits(math.Float32bits(v)&0x7fffffff) <= tol*math.Float32frombits(math.Float32bits(b[i])&0x7fffffff) {
			n++
		}
	}
	return n
}

// signConflicts counts the elements where both x and y are non-zero, and
// those of them with opposite signs.
func signConflicts(x, y []float32) (both, conflicts int64) {
	y = y[:len(x)]
	for i, a := range x {
		ba, bb := math.Float32bits(a), math.Float32bits(y[i])
		if ba&0x7fffffff != 0 && bb&0x7fffffff != 0 {
			both++
			conflicts += int64((ba ^ bb) >> 31)
		}
	}
	return both, conflicts
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
