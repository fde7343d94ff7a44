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
	"slices"
	"strings"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// DefaultZeroTol is the default near-zero tolerance. An element counts as
// (nearly) unchanged when |Δ| < ZeroTol·rms(θ₀), where rms(θ₀) is the
// root-mean-square of the base values of the block of BlockElems elements
// the element belongs to (blocks start at the beginning of the tensor, so a
// tensor of at most BlockElems elements uses its own RMS). An exact zero
// always counts. With bf16 weights, an actual change of a weight near the
// RMS is at least one bf16 step (≥ 2⁻⁸·|θ|), far above 1e-3·rms, so mostly
// exact zeros count. The threshold is per block rather than per element so
// the count runs as one SIMD comparison.
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

// moduleOrder lists the module types in report order.
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
	// ZeroTol is the near-zero tolerance: |Δ| < ZeroTol·rms(θ₀) counts as
	// unchanged (see DefaultZeroTol; 0: exact zeros only; the CLI's default
	// is DefaultZeroTol).
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
	// NearZero counts the elements with |Δ| < ZeroTol·rms(θ₀) (see
	// DefaultZeroTol).
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
	// bf16 is set when every compared tensor is stored in bf16, uncropped:
	// the chunks then run on the stored values (analyzeChunkBF16).
	bf16 bool
	// mapped are the bf16 path's mappings of the stored tensors (see
	// mapped.go); unused when noMap.
	mapped tensorMaps
	noMap  bool
	// results per chunk, combined in chunk order.
	sums  [][]Sums     // [chunk][expert]
	pairs [][]PairSums // [chunk][pair]
}

// Run analyses the experts against the base in one pass and returns the
// report. Tensors that are not floating point, or that an expert lacks or
// has in another shape, are skipped for that expert with a warning.
func Run(ctx context.Context, base *formats.Model, experts []*formats.Model, opts Options) (*Report, error) {
	return run(ctx, base, experts, opts, true)
}

// run is Run; with mapBF16 unset the bf16 path reads with ReadRaw only
// (the reference of the mapped reads).
func run(ctx context.Context, base *formats.Model, experts []*formats.Model, opts Options, mapBF16 bool) (*Report, error) {
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
		compared := false
		for _, e := range experts {
			et, ok := e.Tensor(name)
			var es *merge.TensorSource
			switch {
			case !ok:
				skipped = append(skipped, fmt.Sprintf("tensor %q is missing from %s", name, e.Path))
			case !et.DType.IsFloat():
				skipped = append(skipped, fmt.Sprintf("tensor %q has dtype %s in %s", name, et.DType, e.Path))
			case !slices.Equal(et.Shape, bt.Shape) && !croppable(name, et.Shape, bt.Shape):
				skipped = append(skipped, fmt.Sprintf("tensor %q has shape %v in %s but %v in the base", name, et.Shape, e.Path, bt.Shape))
			default:
				var crop []int64
				if !slices.Equal(et.Shape, bt.Shape) {
					// A grown vocabulary: compare the base's rows only.
					crop = bt.Shape
					if opts.Warn != nil {
						fmt.Fprintf(opts.Warn, "warning: tensor %q: %s has shape %v, the base %v; comparing the base's %v sub-matrix\n", name, e.Path, et.Shape, bt.Shape, bt.Shape)
					}
				}
				if es, err = merge.NewSource(et, crop); err != nil {
					return nil, err
				}
				compared = true
			}
			j.experts = append(j.experts, es)
		}
		if !compared {
			continue
		}
		layers = max(layers, j.layer+1)
		j.chunks = merge.Chunks(bs.Len(), 1)
		j.bf16 = rawBF16(j)
		j.noMap = !mapBF16
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
	defer func() {
		for _, j := range jobs {
			j.close()
		}
	}()
	ne := len(experts)
	err := merge.Parallel(ctx, max(opts.Threads, 1), units, func(u merge.Chunk) error {
		w := works[u.Index]
		c := w.job.chunks[w.chunk]
		analyze := analyzeChunk
		if w.job.bf16 {
			analyze = analyzeChunkBF16
		}
		sums, pairs, err := analyze(w.job, c, ne, tol)
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

// BlockElems is the length of the blocks a chunk is analysed in: small
// enough that a block of every model stays in the CPU cache while all the
// statistics are taken from it, and the unit of the near-zero threshold.
const BlockElems = 1 << 14

// analyzeChunk computes the statistics of one chunk of one tensor, block by
// block, on float32 values (any dtype; the reference of analyzeChunkBF16).
func analyzeChunk(j *tensorJob, c merge.Chunk, ne int, tol float64) ([]Sums, []PairSums, error) {
	b := merge.GetFloats(BlockElems)
	defer merge.PutFloats(b)
	deltas := make([][]float32, ne)
	for k, src := range j.experts {
		if src != nil {
			deltas[k] = merge.GetFloats(BlockElems)
			defer merge.PutFloats(deltas[k])
		}
	}
	sums := make([]Sums, ne)
	pairs := make([]PairSums, ne*(ne-1)/2)
	for lo := c.Lo; lo < c.Hi; lo += BlockElems {
		n := int(min(BlockElems, c.Hi-lo))
		bb := b[:n]
		if err := j.base.Read(bb, lo); err != nil {
			return nil, nil, err
		}
		baseSq := simd.SumSquares(bb)
		thr := nearZeroThreshold(tol, baseSq, n)
		for k, src := range j.experts {
			if src == nil {
				continue
			}
			d := deltas[k][:n]
			if err := src.Read(d, lo); err != nil {
				return nil, nil, err
			}
			simd.Sub(d, d, bb)
			s := &sums[k]
			s.N += int64(n)
			s.SumAbs += simd.SumAbs(d)
			s.SumSq += simd.SumSquares(d)
			s.BaseSumSq += baseSq
			s.NearZero += int64(n - simd.CountAbsGE(d, thr))
		}
		p := 0
		for x := 0; x < ne; x++ {
			for y := x + 1; y < ne; y++ {
				if deltas[x] != nil && deltas[y] != nil {
					dx, dy := deltas[x][:n], deltas[y][:n]
					ps := &pairs[p]
					ps.Dot += simd.Dot(dx, dy)
					both, conf := signConflicts(dx, dy)
					ps.Both += both
					ps.Conflicts += conf
				}
				p++
			}
		}
	}
	// The pairs' norms are the experts' (over the elements both have).
	p := 0
	for x := 0; x < ne; x++ {
		for y := x + 1; y < ne; y++ {
			if j.experts[x] != nil && j.experts[y] != nil {
				pairs[p].SqA, pairs[p].SqB = sums[x].SumSq, sums[y].SumSq
			}
			p++
		}
	}
	return sums, pairs, nil
}

// croppable reports whether an expert's token embedding (or LM head) of
// shape have contains the base's shape base as its top-left sub-matrix.
func croppable(name string, have, base []int64) bool {
	return merge.IsEmbedding(name) && len(have) == 2 && len(base) == 2 && have[0] >= base[0] && have[1] >= base[1]
}
