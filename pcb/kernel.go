package pcb

import (
	"math"

	"github.com/gomerge/gomerge/simd"
)

// taskStats are one task vector's statistics over its scope (the whole
// model or one tensor): the clip bounds of |τ| and the drop threshold and
// maximum of the balance score.
type taskStats struct {
	lo, hi   float32 // |τ| at sorted positions ⌊d·c⌋ and ⌊d(1−c)−1⌋
	thr, max float32 // balance score at sorted positions ⌊d(1−r)⌋ and d−1

	// positive: only the entries with x = τ_k·Σ_j τ_j > 0 need a balance
	// score (--inter sum). Their scores are the positive ones and every
	// other entry scores ≤ 0; when the drop position falls among the
	// positive scores, the others are known to be dropped and are never
	// evaluated (no exp, no tanh), and the selection ranks are counted
	// from the first positive score.
	positive bool
}

// buffers holds one block's values: the base, the n task vectors τ, and
// working rows. Every slice has the block's length.
type buffers struct {
	base []float32
	tau  [][]float32 // τ_k = model_k − base
	bal  [][]float32 // balance score B_k, then scale_k
	norm [][]float32 // MinMax(Â_k), then ñ_k (pairwise), then w_k·τ̂_k
	sum  []float32   // Σ_j τ_j (inter sum), or the merged numerator
	den  []float32   // Σ_k scale_k, or pairwise scratch
	// Dense rows of the positive-x entries of one task: their indices, x
	// (then tanh x, then B) and MinMax (then intra).
	idx    []int32
	dx, dm []float32
}

// The per-entry helpers below avoid branches on the sign of τ, which is
// random: a mispredicted branch per entry would cost more than the
// arithmetic.

const signBit = 1 << 31

// absBits returns |v| by clearing the sign bit.
func absBits(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ signBit) }

// clipped returns sign(v)·clamp(|v|, lo, hi), with sign(0) = 0 as in
// torch.sign (±0 stays as it is); like torch.clamp, hi wins when lo > hi. A
// NaN stays NaN.
func clipped(v, lo, hi float32) float32 {
	vb := math.Float32bits(v)
	mag := vb &^ signBit
	a := min(max(math.Float32frombits(mag), lo), hi)
	nonzero := -((mag | -mag) >> 31) // all ones unless v is ±0
	r := (math.Float32bits(a) | vb&signBit) & nonzero
	return math.Float32frombits(r | vb&^nonzero)
}

// nonPositive is 1 when v ≤ 0 (or a NaN with the sign bit set), else 0.
func nonPositive(v float32) int {
	b := math.Float32bits(v)
	return int((b >> 31) | ((b - 1) >> 31))
}

// minMaxOf is MinMax(Â) of one entry: (clamp(|v|, lo, hi) − lo)/span, for
// span = hi − lo > 0.
func minMaxOf(v, lo, hi, span float32) float32 {
	return (min(max(absBits(v), lo), hi) - lo) / span
}

// minMax writes MinMax(Â) = (clamp(|τ|, lo, hi) − lo)/(hi − lo) into dst.
// When hi ≤ lo (a constant clipped task vector, where the official code
// divides 0 by 0) it writes 0.
func minMax(dst, tau []float32, lo, hi float32) {
	dst = dst[:len(tau)]
	if !(hi > lo) {
		clear(dst)
		return
	}
	span := hi - lo
	for i, v := range tau {
		dst[i] = minMaxOf(v, lo, hi, span)
	}
}

// sumTau sets b.sum = Σ_j τ_j, adding in task order.
func sumTau(b *buffers) {
	copy(b.sum, b.tau[0])
	for _, t := range b.tau[1:] {
		simd.Add(b.sum, b.sum, t)
	}
}

// countNonPositive returns how many x[i] ≤ 0 (see nonPositive).
func countNonPositive(x []float32) int64 {
	n := 0
	for _, v := range x {
		n += nonPositive(v)
	}
	return int64(n)
}

// scores computes the balance scores B_k = exp(n·MinMax(Â_k)²) ⊙ inter_k
// and calls emit(k, B) for each task in order, with inter_k = tanh(τ_k ⊙
// Σ_j τ_j) or, when pairwise, Σ_j tanh(ñ_k ⊙ ñ_j), ñ_j = sign(τ_j)·MinMax(Â_j).
// For a task with st[k].positive, B holds only the scores of the entries
// with x > 0, densely, and b.idx their positions; b.idx is valid until the
// next emit. Otherwise B is b.bal[k], one score per entry.
func scores(b *buffers, st []taskStats, pairwise bool, emit func(k int, B []float32)) {
	if pairwise {
		balancePairwise(b, st)
		for k := range b.tau {
			emit(k, b.bal[k])
		}
		return
	}
	nf := float32(len(b.tau))
	sumTau(b)
	for k, tau := range b.tau {
		s := st[k]
		if !s.positive {
			intra, inter := b.norm[k], b.bal[k]
			minMax(intra, tau, s.lo, s.hi)
			simd.Mul(intra, intra, intra)
			simd.Scale(intra, nf)
			simd.Exp(intra, intra)
			simd.Mul(inter, tau, b.sum)
			simd.Tanh(inter, inter)
			simd.Mul(b.bal[k], intra, inter)
			emit(k, b.bal[k])
			continue
		}
		x := b.bal[k]
		simd.Mul(x, tau, b.sum)
		c := 0
		idx, dx, dm := b.idx[:len(x)], b.dx[:len(x)], b.dm[:len(x)]
		// Branch-free compaction: every entry is written at c, which
		// advances past the positive ones only.
		lo, hi, span := s.lo, s.hi, s.hi-s.lo
		degenerate := !(hi > lo)
		if degenerate {
			lo, hi, span = 0, 0, 1
		}
		for i, v := range x {
			idx[c], dx[c], dm[c] = int32(i), v, minMaxOf(tau[i], lo, hi, span)
			c += 1 - nonPositive(v)
		}
		idx, dx, dm = idx[:c], dx[:c], dm[:c]
		simd.Mul(dm, dm, dm)
		simd.Scale(dm, nf)
		simd.Exp(dm, dm)
		simd.Tanh(dx, dx)
		simd.Mul(dx, dm, dx)
		b.idx = idx[:cap(idx)]
		emit(k, dx)
	}
}

// balancePairwise computes every B_k into b.bal for --inter pairwise.
func balancePairwise(b *buffers, st []taskStats) {
	n := len(b.tau)
	nf := float32(n)
	for k := range n {
		minMax(b.norm[k], b.tau[k], st[k].lo, st[k].hi)
		// intra_k into bal_k, then ñ_k over norm_k.
		intra := b.bal[k]
		simd.Mul(intra, b.norm[k], b.norm[k])
		simd.Scale(intra, nf)
		simd.Exp(intra, intra)
		nt := b.norm[k]
		for i, v := range b.tau[k] {
			switch {
			case v < 0:
				nt[i] = -nt[i]
			case v > 0:
			default:
				nt[i] = 0
			}
		}
	}
	acc, tmp := b.den, b.sum
	for k := range n {
		// Σ_j tanh(ñ_k ⊙ ñ_j) in j order.
		for j := range n {
			simd.Mul(tmp, b.norm[k], b.norm[j])
			simd.Tanh(tmp, tmp)
			if j == 0 {
				copy(acc, tmp)
			} else {
				simd.Add(acc, acc, tmp)
			}
		}
		simd.Mul(b.bal[k], b.bal[k], acc)
	}
}

// scale turns balance scores into drop-and-rescale weights in place:
// (max(B, thr) − thr)/(max − thr), so entries at or below the threshold get
// 0. When max == thr (ratio < 1/d, or ties at the top) the official code
// divides 0 by 0; here entries equal to the maximum get 1 and the rest 0.
func scale(bal []float32, thr, mx float32) {
	if mx > thr {
		// max(B, thr) − thr equals max(B − thr, 0): B > thr gives B − thr > 0.
		span := mx - thr
		for i, v := range bal {
			bal[i] = max(v-thr, 0) / span
		}
		return
	}
	for i, v := range bal {
		if v >= mx {
			bal[i] = 1
		} else {
			bal[i] = 0
		}
	}
}

// weights fills b.bal[k] with every task's drop-and-rescale weights s_k.
func weights(b *buffers, st []taskStats, pairwise bool) {
	scores(b, st, pairwise, func(k int, B []float32) {
		scale(B, st[k].thr, st[k].max)
		if !st[k].positive {
			return // B is b.bal[k]
		}
		// The entries with x ≤ 0 score ≤ 0 < thr: weight 0.
		row := b.bal[k]
		clear(row)
		for j, i := range b.idx[:len(B)] {
			row[i] = B[j]
		}
	})
}

// combine computes the merged block into out:
//
//	out = base + λ·(Σ_k w_k·τ̂_k·s_k) / max(Σ_k s_k, 1e-12)
//
// with τ̂_k the clipped task vector and s_k = b.bal[k] the weights from
// [weights]. out may be b.sum.
func combine(out []float32, b *buffers, st []taskStats, w []float32, lambda float32) {
	num, den := b.sum, b.den
	for k := range b.tau {
		s := b.bal[k]
		hat := b.norm[k]
		lo, hi := st[k].lo, st[k].hi
		for i, v := range b.tau[k] {
			hat[i] = clipped(v, lo, hi)
		}
		simd.Scale(hat, w[k])
		simd.Mul(hat, hat, s)
		if k == 0 {
			copy(num, hat)
			copy(den, s)
		} else {
			simd.Add(num, num, hat)
			simd.Add(den, den, s)
		}
	}
	for i := range out {
		out[i] = num[i] / max(den[i], 1e-12)
	}
	simd.Scale(out, lambda)
	simd.Add(out, out, b.base)
}
