//go:build !amd64 || purego

package pcb

// boundCompact is boundCompactGeneric (no assembly on this platform).
func boundCompact(idx []int32, dx, dtau, tau, sum []float32, p *boundParams, in []uint8) (count, above int, bad bool) {
	return boundCompactGeneric(idx, dx, dtau, tau, sum, p, in)
}

// minMaxDense is minMax (no assembly on this platform).
func minMaxDense(dst, tau []float32, lo, hi float32) { minMax(dst, tau, lo, hi) }

func weighDense(v, B, tau []float32, s taskStats, w float32) { weighDenseGeneric(v, B, tau, s, w) }

// finishMerge sets out = base + λ·num/max(den, 1e-12) (out may alias num).
func finishMerge(out, num, den, base []float32, lambda float32) {
	finishMergeGeneric(out, num, den, base, lambda)
}

func clipTally(m1, m2 []uint8, tau, sum []float32, b1, b2 keyBand) [7]int {
	return clipTallyGeneric(m1, m2, tau, sum, b1, b2)
}

func maskCompact(idx []int32, dx, dtau, tau, sum []float32, in []uint8) int {
	return maskCompactGeneric(idx, dx, dtau, tau, sum, in)
}

func finishMergeZero(out, num, den, base []float32, lambda float32) {
	finishMergeZeroGeneric(out, num, den, base, lambda)
}

// deltasBF16 sets every τ_k = model_k − base and their sum in task order.
func deltasBF16(taus [][]float32, sum []float32, models [][]uint16, base []uint16, _ []uintptr) {
	for k := range taus {
		deltaBF16Generic(taus[k], sum, models[k], base, k == 0)
	}
}

func tanhMask(mask []uint8, x []float32) { tanhMaskGeneric(mask, x) }
