package widen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

// rowByRow returns the column statistics of the row-major block x (and b)
// by the plain loop the kernels must reproduce bit for bit, starting from
// the accumulators ss0, dot0.
func rowByRow(ss0, dot0 []float64, x, b []float32) (ss, dot []float64) {
	cols := len(ss0)
	ss, dot = append([]float64{}, ss0...), append([]float64{}, dot0...)
	for r := 0; r+cols <= len(x); r += cols {
		for j := range cols {
			f, g := float64(x[r+j]), float64(b[r+j])
			ss[j] += f * f
			dot[j] += f * g
		}
	}
	return ss, dot
}

// sameBits reports whether a and b hold the same float64 bit patterns.
func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func TestColumnKernels(t *testing.T) {
	// Every kernel (the reference 4-row sweeps, the tails and, where the
	// CPU has them, the assembly column groups of 16 and 4) must give
	// exactly the sums of a row-by-row loop, for column counts around the
	// vector widths and row counts with and without a remainder. The
	// accumulators start non-zero and are guarded on both sides, and the
	// data hold zeros, subnormals, huge values, infinities and NaN.
	rng := rand.New(rand.NewPCG(9, 9))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -3e-39, 3e38, float32(math.Inf(1)), float32(math.NaN())}
	for _, cols := range []int{1, 3, 4, 5, 15, 16, 17, 20, 33, 64, 1031} {
		for _, rows := range []int{1, 3, 4, 7, 9} {
			name := fmt.Sprintf("cols=%d/rows=%d", cols, rows)
			x, b := randomMatrix(rng, rows*cols, 1), randomMatrix(rng, rows*cols, 1)
			if cols >= 20 {
				for i, v := range special {
					x[(i*7)%len(x)] = v
					b[(i*11+3)%len(b)] = v
				}
			}
			init0, initDot := randomF64(rng, cols), randomF64(rng, cols)
			want, wantDot := rowByRow(init0, initDot, x, b)
			wantB, _ := rowByRow(init0, initDot, b, b)

			const guard = 3
			fresh := func(v []float64) []float64 {
				g := make([]float64, cols+2*guard)
				for i := range g {
					g[i] = -7.5
				}
				copy(g[guard:], v)
				return g
			}
			checkGuards := func(kernel string, g []float64) {
				for i := range guard {
					if g[i] != -7.5 || g[len(g)-1-i] != -7.5 {
						t.Fatalf("%s %s: wrote outside the accumulators", name, kernel)
					}
				}
			}
			for _, k := range []struct {
				name string
				fn   func(ss, dot []float64)
			}{
				{"ref", func(ss, dot []float64) { addColumnSquaresDotRef(ss, dot, x, b) }},
				{"tail", func(ss, dot []float64) { addColumnSquaresDotTail(ss, dot, x, b, 0) }},
				{"dispatch", func(ss, dot []float64) { addColumnSquaresDot(ss, dot, x, b) }},
			} {
				gs, gd := fresh(init0), fresh(initDot)
				k.fn(gs[guard:guard+cols], gd[guard:guard+cols])
				checkGuards(k.name, gs)
				checkGuards(k.name, gd)
				if !sameBits(gs[guard:guard+cols], want) || !sameBits(gd[guard:guard+cols], wantDot) {
					t.Fatalf("%s %s: got %v %v, want %v %v", name, k.name, gs[guard:guard+cols], gd[guard:guard+cols], want, wantDot)
				}
			}
			for _, k := range []struct {
				name string
				fn   func(ss []float64)
			}{
				{"squares ref", func(ss []float64) { addColumnSquaresRef(ss, b) }},
				{"squares tail", func(ss []float64) { addColumnSquaresTail(ss, b, 0) }},
				{"squares dispatch", func(ss []float64) { addColumnSquares(ss, b) }},
			} {
				gs := fresh(init0)
				k.fn(gs[guard : guard+cols])
				checkGuards(k.name, gs)
				if !sameBits(gs[guard:guard+cols], wantB) {
					t.Fatalf("%s %s: got %v, want %v", name, k.name, gs[guard:guard+cols], wantB)
				}
			}
		}
	}
}

func randomF64(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func TestWeightedDeltaSum(t *testing.T) {
	// The fused kernel (assembly where the CPU has it, with its scalar
	// tail) must give the bits of the unfused float32 sequence
	// d = x − b; d *= w; acc += d (acc from +0, model order); out = b + acc,
	// for lengths around the vector width and 1 to 3 models, without
	// writing outside out.
	rng := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{1, 7, 15, 16, 17, 31, 32, 33, 100, 1031} {
		for m := 1; m <= 3; m++ {
			b := randomMatrix(rng, n, 1)
			xs, w := make([][]float32, m), make([][]float32, m)
			for k := range m {
				xs[k] = addDelta(b, randomMatrix(rng, n, 0.01))
				w[k] = randomMatrix(rng, n, 1)
				if n > 20 {
					xs[k][3] = b[3] // unchanged: a ±0 delta
					w[k][5] = 0
				}
			}
			want := make([]float32, n)
			d := make([]float32, n)
			for k := range m {
				for j := range n {
					d[j] = xs[k][j] - b[j]
					d[j] *= w[k][j]
					want[j] += d[j]
				}
			}
			for j := range n {
				want[j] = b[j] + want[j]
			}
			const guard = 4
			g := make([]float32, n+2*guard)
			for i := range g {
				g[i] = 99
			}
			out := g[guard : guard+n]
			weightedDeltaSum(out, b, xs, w, make([]*float32, m), make([]*float32, m))
			for i := range guard {
				if g[i] != 99 || g[len(g)-1-i] != 99 {
					t.Fatalf("n %d m %d: wrote outside out", n, m)
				}
			}
			ref := make([]float32, n)
			weightedDeltaSumRef(ref, b, xs, w, 0)
			for j := range n {
				if math.Float32bits(out[j]) != math.Float32bits(want[j]) || math.Float32bits(ref[j]) != math.Float32bits(want[j]) {
					t.Fatalf("n %d m %d element %d: kernel %v, reference %v, want %v", n, m, j, out[j], ref[j], want[j])
				}
			}
		}
	}
}

// randomBF16 returns n random bfloat16 bit patterns (normal values of
// scale 1 with, for n ≥ 40, zeros, subnormals, infinities and NaNs, a
// signalling one included, mixed in).
func randomBF16(rng *rand.Rand, n int) []uint16 {
	v := make([]uint16, n)
	simd.F32ToBF16(v, randomMatrix(rng, n, 1))
	if n >= 40 {
		for i, s := range []uint16{0x0000, 0x8000, 0x0001, 0x8003, 0x7f80, 0xff80, 0x7fc1, 0x7f81} {
			v[(i*13+5)%n] = s
		}
	}
	return v
}

func TestBF16KernelsMatchFloat32(t *testing.T) {
	// The bfloat16 kernels must give the bits of the float32 kernels run
	// on simd.BF16ToF32 of the same data (NaN payloads included).
	rng := rand.New(rand.NewPCG(12, 12))
	widen16 := func(v []uint16) []float32 {
		f := make([]float32, len(v))
		simd.BF16ToF32(f, v)
		return f
	}
	for _, cols := range []int{1, 3, 4, 5, 16, 17, 20, 33, 64, 1031} {
		for _, rows := range []int{1, 4, 7} {
			name := fmt.Sprintf("cols=%d/rows=%d", cols, rows)
			x, b := randomBF16(rng, rows*cols), randomBF16(rng, rows*cols)
			init0, initDot := randomF64(rng, cols), randomF64(rng, cols)
			ss, dot := append([]float64{}, init0...), append([]float64{}, initDot...)
			addColumnSquaresDotBF16(ss, dot, x, b)
			want, wantDot := append([]float64{}, init0...), append([]float64{}, initDot...)
			addColumnSquaresDotRef(want, wantDot, widen16(x), widen16(b))
			if !sameBits(ss, want) || !sameBits(dot, wantDot) {
				t.Fatalf("%s squares+dot: got %v %v, want %v %v", name, ss, dot, want, wantDot)
			}
			sq, wantSq := append([]float64{}, init0...), append([]float64{}, init0...)
			addColumnSquaresBF16(sq, b)
			addColumnSquaresRef(wantSq, widen16(b))
			if !sameBits(sq, wantSq) {
				t.Fatalf("%s squares: got %v, want %v", name, sq, wantSq)
			}
		}
	}
	for _, n := range []int{1, 15, 16, 17, 33, 100, 1031} {
		for m := 1; m <= 3; m++ {
			b := randomBF16(rng, n)
			xs, xf, w := make([][]uint16, m), make([][]float32, m), make([][]float32, m)
			for k := range m {
				xs[k] = randomBF16(rng, n)
				xf[k] = widen16(xs[k])
				w[k] = randomMatrix(rng, n, 1)
			}
			got, want := make([]float32, n), make([]float32, n)
			weightedDeltaSumBF16(got, b, xs, w, make([]*uint16, m), make([]*float32, m))
			weightedDeltaSumRef(want, widen16(b), xf, w, 0)
			for j := range n {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("n %d m %d element %d: got %v (%#x), want %v (%#x)", n, m, j, got[j], math.Float32bits(got[j]), want[j], math.Float32bits(want[j]))
				}
			}
		}
	}
}

func TestFusedColumnStatsBF16(t *testing.T) {
	// The fused pass-1 kernel (base and up to two models per sweep, the
	// column tail in Go) must give, for every accumulator, the bits of the
	// separate reference sweeps, for 1 to 4 models, column counts around
	// the strip width of 8, and data with zeros, -0, subnormals, ±Inf and
	// NaN (randomBF16), and 2048 columns (rows 4 KiB apart, swept two at
	// a time). The accumulators start non-zero.
	rng := rand.New(rand.NewPCG(21, 21))
	for _, cols := range []int{1, 7, 8, 9, 15, 16, 17, 24, 41, 1031, 2048, 2056} {
		for _, rows := range []int{1, 2, 5} {
			for m := 1; m <= 4; m++ {
				name := fmt.Sprintf("cols=%d/rows=%d/models=%d", cols, rows, m)
				b := randomBF16(rng, rows*cols)
				xs := make([][]uint16, m)
				for k := range xs {
					xs[k] = randomBF16(rng, rows*cols)
				}
				got, want := newColumnStats(m, cols), newColumnStats(m, cols)
				copy(got.v, randomF64(rng, len(got.v)))
				copy(want.v, got.v)
				addColumnStatsBF16(got.ss0(), got.ssv, got.dotv, b, xs, make([]float64, cols))
				addColumnSquaresBF16Ref(want.ss0(), b, 0)
				for k, x := range xs {
					addColumnSquaresDotBF16Ref(want.ss(k), want.dot(k), x, b, 0)
				}
				if !sameBits(got.v, want.v) {
					t.Fatalf("%s: got %v, want %v", name, got.v, want.v)
				}
			}
		}
	}
}
