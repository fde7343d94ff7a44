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

// boundMasks holds one block's kernel results per task.
type boundMasks struct {
	mask  [][blockElems / 8]uint8
	above []int
}

func newBoundMasks(n int) *boundMasks {
	return &boundMasks{mask: make([][blockElems / 8]uint8, n), above: make([]int, n)}
}

// classify runs the bound kernel over task k of the block (b.sum set),
// writing x into b.bal[k]; it returns false when x holds a NaN or an
// infinity.
func (bm *boundMasks) classify(b *buffers, k int, p *boundParams) bool {
	tau, x := b.tau[k], b.bal[k]
	nv := len(tau) &^ 7
	above, bad := boundMask(bm.mask[k][:nv/8], x[:nv], tau[:nv], b.sum[:nv], p)
	for i := nv; i < len(tau); i++ {
		v, _, ab, bd := boundEntry(tau[i], b.sum[i], p)
		x[i] = v
		if ab {
			above++
		}
		bad = bad || bd
	}
	bm.above[k] = above
	return !bad
}

// compact lists the entries of task k that need their exact score (after
// classify) in b.idx and their x in b.dx, and returns how many.
func (bm *boundMasks) compact(b *buffers, k int, p *boundParams) int {
	tau, x := b.tau[k], b.bal[k]
	nv := len(tau) &^ 7
	c := compress(b.idx, b.dx, x[:nv], bm.mask[k][:nv/8], 0)
	for i := nv; i < len(tau); i++ {
		if _, keep, _, _ := boundEntry(tau[i], b.sum[i], p); keep {
			b.idx[c], b.dx[c] = int32(i), x[i]
			c++
		}
	}
	return c
}

// speculateBounded is the speculative pass's tally of one block (see
// speculate) with bounded scoring; it returns false, having changed
// nothing, when the block holds a NaN or infinite x.
func speculateBounded(b *buffers, st []taskStats, ps []*boundParams, bm *boundMasks, lo, hi []float32, a *bandCounts, tally func(k int, B []float32)) bool {
	sumTau(b)
	for k := range st {
		p := a.bound[k]
		*p = *ps[k]
		p.setThresholds(lo[k], hi[k], a.max[k])
		if !bm.classify(b, k, p) {
			return false
		}
	}
	nf := float32(len(st))
	for k := range st {
		c := bm.compact(b, k, a.bound[k])
		a.above[k] += int64(bm.above[k])
		tally(k, denseScores(b, b.tau[k], c, st[k], nf))
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
		c := bm.compact(b, k, ps[k])
		B := denseScores(b, b.tau[k], c, s, nf)
		scale(B, s.thr, s.max)
		tau, lo, hi, wk := b.tau[k], s.lo, s.hi, w[k]
		for j, i := range b.idx[:c] {
			num[i] += float32(float32(wk*clipped(tau[i], lo, hi)) * B[j])
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
