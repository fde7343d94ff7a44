package pcb

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/gomerge/gomerge/orderstat"
)

// Speculative drop threshold. The exact radix selection of the balance
// score's drop position takes two passes over the inputs (high then low
// bits). Instead, the first pass keeps a small systematic sample of the task
// vectors; once the clip bounds are known, the sample's balance scores
// locate a narrow band [lo, hi] of values that very likely holds the drop
// position. One pass then counts the scores below and above the band
// (entries whose score is provably below it are skipped by the envelope,
// without exp or tanh), keeps the scores inside it and tracks the maximum.
// If the drop position's rank falls inside the band, the threshold is the
// band's value at that rank — exact, whatever the sample was. Otherwise (an
// unlucky sample, a NaN score, a band larger than bandBudget) the two
// selection passes run as before. Either way the statistics are the same,
// so the output does not depend on which path was taken.

// sampleSpan is the length of the runs of consecutive entries sampled, one
// run every sampler.stride entries of each tensor: one read per input and
// run, so runs of 64 keep the pre-pass at about 16K reads per input for a
// large model.
const sampleSpan = 64

// sampleTarget is about how many entries (per task vector) the sample holds
// for large models: 4 MiB of float32 per task vector.
const sampleTarget = 1 << 20

// bandBudget is the most band values kept over all task vectors (256 MiB);
// a larger band falls back to the selection passes.
const bandBudget = 1 << 26

// sampler collects the task vectors at the tensor offsets o with o mod
// stride < sampleSpan, per item (chunk) so that the sample does not depend
// on how chunks are spread over goroutines.
type sampler struct {
	stride int64
	rows   [][][]float32 // per item, per task
}

// minSampleStride bounds the sample to 1/256 of the entries: each run is
// one read per input, so a denser sample of a small group (--scope tensor)
// would cost more than the passes it saves. A group of fewer than about
// 16K entries has too small a sample and takes the selection passes.
const minSampleStride = 16384

func newSampler(g *group) *sampler {
	stride := int64(minSampleStride)
	for g.d/stride*sampleSpan > sampleTarget {
		stride *= 2
	}
	s := &sampler{stride: stride, rows: make([][][]float32, len(g.items))}
	for i := range s.rows {
		s.rows[i] = make([][]float32, g.n)
	}
	return s
}

// tasks returns the sample as one row per task vector, in item order.
func (s *sampler) tasks(n int) [][]float32 {
	out := make([][]float32, n)
	total := 0
	for _, r := range s.rows {
		if len(r) > 0 {
			total += len(r[0])
		}
	}
	for k := range out {
		out[k] = make([]float32, 0, total)
	}
	for _, r := range s.rows {
		for k := range out {
			out[k] = append(out[k], r[k]...)
		}
	}
	return out
}

// rowBlocks calls fn with the buffers of each block of the rows tau (one per
// task vector, equal lengths), as chunkData.blocks does for a chunk.
func (g *group) rowBlocks(tau [][]float32, fn func(b *buffers)) {
	b := g.getScratch()
	defer g.scratch.Put(b)
	full := b.sum[:blockElems]
	zero := make([]float32, blockElems)
	size := 0
	if len(tau) > 0 {
		size = len(tau[0])
	}
	for lo := 0; lo < size; lo += blockElems {
		hi := min(lo+blockElems, size)
		n := hi - lo
		b.base = zero[:n]
		for k := range tau {
			b.tau[k] = tau[k][lo:hi]
			b.bal[k] = b.bal[k][:cap(b.bal[k])][:n]
			b.norm[k] = b.norm[k][:cap(b.norm[k])][:n]
		}
		b.sum = full[:n]
		b.sumReady = false
		b.den = b.den[:cap(b.den)][:n]
		fn(b)
	}
	b.sum = full
}

// scoreRank is where one task's drop threshold sits: rank k among pop
// values (the positive-x entries, or all d).
type scoreRank struct {
	k, pop int64
}

// band returns, per task vector, the band [lo, hi] of balance scores
// expected to hold the drop position, from the sample's scores; ok is false
// when the sample is too small or holds a NaN score.
func (g *group) band(ctx context.Context, sample [][]float32, st []taskStats, pairwise bool, env *envelope, ranks []scoreRank) (lo, hi, frac []float32, ok bool) {
	n := len(st)
	vals := make([][]float32, n)
	g.rowBlocks(sample, func(b *buffers) {
		scores(b, st, pairwise, env, nil, func(k int, B []float32) {
			vals[k] = append(vals[k], B...)
		})
	})
	lo, hi = make([]float32, n), make([]float32, n)
	usable := make([]bool, n)
	_ = g.eachTask(ctx, n, func(k int) error {
		v := vals[k]
		m := len(v)
		if m < 64 || slices.ContainsFunc(v, func(x float32) bool { return x != x }) {
			return nil
		}
		usable[k] = true
		slices.Sort(v)
		q := float64(ranks[k].k) / float64(ranks[k].pop)
		at := int(q * float64(m))
		// Six standard deviations of the sample rank, plus 0.2% of the
		// sample for a sample that is not quite representative.
		delta := int(6*math.Sqrt(float64(m)*q*(1-q))) + m/512 + 16
		lo[k], hi[k] = float32(math.Inf(-1)), float32(math.Inf(1))
		if at-delta >= 0 {
			lo[k] = v[at-delta]
		}
		if at+delta < m {
			hi[k] = v[at+delta]
		}
		return nil
	})
	if slices.Contains(usable, false) {
		return nil, nil, nil, false
	}
	// The fraction of the sampled entries whose score is in the band, to
	// size the band's buffers.
	frac = make([]float32, n)
	for k, v := range vals {
		in := 0
		for _, x := range v {
			if x >= lo[k] && x <= hi[k] {
				in++
			}
		}
		frac[k] = float32(in) / float32(max(len(sample[k]), 1))
	}
	return lo, hi, frac, true
}

// bandCounts is one item's tally of the scores against the bands.
type bandCounts struct {
	in    [][]float32 // per task: scores in [lo, hi]
	nIn   []int64     // per task: how many (also when not kept)
	above []int64     // per task: scores above hi
	max   []float32   // per task: the largest score ≥ lo
	nan   bool        // a NaN score was met
}

// speculate computes every task's thr and max in one pass over the group
// from the sample's bands; it returns false (and leaves st alone) when the
// drop position was not inside its band.
func (m *method) speculate(ctx context.Context, g *group, st []taskStats, smp *sampler, env *envelope, ranks []scoreRank) (bool, error) {
	n := g.n
	lo, hi, frac, ok := g.band(ctx, smp.tasks(n), st, m.pairwise, env, ranks)
	if !ok {
		return false, nil
	}
	acc := make([]*bandCounts, len(g.items))
	var kept atomic.Int64
	ps := boundSet(st, m.pairwise)
	if m.noBound {
		ps = nil
	}
	// With --scope model, the candidate bits of every entry for the merge
	// pass (mergeCandidates), within a memory budget.
	var record []*itemBits
	if ps != nil && !m.tensorScope && !m.noCandidates {
		record = g.candidateBits(n)
	}
	err := g.forBlocks(ctx, false, func(it item, off int64, b *buffers) error {
		a := acc[it.idx]
		if a == nil {
			a = &bandCounts{in: make([][]float32, n), nIn: make([]int64, n), above: make([]int64, n), max: make([]float32, n)}
			for k := range a.max {
				a.max[k] = float32(math.Inf(-1))
				a.in[k] = make([]float32, 0, bandCap(it.c.Len(), frac[k]))
			}
			acc[it.idx] = a
		}
		tally := func(k int, B []float32) {
			l, h := lo[k], hi[k]
			mx := a.max[k]
			start := len(a.in[k])
			for _, v := range B {
				if v < l {
					continue
				}
				if v != v {
					a.nan = true
					continue
				}
				mx = max(mx, v)
				if v > h {
					a.above[k]++
					continue
				}
				a.in[k] = append(a.in[k], v)
			}
			a.max[k] = mx
			added := int64(len(a.in[k]) - start)
			a.nIn[k] += added
			if kept.Add(added) > bandBudget {
				a.in[k] = a.in[k][:0]
			}
		}
		if ps != nil {
			// Buffers come from a pool shared with the merge pass, which
			// allocates masks only.
			if b.masks == nil {
				b.masks = newBoundMasks(n)
			}
			for len(b.bound) < n {
				b.bound = append(b.bound, new(boundParams))
			}
		}
		var in [][]uint8
		var ib *itemBits
		local := off - it.c.Lo
		if record != nil {
			ib = record[it.idx]
			if len(b.inRows) < n {
				b.inRows = make([][]uint8, n)
			}
			in = b.inRows[:n]
			for k := range in {
				in[k] = ib.bits[k][local/8:]
			}
		}
		if ps == nil || !speculateBounded(b, st, ps, lo, hi, a, in, tally) {
			if ib != nil {
				ib.bad[local/blockElems] = true
			}
			scores(b, st, m.pairwise, env, lo, tally)
		}
		return nil
	}, nil)
	if kept.Load() > bandBudget {
		for _, a := range acc {
			if a != nil {
				clear(a.in)
			}
		}
	}
	if err != nil {
		return false, err
	}
	if kept.Load() > bandBudget {
		return false, nil
	}
	for _, a := range acc {
		if a != nil && a.nan {
			return false, nil
		}
	}
	// Each task's threshold from its band, the selections on up to
	// g.threads goroutines; a position outside its band (hit false) fails
	// the whole.
	thr, mx := make([]float32, n), make([]float32, n)
	hit := make([]bool, n)
	err = g.eachTask(ctx, n, func(k int) error {
		var in [][]float32
		var nIn, above, kept int64
		top := float32(math.Inf(-1))
		for _, a := range acc {
			if a == nil {
				continue
			}
			in = append(in, a.in[k])
			kept += int64(len(a.in[k]))
			nIn += a.nIn[k]
			above += a.above[k]
			top = max(top, a.max[k])
		}
		if kept != nIn {
			return fmt.Errorf("pcb: band of task vector %d lost values", k+1)
		}
		below := ranks[k].pop - nIn - above
		r := ranks[k].k - below
		if below < 0 || r < 0 || r >= nIn {
			return nil
		}
		v, err := kthOf(ctx, in, r)
		if err != nil {
			return err
		}
		thr[k], mx[k], hit[k] = v, plusZero(top), true
		return nil
	})
	if err != nil || slices.Contains(hit, false) {
		return false, err
	}
	for k := range st {
		st[k].thr, st[k].max = thr[k], mx[k]
	}
	if record != nil {
		m.candidates = make(map[itemKey]*itemBits, len(record))
		for i, ib := range record {
			it := g.items[i]
			m.candidates[itemKey{it.t.Name, it.c.Lo}] = ib
		}
	}
	return true, nil
}

// bandCap is the capacity to give an item's buffer of band values: its
// expected share (the sample's fraction frac) with a margin, so that the
// buffer rarely grows.
func bandCap(items int, frac float32) int {
	return int(float64(items)*float64(frac)*1.25) + 16
}

// plusZero returns v, with −0 as +0 (as the radix selection returns zeros).
func plusZero(v float32) float32 {
	if v == 0 {
		return 0
	}
	return v
}

// kthOf returns the k-th smallest of the values of parts (no NaNs) by
// radix selection — linear where a sort is not, for bands of millions of
// values — with zeros as +0.
func kthOf(ctx context.Context, parts [][]float32, k int64) (float32, error) {
	const piece = 1 << 16
	scan := func(_ context.Context, visit func([]float32) error) error {
		for _, vals := range parts {
			for lo := 0; lo < len(vals); lo += piece {
				if err := visit(vals[lo:min(lo+piece, len(vals))]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	r, err := orderstat.Kth(ctx, scan, k)
	if err != nil {
		return 0, err
	}
	return r[0], nil
}
