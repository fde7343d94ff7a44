package tasks

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkL1BF16 times the L1 kernel of DARE's first pass on one block
// in cache: Σ|δ| and the kept Σ|δ| of one model, half its mask bits set.
func BenchmarkL1BF16(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	base := randomBF16(r, fusedBlock, nil, false)
	x := randomBF16(r, fusedBlock, base, false)
	bits := make([]byte, fusedBlock/8)
	for i := range bits {
		bits[i] = byte(r.Uint32())
	}
	var acc [2][l1Lanes]float64
	b.SetBytes(4 * fusedBlock)
	for b.Loop() {
		l1BF16(&acc, x, base, bits)
	}
}
