//go:build !purego

package pcb

import "golang.org/x/sys/cpu"

// envMaskAVX2 is envMaskGeneric over n entries, n a multiple of 8.
//
//go:noescape
func envMaskAVX2(mask *uint8, x, tau *float32, n int, p *envParams)

var useAVX2 = cpu.X86.HasAVX2

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
