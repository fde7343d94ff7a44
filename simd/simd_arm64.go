//go:build !purego

package simd

// archKernels returns the arm64 implementations, best last. Advanced SIMD
// (NEON) is part of every arm64 CPU.
func archKernels() []*kernels { return []*kernels{&neonKernels} }

// neonKernels uses NEON assembly for the conversions and the fused sums;
// the rest is generic.
var neonKernels = func() kernels {
	k := genericKernels
	k.level = "neon"
	k.bf16ToF32 = func(dst []float32, src []uint16) { toF32NEON(bf16ToF32NEON, refBF16ToF32, dst, src) }
	k.f16ToF32 = func(dst []float32, src []uint16) { toF32NEON(f16ToF32NEON, refF16ToF32, dst, src) }
	k.f32ToBF16 = func(dst []uint16, src []float32) { fromF32NEON(f32ToBF16NEON, refF32ToBF16, dst, src) }
	k.f32ToF16 = func(dst []uint16, src []float32) { fromF32NEON(f32ToF16NEON, refF32ToF16, dst, src) }
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
