package analyze

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSignConflictsMatchesReference compares the kernel with the reference
// loop on guard-padded slices of every length up to 70 and a large odd one,
// with zeros, negative zeros, tiny values whose product underflows, and NaN.
func TestSignConflictsMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, float32(math.NaN()), 1, -1}
	gen := func(n int) []float32 {
		v := make([]float32, n+2)
		for i := range v {
			if r.IntN(4) == 0 {
				v[i] = special[r.IntN(len(special))]
			} else {
				v[i] = float32(r.NormFloat64())
			}
		}
		return v
	}
	lengths := []int{100003}
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		x, y := gen(n), gen(n)
		// Guards: the element after the slice must not be read into counts.
		x[n+1], y[n+1] = -5, 5
		b, c := signConflicts(x[1:n+1], y[1:n+1])
		rb, rc := signCountRef(x[1:n+1], y[1:n+1])
		if b != rb || c != rc {
			t.Fatalf("n=%d: (%d, %d), reference (%d, %d)", n, b, c, rb, rc)
		}
	}
	// Hand-worked: products 2, −2, 0 (×−0), −0·3, 1e-30·1e-30 (underflow), −6.
	x := []float32{1, -1, 0, float32(math.Copysign(0, -1)), 1e-30, 2, 0, 0, 0}
	y := []float32{2, 2, -4, 3, 1e-30, -3, 0, 0, 0}
	if b, c := signConflicts(x, y); b != 3 || c != 2 {
		t.Errorf("hand example: both %d, conflicts %d; want 3, 2", b, c)
	}
}

func BenchmarkSignConflicts(b *testing.B) {
	x, y := make([]float32, BlockElems), make([]float32, BlockElems)
	for i := range x {
		x[i], y[i] = float32(i%7)-3, float32(i%5)-2
	}
	b.SetBytes(BlockElems * 8)
	for b.Loop() {
		signConflicts(x, y)
	}
}
