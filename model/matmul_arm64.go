//go:build !purego

package model

// kernel6x16NEON computes, with NEON fused multiply-adds in k order,
//
//	for i := range 6 { for j := range 16 {
//		s := 0 (or c[i*ldc+j] if acc)
//		for k := range kc { s = fma(a[k*6+i], b[k*16+j], s) }
//		c[i*ldc+j] = s
//	}}
//
// a is a packed 6-row panel ([kc][6]), b a packed 16-column panel ([kc][16]).
//
//go:noescape
func kernel6x16NEON(kc int, a, b, c *float32, ldc int, acc bool)

// peakFMA runs n iterations of 24 independent register FMAs (192·n FLOPs).
//
//go:noescape
func peakFMA(n int)

// Every arm64 CPU has NEON (ASIMD).
func init() { defaultKernel = kernelNEON }

var kernelNEON = &microKernel{
	name: "neon-fma",
	run: func(kc int, a, b, c []float32, ldc int, acc bool) {
		_ = a[kc*mr-1]
		_ = b[kc*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		kernel6x16NEON(kc, &a[0], &b[0], &c[0], ldc, acc)
	},
}

// hasPeakFMA reports whether peakFMA may run on this CPU.
func hasPeakFMA() bool { return true }
