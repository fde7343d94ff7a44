// Package pcb implements PCB merging — parameter competition balancing (Du
// et al., NeurIPS 2024, arXiv 2410.02396) — streamed, with the official
// code's whole-model statistics computed exactly.
//
// PCB scores every entry of every task vector τ_k = model_k − base by its
// importance within its task (intra-balancing, exp(n·MinMax(|τ̂_k|)²)) and
// its agreement with the other tasks (inter-balancing), keeps the top
// fraction r of each task's scores, rescales the survivors by min-max and
// averages the clipped task vectors with those weights. The official code
// flattens the whole model into one vector per task and sorts it; here the
// values at sorted positions come from streaming passes that count the
// entries against narrow bands located by a small sample (exact whenever
// the position falls in its band) or, failing that, from exact radix
// selection ([orderstat]), so no flattened model is ever held.
package pcb

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/orderstat"
)

// Methods returns the merge methods of this package: pcb.
func Methods() []*merge.MethodSpec { return []*merge.MethodSpec{Spec} }

// Spec is the pcb merge method.
var Spec = &merge.MethodSpec{
	Name:       "pcb",
	Aliases:    []string{"pcb_merging", "pcb-merging"},
	Summary:    "PCB: parameter competition balancing of task vectors (Du et al. 2024), exact over the whole model",
	Long:       longHelp,
	Base:       merge.BaseRequired,
	MinModels:  1,
	TaskVector: true,
	Params: []merge.ParamSpec{
		{Name: "ratio", Aliases: []string{"pcb_ratio", "att_ratio"}, Kind: merge.Float, Default: 0.1,
			Help: "fraction r of each task vector's entries kept (top r of the balance score), 0 < r ≤ 1"},
		{Name: "lambda", Kind: merge.Float, Default: 1.0,
			Help: "outer scale λ: merged = base + λ·τ_m"},
		{Name: "clip", Aliases: []string{"clamp_ratio"}, Kind: merge.Float, Default: 0.01,
			Help: "outlier clip c of |τ| at sorted positions ⌊d·c⌋ and ⌊d(1−c)−1⌋, 0 ≤ c < 0.5 (0.0001 in the reference script)"},
		{Name: "scope", Kind: merge.String, Default: "model", Choices: []string{"model", "tensor"},
			Help: "statistics over the whole model (official) or per tensor (cheaper, a different method)"},
		{Name: "inter", Kind: merge.String, Default: "sum", Choices: []string{"sum", "pairwise", "pairwise-tanh"},
			Help: "inter-balancing: sum = tanh(τ_k ⊙ Σ_j τ_j) (NLP code), pairwise = Σ_j tanh(ñ_k ⊙ ñ_j) (vision code)"},
		{Name: "weight", Kind: merge.Float, Default: 1.0, PerModel: true,
			Help: "λ_k of the model inside the weighted average Σ λ_k·τ̂_k·s_k / Σ s_k"},
	},
	New: newMethod,
}

const longHelp = `For every task vector τ_k = model_k − base (k = 1…n) over d merged
parameters:

  1. clip:    lo_k, hi_k = sorted(|τ_k|)[⌊d·c⌋], sorted(|τ_k|)[⌊d(1−c)−1⌋];
              τ̂_k = sign(τ_k)·clamp(|τ_k|, lo_k, hi_k)
  2. intra:   exp(n·MinMax(Â_k)²),  MinMax(Â_k) = (clamp(|τ_k|) − lo_k)/(hi_k − lo_k)
  3. inter:   --inter sum:      tanh(τ_k ⊙ Σ_j τ_j)             (official NLP code)
              --inter pairwise: Σ_j tanh(ñ_k ⊙ ñ_j), ñ = sign(τ)·MinMax(Â)  (vision code)
  4. balance: B_k = intra ⊙ inter
  5. drop:    thr_k = sorted(B_k)[⌊d(1−r)⌋], max_k = max B_k;
              s_k = (max(B_k, thr_k) − thr_k)/(max_k − thr_k)  (the threshold entry gets 0)
  6. merge:   τ_m = Σ_k λ_k·τ̂_k·s_k / max(Σ_k s_k, 1e-12);  merged = base + λ·τ_m

Sorted positions use Python's int() truncation, exactly as the official code.
With --scope model (default) d is every merged parameter of the whole model
(tensors excluded with --exclude keep the base's values and are not part of d),
so each task has one lo, hi, thr and max for the whole model. gomerge computes
them exactly without holding the model, in three reads of every input (plus
a pre-pass that reads a sample of short runs, about a million entries per
input): pass 1 counts |τ| against narrow bands around the clip positions
that the sample locates and keeps the values inside, which gives lo and hi;
pass 2 computes B only where integer bounds (no exp or tanh) cannot place
the score below or above the band around thr, gets thr and max the same
way, and (for a model of up to about a billion parameters per task vector
with three of them, 384 MiB of bits) marks each entry whose score may exceed
the band's low end; pass 3 scores only those entries and writes the merge.
bf16 checkpoints are read as stored bytes. Whenever a sorted position falls outside its band (an unrepresentative
sample), two-pass radix selection over float bit patterns takes over for that
statistic — up to five reads, the same result. --scope tensor applies the
same steps to each tensor on its own (its own d and statistics), tensor by
tensor; a different method from the paper's.

The per-model weight is λ_k inside the weighted average, as in the vision
code (λ_k = 1 and the outer λ give the NLP code). A weight-0 model adds
nothing to the numerator but still takes part in the balance scores and the
denominator.

Where the official code divides 0 by 0 (giving NaN), gomerge defines:
  • hi_k ≤ lo_k (a constant clipped task vector): MinMax = 0, so intra = 1
    and ñ_k = 0;
  • max_k = thr_k (ratio below 1/d, or ties at the top): s_k = 1 for the
    entries equal to max_k and 0 for the rest.
sign(0) = 0, so a zero entry of τ_k stays 0 in τ̂_k.

With recipe parameters that vary by tensor, model-scope statistics are
taken over the tensors that share the same global parameters. --scope model
needs every merged tensor in every model (not --missing union).

Example:
  gomerge pcb --base base-model math-model code-model --ratio 0.1 --lambda 1.5 -o merged`

// method is one configured pcb merge.
type method struct {
	ratio, lambda, clip float64
	tensorScope         bool
	pairwise            bool

	// model scope: per-task statistics from Prepare, shared by every
	// prepared tensor (by name).
	stats    []taskStats
	prepared map[string]bool

	// For tests: noSpeculate forces the selection passes for the clip
	// bounds and the drop threshold; speculated and fellBack count the
	// groups whose threshold came from the sample's band or needed the
	// selection passes.
	noSpeculate          bool
	speculated, fellBack atomic.Int64
	clipSpeculated       atomic.Int64 // groups whose clip bounds came from the sample's bands

	// For tests: noRaw reads bf16 inputs as float32 pieces, noBound scores
	// every entry the envelope keeps (the reference paths).
	noRaw, noBound bool
	// For tests: tensors merged with bounded scoring, items read as stored bf16.
	boundedMerges, rawItems atomic.Int64

	// candidates: per item of the model, the candidate bits the
	// speculative pass recorded for the merge pass (nil when it did not).
	candidates map[itemKey]*itemBits
	// scratch holds block buffers for every group of this merge (all have
	// the same number of task vectors), so that the merge of each tensor
	// does not allocate its own.
	scratch sync.Pool
	// For tests: blocks merged from recorded candidate bits; noCandidates
	// records none (the merge pass then bounds every entry again).
	candidateBlocks atomic.Int64
	noCandidates    bool
}

func newMethod(g merge.Params) (merge.Method, error) {
	m := &method{
		ratio:       g.Float("ratio", 0.1),
		lambda:      g.Float("lambda", 1),
		clip:        g.Float("clip", 0.01),
		tensorScope: g.String("scope", "model") == "tensor",
	}
	switch s := g.String("scope", "model"); s {
	case "model", "tensor":
	default:
		return nil, fmt.Errorf("scope %q: want model or tensor", s)
	}
	switch s := g.String("inter", "sum"); s {
	case "sum":
	case "pairwise", "pairwise-tanh":
		m.pairwise = true
	default:
		return nil, fmt.Errorf("inter %q: want sum or pairwise", s)
	}
	if !(m.ratio > 0 && m.ratio <= 1) {
		return nil, fmt.Errorf("ratio %g: want 0 < ratio ≤ 1 (the fraction of entries kept)", m.ratio)
	}
	if !(m.clip >= 0 && m.clip < 0.5) {
		return nil, fmt.Errorf("clip %g: want 0 ≤ clip < 0.5", m.clip)
	}
	if math.IsNaN(m.lambda) || math.IsInf(m.lambda, 0) {
		return nil, fmt.Errorf("lambda %g is not finite", m.lambda)
	}
	return m, nil
}

// Sorted positions, computed as the official code does in Python floats
// with int() truncation; the explicit float64 conversions keep the compiler
// from fusing the multiply and subtract.

func clipLoRank(d int64, c float64) int64 { return clampRank(int64(float64(d)*c), d) }

func clipHiRank(d int64, c float64) int64 {
	return clampRank(int64(float64(float64(d)*(1-c))-1), d)
}

func dropRank(d int64, r float64) int64 { return clampRank(int64(float64(d)*(1-r)), d) }

func clampRank(k, d int64) int64 { return min(max(k, 0), d-1) }

// Prepare implements merge.Preparer: with --scope model it computes every
// task vector's statistics over all tasks (all passes but the last).
func (m *method) Prepare(ctx context.Context, tasks []*merge.Task) error {
	if m.tensorScope || len(tasks) == 0 {
		return nil
	}
	n := len(tasks[0].Inputs)
	for _, t := range tasks {
		if t.Base == nil {
			return fmt.Errorf("pcb: tensor %q: no base tensor", t.Name)
		}
		if len(t.Inputs) != n {
			return fmt.Errorf("pcb --scope model: tensor %q has %d of the %d models (every merged tensor must be in every model; use --scope tensor or --missing intersection)", t.Name, len(t.Inputs), n)
		}
	}
	g := newGroup(tasks, tasks[0].Threads())
	g.noRaw, g.scratch = m.noRaw, &m.scratch
	st, err := m.statistics(ctx, g)
	if err != nil {
		return err
	}
	m.stats = st
	m.prepared = make(map[string]bool, len(tasks))
	for _, t := range tasks {
		m.prepared[t.Name] = true
	}
	return nil
}

// Merge implements merge.Method: the merge pass of one tensor (after its
// statistics passes with --scope tensor).
func (m *method) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("pcb: tensor %q: no base tensor", t.Name)
	}
	st := m.stats
	if m.tensorScope {
		g := newGroup([]*merge.Task{t}, t.Threads())
		g.noRaw, g.scratch = m.noRaw, &m.scratch
		var err error
		if st, err = m.statistics(ctx, g); err != nil {
			return err
		}
	} else if !m.prepared[t.Name] {
		return fmt.Errorf("pcb: tensor %q: model-scope statistics were not prepared for it", t.Name)
	}
	w := make([]float32, len(t.Inputs))
	for k := range w {
		w[k] = float32(t.Model[k].Float("weight", 1))
	}
	lambda := float32(m.lambda)
	env := newEnvelope(len(t.Inputs))
	g := newGroup([]*merge.Task{t}, t.Threads())
	g.noRaw, g.scratch = m.noRaw, &m.scratch
	ps := mergeBounds(st, m.pairwise)
	if m.noBound {
		ps = nil
	}
	if ps != nil {
		m.boundedMerges.Add(1)
	}
	g.rawItems = &m.rawItems
	n := len(t.Inputs)
	var cand map[itemKey]*itemBits
	if !m.tensorScope {
		cand = m.candidates
	}
	return g.forBlocks(ctx, true, func(it item, off int64, b *buffers) error {
		out := b.out[b.at : b.at+len(b.base)]
		if ps == nil {
			mergeBlock(out, b, st, m.pairwise, env, w, lambda)
			return nil
		}
		if b.masks == nil {
			b.masks = newBoundMasks(n)
		}
		if ib := cand[itemKey{t.Name, it.c.Lo}]; ib != nil && len(ib.bits) == n && len(ib.bits[0]) == int((it.c.Len()+7)/8) {
			m.candidateBlocks.Add(1)
			mergeCandidates(out, b, st, ib, off-it.c.Lo, env, w, lambda)
			return nil
		}
		mergeBounded(out, b, st, ps, b.masks, env, w, lambda)
		return nil
	}, func(_ item, off int64, size int, b *buffers) error {
		if err := t.Out.Write(b.out[:size], off); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return nil
	})
}

// statistics runs the statistics passes over a group (two, or up to four
// when a sample's band misses) and returns every task's lo, hi, thr and max.
func (m *method) statistics(ctx context.Context, g *group) ([]taskStats, error) {
	d, n := g.d, g.n
	st := make([]taskStats, n)
	if d == 0 {
		return st, nil
	}
	// A pre-pass reads a small sample of every task vector (sampler).
	smp, err := g.presample(ctx)
	if err != nil {
		return nil, err
	}
	// Pass 1: |τ| at the clip positions from the sample's bands; it also
	// counts, for --inter sum, the entries with x = τ_k·Σ_j τ_j ≤ 0, whose
	// balance scores are ≤ 0 (see taskStats.positive).
	nonPositive := make([]atomic.Int64, n)
	counted, clipped := false, false
	if !m.noSpeculate {
		if clipped, err = m.clipBands(ctx, g, st, smp, nonPositive); err != nil {
			return nil, err
		}
		counted = true
	}
	if clipped {
		m.clipSpeculated.Add(1)
	} else {
		// Otherwise passes 1–2 select them by radix selection.
		sel := make([]*orderstat.Selector, n)
		for k := range sel {
			sel[k] = orderstat.NewSelector(true, clipLoRank(d, m.clip), clipHiRank(d, m.clip))
		}
		err := g.select2(ctx, sel, func(it item, off int64, b *buffers, add func(int, []float32)) {
			for k, tau := range b.tau {
				add(k, tau)
			}
			if counted || m.pairwise || sel[0].Pass() != 0 {
				return
			}
			sumTau(b)
			for k, tau := range b.tau {
				nonPositive[k].Add(int64(len(tau) - countPositiveProducts(tau, b.sum)))
			}
		})
		if err != nil {
			return nil, err
		}
		for k, s := range sel {
			r := s.Results()
			st[k].lo, st[k].hi = r[0], r[1]
		}
	}
	if !m.tensorScope {
		// The clip pass's band values are garbage now: return them to the
		// system before the next pass allocates its own and the
		// candidate bits (peak memory).
		debug.FreeOSMemory()
	}
	thrRank, maxRank := dropRank(d, m.ratio), d-1
	ranks := make([]scoreRank, n)
	sel := make([]*orderstat.Selector, n)
	for k := range st {
		// Only the positive scores need evaluating when the drop position
		// is among them.
		c0 := nonPositive[k].Load()
		st[k].positive = !m.pairwise && c0 <= thrRank
		offset := int64(0)
		if st[k].positive {
			offset = c0
		}
		ranks[k] = scoreRank{k: thrRank - offset, pop: d - offset}
		sel[k] = orderstat.NewSelector(false, thrRank-offset, maxRank-offset)
	}
	env := newEnvelope(n)
	// Pass 3: the drop threshold and maximum in one pass when the sample's
	// band holds the drop position (see speculate.go).
	if !m.noSpeculate {
		ok, err := m.speculate(ctx, g, st, smp, env, ranks)
		if err != nil {
			return nil, err
		}
		if ok {
			m.speculated.Add(1)
			return st, nil
		}
	}
	m.fellBack.Add(1)
	// Otherwise passes 3–4: the balance score at the drop position, and its
	// maximum. The second of them skips entries whose score is provably
	// below the lowest bucket it counts.
	var floor []float32
	err = g.select2(ctx, sel, func(_ item, _ int64, b *buffers, add func(int, []float32)) {
		scores(b, st, m.pairwise, env, floor, add)
	}, func() {
		floor = make([]float32, n)
		for k, s := range sel {
			floor[k] = s.Floor()
		}
	})
	if err != nil {
		return nil, err
	}
	for k, s := range sel {
		r := s.Results()
		st[k].thr, st[k].max = r[0], r[1]
	}
	return st, nil
}
