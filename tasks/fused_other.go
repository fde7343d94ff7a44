//go:build !amd64 || purego

package tasks

// No assembly on this platform: the kernels are the generic ones.

func electBF16(out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	electBF16Generic(out, base, ms, normalize, lambda)
}

func windowBF16(dst []uint32, x, b []uint16, lo, span, hi uint32) (count, above int) {
	return windowBF16Generic(dst, x, b, lo, span, hi)
}

func l1BF16(acc *[2][l1Lanes]float64, x, b []uint16, bits []byte) { l1BF16Generic(acc, x, b, bits) }

func maskBits(bits []byte, r []uint32, thr uint32) { maskBitsGeneric(bits, r, thr) }
