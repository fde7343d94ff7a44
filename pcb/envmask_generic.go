//go:build !amd64 || purego

package pcb

// envMask is envMaskGeneric (no assembly on this platform).
func envMask(mask []uint8, x, tau []float32, p *envParams) {
	envMaskGeneric(mask, x, tau, p)
}

func countPositiveProductsArch(a, b []float32) int { return countPositiveProductsGeneric(a, b) }

func compress(idx []int32, dx, x []float32, masks []uint8, start int32) int {
	return compressGeneric(idx, dx, x, masks, start)
}
