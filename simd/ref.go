package simd

import "math"

// This file holds the scalar reference of every kernel. Each one is the
// definition of its kernel's result: every other implementation must return
// the same bits. They also form the "generic" implementation.

// sumLanes is the number of float64 accumulators the reductions use.
// Element i is added to accumulator i%sumLanes; see combineLanes.
const sumLanes = 16

// combineLanes folds the lane accumulators in a fixed tree: the upper half is
// added onto the lower half (acc[j] += acc[j+h]) for h = 8, 4, 2, 1.
func combineLanes(acc *[sumLanes]float64) float64 {
	for h := sumLanes / 2; h >= 1; h /= 2 {
		for j := 0; j < h; j++ {
			acc[j] += acc[j+h]
		}
	}
	return acc[0]
}

// bf16ToF32 converts one bfloat16 value; a signalling NaN is quieted.
func bf16ToF32(h uint16) float32 {
	if h&0x7fff > 0x7f80 {
		h |= 0x0040
	}
	return math.Float32frombits(uint32(h) << 16)
}

// f32ToBF16 rounds one float32 to bfloat16, to nearest even. A NaN keeps its
// sign and upper payload bits and becomes quiet.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x0040
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// f16ToF32 converts one IEEE binary16 value exactly; a signalling NaN is
// quieted.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		if man != 0 {
			man |= 0x200 // quiet
		}
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: value = man * 2^-24; normalise.
	e := uint32(113) // biased exponent of 2^-14
	for man&0x400 == 0 {
		man <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
}

// f32ToF16 rounds one float32 to IEEE binary16, to nearest even. Values of
// magnitude ≥ 65520 become ±Inf. A NaN keeps its sign and upper payload bits
// and becomes quiet.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(a>>13)&0x3ff
	case a >= 0x477ff000: // ≥ 65520: rounds to Inf
		return sign | 0x7c00
	case a >= 0x38800000: // ≥ 2^-14: normal result
		v := a - 0x38000000 // rebias exponent 127 → 15
		v += 0x0fff + (v>>13)&1
		return sign | uint16(v>>13)
	case a < 0x33000000: // < 2^-25: rounds to zero
		return sign
	}
	// Subnormal result: round (1.m × 2^(e-127)) / 2^-24 to an integer.
	e := a >> 23
	m := a&0x7fffff | 0x800000
	s := 126 - e // 14..24
	q := m >> s
	rem := m & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || rem == half && q&1 == 1 {
		q++
	}
	return sign | uint16(q)
}

func refBF16ToF32(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = bf16ToF32(h)
	}
}

func refF16ToF32(dst []float32, src []uint16) {
	src = src[:len(dst)]
	for i, h := range src {
		dst[i] = f16ToF32(h)
	}
}

func refF32ToBF16(dst []uint16, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		dst[i] = f32ToBF16(f)
	}
}

func refF32ToF16(dst []uint16, src []float32) {
	src = src[:len(dst)]
	for i, f := range src {
		dst[i] = f32ToF16(f)
	}
}

func refAddScaled(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] += float32(a * v) // explicit rounding: never fused
	}
}

func refScale(dst []float32, a float32) {
	for i := range dst {
		dst[i] *= a
	}
}

func refSub(dst, x, y []float32) {
	x = x[:len(dst)]
	y = y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] - y[i]
	}
}

func refAdd(dst, x, y []float32) {
	x = x[:len(dst)]
	y = y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] + y[i]
	}
}

func refMul(dst, x, y []float32) {
	x = x[:len(dst)]
	y = y[:len(dst)]
	for i := range dst {
		dst[i] = x[i] * y[i]
	}
}

func refWeightedDeltaSum(dst, base []float32, xs [][]float32, w []float32) {
	weightedDeltaSumFrom(dst, base, xs, w, 0)
}

// weightedDeltaSumFrom is the reference loop of WeightedDeltaSum over the
// elements from lo on; assembly wrappers use it for the tail.
func weightedDeltaSumFrom(dst, base []float32, xs [][]float32, w []float32, lo int) {
	base = base[:len(dst)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	for i := lo; i < len(dst); i++ {
		b := base[i]
		var acc float32
		for k, x := range xs {
			acc += float32(w[k] * (x[i] - b))
		}
		dst[i] = b + acc
	}
}

func refWeightedDeltaSumBF16(dst []float32, base []uint16, xs [][]uint16, w []float32) {
	weightedDeltaSumBF16From(dst, base, xs, w, 0)
}

// weightedDeltaSumBF16From is the reference loop of WeightedDeltaSumBF16 over
// the elements from lo on.
func weightedDeltaSumBF16From(dst []float32, base []uint16, xs [][]uint16, w []float32, lo int) {
	base = base[:len(dst)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	for i := lo; i < len(dst); i++ {
		b := bf16ToF32(base[i])
		var acc float32
		for k, x := range xs {
			acc += float32(w[k] * (bf16ToF32(x[i]) - b))
		}
		dst[i] = b + acc
	}
}

func refWeightedDeltaSumF16(dst []float32, base []uint16, xs [][]uint16, w []float32) {
	weightedDeltaSumF16From(dst, base, xs, w, 0)
}

// weightedDeltaSumF16From is the reference loop of WeightedDeltaSumF16 over
// the elements from lo on.
func weightedDeltaSumF16From(dst []float32, base []uint16, xs [][]uint16, w []float32, lo int) {
	base = base[:len(dst)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	for i := lo; i < len(dst); i++ {
		b := f16ToF32(base[i])
		var acc float32
		for k, x := range xs {
			acc += float32(w[k] * (f16ToF32(x[i]) - b))
		}
		dst[i] = b + acc
	}
}

func refSum(x []float32) float64 {
	var acc [sumLanes]float64
	sumFrom(&acc, x, 0)
	return combineLanes(&acc)
}

// sumFrom adds x[i] for i >= lo into acc[i%sumLanes]; sumSquaresFrom,
// dotFrom and sumAbsFrom likewise. Assembly wrappers use them for the tail.
func sumFrom(acc *[sumLanes]float64, x []float32, lo int) {
	for i := lo; i < len(x); i++ {
		acc[i%sumLanes] += float64(x[i])
	}
}

func sumSquaresFrom(acc *[sumLanes]float64, x []float32, lo int) {
	for i := lo; i < len(x); i++ {
		acc[i%sumLanes] += float64(float64(x[i]) * float64(x[i]))
	}
}

func dotFrom(acc *[sumLanes]float64, x, y []float32, lo int) {
	y = y[:len(x)]
	for i := lo; i < len(x); i++ {
		acc[i%sumLanes] += float64(float64(x[i]) * float64(y[i]))
	}
}

func sumAbsFrom(acc *[sumLanes]float64, x []float32, lo int) {
	for i := lo; i < len(x); i++ {
		acc[i%sumLanes] += float64(math.Float32frombits(math.Float32bits(x[i]) & 0x7fffffff))
	}
}

func refSumSquares(x []float32) float64 {
	var acc [sumLanes]float64
	sumSquaresFrom(&acc, x, 0) // each square is exact in float64
	return combineLanes(&acc)
}

func refDot(x, y []float32) float64 {
	var acc [sumLanes]float64
	dotFrom(&acc, x, y, 0) // each product is exact in float64
	return combineLanes(&acc)
}

func refSumAbs(x []float32) float64 {
	var acc [sumLanes]float64
	sumAbsFrom(&acc, x, 0)
	return combineLanes(&acc)
}

func refMaxAbs(x []float32) float32 {
	var m uint32
	for _, v := range x {
		if a := math.Float32bits(v) & 0x7fffffff; a > m {
			m = a
		}
	}
	return math.Float32frombits(m)
}

func refHistAbsHigh16(hist []uint64, x []float32) {
	hist = hist[:65536]
	for _, v := range x {
		hist[(math.Float32bits(v)&0x7fffffff)>>16]++
	}
}

func refHistAbsLow16(hist []uint64, x []float32, prefix uint16) {
	hist = hist[:65536]
	for _, v := range x {
		a := math.Float32bits(v) & 0x7fffffff
		if uint16(a>>16) == prefix {
			hist[a&0xffff]++
		}
	}
}

func refCountAbsGE(x []float32, thr float32) int {
	n := 0
	for _, v := range x {
		if math.Float32frombits(math.Float32bits(v)&0x7fffffff) >= thr {
			n++
		}
	}
	return n
}

func refTIESElect(mixed, div []float32, d [][]float32, w []float32) {
	tiesElectFrom(mixed, div, d, w, 0)
}

// tiesBlock is the number of elements the TIES reference processes per
// block: it walks the rows over a block twice, first for the sums, then
// for the masked sums, so the rows stay in cache.
const tiesBlock = 512

// tiesElectFrom is the reference loop of TIESElect over the elements from
// lo on. Per element it is exactly
//
//	var sum float32
//	for k := range d { sum += d[k][i] }
//	neg := !(sum >= 0)
//	var m, dv float32
//	for k := range d {
//		if v := d[k][i]; neg && v < 0 || !neg && v > 0 { m += v; dv += w[k] }
//	}
//	mixed[i], div[i] = m, dv
//
// written without data-dependent branches: a disagreeing term is replaced
// by +0, and adding +0 never changes m or dv (neither can be -0, as both
// start at +0 and a zero v never agrees).
func tiesElectFrom(mixed, div []float32, d [][]float32, w []float32, lo int) {
	n := len(mixed)
	div = div[:n]
	for k := range d {
		_ = d[k][:n]
	}
	w = w[:len(d)]
	var negMask [tiesBlock]uint32
	for ; lo < n; lo += tiesBlock {
		hi := min(lo+tiesBlock, n)
		m, dv := mixed[lo:hi], div[lo:hi]
		dv = dv[:len(m)]
		em := negMask[:len(m)]
		clear(m) // the sums, then the masked sums
		for _, row := range d {
			r := row[lo:hi]
			r = r[:len(m)]
			for i, v := range r {
				m[i] += v
			}
		}
		for i, s := range m {
			em[i] = 0
			if !(s >= 0) {
				em[i] = 1
			}
		}
		clear(m)
		clear(dv)
		for k, row := range d {
			wb := math.Float32bits(w[k])
			r := row[lo:hi]
			r = r[:len(m)]
			for i, v := range r {
				b := math.Float32bits(v)
				var valid uint32 // v is non-zero and not NaN
				if (b&0x7fffffff)-1 < 0x7f800000 {
					valid = 0xffffffff
				}
				mask := valid & ((b>>31 ^ em[i]) - 1)
				m[i] += math.Float32frombits(b & mask)
				dv[i] += math.Float32frombits(wb & mask)
			}
		}
	}
}

// Constants for the exponential argument reduction x = n·ln2 + r. ln2Hi has
// its low 32 bits clear, so n·ln2Hi is exact for the n used here.
const (
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	log2e = 1.44269504088896338700e+00
)

// expm1Reduced returns e^r - 1 for |r| ≤ ln2/2 as a degree-13 Taylor
// polynomial in float64 (truncation error < 2e-17 relative). Every product is
// rounded explicitly so that no platform fuses it.
func expm1Reduced(r float64) float64 {
	p := 1.0 / 6227020800 // 1/13!
	p = 1.0/479001600 + float64(r*p)
	p = 1.0/39916800 + float64(r*p)
	p = 1.0/3628800 + float64(r*p)
	p = 1.0/362880 + float64(r*p)
	p = 1.0/40320 + float64(r*p)
	p = 1.0/5040 + float64(r*p)
	p = 1.0/720 + float64(r*p)
	p = 1.0/120 + float64(r*p)
	p = 1.0/24 + float64(r*p)
	p = 1.0/6 + float64(r*p)
	p = 0.5 + float64(r*p)
	p = 1 + float64(r*p)
	return float64(r * p)
}

// reduce splits y into n·ln2 + r with n integral and |r| ≤ ln2/2 (+tiny).
func reduce(y float64) (n, r float64) {
	n = math.Floor(float64(y*log2e) + 0.5)
	r = y - float64(n*ln2Hi)
	r -= float64(n * ln2Lo)
	return n, r
}

// pow2 returns 2^n for integral n in the float64 normal exponent range.
func pow2(n float64) float64 {
	return math.Float64frombits(uint64(int64(n)+1023) << 52)
}

// expf returns e^x rounded to float32. The result is computed in float64 with
// relative error below 1e-15 and rounded once, so it is within 1 ulp of the
// correctly rounded value (and of float32(math.Exp(x))).
func expf(x float32) float32 {
	if x != x {
		return x
	}
	y := float64(x)
	// e^-120 rounds to 0 and e^100 to +Inf in float32.
	y = min(max(y, -120), 100)
	n, r := reduce(y)
	s := pow2(n)
	return float32(s + float64(s*expm1Reduced(r)))
}

// tanhf returns tanh(x) rounded to float32, within 1 ulp of the correctly
// rounded value. It evaluates e^(2|x|)-1 = (2^n-1) + 2^n·expm1(r) without
// cancellation, then tanh|x| = em/(em+2), and restores the sign, so ±0 and
// subnormals come out exact.
func tanhf(x float32) float32 {
	if x != x {
		return x
	}
	a := min(math.Abs(float64(x)), 10) // tanh(10) rounds to 1 in float32
	n, r := reduce(2 * a)
	s := pow2(n)
	em := (s - 1) + float64(s*expm1Reduced(r))
	t := float32(em / (em + 2))
	if x < 0 || x == 0 && math.Signbit(float64(x)) {
		return -t
	}
	return t
}

func refExp(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = expf(v)
	}
}

func refTanh(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		dst[i] = tanhf(v)
	}
}
