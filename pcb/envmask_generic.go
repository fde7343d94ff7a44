//go:build !amd64 || purego

package pcb

// envMask is envMaskGeneric (no assembly on this platform).
func envMask(mask []uint8, x, tau []float32, p *envParams) {
	envMaskGeneric(mask, x, tau, p)
}

func countPositiveProductsArch(a, b []float32) int { return countPositiveProductsGeneric(a, b) }
