package pcb

import (
	"math"
	"math/bits"
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
	num, den []float32             // mergeListed's sums, zero between blocks
	in       [blockElems / 8]uint8 // classify's bits when not recorded
}

func newBoundMasks(n int) *boundMasks {
	bm := &boundMasks{count: make([]int, n), above: make([]int, n),
		dm: make([]float32, blockElems), v: make([]float32, blockElems),
		num: make([]float32, blockElems), den: make([]float32, blockElems)}
	for range n {
		bm.idx = append(bm.idx, make([]int32, blockElems))
		bm.dx = append(bm.dx, make([]float32, blockElems))
		bm.dtau = append(bm.dtau, make([]float32, blockElems))
	}
	return bm
}

// classify runs the bound kernel over task k of the block (b.sum set),
// listing the entries that need their exact score; it returns false when
// some x is a NaN or an infinity. in, if not nil, gets a bit per entry
// (from the block's first): set when x > 0 and the score is not provably
// below the floor.
func (bm *boundMasks) classify(b *buffers, k int, p *boundParams, in []uint8) bool {
	tau := b.tau[k]
	nv := len(tau) &^ 7
	if in == nil {
		in = bm.in[:]
	}
	idx, dx, dtau := bm.idx[k], bm.dx[k], bm.dtau[k]
	c, above, bad := boundCompact(idx, dx, dtau, tau[:nv], b.sum[:nv], p, in[:nv/8])
	var mb uint8
	for i := nv; i < len(tau); i++ {
		x, keep, ab, bd := boundEntry(tau[i], b.sum[i], p)
		if keep {
			idx[c], dx[c], dtau[c] = int32(i), x, tau[i]
			c++
		}
		if ab {
			above++
		}
		if keep || ab {
			mb |= 1 << (i - nv)
		}
		bad = bad || bd
	}
	if nv < len(tau) {
		in[nv/8] = mb
	}
	bm.count[k], bm.above[k] = c, above
	return !bad
}

// candidates lists the entries of task k whose bit is set in in (from the
// block's first) as classify lists the entries it keeps: positions, x and
// τ.
func (bm *boundMasks) candidates(b *buffers, k int, in []uint8) {
	bm.count[k] = maskCompact(bm.idx[k], bm.dx[k], bm.dtau[k], b.tau[k], b.sum, in)
}

// maskCompactGeneric writes, for every entry i of tau whose bit (bit i%8
// of in[i/8]) is set, in order, i, x = τ·sum and τ into idx, dx and dtau,
// and returns how many.
func maskCompactGeneric(idx []int32, dx, dtau, tau, sum []float32, in []uint8) int {
	return maskCompactTail(idx, dx, dtau, tau, sum, in, 0)
}

// maskCompactTail is maskCompactGeneric from entry from (a multiple of 8)
// on.
func maskCompactTail(idx []int32, dx, dtau, tau, sum []float32, in []uint8, from int) int {
	c := 0
	for j := from / 8; j < (len(tau)+7)/8; j++ {
		for w := uint(in[j]); w != 0; w &= w - 1 {
			i := 8*j + bits.TrailingZeros(w)
			v := tau[i]
			idx[c], dtau[c], dx[c] = int32(i), v, v*sum[i]
			c++
		}
	}
	return c
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
// tasks), recording each task's candidate bits into in[k] when in is not
// nil; it returns false, having changed
// nothing, when the block holds a NaN or infinite x.
func speculateBounded(b *buffers, st []taskStats, ps []*boundParams, lo, hi []float32, a *bandCounts, in [][]uint8, tally func(k int, B []float32)) bool {
	sumTau(b)
	bm := b.masks
	for k := range st {
		p := b.bound[k]
		*p = *ps[k]
		p.setThresholds(lo[k], hi[k], a.max[k])
		var ink []uint8
		if in != nil {
			ink = in[k]
		}
		if !bm.classify(b, k, p, ink) {
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

// itemBits are the candidate bits of one item (chunk piece) recorded by
// the speculative pass, per task one bit per entry, and which of its blocks
// the reference path computed.
type itemBits struct {
	bits [][]uint8
	bad  []bool
}

// itemKey names an item: its tensor and first element.
type itemKey struct {
	name string
	lo   int64
}

// candidateBudget is the most bytes of candidate bits recorded (n·d/8):
// 384 MiB, a 3-expert merge of about a billion parameters; larger merges
// bound every entry again in the merge pass instead.
const candidateBudget = 384 << 20

// candidateBits returns zeroed candidate bits for every item of the group
// and n tasks, cut from one allocation per task, or nil when they would
// exceed candidateBudget.
func (g *group) candidateBits(n int) []*itemBits {
	size := 0
	for _, it := range g.items {
		size += (it.c.Len() + 7) / 8
	}
	if int64(n)*int64(size) > candidateBudget {
		return nil
	}
	slabs := make([][]uint8, n)
	for k := range slabs {
		slabs[k] = make([]uint8, size)
	}
	out := make([]*itemBits, len(g.items))
	at := 0
	for i, it := range g.items {
		nb := (it.c.Len() + 7) / 8
		ib := &itemBits{bad: make([]bool, (it.c.Len()+blockElems-1)/blockElems)}
		for k := range slabs {
			ib.bits = append(ib.bits, slabs[k][at:at+nb:at+nb])
		}
		out[i] = ib
		at += nb
	}
	return out
}

// mergeBounded is mergeBlock with bounded scoring (ps from boundSet with
// each floor at the task's threshold); it falls back to mergeBlock for a
// block holding a NaN or infinite x.
func mergeBounded(out []float32, b *buffers, st []taskStats, ps []*boundParams, bm *boundMasks, env *envelope, w []float32, lambda float32) {
	sumTau(b)
	for k := range st {
		if !bm.classify(b, k, ps[k], nil) {
			mergeBlock(out, b, st, false, env, w, lambda)
			return
		}
	}
	mergeListed(out, b, st, bm, w, lambda)
}

// mergeCandidates is mergeBounded for a block whose candidate bits the
// speculative pass recorded (ib, the block at element local of its item):
// every entry with a score above the threshold has its bit set, since the
// threshold is not below the band's low end that the bits were taken
// against. A block that pass computed by the reference path is merged by
// it again.
func mergeCandidates(out []float32, b *buffers, st []taskStats, ib *itemBits, local int64, env *envelope, w []float32, lambda float32) {
	if ib.bad[local/blockElems] {
		mergeBlock(out, b, st, false, env, w, lambda)
		return
	}
	sumTau(b)
	for k := range st {
		b.masks.candidates(b, k, ib.bits[k][local/8:])
	}
	mergeListed(out, b, st, b.masks, w, lambda)
}

// mergeListed merges a block from the entries listed per task in bm (the
// others have weight 0).
func mergeListed(out []float32, b *buffers, st []taskStats, bm *boundMasks, w []float32, lambda float32) {
	num, den := bm.num, bm.den // zero between calls
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
	finishMergeZero(out, num, den, b.base, lambda)
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
