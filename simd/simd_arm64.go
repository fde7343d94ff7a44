//go:build !purego

package simd

import "math"

// archKernels returns the arm64 implementations, best last. Advanced SIMD
// (NEON) is part of every arm64 CPU.
func archKernels() []*kernels { return []*kernels{&neonKernels} }

// neonKernels uses NEON assembly for the conversions, the elementwise
// kernels, the fused sums, the reductions, CountAbsGE, TIESElect, Exp and
// Tanh; the histograms are generic.
var neonKernels = func() kernels {
	k := genericKernels
	k.level = "neon"
	k.bf16ToF32 = func(dst []float32, src []uint16) { toF32NEON(bf16ToF32NEON, refBF16ToF32, dst, src) }
	k.f16ToF32 = func(dst []float32, src []uint16) { toF32NEON(f16ToF32NEON, refF16ToF32, dst, src) }
	k.f32ToBF16 = func(dst []uint16, src []float32) { fromF32NEON(f32ToBF16NEON, refF32ToBF16, dst, src) }
	k.f32ToF16 = func(dst []uint16, src []float32) { fromF32NEON(f32ToF16NEON, refF32ToF16, dst, src) }
	k.addScaled = addScaledNEONSlice
	k.scale = scaleNEONSlice
	k.sub = func(dst, x, y []float32) { binNEON(subNEON, refSub, dst, x, y) }
	k.add = func(dst, x, y []float32) { binNEON(addNEON, refAdd, dst, x, y) }
	k.mul = func(dst, x, y []float32) { binNEON(mulNEON, refMul, dst, x, y) }
	k.weightedDeltaSum = weightedDeltaSumNEONSlice
	k.weightedDeltaSumBF16 = func(dst []float32, base []uint16, xs [][]uint16, w []float32) {
		weightedDeltaSum16NEON(weightedDeltaSumBF16NEON, weightedDeltaSumBF16From, dst, base, xs, w)
	}
	k.weightedDeltaSumF16 = func(dst []float32, base []uint16, xs [][]uint16, w []float32) {
		weightedDeltaSum16NEON(weightedDeltaSumF16NEON, weightedDeltaSumF16From, dst, base, xs, w)
	}
	k.sum = func(x []float32) float64 { return reduceNEON(sumNEON, sumFrom, x) }
	k.sumSquares = func(x []float32) float64 { return reduceNEON(sumSquaresNEON, sumSquaresFrom, x) }
	k.sumAbs = func(x []float32) float64 { return reduceNEON(sumAbsNEON, sumAbsFrom, x) }
	k.dot = dotNEONSlice
	k.maxAbs = maxAbsNEONSlice
	k.countAbsGE = countAbsGENEONSlice
	k.tiesElect = tiesElectNEONSlice
	k.exp = func(dst, x []float32) { unaryNEON(expNEON, refExp, dst, x) }
	k.tanh = func(dst, x []float32) { unaryNEON(tanhNEON, refTanh, dst, x) }
	return k
}()

// bf16ToF32NEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = bf16ToF32(src[i]) }
//
//go:noescape
func bf16ToF32NEON(dst *float32, src *uint16, n int)

// f16ToF32NEON implements, for n a multiple of 16, with FCVTL,
//
//	for i := range n { dst[i] = f16ToF32(src[i]) }
//
//go:noescape
func f16ToF32NEON(dst *float32, src *uint16, n int)

// f32ToBF16NEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = f32ToBF16(src[i]) }
//
//go:noescape
func f32ToBF16NEON(dst *uint16, src *float32, n int)

// f32ToF16NEON implements, for n a multiple of 16, with FCVTN (rounding
// mode from FPCR: round to nearest even, as Go programs run),
//
//	for i := range n { dst[i] = f32ToF16(src[i]) }
//
//go:noescape
func f32ToF16NEON(dst *uint16, src *float32, n int)

func toF32NEON(asm func(*float32, *uint16, int), ref func([]float32, []uint16), dst []float32, src []uint16) {
	src = src[:len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		asm(&dst[0], &src[0], n)
	}
	ref(dst[n:], src[n:])
}

func fromF32NEON(asm func(*uint16, *float32, int), ref func([]uint16, []float32), dst []uint16, src []float32) {
	src = src[:len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		asm(&dst[0], &src[0], n)
	}
	ref(dst[n:], src[n:])
}

// addScaledNEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] += float32(a * x[i]) }
//
//go:noescape
func addScaledNEON(dst *float32, a float32, x *float32, n int)

// scaleNEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] *= a }
//
//go:noescape
func scaleNEON(dst *float32, a float32, n int)

// subNEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = x[i] - y[i] }
//
//go:noescape
func subNEON(dst, x, y *float32, n int)

// addNEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = x[i] + y[i] }
//
//go:noescape
func addNEON(dst, x, y *float32, n int)

// mulNEON implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = x[i] * y[i] }
//
//go:noescape
func mulNEON(dst, x, y *float32, n int)

// weightedDeltaSumNEON implements, for n a multiple of 16 and k rows,
//
//	for i := range n {
//		b := base[i]
//		var acc float32
//		for j := range k { acc += float32(w[j] * (xs[j][i] - b)) }
//		dst[i] = b + acc
//	}
//
// dst may equal base.
//
//go:noescape
func weightedDeltaSumNEON(dst, base *float32, xs *[]float32, w *float32, k, n int)

// weightedDeltaSumBF16NEON implements, for n a multiple of 16 and k rows,
//
//	for i := range n {
//		b := bf16ToF32(base[i])
//		var acc float32
//		for j := range k { acc += float32(w[j] * (bf16ToF32(xs[j][i]) - b)) }
//		dst[i] = b + acc
//	}
//
// (NaNs are not quieted on load; arithmetic results from NaN operands are
// NaN either way.)
//
//go:noescape
func weightedDeltaSumBF16NEON(dst *float32, base *uint16, xs *[]uint16, w *float32, k, n int)

// weightedDeltaSumF16NEON is weightedDeltaSumBF16NEON for binary16 inputs
// (converted with FCVTL):
//
//	for i := range n {
//		b := f16ToF32(base[i])
//		var acc float32
//		for j := range k { acc += float32(w[j] * (f16ToF32(xs[j][i]) - b)) }
//		dst[i] = b + acc
//	}
//
//go:noescape
func weightedDeltaSumF16NEON(dst *float32, base *uint16, xs *[]uint16, w *float32, k, n int)

// sumNEON implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(x[i]) }
//
//go:noescape
func sumNEON(acc *[sumLanes]float64, x *float32, n int)

// sumSquaresNEON implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(x[i]) * float64(x[i]) }
//
//go:noescape
func sumSquaresNEON(acc *[sumLanes]float64, x *float32, n int)

// dotNEON implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(x[i]) * float64(y[i]) }
//
//go:noescape
func dotNEON(acc *[sumLanes]float64, x, y *float32, n int)

// sumAbsNEON implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(abs(x[i])) }
//
//go:noescape
func sumAbsNEON(acc *[sumLanes]float64, x *float32, n int)

func addScaledNEONSlice(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		addScaledNEON(&dst[0], a, &x[0], n)
	}
	refAddScaled(dst[n:], a, x[n:])
}

func scaleNEONSlice(dst []float32, a float32) {
	n := len(dst) &^ 15
	if n > 0 {
		scaleNEON(&dst[0], a, n)
	}
	refScale(dst[n:], a)
}

func binNEON(asm func(dst, x, y *float32, n int), ref func(dst, x, y []float32), dst, x, y []float32) {
	x = x[:len(dst)]
	y = y[:len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		asm(&dst[0], &x[0], &y[0], n)
	}
	ref(dst[n:], x[n:], y[n:])
}

func weightedDeltaSumNEONSlice(dst, base []float32, xs [][]float32, w []float32) {
	base = base[:len(dst)]
	w = w[:len(xs)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	n := len(dst) &^ 15
	if n > 0 {
		var xp *[]float32
		var wp *float32
		if len(xs) > 0 {
			xp, wp = &xs[0], &w[0]
		}
		weightedDeltaSumNEON(&dst[0], &base[0], xp, wp, len(xs), n)
	}
	weightedDeltaSumFrom(dst, base, xs, w, n)
}

// weightedDeltaSum16NEON runs a fused sum over 16-bit inputs: asm on the
// blocks, ref (the reference loop) on the tail.
func weightedDeltaSum16NEON(asm func(*float32, *uint16, *[]uint16, *float32, int, int), ref func([]float32, []uint16, [][]uint16, []float32, int),
	dst []float32, base []uint16, xs [][]uint16, w []float32) {
	base = base[:len(dst)]
	w = w[:len(xs)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	n := len(dst) &^ 15
	if n > 0 {
		var xp *[]uint16
		var wp *float32
		if len(xs) > 0 {
			xp, wp = &xs[0], &w[0]
		}
		asm(&dst[0], &base[0], xp, wp, len(xs), n)
	}
	ref(dst, base, xs, w, n)
}

func reduceNEON(asm func(*[sumLanes]float64, *float32, int), tail func(*[sumLanes]float64, []float32, int), x []float32) float64 {
	var acc [sumLanes]float64
	n := len(x) &^ 15
	if n > 0 {
		asm(&acc, &x[0], n)
	}
	tail(&acc, x, n)
	return combineLanes(&acc)
}

func dotNEONSlice(x, y []float32) float64 {
	y = y[:len(x)]
	var acc [sumLanes]float64
	n := len(x) &^ 15
	if n > 0 {
		dotNEON(&acc, &x[0], &y[0], n)
	}
	dotFrom(&acc, x, y, n)
	return combineLanes(&acc)
}

// maxAbsNEON implements, for n a multiple of 16,
//
//	for i := range n { m[i%4] = max(m[i%4], bits(x[i]) & 0x7fffffff) }
//
//go:noescape
func maxAbsNEON(m *[4]uint32, x *float32, n int)

// countAbsGENEON implements, for n a multiple of 16 and below 2^32,
//
//	for i := range n { if abs(x[i]) >= thr { c[i%4]++ } }
//
//go:noescape
func countAbsGENEON(c *[4]uint32, x *float32, thr float32, n int)

// tiesElectNEON implements, for n a multiple of 8 and k rows,
//
//	for i := range n {
//		var sum float32
//		for j := range k { sum += d[j][i] }
//		neg := !(sum >= 0)
//		var m, dv float32
//		for j := range k {
//			if v := d[j][i]; neg && v < 0 || !neg && v > 0 { m += v; dv += w[j] }
//		}
//		mixed[i], div[i] = m, dv
//	}
//
//go:noescape
func tiesElectNEON(mixed, div *float32, d *[]float32, w *float32, k, n int)

func maxAbsNEONSlice(x []float32) float32 {
	var m [4]uint32
	n := len(x) &^ 15
	if n > 0 {
		maxAbsNEON(&m, &x[0], n)
	}
	r := math.Float32bits(refMaxAbs(x[n:]))
	for _, v := range m {
		r = max(r, v)
	}
	return math.Float32frombits(r)
}

func countAbsGENEONSlice(x []float32, thr float32) int {
	c := 0
	for len(x) >= 16 {
		n := min(len(x), 1<<30) &^ 15
		var lanes [4]uint32
		countAbsGENEON(&lanes, &x[0], thr, n)
		for _, v := range lanes {
			c += int(v)
		}
		x = x[n:]
	}
	return c + refCountAbsGE(x, thr)
}

func tiesElectNEONSlice(mixed, div []float32, d [][]float32, w []float32) {
	div = div[:len(mixed)]
	w = w[:len(d)]
	for k := range d {
		_ = d[k][:len(mixed)]
	}
	n := len(mixed) &^ 7
	if n > 0 {
		var dp *[]float32
		var wp *float32
		if len(d) > 0 {
			dp, wp = &d[0], &w[0]
		}
		tiesElectNEON(&mixed[0], &div[0], dp, wp, len(d), n)
	}
	tiesElectFrom(mixed, div, d, w, n)
}

// expNEON implements, for n a multiple of 4,
//
//	for i := range n { dst[i] = expf(x[i]) }
//
//go:noescape
func expNEON(dst, x *float32, n int)

// tanhNEON implements, for n a multiple of 4,
//
//	for i := range n { dst[i] = tanhf(x[i]) }
//
//go:noescape
func tanhNEON(dst, x *float32, n int)

func unaryNEON(asm func(dst, x *float32, n int), ref func(dst, x []float32), dst, x []float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 3
	if n > 0 {
		asm(&dst[0], &x[0], n)
	}
	ref(dst[n:], x[n:])
}
