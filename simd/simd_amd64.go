//go:build !purego

package simd

import (
	"math"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// archKernels returns the amd64 implementations the CPU supports, best last.
// The AVX2 level also needs F16C (every AVX2 CPU has it) for the float16
// conversions.
func archKernels() []*kernels {
	if cpu.X86.HasAVX2 && cpu.X86.HasF16C {
		return []*kernels{&avx2Kernels}
	}
	return nil
}

// avx2Kernels uses AVX2 assembly for every kernel except the two
// histograms (scatter-bound, left to the generic loop).
var avx2Kernels = func() kernels {
	k := genericKernels
	k.level = "avx2"
	k.bf16ToF32 = bf16ToF32AVX2Slice
	k.f16ToF32 = f16ToF32AVX2Slice
	k.f32ToBF16 = f32ToBF16AVX2Slice
	k.f32ToF16 = f32ToF16AVX2Slice
	k.addScaled = addScaledAVX2Slice
	k.scale = scaleAVX2Slice
	k.sub = func(dst, x, y []float32) { binAVX2(subAVX2, refSub, dst, x, y) }
	k.add = func(dst, x, y []float32) { binAVX2(addAVX2, refAdd, dst, x, y) }
	k.mul = func(dst, x, y []float32) { binAVX2(mulAVX2, refMul, dst, x, y) }
	k.weightedDeltaSum = weightedDeltaSumAVX2Slice
	k.weightedDeltaSumBF16 = func(dst []float32, base []uint16, xs [][]uint16, w []float32) {
		weightedDeltaSum16AVX2(weightedDeltaSumBF16AVX2, weightedDeltaSumBF16From, dst, base, xs, w)
	}
	k.weightedDeltaSumF16 = func(dst []float32, base []uint16, xs [][]uint16, w []float32) {
		weightedDeltaSum16AVX2(weightedDeltaSumF16AVX2, weightedDeltaSumF16From, dst, base, xs, w)
	}
	k.sum = sumAVX2Slice
	k.sumSquares = sumSquaresAVX2Slice
	k.dot = dotAVX2Slice
	k.sumAbs = sumAbsAVX2Slice
	k.maxAbs = maxAbsAVX2Slice
	k.countAbsGE = countAbsGEAVX2Slice
	k.tiesElect = tiesElectAVX2Slice
	k.exp = func(dst, x []float32) { unaryAVX2(expAVX2, refExp, dst, x) }
	k.tanh = func(dst, x []float32) { unaryAVX2(tanhAVX2, refTanh, dst, x) }
	return k
}()

// bf16ToF32AVX2 implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = bf16ToF32(src[i]) }
//
// With nt, dst must be 32-byte aligned and is written with non-temporal
// stores.
//
//go:noescape
func bf16ToF32AVX2(dst *float32, src *uint16, n int, nt bool)

// f16ToF32AVX2 implements, for n a multiple of 16, with VCVTPH2PS,
//
//	for i := range n { dst[i] = f16ToF32(src[i]) }
//
// With nt, dst must be 32-byte aligned and is written with non-temporal
// stores.
//
//go:noescape
func f16ToF32AVX2(dst *float32, src *uint16, n int, nt bool)

// f32ToBF16AVX2 implements, for n a multiple of 16,
//
//	for i := range n { dst[i] = f32ToBF16(src[i]) }
//
//go:noescape
func f32ToBF16AVX2(dst *uint16, src *float32, n int)

// f32ToF16AVX2 implements, for n a multiple of 16, with VCVTPS2PH imm 0
// (round to nearest even),
//
//	for i := range n { dst[i] = f32ToF16(src[i]) }
//
//go:noescape
func f32ToF16AVX2(dst *uint16, src *float32, n int)

// addScaledAVX2 implements, for n a multiple of 32,
//
//	for i := range n { dst[i] += float32(a * x[i]) }
//
//go:noescape
func addScaledAVX2(dst *float32, a float32, x *float32, n int)

// scaleAVX2 implements, for n a multiple of 32,
//
//	for i := range n { dst[i] *= a }
//
//go:noescape
func scaleAVX2(dst *float32, a float32, n int)

// subAVX2 implements, for n a multiple of 32,
//
//	for i := range n { dst[i] = x[i] - y[i] }
//
//go:noescape
func subAVX2(dst, x, y *float32, n int)

// addAVX2 implements, for n a multiple of 32,
//
//	for i := range n { dst[i] = x[i] + y[i] }
//
//go:noescape
func addAVX2(dst, x, y *float32, n int)

// mulAVX2 implements, for n a multiple of 32,
//
//	for i := range n { dst[i] = x[i] * y[i] }
//
//go:noescape
func mulAVX2(dst, x, y *float32, n int)

// weightedDeltaSumAVX2 implements, for hi-lo a multiple of 32 and k rows,
//
//	for i := lo; i < hi; i++ {
//		b := base[i]
//		var acc float32
//		for j := range k { acc += float32(w[j] * (xs[j][i] - b)) }
//		dst[i] = b + acc
//	}
//
// dst may equal base. With nt, &dst[lo] must be 32-byte aligned and dst is
// written with non-temporal stores.
//
//go:noescape
func weightedDeltaSumAVX2(dst, base *float32, xs *[]float32, w *float32, k, lo, hi int, nt bool)

// weightedDeltaSumBF16AVX2 implements, for hi-lo a multiple of 32 and k rows,
//
//	for i := lo; i < hi; i++ {
//		b := bf16ToF32(base[i])
//		var acc float32
//		for j := range k { acc += float32(w[j] * (bf16ToF32(xs[j][i]) - b)) }
//		dst[i] = b + acc
//	}
//
// With nt as for weightedDeltaSumAVX2.
//
//go:noescape
func weightedDeltaSumBF16AVX2(dst *float32, base *uint16, xs *[]uint16, w *float32, k, lo, hi int, nt bool)

// weightedDeltaSumF16AVX2 is weightedDeltaSumBF16AVX2 for binary16 inputs
// (converted with VCVTPH2PS):
//
//	for i := lo; i < hi; i++ {
//		b := f16ToF32(base[i])
//		var acc float32
//		for j := range k { acc += float32(w[j] * (f16ToF32(xs[j][i]) - b)) }
//		dst[i] = b + acc
//	}
//
//go:noescape
func weightedDeltaSumF16AVX2(dst *float32, base *uint16, xs *[]uint16, w *float32, k, lo, hi int, nt bool)

// sumAVX2 implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(x[i]) }
//
//go:noescape
func sumAVX2(acc *[sumLanes]float64, x *float32, n int)

// sumSquaresAVX2 implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(x[i]) * float64(x[i]) }
//
//go:noescape
func sumSquaresAVX2(acc *[sumLanes]float64, x *float32, n int)

// dotAVX2 implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(x[i]) * float64(y[i]) }
//
//go:noescape
func dotAVX2(acc *[sumLanes]float64, x, y *float32, n int)

// sumAbsAVX2 implements, for n a multiple of 16,
//
//	for i := range n { acc[i%16] += float64(abs(x[i])) }
//
//go:noescape
func sumAbsAVX2(acc *[sumLanes]float64, x *float32, n int)

// maxAbsAVX2 implements, for n a multiple of 16,
//
//	for i := range n { m[i%8] = max(m[i%8], bits(x[i]) & 0x7fffffff) }
//
//go:noescape
func maxAbsAVX2(m *[8]uint32, x *float32, n int)

// countAbsGEAVX2 implements, for n a multiple of 16 and below 2^31,
//
//	for i := range n { if abs(x[i]) >= thr { c++ } }; return c
//
//go:noescape
func countAbsGEAVX2(x *float32, thr float32, n int) int

// expAVX2 implements, for n a multiple of 8,
//
//	for i := range n { dst[i] = expf(x[i]) }
//
//go:noescape
func expAVX2(dst, x *float32, n int)

// tanhAVX2 implements, for n a multiple of 8,
//
//	for i := range n { dst[i] = tanhf(x[i]) }
//
//go:noescape
func tanhAVX2(dst, x *float32, n int)

func unaryAVX2(asm func(dst, x *float32, n int), ref func(dst, x []float32), dst, x []float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 7
	if n > 0 {
		asm(&dst[0], &x[0], n)
	}
	ref(dst[n:], x[n:])
}

// tiesElectAVX2 implements, for n a multiple of 16 and k rows,
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
func tiesElectAVX2(mixed, div *float32, d *[]float32, w *float32, k, n int)

func tiesElectAVX2Slice(mixed, div []float32, d [][]float32, w []float32) {
	div = div[:len(mixed)]
	w = w[:len(d)]
	for k := range d {
		_ = d[k][:len(mixed)]
	}
	n := len(mixed) &^ 15
	if n > 0 {
		var dp *[]float32
		var wp *float32
		if len(d) > 0 {
			dp, wp = &d[0], &w[0]
		}
		tiesElectAVX2(&mixed[0], &div[0], dp, wp, len(d), n)
	}
	tiesElectFrom(mixed, div, d, w, n)
}

func bf16ToF32AVX2Slice(dst []float32, src []uint16) {
	src = src[:len(dst)]
	h, nt := streamHead(dst)
	refBF16ToF32(dst[:h], src[:h])
	dst, src = dst[h:], src[h:]
	n := len(dst) &^ 15
	if n > 0 {
		bf16ToF32AVX2(&dst[0], &src[0], n, nt)
	}
	refBF16ToF32(dst[n:], src[n:])
}

func f16ToF32AVX2Slice(dst []float32, src []uint16) {
	src = src[:len(dst)]
	h, nt := streamHead(dst)
	refF16ToF32(dst[:h], src[:h])
	dst, src = dst[h:], src[h:]
	n := len(dst) &^ 15
	if n > 0 {
		f16ToF32AVX2(&dst[0], &src[0], n, nt)
	}
	refF16ToF32(dst[n:], src[n:])
}

func f32ToBF16AVX2Slice(dst []uint16, src []float32) {
	src = src[:len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		f32ToBF16AVX2(&dst[0], &src[0], n)
	}
	refF32ToBF16(dst[n:], src[n:])
}

func f32ToF16AVX2Slice(dst []uint16, src []float32) {
	src = src[:len(dst)]
	n := len(dst) &^ 15
	if n > 0 {
		f32ToF16AVX2(&dst[0], &src[0], n)
	}
	refF32ToF16(dst[n:], src[n:])
}

func addScaledAVX2Slice(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	n := len(dst) &^ 31
	if n > 0 {
		addScaledAVX2(&dst[0], a, &x[0], n)
	}
	refAddScaled(dst[n:], a, x[n:])
}

func scaleAVX2Slice(dst []float32, a float32) {
	n := len(dst) &^ 31
	if n > 0 {
		scaleAVX2(&dst[0], a, n)
	}
	refScale(dst[n:], a)
}

func binAVX2(asm func(dst, x, y *float32, n int), ref func(dst, x, y []float32), dst, x, y []float32) {
	x = x[:len(dst)]
	y = y[:len(dst)]
	n := len(dst) &^ 31
	if n > 0 {
		asm(&dst[0], &x[0], &y[0], n)
	}
	ref(dst[n:], x[n:], y[n:])
}

func weightedDeltaSumAVX2Slice(dst, base []float32, xs [][]float32, w []float32) {
	base = base[:len(dst)]
	w = w[:len(xs)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	h, nt := streamHead(dst)
	weightedDeltaSumFrom(dst[:h], base[:h], xs, w, 0)
	hi := h + (len(dst)-h)&^31
	if hi > h {
		var xp *[]float32
		var wp *float32
		if len(xs) > 0 {
			xp, wp = &xs[0], &w[0]
		}
		weightedDeltaSumAVX2(&dst[0], &base[0], xp, wp, len(xs), h, hi, nt)
	}
	weightedDeltaSumFrom(dst, base, xs, w, hi)
}

// weightedDeltaSum16AVX2 runs a fused sum over 16-bit inputs: asm on the
// blocks, ref (the reference loop) on the head and the tail.
func weightedDeltaSum16AVX2(asm func(*float32, *uint16, *[]uint16, *float32, int, int, int, bool), ref func([]float32, []uint16, [][]uint16, []float32, int),
	dst []float32, base []uint16, xs [][]uint16, w []float32) {
	base = base[:len(dst)]
	w = w[:len(xs)]
	for k := range xs {
		_ = xs[k][:len(dst)]
	}
	h, nt := streamHead(dst)
	ref(dst[:h], base[:h], xs, w, 0)
	hi := h + (len(dst)-h)&^31
	if hi > h {
		var xp *[]uint16
		var wp *float32
		if len(xs) > 0 {
			xp, wp = &xs[0], &w[0]
		}
		asm(&dst[0], &base[0], xp, wp, len(xs), h, hi, nt)
	}
	ref(dst, base, xs, w, hi)
}

func sumAVX2Slice(x []float32) float64 {
	var acc [sumLanes]float64
	n := len(x) &^ 15
	if n > 0 {
		sumAVX2(&acc, &x[0], n)
	}
	sumFrom(&acc, x, n)
	return combineLanes(&acc)
}

func sumSquaresAVX2Slice(x []float32) float64 {
	var acc [sumLanes]float64
	n := len(x) &^ 15
	if n > 0 {
		sumSquaresAVX2(&acc, &x[0], n)
	}
	sumSquaresFrom(&acc, x, n)
	return combineLanes(&acc)
}

func dotAVX2Slice(x, y []float32) float64 {
	y = y[:len(x)]
	var acc [sumLanes]float64
	n := len(x) &^ 15
	if n > 0 {
		dotAVX2(&acc, &x[0], &y[0], n)
	}
	dotFrom(&acc, x, y, n)
	return combineLanes(&acc)
}

func sumAbsAVX2Slice(x []float32) float64 {
	var acc [sumLanes]float64
	n := len(x) &^ 15
	if n > 0 {
		sumAbsAVX2(&acc, &x[0], n)
	}
	sumAbsFrom(&acc, x, n)
	return combineLanes(&acc)
}

func maxAbsAVX2Slice(x []float32) float32 {
	var m [8]uint32
	n := len(x) &^ 15
	if n > 0 {
		maxAbsAVX2(&m, &x[0], n)
	}
	r := math.Float32bits(refMaxAbs(x[n:]))
	for _, v := range m {
		r = max(r, v)
	}
	return math.Float32frombits(r)
}

func countAbsGEAVX2Slice(x []float32, thr float32) int {
	c := 0
	for len(x) >= 16 {
		n := min(len(x), 1<<30) &^ 15
		c += countAbsGEAVX2(&x[0], thr, n)
		x = x[n:]
	}
	return c + refCountAbsGE(x, thr)
}

// streamThreshold is the destination size in bytes from which the
// streaming kernels (conversions to float32 and the fused sums) write with
// non-temporal stores: such a destination does not fit in the caches anyway,
// and skipping the read-for-ownership saves a third of the memory traffic.
// A variable so that tests can lower it.
var streamThreshold = 4 << 20

// streamHead reports whether dst is large enough for non-temporal stores
// and, if so, how many leading elements to handle separately so that the
// rest starts 32-byte aligned.
func streamHead(dst []float32) (head int, nt bool) {
	if len(dst)*4 < streamThreshold {
		return 0, false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(dst)))
	return min(int((32-p%32)%32)/4, len(dst)), true
}
