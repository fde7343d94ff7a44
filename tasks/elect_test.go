package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

// electCase is one configuration of the merge kernel: the models' rules
// and parameters over shared base and model values.
type electCase struct {
	name      string
	ms        []fusedModel
	normalize bool
	lambda    float32
}

// electData returns base and k model rows of n stored bf16 values: most
// models' values are base plus a few multiples of 2⁻⁸ (so |δ| repeats and
// band edges are hit exactly) and a share are special (zeros, subnormals,
// ±Inf, NaNs, the largest finite values), in base too.
func electData(r *rand.Rand, n, k int, special int) (base []uint16, xs [][]uint16) {
	pick := func(b float32) uint16 {
		switch p := r.IntN(100); {
		case p < special:
			return specialBF16[r.IntN(len(specialBF16))]
		case p < special+10:
			return uint16(math.Float32bits(b) >> 16)
		case p < 60:
			return uint16(math.Float32bits(b+float32(r.IntN(9)-4)/256) >> 16)
		default:
			return uint16(math.Float32bits(b+float32(r.NormFloat64()*0.02)) >> 16)
		}
	}
	base = make([]uint16, n)
	for i := range base {
		base[i] = pick(float32(r.NormFloat64()))
	}
	for range k {
		x := make([]uint16, n)
		for i := range x {
			x[i] = pick(bf16Value(base[i]))
		}
		xs = append(xs, x)
	}
	return base, xs
}

// absDelta returns the |δ| bit pattern of entry i of x, one of the values
// a band edge can equal exactly.
func absDelta(x, base []uint16, i int) uint32 {
	return math.Float32bits(bf16Value(x[i])-bf16Value(base[i])) & 0x7fffffff
}

// electCases returns the configurations the kernels are checked on: every
// model by a band (from = 0, bands reaching 0x7fffffff from a value of the
// data, from = 1, only Inf and NaN, only NaN, nothing, narrow bands, a
// band that wraps), every model by mask bits, and models mixing the two;
// scales 1 and others, weights 0, −0, negative and NaN, normalize on and
// off, several lambdas.
func electCases(r *rand.Rand, base []uint16, xs [][]uint16) []electCase {
	n := len(base)
	edge := func(k int) uint32 {
		if n == 0 {
			return 0x3b800000
		}
		return absDelta(xs[k], base, r.IntN(n))
	}
	bits := func() []byte {
		b := make([]byte, (n+7)/8)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	weights := []float32{0.5, 0.3, 0.7, -0.4, 0, float32(math.Copysign(0, -1)), 1.5, float32(math.NaN())}
	scales := []float32{1, 1.7, 0.5, -1, 0, float32(math.Inf(1))}
	// The NaN lambdas carry payload bits below the bf16 part, so that the
	// encoding's NaN rule is exercised.
	lambdas := []float32{1, 0.7, -0.5, 0, math.Float32frombits(0x7fc01234), math.Float32frombits(0xffa0abcd)}
	var cs []electCase
	for _, rule := range []string{"keep-all", "ge", "ge-edges", "band", "band-edges", "wrap", "bits", "mixed"} {
		for _, scaleOne := range []bool{true, false} {
			for _, normalize := range []bool{true, false} {
				ms := make([]fusedModel, len(xs))
				for k := range ms {
					f := &ms[k]
					f.x, f.from, f.span, f.scale = xs[k], 0, 0x7fffffff, 1
					if !scaleOne {
						f.scale = scales[1+r.IntN(len(scales)-1)]
					}
					f.w = weights[r.IntN(len(weights)-1)]
					if r.IntN(20) == 0 {
						f.w = weights[len(weights)-1]
					}
					switch rule {
					case "ge":
						f.from = []uint32{0, 1, 0x3b800000, 0x3c000000, 0x3d000000}[r.IntN(5)]
					case "ge-edges":
						f.from = []uint32{edge(k), 0x7f800000, 0x7f800001, 0x7fffffff, 0x80000000}[r.IntN(5)]
					case "band":
						f.from = []uint32{0, 0x3b000000, 0x3b800000}[r.IntN(3)]
						f.span = []uint32{0x00800000, 0x01000000, 0x7f800000 - f.from}[r.IntN(3)]
					case "band-edges":
						lo, hi := edge(k), edge(k)
						if lo > hi {
							lo, hi = hi, lo
						}
						f.from, f.span = lo, hi-lo
					case "wrap":
						f.from, f.span = 0x3c000000, 0xd0000000
					case "bits":
						f.bits = bits()
					case "mixed":
						if k%2 == 1 {
							f.bits = bits()
						} else {
							f.from = edge(k)
							f.span = 0x7fffffff - f.from
						}
					}
				}
				cs = append(cs, electCase{
					name:      fmt.Sprintf("%s/scale1=%v/normalize=%v", rule, scaleOne, normalize),
					ms:        ms,
					normalize: normalize,
					lambda:    lambdas[len(cs)%len(lambdas)],
				})
			}
		}
	}
	return cs
}

// TestElectMatchesGeneric compares electBF16 (float32 results) and
// electBF16Encode (bf16 results) with electBF16Generic and simd.F32ToBF16
// bit for bit, over 1 to 5 models, odd lengths and every rule, in outputs
// padded with guard values that must stay untouched.
func TestElectMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	lengths := []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 1001}
	if !testing.Short() {
		lengths = append(lengths, 4099)
	}
	const guard = 16
	for _, n := range lengths {
		for K := 1; K <= 5; K++ {
			for _, special := range []int{1, 25} {
				base, xs := electData(r, n, K, special)
				for _, c := range electCases(r, base, xs) {
					want := make([]float32, n)
					electBF16Generic(want, base, c.ms, c.normalize, c.lambda)
					wantH := make([]uint16, n)
					simd.F32ToBF16(wantH, want)

					got := make([]float32, n+guard)
					for i := range got {
						got[i] = -7
					}
					electBF16(got[:n], base, c.ms, c.normalize, c.lambda)
					gotH := make([]uint16, n+guard)
					for i := range gotH {
						gotH[i] = 0x1234
					}
					electBF16Encode(gotH[:n], make([]float32, n), base, c.ms, c.normalize, c.lambda)
					for i := range n {
						if c.lambda != c.lambda && bf16Value(base[i]) != bf16Value(base[i]) {
							// base + NaN term: both operands NaN, and which
							// payload wins is the compiler's choice of
							// operand order in the generic code (the
							// assembly kernels keep base's).
							continue
						}
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s n=%d K=%d lambda=%v: entry %d: electBF16 %x, generic %x (base %04x)", c.name, n, K, c.lambda, i, math.Float32bits(got[i]), math.Float32bits(want[i]), base[i])
						}
						if gotH[i] != wantH[i] {
							t.Fatalf("%s n=%d K=%d lambda=%v: entry %d: electBF16Encode %04x, generic %04x (float32 %x)", c.name, n, K, c.lambda, i, gotH[i], wantH[i], math.Float32bits(want[i]))
						}
					}
					for i := n; i < n+guard; i++ {
						if got[i] != -7 || gotH[i] != 0x1234 {
							t.Fatalf("%s n=%d K=%d: wrote past the end (entry %d)", c.name, n, K, i)
						}
					}
				}
			}
		}
	}
}

// TestElectHandWorked checks electBF16Encode on entries worked by hand:
// three models, weights 1, 1, 2, normalize, lambda 1, keep everything.
func TestElectHandWorked(t *testing.T) {
	const n = 32 // one full iteration of the wide kernels, twice
	bf := func(v float32) uint16 { return uint16(math.Float32bits(v) >> 16) }
	type entry struct {
		b, x0, x1, x2 float32
		want          float32
	}
	entries := []entry{
		// δ = 1, 1, −1 → v = 1, 1, −2: Σ = 0 elects +; m = 2, dv = 2 → 1 + 1.
		{1, 2, 2, 0, 2},
		// δ = −1, −1, 1 → v = −1, −1, 2: Σ = 0 elects +; m = 2, dv = 2 → 0 + 1.
		{0, -1, -1, 1, 1},
		// δ = 0.5, −0.5, −0.5 → v = 0.5, −0.5, −1: − wins; m = −1.5, dv = 3 → 4 − 0.5.
		{4, 4.5, 3.5, 3.5, 3.5},
		// all δ = 0: nothing agrees, dv = 0 divides by 1 → base.
		{-2, -2, -2, -2, -2},
	}
	base := make([]uint16, n)
	xs := [][]uint16{make([]uint16, n), make([]uint16, n), make([]uint16, n)}
	for i := range n {
		e := entries[i%len(entries)]
		base[i], xs[0][i], xs[1][i], xs[2][i] = bf(e.b), bf(e.x0), bf(e.x1), bf(e.x2)
	}
	ms := []fusedModel{
		{x: xs[0], from: 0, span: 0x7fffffff, scale: 1, w: 1},
		{x: xs[1], from: 0, span: 0x7fffffff, scale: 1, w: 1},
		{x: xs[2], from: 0, span: 0x7fffffff, scale: 1, w: 2},
	}
	got := make([]uint16, n)
	electBF16Encode(got, make([]float32, n), base, ms, true, 1)
	for i := range n {
		if want := bf(entries[i%len(entries)].want); got[i] != want {
			t.Errorf("entry %d: %04x, want %04x", i, got[i], want)
		}
	}
}
