package model

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

// kernels returns every micro-kernel this CPU can run.
func kernels() []*microKernel {
	ks := []*microKernel{kernelGeneric}
	if defaultKernel != kernelGeneric {
		ks = append(ks, defaultKernel)
	}
	return ks
}

// naiveMatMul is the plain triple loop y = x·wᵀ in float32, w row-major [n, k].
func naiveMatMul(y, x, w []float32, m, n, k int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for l := 0; l < k; l++ {
				s += x[i*k+l] * w[j*k+l]
			}
			y[i*n+j] = s
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func TestMatMul(t *testing.T) {
	sizes := [][3]int{{1, 70, 300}, {2, 130, 513}, {3, 64, 17}, {1, 128, 1}, {1, 16, 7}, {5, 17, 3}, {6, 16, 256}, {7, 33, 257}, {13, 259, 192}, {64, 48, 600}, {2, 1, 513}}
	for _, kern := range kernels() {
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			r := rand.New(rand.NewPCG(uint64(m), uint64(n*1000+k)))
			x, w := randSlice(r, m*k), randSlice(r, n*k)
			bias := randSlice(r, n)
			for _, kind := range []elemKind{elemF32, elemBF16, elemF16} {
				// Round the weights to the storage precision first so the
				// reference sees exactly what the kernel sees.
				wq := append([]float32(nil), w...)
				pm := NewMatrixF32(wq, n, k)
				if kind != elemF32 {
					u := make([]uint16, n*k)
					if kind == elemBF16 {
						simd.F32ToBF16(u, wq)
						simd.BF16ToF32(wq, u)
					} else {
						simd.F32ToF16(u, wq)
						simd.F16ToF32(wq, u)
					}
					pm = newMatrix(n, k, kind)
					pm.setRowsU16(0, u)
				}
				for _, threads := range []int{1, 3} {
					// Guard the output: elements past m·n must stay untouched.
					y := make([]float32, m*n+5)
					for i := range y {
						y[i] = 7
					}
					mm := &MatMul{kernel: kern}
					if err := mm.Mul(context.Background(), y, x, m, pm, bias, threads); err != nil {
						t.Fatal(err)
					}
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s, sa float64
							for l := 0; l < k; l++ {
								p := float64(x[i*k+l]) * float64(wq[j*k+l])
								s += p
								sa += math.Abs(p)
							}
							s += float64(bias[j])
							sa += math.Abs(float64(bias[j]))
							if d := math.Abs(float64(y[i*n+j]) - s); d > 1e-5*sa+1e-6 {
								t.Fatalf("%s %v kind %d j%d: y[%d,%d] = %g, want %g", kern.name, sz, kind, threads, i, j, y[i*n+j], s)
							}
						}
					}
					for i := m * n; i < len(y); i++ {
						if y[i] != 7 {
							t.Fatalf("%s %v: wrote past the output at %d", kern.name, sz, i)
						}
					}
				}
			}
		}
	}
}

// TestMatMulThreadsAndRows checks that a row's result does not depend on the
// thread count or on the other rows of the product (batching).
func TestMatMulThreadsAndRows(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m, n, k := 23, 200, 700
	x, w := randSlice(r, m*k), randSlice(r, n*k)
	pb := newMatrix(n, k, elemBF16)
	u := make([]uint16, n*k)
	simd.F32ToBF16(u, w)
	pb.setRowsU16(0, u)
	for _, pm := range []*Matrix{NewMatrixF32(w, n, k), pb} {
		checkRowsIndependent(t, pm, x, m, n, k)
	}
}

// checkRowsIndependent checks one matrix: each row alone (the few-rows
// kernel), with several thread counts, against the whole batch.
func checkRowsIndependent(t *testing.T, pm *Matrix, x []float32, m, n, k int) {
	all := make([]float32, m*n)
	mm := &MatMul{}
	mm.Mul(context.Background(), all, x, m, pm, nil, 1)
	for _, threads := range []int{2, 5} {
		for i := 0; i < m; i++ {
			one := make([]float32, n)
			mm.Mul(context.Background(), one, x[i*k:(i+1)*k], 1, pm, nil, threads)
			for j := range one {
				if math.Float32bits(one[j]) != math.Float32bits(all[i*n+j]) {
					t.Fatalf("row %d col %d: %g alone with -j %d, %g in the batch", i, j, one[j], threads, all[i*n+j])
				}
			}
		}
	}
}
