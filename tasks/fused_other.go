//go:build !amd64 || purego

package tasks

import "github.com/gomerge/gomerge/simd"

// No assembly on this platform: the kernels are the generic ones.

func electBF16(out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	electBF16Generic(out, base, ms, normalize, lambda)
}

// electBF16Encode is electBF16 followed by simd.F32ToBF16 into dst; out
// (len(base) values) is scratch.
func electBF16Encode(dst []uint16, out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	electBF16(out[:len(base)], base, ms, normalize, lambda)
	simd.F32ToBF16(dst[:len(base)], out[:len(base)])
}

func l1BF16(acc *[2][l1Lanes]float64, x, b []uint16, bits []byte) { l1BF16Generic(acc, x, b, bits) }
