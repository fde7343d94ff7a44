//go:build !purego

package model

import "golang.org/x/sys/cpu"

// kernel6x16FMA computes, with AVX2 fused multiply-adds in k order,
//
//	for i := range 6 { for j := range 16 {
//		s := 0 (or c[i*ldc+j] added at the end if acc)
//		for k := range kc { s = fma(a[k*6+i], b[k*16+j], s) }
//		c[i*ldc+j] = s (+ old c[i*ldc+j] if acc)
//	}}
//
// a is a packed 6-row panel ([kc][6]), b a packed 16-column panel ([kc][16]).
//
//go:noescape
func kernel6x16FMA(kc int, a, b, c *float32, ldc int, acc bool)

// kernel1x64FMA computes one row against four consecutive panels (b, b+stride,
// b+2·stride, b+3·stride, each [kc][16]) with the same per-element order as
// kernel6x16FMA:
//
//	for p := range 4 { for j := range 16 {
//		s := 0
//		for k := range kc { s = fma(a[k], b[p*stride+k*16+j], s) }
//		c[p*16+j] = s (+ old c[p*16+j] if acc)
//	}}
//
//go:noescape
func kernel1x64FMA(kc int, a, b *float32, stride int, c *float32, acc bool)

// kernel1x64BF16 is kernel1x64FMA with bfloat16 panels (stride in
// elements), widened exactly (bits << 16) in registers.
//
//go:noescape
func kernel1x64BF16(kc int, a *float32, b *uint16, stride int, c *float32, acc bool)

// peakFMA runs n iterations of 12 independent register FMAs (192·n FLOPs).
//
//go:noescape
func peakFMA(n int)

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		defaultKernel = kernelFMA
	}
}

var kernelFMA = &microKernel{
	name: "avx2-fma",
	run: func(kc int, a, b, c []float32, ldc int, acc bool) {
		_ = a[kc*mr-1]
		_ = b[kc*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		kernel6x16FMA(kc, &a[0], &b[0], &c[0], ldc, acc)
	},
	row64: func(kc int, a, b []float32, stride int, c []float32, acc bool) {
		_ = a[kc-1]
		_ = b[3*stride+kc*nr-1]
		_ = c[4*nr-1]
		kernel1x64FMA(kc, &a[0], &b[0], stride, &c[0], acc)
	},
	row64BF16: func(kc int, a []float32, b []uint16, stride int, c []float32, acc bool) {
		_ = a[kc-1]
		_ = b[3*stride+kc*nr-1]
		_ = c[4*nr-1]
		kernel1x64BF16(kc, &a[0], &b[0], stride, &c[0], acc)
	},
}

// hasPeakFMA reports whether peakFMA may run on this CPU.
func hasPeakFMA() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }
