package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomerge/gomerge/simd"
)

// The figures below are measured two ways: wall time of the fastest
// iteration, and process CPU time summed over all iterations. On a shared,
// loaded machine the wall time includes waiting for a CPU; the CPU time does
// not, so rates per CPU-second (and the %peak derived from them) are the
// stable figures, while tokens/s (wall, best run) is what a user sees.

// timer keeps the fastest wall time and the total CPU time of repeated runs.
type timer struct {
	best time.Duration
	cpu  time.Duration
	n    int
}

func (t *timer) run(f func()) {
	c0 := cpuTime()
	start := time.Now()
	f()
	d := time.Since(start)
	t.cpu += cpuTime() - c0
	t.n++
	if t.best == 0 || d < t.best {
		t.best = d
	}
}

// giga returns work per second of the fastest run, in units of 1e9.
func (t *timer) giga(work float64) float64 { return work / t.best.Seconds() / 1e9 }

// gigaCPU returns work per CPU-second, in units of 1e9 (per second of the
// fastest run where CPU time cannot be read).
func (t *timer) gigaCPU(work float64) float64 {
	if t.cpu <= 0 {
		return t.giga(work)
	}
	return work * float64(t.n) / t.cpu.Seconds() / 1e9
}

// BenchmarkPeakFMA measures one core's peak float32 FLOP/s (wall time of
// the fastest of many short runs, which escape preemption) with a tight
// register-only AVX2 FMA loop (12 independent accumulators).
func BenchmarkPeakFMA(b *testing.B) {
	if !hasPeakFMA() {
		b.Skip("no AVX2/FMA on this CPU")
	}
	const n = 1 << 14
	var t timer
	for b.Loop() {
		t.run(func() { peakFMA(n) })
	}
	b.ReportMetric(t.giga(n*192), "GFLOP/s")
}

// measurePeak returns one core's peak float32 GFLOP/s (best of many short runs).
func measurePeak() float64 {
	if !hasPeakFMA() {
		return 0
	}
	var t timer
	for range 2000 {
		t.run(func() { peakFMA(1 << 14) })
	}
	return t.giga(1 << 14 * 192)
}

func BenchmarkMatMul(b *testing.B) {
	peak := measurePeak()
	for _, sz := range [][3]int{{64, 192, 192}, {60, 512, 192}, {256, 768, 768}, {240, 256, 256}, {1, 768, 768}} {
		m, n, k := sz[0], sz[1], sz[2]
		r := rand.New(rand.NewPCG(1, 2))
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		y := make([]float32, m*n)
		pm := NewMatrixF32(w, n, k)
		pb := newMatrix(n, k, elemBF16)
		u := make([]uint16, n*k)
		simd.F32ToBF16(u, w)
		pb.setRowsU16(0, u)
		for _, kern := range kernels() {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/bf16/j1", kern.name, m, n, k), func(b *testing.B) {
				mm := &MatMul{kernel: kern}
				var t timer
				for b.Loop() {
					t.run(func() { mm.Mul(context.Background(), y, x, m, pb, nil, 1) })
				}
				gf := t.gigaCPU(2 * float64(m*n*k))
				b.ReportMetric(gf, "GFLOP/s")
				if peak > 0 {
					b.ReportMetric(100*gf/peak, "%peak")
				}
			})
			b.Run(fmt.Sprintf("%s/%dx%dx%d/j1", kern.name, m, n, k), func(b *testing.B) {
				mm := &MatMul{kernel: kern}
				var t timer
				for b.Loop() {
					t.run(func() { mm.Mul(context.Background(), y, x, m, pm, nil, 1) })
				}
				gf := t.gigaCPU(2 * float64(m*n*k))
				b.ReportMetric(gf, "GFLOP/s")
				if peak > 0 {
					b.ReportMetric(100*gf/peak, "%peak")
				}
			})
		}
		b.Run(fmt.Sprintf("naive/%dx%dx%d", m, n, k), func(b *testing.B) {
			var t timer
			for b.Loop() {
				t.run(func() { naiveMatMul(y, x, w, m, n, k) })
			}
			b.ReportMetric(t.gigaCPU(2*float64(m*n*k)), "GFLOP/s")
		})
	}
}
