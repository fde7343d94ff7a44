package pcb

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestEnvMaskMatchesGeneric: envMask (AVX2 where available) sets exactly the
// bits envKeep gives, over task-vector-like values and special ones (zeros,
// NaNs of both signs, infinities, subnormals), for several floors
// (negative, zero, NaN) and degenerate clip bounds.
func TestEnvMaskMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00001), math.Float32frombits(1), 1e30, -1e-30}
	const size = 4096 + 24
	x, tau := make([]float32, size), make([]float32, size)
	for i := range x {
		tau[i] = float32(r.NormFloat64() * 1e-2)
		x[i] = tau[i] * float32(r.NormFloat64()*3e-2)
		if r.IntN(20) == 0 {
			x[i] = special[r.IntN(len(special))]
		}
		if r.IntN(20) == 0 {
			tau[i] = special[r.IntN(len(special))]
		}
	}
	env := newEnvelope(3)
	floors := []float32{1e-4, 1e-6, 0, -1, float32(math.NaN()), float32(math.Inf(1))}
	stats := []taskStats{{lo: 1e-3, hi: 2e-2}, {lo: 0, hi: 3e-2}, {lo: 1e-2, hi: 1e-2}}
	for _, st := range stats {
		for _, fl := range floors {
			p := env.params(st, fl)
			got, want := make([]uint8, size/8), make([]uint8, size/8)
			envMask(got, x, tau, p)
			envMaskGeneric(want, x, tau, p)
			kept := 0
			for j := range got {
				if got[j] != want[j] {
					t.Fatalf("stats %+v floor %g: mask[%d] = %08b, generic %08b", st, fl, j, got[j], want[j])
				}
				for b := range 8 {
					kept += int(want[j] >> b & 1)
				}
			}
			t.Logf("stats %+v floor %g: kept %d of %d", st, fl, kept, size)
		}
	}
}

func BenchmarkEnvelopeCompact(b *testing.B) {
	r := rand.New(rand.NewPCG(33, 34))
	x, tau := make([]float32, blockElems), make([]float32, blockElems)
	for i := range x {
		tau[i] = float32(r.NormFloat64() * 2e-3)
		x[i] = tau[i] * float32(r.NormFloat64()*4e-3)
	}
	idx, dx := make([]int32, blockElems), make([]float32, blockElems)
	env := newEnvelope(3)
	st := taskStats{lo: 0, hi: 6e-3}
	b.SetBytes(blockElems * 4)
	for b.Loop() {
		env.compact(idx, dx, x, tau, st, 1e-5)
	}
}

// TestCountPositiveProducts: the vectorised count equals the generic one
// and the count of products > 0 (NaN products with a clear sign bit
// included), over lengths that are and are not multiples of 8.
func TestCountPositiveProducts(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00001), math.Float32frombits(1), 1e30, -1e-30}
	for _, n := range []int{0, 3, 8, 1001, 4096} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			if r.IntN(8) == 0 {
				a[i] = special[r.IntN(len(special))]
			}
			if r.IntN(8) == 0 {
				b[i] = special[r.IntN(len(special))]
			}
		}
		want := 0
		for i := range a {
			if p := a[i] * b[i]; p > 0 || p != p && !math.Signbit(float64(p)) {
				want++
			}
		}
		if got := countPositiveProductsGeneric(a, b); got != want {
			t.Errorf("n=%d: generic %d, want %d", n, got, want)
		}
		if got := countPositiveProducts(a, b); got != want {
			t.Errorf("n=%d: %d, want %d", n, got, want)
		}
	}
}

// TestCompressMatchesGeneric: the vectorised compaction packs the same
// positions and values as the generic loop, for every mask byte.
func TestCompressMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	const groups = 300
	x := make([]float32, 8*groups)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	masks := make([]uint8, groups)
	for j := range masks {
		masks[j] = uint8(j) // every byte value (and more)
		if j >= 256 {
			masks[j] = uint8(r.Uint32())
		}
	}
	gi, gd := make([]int32, len(x)), make([]float32, len(x))
	wi, wd := make([]int32, len(x)), make([]float32, len(x))
	gc := compress(gi, gd, x, masks, 1000)
	wc := compressGeneric(wi, wd, x, masks, 1000)
	if gc != wc {
		t.Fatalf("compress kept %d, generic %d", gc, wc)
	}
	for i := range wc {
		if gi[i] != wi[i] || math.Float32bits(gd[i]) != math.Float32bits(wd[i]) {
			t.Fatalf("entry %d: (%d, %g), generic (%d, %g)", i, gi[i], gd[i], wi[i], wd[i])
		}
	}
}
