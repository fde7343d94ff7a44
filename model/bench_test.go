package model

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkPeakFMA measures one core's peak float32 FLOP/s with a tight
// register-only AVX2 FMA loop (12 independent accumulators).
func BenchmarkPeakFMA(b *testing.B) {
	if !hasPeakFMA() {
		b.Skip("no AVX2/FMA on this CPU")
	}
	const n = 1 << 20
	start := time.Now()
	iters := 0
	for b.Loop() {
		peakFMA(n)
		iters++
	}
	b.ReportMetric(float64(iters)*n*192/time.Since(start).Seconds()/1e9, "GFLOP/s")
}

// measurePeak returns one core's peak float32 GFLOP/s.
func measurePeak() float64 {
	if !hasPeakFMA() {
		return 0
	}
	best := 0.0
	for range 5 {
		const n = 1 << 22
		start := time.Now()
		peakFMA(n)
		best = max(best, n*192/time.Since(start).Seconds()/1e9)
	}
	return best
}

func BenchmarkMatMul(b *testing.B) {
	peak := measurePeak()
	for _, sz := range [][3]int{{64, 192, 192}, {60, 512, 192}, {256, 768, 768}, {240, 256, 256}, {1, 768, 768}} {
		m, n, k := sz[0], sz[1], sz[2]
		r := rand.New(rand.NewPCG(1, 2))
		x, w := randSlice(r, m*k), randSlice(r, n*k)
		y := make([]float32, m*n)
		pm := NewMatrixF32(w, n, k)
		for _, kern := range kernels() {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/j1", kern.name, m, n, k), func(b *testing.B) {
				mm := &MatMul{kernel: kern}
				start := time.Now()
				iters := 0
				for b.Loop() {
					mm.Mul(context.Background(), y, x, m, pm, nil, 1)
					iters++
				}
				gf := float64(iters) * 2 * float64(m*n*k) / time.Since(start).Seconds() / 1e9
				b.ReportMetric(gf, "GFLOP/s")
				if peak > 0 {
					b.ReportMetric(100*gf/peak, "%peak")
				}
			})
		}
		b.Run(fmt.Sprintf("naive/%dx%dx%d", m, n, k), func(b *testing.B) {
			start := time.Now()
			iters := 0
			for b.Loop() {
				naiveMatMul(y, x, w, m, n, k)
				iters++
			}
			b.ReportMetric(float64(iters)*2*float64(m*n*k)/time.Since(start).Seconds()/1e9, "GFLOP/s")
		})
	}
}
