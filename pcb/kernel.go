package pcb

import (
	"github.com/gomerge/gomerge/simd"
)

// taskStats are one task vector's statistics over its scope (the whole
// model or one tensor): the clip bounds of |τ| and the drop threshold and
// maximum of the balance score.
type taskStats struct {
	lo, hi   float32 // |τ| at sorted positions ⌊d·c⌋ and ⌊d(1−c)−1⌋
	thr, max float32 // balance score at sorted positions ⌊d(1−r)⌋ and d−1
}

// buffers holds one chunk's values: the base, the n task vectors τ, and
// working rows. Every slice has the chunk's length.
type buffers struct {
	base []float32
	tau  [][]float32 // τ_k = model_k − base
	bal  [][]float32 // balance score B_k, then scale_k
	norm [][]float32 // MinMax(Â_k), then ñ_k (pairwise) or scratch
	sum  []float32   // Σ_j τ_j (inter sum), or the merged numerator
	den  []float32   // Σ_k scale_k
}

// clipped returns sign(v)·clamp(|v|, lo, hi), with sign(0) = 0 as in
// torch.sign; like torch.clamp, hi wins when lo > hi. A NaN stays NaN.
func clipped(v, lo, hi float32) float32 {
	a := v
	if a < 0 {
		a = -a
	}
	a = min(max(a, lo), hi)
	switch {
	case v > 0:
		return a
	case v < 0:
		return -a
	}
	return v
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
		a := v
		if a < 0 {
			a = -a
		}
		a = min(max(a, lo), hi)
		dst[i] = (a - lo) / span
	}
}

// balance computes the balance score B_k = exp(n·MinMax(Â_k)²) ⊙ inter_k of
// every task into b.bal, with inter_k = tanh(τ_k ⊙ Σ_j τ_j) or, when
// pairwise, Σ_j tanh(ñ_k ⊙ ñ_j) with ñ_j = sign(τ_j)·MinMax(Â_j).
func balance(b *buffers, st []taskStats, pairwise bool) {
	n := len(b.tau)
	nf := float32(n)
	for k := range n {
		minMax(b.norm[k], b.tau[k], st[k].lo, st[k].hi)
	}
	if !pairwise {
		copy(b.sum, b.tau[0])
		for _, t := range b.tau[1:] {
			simd.Add(b.sum, b.sum, t)
		}
		for k := range n {
			intra, inter := b.norm[k], b.bal[k]
			simd.Mul(intra, intra, intra)
			simd.Scale(intra, nf)
			simd.Exp(intra, intra)
			simd.Mul(inter, b.tau[k], b.sum)
			simd.Tanh(inter, inter)
			simd.Mul(b.bal[k], intra, inter)
		}
		return
	}
	// Pairwise. intra_k goes to bal_k first; ñ_k overwrites norm_k; the
	// tanh sums accumulate in den (as scratch) one task at a time.
	for k := range n {
		intra := b.bal[k]
		simd.Mul(intra, b.norm[k], b.norm[k])
		simd.Scale(intra, nf)
		simd.Exp(intra, intra)
		nt, tau := b.norm[k], b.tau[k]
		for i, v := range tau {
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
		// Σ_j tanh(ñ_k ⊙ ñ_j) in j order; the product commutes exactly,
		// so j order is all that fixes the result.
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
		span := mx - thr
		for i, v := range bal {
			if v > thr {
				bal[i] = (v - thr) / span
			} else {
				bal[i] = 0
			}
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

// combine computes the merged chunk into out:
//
//	out = base + λ·(Σ_k w_k·τ̂_k·s_k) / max(Σ_k s_k, 1e-12)
//
// with τ̂_k the clipped task vector and s_k = scale(B_k). b.bal must hold the
// balance scores; they are overwritten by the scales.
func combine(out []float32, b *buffers, st []taskStats, w []float32, lambda float32) {
	num, den := b.sum, b.den
	for k := range b.tau {
		s := b.bal[k]
		scale(s, st[k].thr, st[k].max)
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
