package pcb

import (
	"math"
	"math/bits"
)

// envParams are the constants of the envelope test of one task and floor,
// laid out for envMaskAVX2 (offsets in its assembly).
type envParams struct {
	lo, hi, inv, n, c3, half, one, margin float32
	fb, xmin                              int32 // bits of floor (MinInt32 for a NaN floor) and of the x bound
	absMask                               uint32
}

// envKeep is the envelope test of one entry (x = τ·Σ_j τ_j, τ): whether its
// score may reach the floor. Every operation is rounded to float32 in this
// order, exactly as envMaskAVX2 computes it; min and max return the data
// operand when it is a NaN, so a NaN is kept.
func envKeep(x, tau float32, p *envParams) bool {
	a := math.Float32frombits(math.Float32bits(tau) & p.absMask)
	a = min(max(a, p.lo), p.hi)
	m := float32(float32(a-p.lo) * p.inv)
	y := float32(float32(m*m) * p.n)
	q := float32(float32(float32(y*p.c3)+p.half) * y)
	q = float32(float32(q+p.one) * y)
	q += p.one
	u := float32(float32(q*min(x, p.one)) * p.margin)
	keepX := int32(math.Float32bits(x)) > p.xmin
	keepU := int32(math.Float32bits(u)) >= p.fb
	return keepX && keepU
}

// envMaskGeneric sets bit t of mask[j] to envKeep(x[8j+t], tau[8j+t]), for
// len(x) a multiple of 8.
func envMaskGeneric(mask []uint8, x, tau []float32, p *envParams) {
	tau = tau[:len(x)]
	for j := range len(x) / 8 {
		var mb uint8
		for t := range 8 {
			if envKeep(x[8*j+t], tau[8*j+t], p) {
				mb |= 1 << t
			}
		}
		mask[j] = mb
	}
}

// countPositiveProductsGeneric is countPositiveProducts in Go: a product is
// > 0 (or a NaN with a clear sign bit) when its bits are a positive int32.
func countPositiveProductsGeneric(a, b []float32) int {
	b = b[:len(a)]
	n := 0
	for i, v := range a {
		n += 1 - nonPositive(v*b[i])
	}
	return n
}

// compressGeneric writes, for every bit t of masks[j] that is set, start +
// 8j + t into idx and x[8j+t] into dx, densely, and returns how many.
func compressGeneric(idx []int32, dx, x []float32, masks []uint8, start int32) int {
	c := 0
	for j, mb := range masks {
		for m := uint(mb); m != 0; m &= m - 1 {
			i := 8*j + bits.TrailingZeros(m)
			idx[c], dx[c] = start+int32(i), x[i]
			c++
		}
	}
	return c
}
