package pcb

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestClipped(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	tests := []struct {
		v, lo, hi, want float32
	}{
		{0.5, 0.1, 0.3, 0.3},
		{-0.5, 0.1, 0.3, -0.3},
		{0.05, 0.1, 0.3, 0.1},
		{-0.05, 0.1, 0.3, -0.1},
		{0.2, 0.1, 0.3, 0.2},
		{-0.2, 0.1, 0.3, -0.2},
		{0, 0.1, 0.3, 0},             // sign(0) = 0
		{negZero, 0.1, 0.3, negZero}, // stays −0
		{0.2, 0.3, 0.1, 0.1},         // lo > hi: hi wins, as torch.clamp
		{float32(math.Inf(-1)), 0.1, 0.3, -0.3},
	}
	for _, tc := range tests {
		got := clipped(tc.v, tc.lo, tc.hi)
		if math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("clipped(%g, %g, %g) = %g, want %g", tc.v, tc.lo, tc.hi, got, tc.want)
		}
	}
	if got := clipped(nan, 0.1, 0.3); got == got {
		t.Errorf("clipped(NaN) = %g, want NaN", got)
	}
}

func TestNonPositive(t *testing.T) {
	tests := []struct {
		v    float32
		want int
	}{
		{1, 0}, {math.SmallestNonzeroFloat32, 0}, {float32(math.Inf(1)), 0},
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {-1, 1}, {-math.SmallestNonzeroFloat32, 1}, {float32(math.Inf(-1)), 1},
		{float32(math.NaN()), 0}, {math.Float32frombits(0xffc00000), 1},
	}
	for _, tc := range tests {
		if got := nonPositive(tc.v); got != tc.want {
			t.Errorf("nonPositive(%g / %#x) = %d, want %d", tc.v, math.Float32bits(tc.v), got, tc.want)
		}
	}
}

func TestScale(t *testing.T) {
	b := []float32{-1, 0.5, 1, 2, 3}
	scale(b, 1, 3)
	want := []float32{0, 0, 0, 0.5, 1}
	for i := range b {
		if b[i] != want[i] {
			t.Errorf("scale: %v, want %v", b, want)
			break
		}
	}
	// thr == max: the maximal entries get 1.
	b = []float32{1, 3, 3, 2}
	scale(b, 3, 3)
	want = []float32{0, 1, 1, 0}
	for i := range b {
		if b[i] != want[i] {
			t.Errorf("scale with thr == max: %v, want %v", b, want)
			break
		}
	}
}

// TestEnvelopeKeepsEveryScoreAtFloor: the filter never drops an entry whose
// score reaches the floor, for random scores and floors at their quantiles,
// and it does drop most entries far below.
func TestEnvelopeKeepsEveryScoreAtFloor(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 8} {
		for _, sc := range []float64{1e-3, 0.1, 3} { // τ scale: x tiny, moderate, tanh saturated
			const size = 4096
			b := &buffers{base: make([]float32, size), sum: make([]float32, size), den: make([]float32, size),
				idx: make([]int32, size), dx: make([]float32, size), dm: make([]float32, size)}
			st := make([]taskStats, n)
			for k := range n {
				tau := make([]float32, size)
				for i := range tau {
					tau[i] = float32(r.NormFloat64() * sc)
				}
				b.tau = append(b.tau, tau)
				b.bal = append(b.bal, make([]float32, size))
				b.norm = append(b.norm, make([]float32, size))
				st[k] = taskStats{lo: float32(0.1 * sc), hi: float32(2 * sc), positive: true}
			}
			env := newEnvelope(n)
			// All positive-x scores, then the filtered ones at floors.
			all := make([]map[int32]float32, n)
			scores(b, st, false, env, nil, func(k int, B []float32) {
				all[k] = map[int32]float32{}
				for j, i := range b.idx[:len(B)] {
					all[k][i] = B[j]
				}
			})
			for _, q := range []float64{0.5, 0.9, 0.99} {
				floor := make([]float32, n)
				for k := range n {
					var vals []float64
					for _, v := range all[k] {
						vals = append(vals, float64(v))
					}
					floor[k] = float32(quantile(vals, q))
				}
				scores(b, st, false, env, floor, func(k int, B []float32) {
					kept := map[int32]bool{}
					for j, i := range b.idx[:len(B)] {
						kept[i] = true
						if B[j] != all[k][i] {
							t.Fatalf("n=%d: filtered score %g differs from %g", n, B[j], all[k][i])
						}
					}
					for i, v := range all[k] {
						if v >= floor[k] && !kept[i] {
							t.Errorf("n=%d scale %g q=%g: score %g ≥ floor %g was filtered out", n, sc, q, v, floor[k])
						}
					}
					if q >= 0.9 && len(kept) > len(all[k])/2 {
						t.Errorf("n=%d scale %g q=%g: kept %d of %d (envelope too loose)", n, sc, q, len(kept), len(all[k]))
					}
				})
			}
		}
	}
}

func quantile(v []float64, q float64) float64 {
	s := append([]float64(nil), v...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[int(q*float64(len(s)-1))]
}
