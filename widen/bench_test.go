package widen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// benchmarkMerge times one WIDEN merge of an in-memory tensor with two
// experts (throughput counts the elements of the three inputs).
func benchmarkMerge(b *testing.B, name string, shape []int64) {
	rng := rand.New(rand.NewPCG(1, 1))
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	base := randomMatrix(rng, int(n), 1)
	m, _ := New(merge.Params{})
	task := &merge.Task{Name: name, Shape: shape, Base: &merge.SliceSource{Data: base, Dims: shape}}
	for range 2 {
		x := addDelta(base, randomMatrix(rng, int(n), 0.01))
		task.Inputs = append(task.Inputs, &merge.SliceSource{Data: x, Dims: shape})
		task.Model = append(task.Model, merge.Params{})
	}
	task.Out = &merge.SliceSink{Data: make([]float32, n)}
	b.SetBytes(3 * 4 * n)
	for b.Loop() {
		if err := m.Merge(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	for _, tc := range []struct {
		name  string
		shape []int64
	}{
		{"model.layers.0.mlp.down_proj.weight", []int64{2048, 5632}},
		{"model.embed_tokens.weight", []int64{32000, 2048}},
		{"model.layers.0.input_layernorm.weight", []int64{1 << 20}},
	} {
		b.Run(fmt.Sprint(tc.shape), func(b *testing.B) { benchmarkMerge(b, tc.name, tc.shape) })
	}
}

func BenchmarkColumnStats(b *testing.B) {
	const rows = 8
	for _, cols := range []int{1024, 2048, 5632} {
		rng := rand.New(rand.NewPCG(2, 2))
		x, base := randomMatrix(rng, rows*cols, 1), randomMatrix(rng, rows*cols, 1)
		ss, dot := make([]float64, cols), make([]float64, cols)
		b.Run(fmt.Sprintf("cols=%d/asm=%v", cols, hasColumnAsm), func(b *testing.B) {
			b.SetBytes(2 * 4 * rows * int64(cols))
			for b.Loop() {
				addColumnSquaresDot(ss, dot, x, base)
			}
		})
		b.Run(fmt.Sprintf("cols=%d/ref", cols), func(b *testing.B) {
			b.SetBytes(2 * 4 * rows * int64(cols))
			for b.Loop() {
				addColumnSquaresDotRef(ss, dot, x, base)
			}
		})
	}
}

func BenchmarkColumnStatsBF16(b *testing.B) {
	const rows = 16
	for _, cols := range []int{2048, 5632} {
		rng := rand.New(rand.NewPCG(2, 2))
		x, base := make([]uint16, rows*cols), make([]uint16, rows*cols)
		simd.F32ToBF16(x, randomMatrix(rng, rows*cols, 1))
		simd.F32ToBF16(base, randomMatrix(rng, rows*cols, 1))
		ss, dot := make([]float64, cols), make([]float64, cols)
		b.Run(fmt.Sprintf("cols=%d/asm=%v", cols, hasColumnAsm), func(b *testing.B) {
			b.SetBytes(2 * 2 * rows * int64(cols))
			for b.Loop() {
				addColumnSquaresDotBF16(ss, dot, x, base)
			}
		})
	}
}

func BenchmarkWeightedDeltaSum(b *testing.B) {
	const n, m = 5632, 2
	rng := rand.New(rand.NewPCG(4, 4))
	base := randomMatrix(rng, n, 1)
	xs, w := make([][]float32, m), make([][]float32, m)
	for k := range m {
		xs[k], w[k] = randomMatrix(rng, n, 1), randomMatrix(rng, n, 1)
	}
	out := make([]float32, n)
	xp, wp := make([]*float32, m), make([]*float32, m)
	b.Run(fmt.Sprintf("asm=%v", hasColumnAsm), func(b *testing.B) {
		b.SetBytes((1 + m) * 4 * n)
		for b.Loop() {
			weightedDeltaSum(out, base, xs, w, xp, wp)
		}
	})
	b.Run("ref", func(b *testing.B) {
		b.SetBytes((1 + m) * 4 * n)
		for b.Loop() {
			weightedDeltaSumRef(out, base, xs, w, 0)
		}
	})
}

func BenchmarkWeightedDeltaSumBF16(b *testing.B) {
	const n, m = 5632, 2
	rng := rand.New(rand.NewPCG(4, 4))
	base := make([]uint16, n)
	simd.F32ToBF16(base, randomMatrix(rng, n, 1))
	xs, w := make([][]uint16, m), make([][]float32, m)
	for k := range m {
		xs[k], w[k] = make([]uint16, n), randomMatrix(rng, n, 1)
		simd.F32ToBF16(xs[k], randomMatrix(rng, n, 1))
	}
	out := make([]float32, n)
	xp, wp := make([]*uint16, m), make([]*float32, m)
	b.SetBytes((1 + m) * 2 * n)
	for b.Loop() {
		weightedDeltaSumBF16(out, base, xs, w, xp, wp)
	}
}

func BenchmarkColumnStatsFusedBF16(b *testing.B) {
	// Pass 1 over one block (about blockElems elements) of a base and two
	// models: the fused sweep against one squares sweep plus one
	// squares+dot sweep per model.
	const m = 2
	for _, cols := range []int{2048, 5504} {
		rows := max(1, blockElems/cols)
		rng := rand.New(rand.NewPCG(2, 2))
		base := randomBF16(rng, rows*cols)
		xs := [][]uint16{randomBF16(rng, rows*cols), randomBF16(rng, rows*cols)}
		st := newColumnStats(m, cols)
		scratch := make([]float64, cols)
		b.Run(fmt.Sprintf("cols=%d/fused", cols), func(b *testing.B) {
			b.SetBytes((1 + m) * 2 * int64(rows*cols))
			reportThreadCPU(b, func() { addColumnStatsBF16(st.ss0(), st.ssv, st.dotv, base, xs, scratch) })
		})
		b.Run(fmt.Sprintf("cols=%d/separate", cols), func(b *testing.B) {
			b.SetBytes((1 + m) * 2 * int64(rows*cols))
			reportThreadCPU(b, func() {
				addColumnSquaresBF16(st.ss0(), base)
				for k, x := range xs {
					addColumnSquaresDotBF16(st.ss(k), st.dot(k), x, base)
				}
			})
		})
	}
}

func BenchmarkColumnStatsStreamingBF16(b *testing.B) {
	// Pass 1 over a tensor too large for the CPU caches (as read in place
	// from mapped files): a base and two models of 16 Mi elements each.
	const m, total = 2, 16 << 20
	for _, cols := range []int{2048, 5504} {
		rows := total / cols
		rng := rand.New(rand.NewPCG(2, 2))
		in := make([][]uint16, 1+m)
		for i := range in {
			in[i] = make([]uint16, rows*cols)
			blk := randomBF16(rng, 1<<16)
			for o := 0; o < len(in[i]); o += len(blk) {
				copy(in[i][o:], blk)
			}
		}
		st := newColumnStats(m, cols)
		scratch := make([]float64, cols)
		step := max(1, blockElems/cols) * cols
		xs := make([][]uint16, m)
		b.Run(fmt.Sprintf("cols=%d", cols), func(b *testing.B) {
			b.SetBytes((1 + m) * 2 * int64(rows*cols))
			reportThreadCPU(b, func() {
				for lo := 0; lo < rows*cols; lo += step {
					hi := min(lo+step, rows*cols)
					for k := range xs {
						xs[k] = in[1+k][lo:hi]
					}
					addColumnStatsBF16(st.ss0(), st.ssv, st.dotv, in[0][lo:hi], xs, scratch)
				}
			})
		})
	}
}

func BenchmarkBetweenPasses(b *testing.B) {
	// The work between the passes of one tensor: column differences, the
	// 2n sorts and the weights (n = 2 models).
	for _, c := range []int{2048, 32000} {
		rng := rand.New(rand.NewPCG(3, 3))
		st := newColumnStats(2, c)
		for i := range st.v {
			st.v[i] = 1 + rng.Float64()
		}
		b.Run(fmt.Sprintf("cols=%d", c), func(b *testing.B) {
			reportThreadCPU(b, func() {
				magPos, dirPos := make([][]int32, 2), make([][]int32, 2)
				for k := range 2 {
					mag, dir, idx := make([]float64, c), make([]float64, c), make([]int32, c)
					columnDifferences(mag, dir, st.ss0(), st.ss(k), st.dot(k))
					magPos[k], dirPos[k] = make([]int32, c), make([]int32, c)
					rankPositions(magPos[k], mag, idx)
					rankPositions(dirPos[k], dir, idx)
				}
				columnWeights(magPos, dirPos, c, 1, 1)
			})
		})
	}
}
