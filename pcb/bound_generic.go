//go:build !amd64 || purego

package pcb

// boundMask is boundMaskGeneric (no assembly on this platform).
func boundMask(mask []uint8, x, tau, sum []float32, p *boundParams) (above int, bad bool) {
	return boundMaskGeneric(mask, x, tau, sum, p)
}
