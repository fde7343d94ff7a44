package pcb

import (
	"math"
)

// Bounded scoring (see bound.go): with --inter sum and every task scored
// only on its positive-x entries, the speculative threshold pass and the
// merge pass compute the exact balance score (exp and tanh) only for the
// entries whose bounds do not settle the question, and the reference path
// (scores) for any block holding a NaN or an infinity.

// boundSet is the bound constants of every task, or nil when bounded
// scoring does not apply.
func boundSet(st []taskStats, pairwise bool) []*boundParams {
	if pairwise || len(st) == 0 {
		return nil
	}
	ps := make([]*boundParams, len(st))
	for k, s := range st {
		if !s.positive {
			return nil
		}
		if ps[k] = newBoundParams(s, len(st)); ps[k] == nil {
			return nil
		}
	}
	return ps
}

// boundMasks holds one block's kernel results per task: the entries that
// need their exact score (positions, x and τ) and the count of entries
// certainly above the ceiling; dm and v are working rows.
type boundMasks struct {
	idx      [][]int32
	dx, dtau [][]float32
	count    []int
	above    []int
	dm, v    []float32
}

func newBoundMasks(n int) *boundMasks {
	bm := &boundMasks{count: make([]int, n), above: make([]int, n),
		dm: make([]float32, blockElems), v: make([]float32, blockElems)}
	for range n {
		bm.idx = append(bm.idx, make([]int32, blockElems))
		bm.dx = append(bm.dx, make([]float32, blockElems))
		bm.dtau = append(bm.dtau, make([]float32, blockElems))
	}
	return bm
}

// classify runs the bound kernel over task k of the block (b.sum set),
// listing the entries that need their exact score; it returns false when
// some x is a NaN or an infinity.
func (bm *boundMasks) classify(b *buffers, k int, p *boundParams) bool {
	tau := b.tau[k]
	nv := len(tau) &^ 7
	idx, dx, dtau := bm.idx[k], bm.dx[k], bm.dtau[k]
	c, above, bad := boundCompact(idx, dx, dtau, tau[:nv], b.sum[:nv], p)
	for i := nv; i < len(tau); i++ {
		x, keep, ab, bd := boundEntry(tau[i], b.sum[i], p)
		if keep {
			idx[c], dx[c], dtau[c] = int32(i), x, tau[i]
			c++
		}
		if ab {
			above++
		}
		bad = bad || bd
	}
	bm.count[k], bm.above[k] = c, above
	return !bad
}

// scores computes the exact scores of the entries of task k listed by
// classify, in place of their x, and returns them: exp(n·MinMax(Â)²)·tanh x
// with the operations of denseScores.
func (bm *boundMasks) scores(b *buffers, k int, s taskStats, nf float32) []float32 {
	c := bm.count[k]
	dx, dm := bm.dx[k][:c], bm.dm[:c]
	if s.hi > s.lo {
		minMaxDense(dm, bm.dtau[k][:c], s.lo, s.hi)
	} else {
		clear(dm)
	}
	scoreTail(b, dm, dx)
	return dx
}

// speculateBounded is the speculative pass's tally of one block (see
// speculate) with bounded scoring (b.masks and b.bound allocated for the
// tasks); it returns false, having changed
// nothing, when the block holds a NaN or infinite x.
func speculateBounded(b *buffers, st []taskStats, ps []*boundParams, lo, hi []float32, a *bandCounts, tally func(k int, B []float32)) bool {
	sumTau(b)
	bm := b.masks
	for k := range st {
		p := b.bound[k]
		*p = *ps[k]
		p.setThresholds(lo[k], hi[k], a.max[k])
		if !bm.classify(b, k, p) {
			return false
		}
	}
	nf := float32(len(st))
	for k := range st {
		a.above[k] += int64(bm.above[k])
		tally(k, bm.scores(b, k, st[k], nf))
	}
	return true
}

// mergeBounded is mergeBlock with bounded scoring (ps from boundSet with
// each floor at the task's threshold); it falls back to mergeBlock for a
// block holding a NaN or infinite x.
func mergeBounded(out []float32, b *buffers, st []taskStats, ps []*boundParams, bm *boundMasks, env *envelope, w []float32, lambda float32) {
	sumTau(b)
	for k := range st {
		if !bm.classify(b, k, ps[k]) {
			mergeBlock(out, b, st, false, env, w, lambda)
			return
		}
	}
	num, den := out, b.den
	clear(num)
	clear(den)
	nf := float32(len(st))
	for k, s := range st {
		B := bm.scores(b, k, s, nf)
		v := bm.v[:len(B)]
		weighDense(v, B, bm.dtau[k], s, w[k])
		for j, i := range bm.idx[k][:len(B)] {
			num[i] += v[j]
			den[i] += B[j]
		}
	}
	finishMerge(out, num, den, b.base, lambda)
}

// mergeBounds returns the bound constants of the merge pass: each task's
// floor is its threshold (entries at or below it get weight 0), or nil.
func mergeBounds(st []taskStats, pairwise bool) []*boundParams {
	ps := boundSet(st, pairwise)
	for k, p := range ps {
		p.setThresholds(st[k].thr, float32(math.Inf(1)), float32(math.Inf(-1)))
	}
	return ps
}
