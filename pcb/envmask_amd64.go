//go:build !purego

package pcb

import "golang.org/x/sys/cpu"

// envMaskAVX2 is envMaskGeneric over n entries, n a multiple of 8.
//
//go:noescape
func envMaskAVX2(mask *uint8, x, tau *float32, n int, p *envParams)

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// envMask is envMaskGeneric, in AVX2 where the CPU has it.
func envMask(mask []uint8, x, tau []float32, p *envParams) {
	if !useAVX2 || len(x) == 0 {
		envMaskGeneric(mask, x, tau, p)
		return
	}
	_ = mask[len(x)/8-1]
	_ = tau[len(x)-1]
	envMaskAVX2(&mask[0], &x[0], &tau[0], len(x), p)
}

// countPositiveProductsAVX2 is countPositiveProductsGeneric over n entries,
// n a multiple of 8.
//
//go:noescape
func countPositiveProductsAVX2(a, b *float32, n int) int

func countPositiveProductsArch(a, b []float32) int {
	nv := len(a) &^ 7
	if !useAVX2 || nv == 0 {
		return countPositiveProductsGeneric(a, b)
	}
	_ = b[len(a)-1]
	return countPositiveProductsAVX2(&a[0], &b[0], nv) + countPositiveProductsGeneric(a[nv:], b[nv:len(a)])
}
