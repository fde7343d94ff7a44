package pcb

import (
	"math"
)

// Two-sided bounds of balance scores without exp or tanh, in the log
// domain on float bits. For --inter sum, a positive entry's score is
// B = fl(expf(y)·tanhf(x)) with y = n·MinMax² ∈ [0, n] and x = τ_k·Σ_j τ_j > 0,
// so log₂ B = y·log₂e + log₂ tanh x (up to the ≤ 1.5 ulp errors of
// simd.Exp/Tanh and the product's rounding). For a positive normal float v,
// bits(v)/2²³ − 127 ≤ log₂ v ≤ bits(v)/2²³ − 127 + 0.086072 (the mantissa
// read as a fraction under-estimates log₂ of it by at most 0.086072); for a
// subnormal v the upper inequality still holds. With
//
//	s = trunc(fl(fl(m·m)·n·log₂e·2²³)) + bits(min(x, 1)),  m = (clamp(|τ|) − lo)·(1/(hi − lo))
//
// (tanh x ≤ min(x, 1)) the kernel decides, in integers:
//
//	s < bits(floor) − slackUp            ⇒ B < floor
//	s > bits(ceil) + slackDown,
//	  2⁻¹²⁶ ≤ x ≤ 2⁻⁴                    ⇒ B > ceil (tanh x ≥ x(1 − x²/3) ≥ x·2^−0.0019)
//
// slackUp and slackDown add 2⁻¹⁰ (in log₂ units, 8192 in bits) to the
// mantissa error: far more than the float32 roundings of s (a few hundred
// units), the reciprocal's error in y and the errors of the exact score.
// Thresholds are used only when they are normal numbers ≥ 2⁻¹⁰⁰ (others are
// disabled), so both sides of each comparison are in the range where the
// inequalities hold. A block whose x holds a NaN or an infinity is flagged
// (bad) and computed by the reference path instead.
//
// The bounds only decide which entries need their exact score: entries
// below the floor are left out; entries above the ceiling and below the
// running maximum (same test as the floor) are counted without a score;
// every other entry with x > 0 is computed exactly, so results never depend
// on the bounds' tightness.

// maxBoundTasks is the most task vectors the bound kernel is used for: s
// must not overflow int32 (n·log₂e·2²³ + bits(1) < 2³¹).
const maxBoundTasks = 64

// boundMin is the smallest threshold the bounds are compared with (2⁻¹⁰⁰).
const boundMin = 0x1p-100

const (
	log2Slack = 0.086072      // max of log₂(1+f) − f on [0, 1), rounded up
	slackUp   = 722025 + 8192 // ⌈log2Slack·2²³⌉ + 2⁻¹⁰·2²³          // floor and maximum tests
	slackDown = 737964 + 8192 // ⌈(log2Slack + 0.0019)·2²³⌉ + 2⁻¹⁰·2²³ // ceiling test
	aboveXMin = 0x007fffff    // x > this: normal
	aboveXMax = 0x3d800001    // x < this: x ≤ 2⁻⁴
)

// boundParams are the constants of the bound kernel for one task and its
// thresholds, laid out for boundMaskAVX2 (offsets in its assembly).
type boundParams struct {
	lo, hi, inv, cK float32 // 0: clip bounds, 1/(hi − lo) (0 when hi ≤ lo), n·log₂e·2²³
	one             float32 // 16
	absMask, finite uint32  // 20: |·| mask, largest finite bits
	tfloor, tceil   int32   // 28: bits(floor) − slackUp, bits(ceil) + slackDown
	tmax            int32   // 36: bits(max) − slackUp
	xmin, xmax      int32   // 40: aboveXMin, aboveXMax

	floor, ceil, max float32 // the thresholds (tests)

	v boundVecs // the same constants as vectors, for boundCompactAVX2
}

// boundVecs holds the kernel's constants broadcast to 8 lanes (offsets in
// boundCompactAVX2's assembly).
type boundVecs struct {
	lo, hi, inv, cK, one [8]float32 // 0, 32, 64, 96, 128
	absMask              [8]uint32  // 160
	tfloor, tceil, tmax  [8]int32   // 192, 224, 256
	xmin, xmax           [8]int32   // 288, 320
	finite               [8]uint32  // 352
	eight, iota          [8]int32   // 384, 416: position step and 0…7
}

// fill broadcasts p's constants into p.v.
func (p *boundParams) fill() {
	v := &p.v
	for i := range 8 {
		v.lo[i], v.hi[i], v.inv[i], v.cK[i], v.one[i] = p.lo, p.hi, p.inv, p.cK, p.one
		v.absMask[i], v.finite[i] = p.absMask, p.finite
		v.tfloor[i], v.tceil[i], v.tmax[i] = p.tfloor, p.tceil, p.tmax
		v.xmin[i], v.xmax[i] = p.xmin, p.xmax
		v.eight[i], v.iota[i] = 8, int32(i)
	}
}

// newBoundParams returns the bound constants of a task with statistics s
// among n task vectors, or nil when the kernel cannot bound its scores
// (too many tasks, clip bounds out of range, or hi − lo so small that its
// reciprocal overflows).
func newBoundParams(s taskStats, n int) *boundParams {
	if n > maxBoundTasks || !(s.lo >= 0 && s.hi <= math.MaxFloat32) {
		return nil
	}
	p := &boundParams{
		lo: s.lo, hi: s.hi, cK: float32(float64(n) * math.Log2E * (1 << 23)), one: 1,
		absMask: 1<<31 - 1, finite: 0x7f7fffff, xmin: aboveXMin, xmax: aboveXMax,
	}
	if s.hi > s.lo {
		p.inv = 1 / (s.hi - s.lo)
		if p.inv > math.MaxFloat32 {
			return nil
		}
	}
	p.setThresholds(float32(math.Inf(-1)), float32(math.Inf(1)), float32(math.Inf(-1)))
	return p
}

// setThresholds sets the floor, the ceiling and the running maximum, each
// disabled unless it is a normal number ≥ boundMin.
func (p *boundParams) setThresholds(floor, ceil, tmax float32) {
	usable := func(v float32) bool { return v >= boundMin && v <= math.MaxFloat32 }
	p.floor, p.ceil, p.max = floor, ceil, tmax
	p.tfloor, p.tceil, p.tmax = math.MinInt32, math.MaxInt32, math.MinInt32
	if usable(floor) {
		p.tfloor = int32(math.Float32bits(floor)) - slackUp
	}
	if usable(ceil) {
		p.tceil = int32(math.Float32bits(ceil)) + slackDown
	}
	if usable(tmax) {
		p.tmax = int32(math.Float32bits(tmax)) - slackUp
	}
	p.fill()
}

// boundEntry classifies one entry (τ and Σ_j τ_j): x = τ·sum, whether its
// score needs computing (keep), whether it is certainly above the ceiling
// and not the maximum (above), and whether x is a NaN or an infinity (bad).
// Every operation is rounded to float32 (and wraps in int32) as in
// boundMaskAVX2.
func boundEntry(tau, sum float32, p *boundParams) (x float32, keep, above, bad bool) {
	x = tau * sum
	xb := math.Float32bits(x)
	bad = xb&p.absMask > p.finite
	pos := int32(xb) > 0
	a := math.Float32frombits(math.Float32bits(tau) & p.absMask)
	a = min(max(a, p.lo), p.hi)
	m := float32(float32(a-p.lo) * p.inv)
	z := float32(float32(m*m) * p.cK)
	s := cvtt(z) + int32(math.Float32bits(min(x, p.one)))
	in := pos && s >= p.tfloor
	certain := s > p.tceil && s < p.tmax && int32(xb) > p.xmin && int32(xb) < p.xmax
	return x, in && !certain, in && certain, bad
}

// cvtt converts as CVTTPS2DQ does: truncation, and MinInt32 for a NaN or
// a value out of range.
func cvtt(z float32) int32 {
	if !(z > -(1<<31) && z < 1<<31) {
		return math.MinInt32
	}
	return int32(z)
}

// boundCompactGeneric classifies the entries of tau (with sum) by
// boundEntry and writes the positions, x and τ of those that need their
// exact score densely into idx, dx and dtau, and sets bit t of in[j] when
// entry 8j+t is kept or certainly above (x > 0, not below the floor); it
// returns how many are kept, how many are certainly above the ceiling,
// and whether some x is a NaN or an infinity. len(tau) is a multiple of 8.
func boundCompactGeneric(idx []int32, dx, dtau, tau, sum []float32, p *boundParams, in []uint8) (count, above int, bad bool) {
	sum = sum[:len(tau)]
	for j := range len(tau) / 8 {
		var mb uint8
		for t := range 8 {
			i := 8*j + t
			x, keep, ab, bd := boundEntry(tau[i], sum[i], p)
			if keep {
				idx[count], dx[count], dtau[count] = int32(i), x, tau[i]
				count++
			}
			if ab {
				above++
			}
			if keep || ab {
				mb |= 1 << t
			}
			bad = bad || bd
		}
		in[j] = mb
	}
	return count, above, bad
}

// deltaBF16Generic sets τ = model − base of bf16 values, widened exactly,
// and sum = τ when first, else sum + τ.
func deltaBF16Generic(tau, sum []float32, model, base []uint16, first bool) {
	model, base, sum = model[:len(tau)], base[:len(tau)], sum[:len(tau)]
	for i := range tau {
		v := math.Float32frombits(uint32(model[i])<<16) - math.Float32frombits(uint32(base[i])<<16)
		tau[i] = v
		if first {
			sum[i] = v
		} else {
			sum[i] += v
		}
	}
}

// finishMergeGeneric sets out = base + λ·num/max(den, 1e-12), rounding as
// the merge always has: quotient, then ·λ, then + base.
func finishMergeGeneric(out, num, den, base []float32, lambda float32) {
	num, den, base = num[:len(out)], den[:len(out)], base[:len(out)]
	for i := range out {
		q := num[i] / max(den[i], 1e-12)
		q = float32(q * lambda)
		out[i] = q + base[i]
	}
}

// weighDenseGeneric turns the scores B (dense, of the entries with τ in
// tau) into drop-and-rescale weights in place (scale) and sets v to each
// entry's term of the merge's numerator, w·τ̂·s, rounded as mergeBlock
// rounds it.
func weighDenseGeneric(v, B, tau []float32, s taskStats, w float32) {
	scale(B, s.thr, s.max)
	v, tau = v[:len(B)], tau[:len(B)]
	for j, sc := range B {
		v[j] = float32(float32(w*clipped(tau[j], s.lo, s.hi)) * sc)
	}
}

// finishMergeZeroGeneric is finishMergeGeneric that then sets num and den
// to zero (out must not alias them).
func finishMergeZeroGeneric(out, num, den, base []float32, lambda float32) {
	finishMergeGeneric(out, num, den, base, lambda)
	clear(num[:len(out)])
	clear(den[:len(out)])
}
