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
	bal  [][]float32 // balance score B_k, or x = τ_k·Σ_j τ_j (positive-only scoring)
	norm [][]float32 // MinMax(Â_k), then intra_k or ñ_k (pairwise)
	sum  []float32   // Σ_j τ_j (inter sum)
	den  []float32   // Σ_k scale_k
	// Dense rows of the positive-x entries of one task: their indices, x
	// (then tanh x, then B) and MinMax (then intra); pairwise scratch.
	idx    []int32
	dx, dm []float32

	at int // the block's offset in its piece (forBlocks)
	// Raw reads (forBlocks): the stored bytes of a piece of every input
	// (base first) and float32 rows the block's base and τ are widened
	// into; out holds a piece's results.
	raw     [][]byte
	raw16   [][]uint16
	ownBase []float32
	ownTau  [][]float32
	out     []float32
	masks   *boundMasks    // bounded scoring scratch
	bound   []*boundParams // bounded speculation: per-task constants
	inRows  [][]uint8      // bounded speculation: per-task candidate bits of the block
	mrows   [][]uint16     // raw reads: the block's stored model values
	addrs   []uintptr      // deltasBF16 scratch
	tt      []float32      // tanhLarge scratch
	tmask   []uint8
	// sumReady: sum already holds Σ_j τ_j of the block (set by the reader
	// that computed τ and the sum in one sweep).
	sumReady bool
	ti       []int32
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

// sumTau sets b.sum = Σ_j τ_j, adding in task order (unless the block's
// reader already did: b.sumReady).
func sumTau(b *buffers) {
	if b.sumReady {
		return
	}
	copy(b.sum, b.tau[0])
	for _, t := range b.tau[1:] {
		simd.Add(b.sum, b.sum, t)
	}
}

// countPositiveProducts returns how many products a[i]·b[i] (rounded to
// float32) are > 0, that is not nonPositive; len(b) ≥ len(a).
func countPositiveProducts(a, b []float32) int {
	return countPositiveProductsArch(a, b)
}

// scores computes the balance scores B_k = exp(n·MinMax(Â_k)²) ⊙ inter_k
// and calls emit(k, B) for each task in order, with inter_k = tanh(τ_k ⊙
// Σ_j τ_j) or, when pairwise, Σ_j tanh(ñ_k ⊙ ñ_j), ñ_j = sign(τ_j)·MinMax(Â_j).
//
// For a task with st[k].positive, B holds only the scores of entries with
// x = τ_k·Σ_j τ_j > 0, densely, and b.idx their positions (valid until the
// next emit); when floor is non-nil it also leaves out entries whose score
// is provably below floor[k] (see envelope). Otherwise B is b.bal[k], one
// score per entry.
func scores(b *buffers, st []taskStats, pairwise bool, env *envelope, floor []float32, emit func(k int, B []float32)) {
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
		idx, dx := b.idx[:len(x)], b.dx[:len(x)]
		var c int
		if floor == nil {
			c = compactPositive(idx, dx, x)
		} else {
			c = env.compact(idx, dx, x, tau, s, floor[k])
		}
		dx = denseScores(b, tau, c, s, nf)
		emit(k, dx)
	}
}

// denseScores computes the balance scores of the c entries of one task
// listed in b.idx (positions in tau) with x in b.dx, in place in b.dx, and
// returns them: exp(n·MinMax(Â)²)·tanh(x).
func denseScores(b *buffers, tau []float32, c int, s taskStats, nf float32) []float32 {
	idx, dx := b.idx[:c], b.dx[:c]
	dm := b.dm[:c]
	if s.hi > s.lo {
		lo, hi, span := s.lo, s.hi, s.hi-s.lo
		for j, i := range idx {
			dm[j] = minMaxOf(tau[i], lo, hi, span)
		}
	} else {
		clear(dm)
	}
	scoreTail(b, dm, dx)
	return dx
}

// scoreTail sets dx = exp(n·dm²)·tanh(dx) from dm = MinMax(Â) and dx = x
// (nf = n, the number of task vectors), as every scoring path rounds it.
func scoreTail(b *buffers, dm, dx []float32) {
	simd.Mul(dm, dm, dm)
	simd.Scale(dm, float32(len(b.tau)))
	simd.Exp(dm, dm)
	tanhLarge(b, dx)
	simd.Mul(dx, dm, dx)
}

// tanhIdentityMax is the largest x for which simd.Tanh returns x itself
// (for 0 ≤ x ≤ 2⁻¹⁴, tanh x = x(1 − x²/3 + …) is within 1.2e-9 relative of
// x, far inside half an ulp, and the float64 evaluation rounds it to x;
// TestTanhIdentityBelow checks every such float).
const tanhIdentityMax = 0x1p-14

// tanhLarge sets x = tanh x, as simd.Tanh does, calling it only for the
// entries that are not in [+0, tanhIdentityMax] (on the bits: negative
// values and NaNs included), gathered densely into b's scratch.
func tanhLarge(b *buffers, x []float32) {
	if cap(b.tt) < len(x) {
		n := max(len(x), blockElems)
		b.tt, b.ti, b.tmask = make([]float32, n), make([]int32, n), make([]uint8, n/8+1)
	}
	tt, ti := b.tt[:len(x)], b.ti[:len(x)]
	nv := len(x) &^ 7
	masks := b.tmask[:nv/8]
	tanhMask(masks, x[:nv])
	c := compress(ti, tt, x[:nv], masks, 0)
	for j, v := range x[nv:] {
		if tanhNeeded(v) {
			ti[c], tt[c] = int32(nv+j), v
			c++
		}
	}
	if c == 0 {
		return
	}
	simd.Tanh(tt[:c], tt[:c])
	for j, i := range ti[:c] {
		x[i] = tt[j]
	}
}

// tanhNeeded reports whether simd.Tanh may change v: v is not in
// [+0, tanhIdentityMax] (on the bits, so negative values and NaNs are).
func tanhNeeded(v float32) bool { return math.Float32bits(v) > 0x38800000 }

// tanhMaskGeneric sets bit t of mask[j] to tanhNeeded(x[8j+t]), for
// len(x) a multiple of 8.
func tanhMaskGeneric(mask []uint8, x []float32) {
	for j := range len(x) / 8 {
		var mb uint8
		for t := range 8 {
			if tanhNeeded(x[8*j+t]) {
				mb |= 1 << t
			}
		}
		mask[j] = mb
	}
}

// compactPositive writes the positions and values of the entries with x > 0
// (exactly as nonPositive counts them: a NaN with a clear sign bit is
// kept) densely into idx and dx and returns their number. It is
// branch-free: every entry is written at c, which advances past the kept
// ones only. On the bits, x > 0 is int32(bits(x)) > 0.
func compactPositive(idx []int32, dx, x []float32) int {
	idx, dx = idx[:len(x)], dx[:len(x)]
	c := 0
	for i, v := range x {
		idx[c], dx[c] = int32(i), v
		c += int(-int64(int32(math.Float32bits(v))) >> 63 & 1)
	}
	return c
}

// envelope bounds balance scores from above without exp or tanh, to skip
// entries that cannot reach a known floor: for y = n·MinMax² ∈ [0, n],
//
//	e^y ≤ 1 + y + y²/2 + c3·y³,  c3 = (e^n − 1 − n − n²/2)/n³
//
// (the Taylor remainder's coefficient Σ_{j≥3} y^(j−3)/j! grows with y, so
// its value at y = n bounds it), and 0 < tanh x ≤ min(x, 1) for x > 0.
type envelope struct {
	n  float32
	en float32 // e^n rounded up: B ≤ e^n·x
	c3 float32 // rounded up
}

// envMargin absorbs the float32 rounding of the bound and the ≤ 2 ulp
// error of simd.Exp and simd.Tanh, with a wide safety factor: the bound is
// used only to skip entries, so a loose margin costs a little speed, never
// exactness. MinMax is also taken envMargin larger, which only raises the
// bound (it grows with MinMax).
const envMargin = 1.001

func newEnvelope(n int) *envelope {
	up := func(v float64) float32 { // round up to float32
		f := float32(v)
		if float64(f) < v {
			f = math.Nextafter32(f, float32(math.Inf(1)))
		}
		return f
	}
	nf := float64(n)
	return &envelope{n: float32(n), en: up(math.Exp(nf)), c3: up((math.Exp(nf) - 1 - nf - nf*nf/2) / (nf * nf * nf))}
}

// params returns the constants of the envelope test (envKeep) of a task's
// entries against floor.
func (e *envelope) params(s taskStats, floor float32) *envParams {
	p := &envParams{lo: s.lo, hi: s.hi, n: e.n, c3: e.c3, half: 0.5, one: 1, margin: envMargin, absMask: 1<<31 - 1}
	if s.hi > s.lo {
		p.inv = 1 / (s.hi - s.lo) * envMargin
	}
	// x > xmin ≥ 0 is necessary for B ≥ floor (B ≤ e^n·x): on the bits,
	// int32(bits(x)) > bits(xmin); negative x are negative integers.
	if v := floor / (e.en * envMargin); v > 0 {
		p.xmin = int32(math.Float32bits(v))
	}
	// u ≥ floor on the bits: u is ≥ 0 or a positive NaN (kept) whenever
	// x > 0, and the bits of a negative floor are negative integers. No
	// score is below a NaN floor: keep them all.
	p.fb = int32(math.Float32bits(floor))
	if floor != floor {
		p.fb = math.MinInt32
	}
	return p
}

// compact is compactPositive restricted to the entries whose score may be
// ≥ floor (envKeep): those with x > 0 and a bound (1 + y + y²/2 +
// c3·y³)·min(x, 1) not below floor.
func (e *envelope) compact(idx []int32, dx, x, tau []float32, s taskStats, floor float32) int {
	idx, dx, tau = idx[:len(x)], dx[:len(x)], tau[:len(x)]
	p := e.params(s, floor)
	var masks [blockElems / 8]uint8
	c := 0
	for lo := 0; lo < len(x); lo += blockElems {
		hi := min(lo+blockElems, len(x))
		nv := (hi - lo) &^ 7
		envMask(masks[:nv/8], x[lo:lo+nv], tau[lo:lo+nv], p)
		c += compress(idx[c:], dx[c:], x[lo:lo+nv], masks[:nv/8], int32(lo))
		for i := lo + nv; i < hi; i++ {
			if envKeep(x[i], tau[i], p) {
				idx[c], dx[c] = int32(i), x[i]
				c++
			}
		}
	}
	return c
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
	acc, tmp := b.dx[:len(b.base)], b.dm[:len(b.base)]
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

// mergeBlock computes the merged block into out (len(b.base) values):
//
//	out = base + λ·(Σ_k w_k·τ̂_k·s_k) / max(Σ_k s_k, 1e-12)
//
// with τ̂_k the clipped task vector and s_k the drop-and-rescale weights
// (max(B_k, thr_k) − thr_k)/(max_k − thr_k); both sums start from +0 and
// add the tasks in order, skipping entries known to have weight 0. out may
// not alias the block's buffers.
func mergeBlock(out []float32, b *buffers, st []taskStats, pairwise bool, env *envelope, w []float32, lambda float32) {
	num, den := out, b.den
	clear(num)
	clear(den)
	thr := make([]float32, len(st))
	for k := range st {
		thr[k] = st[k].thr
	}
	scores(b, st, pairwise, env, thr, func(k int, B []float32) {
		scale(B, st[k].thr, st[k].max)
		tau, lo, hi, wk := b.tau[k], st[k].lo, st[k].hi, w[k]
		if st[k].positive {
			for j, i := range b.idx[:len(B)] {
				num[i] += float32(float32(wk*clipped(tau[i], lo, hi)) * B[j])
				den[i] += B[j]
			}
			return
		}
		for i, sc := range B {
			num[i] += float32(float32(wk*clipped(tau[i], lo, hi)) * sc)
			den[i] += sc
		}
	})
	finishMerge(out, num, den, b.base, lambda)
}
