// Package simd provides the vector kernels of gomerge's merge hot loops:
// bfloat16/float16 ↔ float32 conversions, elementwise arithmetic, the fused
// task-arithmetic sum, float64 reductions, radix-selection histograms, TIES
// sign election and float32 transcendentals.
//
// Every kernel has one scalar reference (ref.go) that defines its result.
// The assembly implementations (AVX2 on amd64, NEON on arm64) return the
// same bits as the reference for every input: no kernel uses fused
// multiply-add, and the reductions accumulate in the reference's fixed lane
// order. The one freedom is the payload of a NaN produced by arithmetic:
// when more than one operand is a NaN, instruction sets differ in which one
// they propagate, so arithmetic kernels promise a NaN there, not its bits.
// The conversions keep NaN sign and payload exactly. bfloat16 and float16
// data are passed as []uint16 holding the bit patterns.
//
// Implementations:
//
//	generic  pure Go (ref.go); the only one with -tags purego or on other GOARCHes
//	avx2     amd64 with AVX2 and F16C: every kernel except the histograms
//	neon     arm64: every kernel except the histograms
//
// Kernels without assembly on a level use the generic code. An "avx512"
// level is reserved but not implemented yet: GOMERGE_SIMD=avx512 selects
// avx2 on an AVX-512 machine. On amd64 the float32-producing streaming
// kernels (BF16ToF32, F16ToF32 and the fused sums) write destinations of 4 MiB
// or more with non-temporal stores.
//
// The implementation is chosen once, at program start-up, from the CPU's
// features (golang.org/x/sys/cpu). The environment variable GOMERGE_SIMD
// set to "generic", "avx2", "avx512" or "neon" forces a level; if the
// requested level is not available on this CPU or architecture, the best
// available level is used instead. [Level] reports the choice.
//
// Length rules: every kernel works on len(dst) (or len(x) for reductions);
// the other slices must have exactly that length. A mismatch is a programming
// error and panics. An output may be exactly one of the inputs (in place,
// as in Add(x, x, y), Exp(x, x) or WeightedDeltaSum(b, b, xs, w)) but must
// not otherwise overlap them; TIESElect's outputs must not overlap its rows.
//
// Tests run every registered implementation against the reference, and a
// golden test pins every kernel's bits across architectures:
//
//	go test ./simd/...
//	go test -tags purego ./simd/...
//	GOARCH=arm64 go test -short -exec qemu-aarch64 ./simd/...
//	GOARCH=arm64 QEMU_CPU=cortex-a72 go test -short -exec qemu-aarch64 ./simd/...
//	sh simd/_asm/checkwords.sh   # arm64 WORD encodings vs aarch64-linux-gnu-objdump
//
// Benchmarks compare each implementation with the generic one and with a
// memmove of the same traffic: go test -run NONE -bench . ./simd/
package simd

import "os"

// kernels is one implementation of every kernel.
type kernels struct {
	level string

	bf16ToF32 func(dst []float32, src []uint16)
	f16ToF32  func(dst []float32, src []uint16)
	f32ToBF16 func(dst []uint16, src []float32)
	f32ToF16  func(dst []uint16, src []float32)

	addScaled func(dst []float32, a float32, x []float32)
	scale     func(dst []float32, a float32)
	sub       func(dst, x, y []float32)
	add       func(dst, x, y []float32)
	mul       func(dst, x, y []float32)

	weightedDeltaSum     func(dst, base []float32, xs [][]float32, w []float32)
	weightedDeltaSumBF16 func(dst []float32, base []uint16, xs [][]uint16, w []float32)
	weightedDeltaSumF16  func(dst []float32, base []uint16, xs [][]uint16, w []float32)

	sum        func(x []float32) float64
	sumSquares func(x []float32) float64
	dot        func(x, y []float32) float64
	sumAbs     func(x []float32) float64
	maxAbs     func(x []float32) float32

	histAbsHigh16 func(hist []uint64, x []float32)
	histAbsLow16  func(hist []uint64, x []float32, prefix uint16)
	countAbsGE    func(x []float32, thr float32) int

	tiesElect func(mixed, div []float32, d [][]float32, w []float32)

	exp  func(dst, x []float32)
	tanh func(dst, x []float32)
}

// genericKernels is the pure-Go implementation: the scalar references.
var genericKernels = kernels{
	level:                "generic",
	bf16ToF32:            refBF16ToF32,
	f16ToF32:             refF16ToF32,
	f32ToBF16:            refF32ToBF16,
	f32ToF16:             refF32ToF16,
	addScaled:            refAddScaled,
	scale:                refScale,
	sub:                  refSub,
	add:                  refAdd,
	mul:                  refMul,
	weightedDeltaSum:     refWeightedDeltaSum,
	weightedDeltaSumBF16: refWeightedDeltaSumBF16,
	weightedDeltaSumF16:  refWeightedDeltaSumF16,
	sum:                  refSum,
	sumSquares:           refSumSquares,
	dot:                  refDot,
	sumAbs:               refSumAbs,
	maxAbs:               refMaxAbs,
	histAbsHigh16:        refHistAbsHigh16,
	histAbsLow16:         refHistAbsLow16,
	countAbsGE:           refCountAbsGE,
	tiesElect:            refTIESElect,
	exp:                  refExp,
	tanh:                 refTanh,
}

// registry lists every implementation this CPU supports, generic first and
// the best last. archKernels is defined per architecture.
var registry = append([]*kernels{&genericKernels}, archKernels()...)

// impl is the implementation in use, chosen once at start-up.
var impl = choose(registry, os.Getenv("GOMERGE_SIMD"))

// choose returns the implementation named want, or the best one (the last)
// if want is empty or not in reg.
func choose(reg []*kernels, want string) *kernels {
	for _, k := range reg {
		if k.level == want {
			return k
		}
	}
	return reg[len(reg)-1]
}

// Level reports the implementation in use: "generic", "avx2", "avx512" or
// "neon".
func Level() string { return impl.level }

func checkLen(n, m int) {
	if n != m {
		panic("simd: slice lengths differ")
	}
}

// BF16ToF32 converts bfloat16 bit patterns to float32: dst[i] = float32(src[i]).
// The conversion is exact; a signalling NaN becomes the quiet NaN with the same
// sign and payload.
func BF16ToF32(dst []float32, src []uint16) {
	checkLen(len(dst), len(src))
	impl.bf16ToF32(dst, src)
}

// F16ToF32 converts IEEE binary16 bit patterns to float32 exactly (subnormals
// included); a signalling NaN becomes the quiet NaN with the same sign and
// payload.
func F16ToF32(dst []float32, src []uint16) {
	checkLen(len(dst), len(src))
	impl.f16ToF32(dst, src)
}

// F32ToBF16 rounds float32 values to bfloat16 bit patterns, to nearest with
// ties to even. Subnormals are rounded, not flushed; values beyond the largest
// finite bfloat16 round to ±Inf; a NaN becomes a quiet NaN of the same sign
// keeping the upper payload bits.
func F32ToBF16(dst []uint16, src []float32) {
	checkLen(len(dst), len(src))
	impl.f32ToBF16(dst, src)
}

// F32ToF16 rounds float32 values to IEEE binary16 bit patterns, to nearest
// with ties to even. Results below the normal range become float16
// subnormals; magnitudes ≥ 65520 become ±Inf; a NaN becomes a quiet NaN of the
// same sign keeping the upper payload bits.
func F32ToF16(dst []uint16, src []float32) {
	checkLen(len(dst), len(src))
	impl.f32ToF16(dst, src)
}

// AddScaled computes dst[i] += a*x[i], with the product rounded to float32
// before the addition (never fused).
func AddScaled(dst []float32, a float32, x []float32) {
	checkLen(len(dst), len(x))
	impl.addScaled(dst, a, x)
}

// Scale computes dst[i] *= a.
func Scale(dst []float32, a float32) {
	impl.scale(dst, a)
}

// Sub computes dst[i] = x[i] - y[i].
func Sub(dst, x, y []float32) {
	checkLen(len(dst), len(x))
	checkLen(len(dst), len(y))
	impl.sub(dst, x, y)
}

// Add computes dst[i] = x[i] + y[i].
func Add(dst, x, y []float32) {
	checkLen(len(dst), len(x))
	checkLen(len(dst), len(y))
	impl.add(dst, x, y)
}

// Mul computes dst[i] = x[i] * y[i].
func Mul(dst, x, y []float32) {
	checkLen(len(dst), len(x))
	checkLen(len(dst), len(y))
	impl.mul(dst, x, y)
}

// WeightedDeltaSum computes the task-arithmetic sum
// dst[i] = base[i] + Σ_k w[k]·(xs[k][i] - base[i]) in float32, in this order:
//
//	acc := 0
//	for k := range xs { acc += float32(w[k] * (xs[k][i] - base[i])) }
//	dst[i] = base[i] + acc
//
// len(w) must equal len(xs). dst may be base itself (in place) but must not
// otherwise overlap the inputs.
func WeightedDeltaSum(dst, base []float32, xs [][]float32, w []float32) {
	checkLen(len(dst), len(base))
	checkLen(len(xs), len(w))
	for _, x := range xs {
		checkLen(len(dst), len(x))
	}
	impl.weightedDeltaSum(dst, base, xs, w)
}

// WeightedDeltaSumBF16 is [WeightedDeltaSum] over bfloat16 inputs: it gives
// the same result as converting base and xs with [BF16ToF32] first.
func WeightedDeltaSumBF16(dst []float32, base []uint16, xs [][]uint16, w []float32) {
	checkLen(len(dst), len(base))
	checkLen(len(xs), len(w))
	for _, x := range xs {
		checkLen(len(dst), len(x))
	}
	impl.weightedDeltaSumBF16(dst, base, xs, w)
}

// WeightedDeltaSumF16 is [WeightedDeltaSum] over IEEE binary16 inputs: it
// gives the same result as converting base and xs with [F16ToF32] first.
func WeightedDeltaSumF16(dst []float32, base []uint16, xs [][]uint16, w []float32) {
	checkLen(len(dst), len(base))
	checkLen(len(xs), len(w))
	for _, x := range xs {
		checkLen(len(dst), len(x))
	}
	impl.weightedDeltaSumF16(dst, base, xs, w)
}

// Sum returns Σ x[i] accumulated in float64. The order is fixed: element i is
// added to accumulator i%16 (in index order), then the 16 accumulators are
// folded as acc[j] += acc[j+h] for h = 8, 4, 2, 1. Every implementation
// returns the same bits.
func Sum(x []float32) float64 { return impl.sum(x) }

// SumSquares returns Σ x[i]² in float64, in the order of [Sum]. Each square
// is exact in float64.
func SumSquares(x []float32) float64 { return impl.sumSquares(x) }

// Dot returns Σ x[i]·y[i] in float64, in the order of [Sum]. Each product is
// exact in float64.
func Dot(x, y []float32) float64 {
	checkLen(len(x), len(y))
	return impl.dot(x, y)
}

// SumAbs returns Σ |x[i]| in float64, in the order of [Sum].
func SumAbs(x []float32) float64 { return impl.sumAbs(x) }

// MaxAbs returns max |x[i]|, or 0 for an empty slice. It propagates NaN: if x
// holds a NaN the result is a positive NaN (the one with the largest payload).
func MaxAbs(x []float32) float32 { return impl.maxAbs(x) }

// HistAbsHigh16 adds to hist the histogram of the high 16 bits of the bit
// patterns of |x[i]| (sign cleared): hist[bits(|x|)>>16]++. Because the bit
// patterns of non-negative floats order like the values, this is the first
// pass of an exact radix selection. len(hist) must be 65536.
func HistAbsHigh16(hist []uint64, x []float32) {
	checkLen(len(hist), 65536)
	impl.histAbsHigh16(hist, x)
}

// HistAbsLow16 adds to hist the histogram of the low 16 bits of bits(|x[i]|)
// over the elements whose high 16 bits equal prefix: the second pass of the
// radix selection. len(hist) must be 65536.
func HistAbsLow16(hist []uint64, x []float32, prefix uint16) {
	checkLen(len(hist), 65536)
	impl.histAbsLow16(hist, x, prefix)
}

// CountAbsGE returns the number of elements with |x[i]| >= thr (a float
// comparison: NaNs never count).
func CountAbsGE(x []float32, thr float32) int { return impl.countAbsGE(x, thr) }

// TIESElect performs the TIES sign election over K delta rows d[k] (already
// weighted) for one element range. For every i:
//
//	sum := Σ_k d[k][i] (float32, k in order)
//	elected := +1 if sum >= 0 else -1
//	mixed[i] = Σ_k d[k][i] over the k whose d[k][i] has the elected sign
//	div[i]   = Σ_k w[k]    over the same k
//
// A zero delta never agrees, nor does a NaN (and a NaN sum elects -1).
// len(w) must equal len(d); mixed and div must not overlap the rows.
func TIESElect(mixed, div []float32, d [][]float32, w []float32) {
	checkLen(len(mixed), len(div))
	checkLen(len(d), len(w))
	for _, row := range d {
		checkLen(len(mixed), len(row))
	}
	impl.tiesElect(mixed, div, d, w)
}

// Exp computes dst[i] = e^x[i]. It evaluates a polynomial in float64 and
// rounds once, so each result is within 1 ulp of the correctly rounded
// value (tested against float32(math.Exp) over a dense sweep of all
// float32 values). Overflow gives +Inf, underflow 0 or a subnormal,
// NaN gives NaN.
func Exp(dst, x []float32) {
	checkLen(len(dst), len(x))
	impl.exp(dst, x)
}

// Tanh computes dst[i] = tanh(x[i]) within 1 ulp of the correctly rounded
// value (tested against float32(math.Tanh) over a dense sweep). ±0 and
// subnormal inputs are returned exactly, ±Inf give ±1 and NaN gives NaN.
func Tanh(dst, x []float32) {
	checkLen(len(dst), len(x))
	impl.tanh(dst, x)
}
