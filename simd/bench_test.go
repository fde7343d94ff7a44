package simd

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks run every registered implementation (generic is the pure-Go
// baseline) at two sizes: 32KiB (8192 float32, cache resident) and 256MiB
// (64Mi float32, memory bound). b.SetBytes counts the bytes each call reads
// plus writes, and BenchmarkMemmove counts a copy the same way (read +
// write), so MB/s figures compare directly:
//
//	go test -run NONE -bench . ./simd/
//
// The 256MiB cases only run under -bench (they allocate up to 1GiB).

type benchSize struct {
	name string
	n    int // float32 elements
}

var (
	small = benchSize{"32KiB", 8 << 10}
	large = benchSize{"256MiB", 64 << 20}
)

func benchData(n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func benchBF16(n int, seed uint64) []uint16 {
	h := make([]uint16, n)
	refF32ToBF16(h, benchData(n, seed))
	return h
}

// benchImpls runs body(k) for each implementation and size; setup returns
// the per-call function and the bytes it moves.
func benchImpls(b *testing.B, sizes []benchSize, setup func(n int) (bytes int64, run func(k *kernels))) {
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			bytes, run := setup(s.n)
			for _, k := range registry {
				b.Run(k.level, func(b *testing.B) {
					b.SetBytes(bytes)
					for b.Loop() {
						run(k)
					}
				})
			}
		})
	}
}

var both = []benchSize{small, large}
var smallOnly = []benchSize{small}

func BenchmarkMemmove(b *testing.B) {
	for _, s := range both {
		b.Run(s.name, func(b *testing.B) {
			src := benchData(s.n, 1)
			dst := make([]float32, s.n)
			copy(dst, src)
			b.SetBytes(int64(8 * s.n))
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

func BenchmarkBF16ToF32(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		src, dst := benchBF16(n, 1), benchData(n, 2)
		return int64(6 * n), func(k *kernels) { k.bf16ToF32(dst, src) }
	})
}

func BenchmarkF16ToF32(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		src, dst := make([]uint16, n), benchData(n, 2)
		refF32ToF16(src, benchData(n, 1))
		return int64(6 * n), func(k *kernels) { k.f16ToF32(dst, src) }
	})
}

func BenchmarkF32ToBF16(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		src, dst := benchData(n, 1), benchBF16(n, 2)
		return int64(6 * n), func(k *kernels) { k.f32ToBF16(dst, src) }
	})
}

func BenchmarkF32ToF16(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		src, dst := benchData(n, 1), benchBF16(n, 2)
		return int64(6 * n), func(k *kernels) { k.f32ToF16(dst, src) }
	})
}

func BenchmarkAddScaled(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		x, dst := benchData(n, 1), benchData(n, 2)
		return int64(12 * n), func(k *kernels) { k.addScaled(dst, 1e-7, x) }
	})
}

func BenchmarkScale(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		dst := benchData(n, 2)
		return int64(8 * n), func(k *kernels) { k.scale(dst, 1) }
	})
}

func BenchmarkSub(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x, y, dst := benchData(n, 1), benchData(n, 2), benchData(n, 3)
		return int64(12 * n), func(k *kernels) { k.sub(dst, x, y) }
	})
}

// The fused sums merge K=3 models into a base.
func BenchmarkWeightedDeltaSum(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		base, dst := benchData(n, 1), benchData(n, 2)
		xs := [][]float32{benchData(n, 3), benchData(n, 4), benchData(n, 5)}
		w := []float32{0.3, 0.3, 0.4}
		return int64(20 * n), func(k *kernels) { k.weightedDeltaSum(dst, base, xs, w) }
	})
}

func BenchmarkWeightedDeltaSumBF16(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		base, dst := benchBF16(n, 1), benchData(n, 2)
		xs := [][]uint16{benchBF16(n, 3), benchBF16(n, 4), benchBF16(n, 5)}
		w := []float32{0.3, 0.3, 0.4}
		return int64(12 * n), func(k *kernels) { k.weightedDeltaSumBF16(dst, base, xs, w) }
	})
}

func BenchmarkWeightedDeltaSumF16(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		base, dst := make([]uint16, n), benchData(n, 2)
		refF32ToF16(base, benchData(n, 1))
		xs := [][]uint16{make([]uint16, n), make([]uint16, n), make([]uint16, n)}
		for j, x := range xs {
			refF32ToF16(x, benchData(n, uint64(3+j)))
		}
		w := []float32{0.3, 0.3, 0.4}
		return int64(12 * n), func(k *kernels) { k.weightedDeltaSumF16(dst, base, xs, w) }
	})
}

var sinkF64 float64
var sinkF32 float32
var sinkInt int

func BenchmarkSum(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		x := benchData(n, 1)
		return int64(4 * n), func(k *kernels) { sinkF64 = k.sum(x) }
	})
}

func BenchmarkSumSquares(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x := benchData(n, 1)
		return int64(4 * n), func(k *kernels) { sinkF64 = k.sumSquares(x) }
	})
}

func BenchmarkDot(b *testing.B) {
	benchImpls(b, both, func(n int) (int64, func(*kernels)) {
		x, y := benchData(n, 1), benchData(n, 2)
		return int64(8 * n), func(k *kernels) { sinkF64 = k.dot(x, y) }
	})
}

func BenchmarkSumAbs(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x := benchData(n, 1)
		return int64(4 * n), func(k *kernels) { sinkF64 = k.sumAbs(x) }
	})
}

func BenchmarkMaxAbs(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x := benchData(n, 1)
		return int64(4 * n), func(k *kernels) { sinkF32 = k.maxAbs(x) }
	})
}

func BenchmarkCountAbsGE(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x := benchData(n, 1)
		return int64(4 * n), func(k *kernels) { sinkInt = k.countAbsGE(x, 1) }
	})
}

func BenchmarkHistAbsHigh16(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x, h := benchData(n, 1), make([]uint64, 65536)
		return int64(4 * n), func(k *kernels) { k.histAbsHigh16(h, x) }
	})
}

func BenchmarkTIESElect(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		d := [][]float32{benchData(n, 1), benchData(n, 2), benchData(n, 3)}
		m, dv := benchData(n, 4), benchData(n, 5)
		w := []float32{1, 1, 1}
		return int64(20 * n), func(k *kernels) { k.tiesElect(m, dv, d, w) }
	})
}

func BenchmarkExp(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x, dst := benchData(n, 1), benchData(n, 2)
		return int64(8 * n), func(k *kernels) { k.exp(dst, x) }
	})
}

func BenchmarkTanh(b *testing.B) {
	benchImpls(b, smallOnly, func(n int) (int64, func(*kernels)) {
		x, dst := benchData(n, 1), benchData(n, 2)
		return int64(8 * n), func(k *kernels) { k.tanh(dst, x) }
	})
}
