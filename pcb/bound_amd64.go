//go:build !purego

package pcb

// boundMaskAVX2 is boundMaskGeneric over n entries, n a multiple of 8.
//
//go:noescape
func boundMaskAVX2(mask *uint8, x, tau, sum *float32, n int, p *boundParams) (above int, bad bool)

// boundMask is boundMaskGeneric, in AVX2 where the CPU has it.
func boundMask(mask []uint8, x, tau, sum []float32, p *boundParams) (above int, bad bool) {
	if !useAVX2 || len(tau) == 0 {
		return boundMaskGeneric(mask, x, tau, sum, p)
	}
	_ = mask[len(tau)/8-1]
	_, _ = x[len(tau)-1], sum[len(tau)-1]
	return boundMaskAVX2(&mask[0], &x[0], &tau[0], &sum[0], len(tau), p)
}
