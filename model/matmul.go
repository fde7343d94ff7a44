package model

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gomerge/gomerge/simd"
)

// Micro-kernel tile: mr rows of the activations by nr output features.
const (
	mr = 6
	nr = 16
	// kc is the reduction block: a kc×nr weight block (16 KiB in float32)
	// stays in the L1 cache while every activation panel streams past it.
	kc = 256
)

// microKernel computes one mr×nr tile of C from packed panels; see
// kernel6x16FMA for the exact loop.
type microKernel struct {
	name string
	run  func(kc int, a, b, c []float32, ldc int, acc bool)
	// row64, if set, computes one row against four panels at once (see
	// kernel1x64FMA) with the same per-element order as run; Mul uses it for
	// products of fewer than rowKernelMax rows (decoding).
	row64 func(kc int, a, b []float32, stride int, c []float32, acc bool)
	// row64BF16, if set, is row64 reading bfloat16 panels directly.
	row64BF16 func(kc int, a []float32, b []uint16, stride int, c []float32, acc bool)
}

// rowKernelMax is the row count below which Mul uses the row64 kernel.
const rowKernelMax = 4

// kernelGeneric is the pure-Go micro-kernel (no fused multiply-add).
var kernelGeneric = &microKernel{name: "generic", run: genericKernel}

// defaultKernel is the best micro-kernel for this CPU, chosen at start-up.
var defaultKernel = kernelGeneric

func genericKernel(kc int, a, b, c []float32, ldc int, acc bool) {
	var t [mr][nr]float32
	a = a[:kc*mr]
	b = b[:kc*nr]
	for k := 0; k < kc; k++ {
		bk := (*[nr]float32)(b[k*nr:])
		ak := (*[mr]float32)(a[k*mr:])
		for i := 0; i < mr; i++ {
			ai := ak[i]
			ti := &t[i]
			for j := 0; j < nr; j++ {
				ti[j] += ai * bk[j]
			}
		}
	}
	for i := 0; i < mr; i++ {
		ci := c[i*ldc : i*ldc+nr]
		if acc {
			for j := range ci {
				ci[j] += t[i][j]
			}
		} else {
			copy(ci, t[i][:])
		}
	}
}

// elemKind is how a Matrix stores its elements.
type elemKind uint8

const (
	elemF32 elemKind = iota
	elemBF16
	elemF16
)

// Matrix is a weight matrix W of shape [N, K] (N output features, K inputs,
// the layout of a torch Linear weight) kept in its stored precision and
// rearranged into column panels for the matrix-product kernel: panel p holds
// W[16p+j][k] at index (p·K + k)·16 + j, the last panel zero-padded. Panels
// are converted to float32 one kc×16 block at a time.
type Matrix struct {
	N, K int
	kind elemKind
	f32  []float32 // elemF32
	u16  []uint16  // elemBF16, elemF16
}

// panels returns the number of 16-wide column panels.
func (w *Matrix) panels() int { return (w.N + nr - 1) / nr }

// Bytes returns the memory the matrix holds.
func (w *Matrix) Bytes() int64 { return int64(len(w.f32))*4 + int64(len(w.u16))*2 }

// newMatrix allocates a zeroed packed matrix.
func newMatrix(n, k int, kind elemKind) *Matrix {
	w := &Matrix{N: n, K: k, kind: kind}
	size := w.panels() * nr * k
	if kind == elemF32 {
		w.f32 = make([]float32, size)
	} else {
		w.u16 = make([]uint16, size)
	}
	return w
}

// NewMatrixF32 packs the row-major float32 matrix w [n, k].
func NewMatrixF32(w []float32, n, k int) *Matrix {
	m := newMatrix(n, k, elemF32)
	for r := 0; r < n; r++ {
		base := (r/nr)*nr*k + r%nr
		row := w[r*k : (r+1)*k]
		for c, v := range row {
			m.f32[base+c*nr] = v
		}
	}
	return m
}

// setRowsU16 stores rows [r0, r0+len(src)/K) given as 16-bit patterns.
func (w *Matrix) setRowsU16(r0 int, src []uint16) {
	k := w.K
	for i := 0; i < len(src)/k; i++ {
		r := r0 + i
		base := (r/nr)*nr*k + r%nr
		for c, v := range src[i*k : (i+1)*k] {
			w.u16[base+c*nr] = v
		}
	}
}

// setRowsF32 stores rows [r0, r0+len(src)/K) given in float32.
func (w *Matrix) setRowsF32(r0 int, src []float32) {
	k := w.K
	for i := 0; i < len(src)/k; i++ {
		r := r0 + i
		base := (r/nr)*nr*k + r%nr
		for c, v := range src[i*k : (i+1)*k] {
			w.f32[base+c*nr] = v
		}
	}
}

// Row writes row r of W (length K) to dst in float32.
func (w *Matrix) Row(dst []float32, r int) {
	k := w.K
	base := (r/nr)*nr*k + r%nr
	dst = dst[:k]
	if w.kind == elemF32 {
		for c := range dst {
			dst[c] = w.f32[base+c*nr]
		}
		return
	}
	tmp := make([]uint16, k)
	for c := range tmp {
		tmp[c] = w.u16[base+c*nr]
	}
	if w.kind == elemBF16 {
		simd.BF16ToF32(dst, tmp)
	} else {
		simd.F16ToF32(dst, tmp)
	}
}

// block returns the float32 panel block of panel p, reduction indices
// [k0, k0+n), converting into buf when the matrix is not float32.
func (w *Matrix) block(buf []float32, p, k0, n int) []float32 {
	off := (p*w.K + k0) * nr
	switch w.kind {
	case elemBF16:
		simd.BF16ToF32(buf[:n*nr], w.u16[off:off+n*nr])
		return buf[:n*nr]
	case elemF16:
		simd.F16ToF32(buf[:n*nr], w.u16[off:off+n*nr])
		return buf[:n*nr]
	}
	return w.f32[off : off+n*nr]
}

// packRows rearranges the row-major activations x [m, k] into zero-padded
// 6-row panels: panel q holds x[6q+i][k] at (q·K + k)·6 + i.
func packRows(dst, x []float32, m, k int) []float32 {
	q := (m + mr - 1) / mr
	need := q * mr * k
	if cap(dst) < need {
		dst = make([]float32, need)
	}
	dst = dst[:need]
	for p := 0; p < q; p++ {
		panel := dst[p*mr*k : (p+1)*mr*k]
		if (p+1)*mr <= m {
			// Six full rows: write each panel column of six at once.
			rs := x[p*mr*k : (p+1)*mr*k]
			x0, x1, x2 := rs[0:k], rs[k:2*k], rs[2*k:3*k]
			x3, x4, x5 := rs[3*k:4*k], rs[4*k:5*k], rs[5*k:6*k]
			for c := 0; c < k; c++ {
				col := (*[mr]float32)(panel[c*mr:])
				col[0], col[1], col[2], col[3], col[4], col[5] = x0[c], x1[c], x2[c], x3[c], x4[c], x5[c]
			}
			continue
		}
		for i := 0; i < mr; i++ {
			r := p*mr + i
			if r >= m {
				for c := 0; c < k; c++ {
					panel[c*mr+i] = 0
				}
				continue
			}
			row := x[r*k : (r+1)*k]
			for c, v := range row {
				panel[c*mr+i] = v
			}
		}
	}
	return dst
}

// MatMul computes y[m, N] = x[m, K] · Wᵀ for the packed matrix W, with the
// work split over output panels among up to threads goroutines. Every output
// element is reduced in the same fixed order whatever the thread count or
// the number of rows, so results do not depend on either.
type MatMul struct {
	kernel *microKernel
	pool   sync.Pool
	packed []float32
}

// workspace is one worker's scratch: a converted weight block and an edge tile.
type workspace struct {
	buf  []float32
	tile [mr * nr]float32
}

func (mm *MatMul) kern() *microKernel {
	if mm.kernel != nil {
		return mm.kernel
	}
	return defaultKernel
}

// Mul computes y = x·Wᵀ (+ bias if bias is non-nil). x is [m, W.K]
// row-major, y is [m, W.N] row-major.
func (mm *MatMul) Mul(ctx context.Context, y, x []float32, m int, w *Matrix, bias []float32, threads int) error {
	if len(x) < m*w.K || len(y) < m*w.N {
		return fmt.Errorf("matmul: %d rows need x of %d and y of %d elements, have %d and %d", m, m*w.K, m*w.N, len(x), len(y))
	}
	if m == 0 {
		return nil
	}
	np := w.panels()
	kern := mm.kern()
	if kern.row64 != nil && m < rowKernelMax {
		return mm.mulRows(ctx, kern, y, x, m, w, bias, threads)
	}
	mm.packed = packRows(mm.packed, x, m, w.K)
	a := mm.packed
	if threads < 1 {
		threads = 1
	}
	// Small products are not worth a goroutine.
	if work := m * w.N * w.K; work < 1<<16 {
		threads = 1
	}
	threads = min(threads, np)
	var next atomic.Int64
	run := func() {
		ws, _ := mm.pool.Get().(*workspace)
		if ws == nil {
			ws = &workspace{buf: make([]float32, 4*kc*nr)}
		}
		defer mm.pool.Put(ws)
		for {
			p := int(next.Add(1) - 1)
			if p >= np || ctx.Err() != nil {
				return
			}
			mm.panel(ws, y, a, m, w, bias, p)
		}
	}
	if threads == 1 {
		run()
	} else {
		var wg sync.WaitGroup
		for range threads {
			wg.Go(run)
		}
		wg.Wait()
	}
	return ctx.Err()
}

// mulRows is Mul for a few rows: units of four full panels go through the
// row64 kernel, the remaining panels through panel. Both reduce every
// element in the same order, so results equal those of the packed path.
func (mm *MatMul) mulRows(ctx context.Context, kern *microKernel, y, x []float32, m int, w *Matrix, bias []float32, threads int) error {
	np := w.panels()
	groups := w.N / (4 * nr) // groups of four full panels
	units := groups + (np - 4*groups)
	var packed []float32 // packed rows for the leftover panels
	if np > 4*groups {
		mm.packed = packRows(mm.packed, x, m, w.K)
		packed = mm.packed
	}
	if work := m * w.N * w.K; work < 1<<16 {
		threads = 1
	}
	threads = max(1, min(threads, units))
	var next atomic.Int64
	run := func() {
		ws, _ := mm.pool.Get().(*workspace)
		if ws == nil {
			ws = &workspace{buf: make([]float32, 4*kc*nr)}
		}
		defer mm.pool.Put(ws)
		for {
			u := int(next.Add(1) - 1)
			if u >= units || ctx.Err() != nil {
				return
			}
			if u >= groups {
				mm.panel(ws, y, packed, m, w, bias, 4*groups+(u-groups))
				continue
			}
			K, N := w.K, w.N
			c0 := u * 4 * nr
			for k0 := 0; k0 < K; k0 += kc {
				n := min(kc, K-k0)
				if w.kind == elemBF16 && kern.row64BF16 != nil {
					b := w.u16[(4*u*K+k0)*nr:]
					for r := 0; r < m; r++ {
						kern.row64BF16(n, x[r*K+k0:], b, K*nr, y[r*N+c0:], k0 > 0)
					}
					continue
				}
				b, stride := ws.buf, n*nr
				if w.kind == elemF32 {
					// The four panels are K·16 apart in the matrix itself.
					b, stride = w.f32[(4*u*K+k0)*nr:], K*nr
				} else {
					for p := 0; p < 4; p++ {
						w.block(ws.buf[p*n*nr:(p+1)*n*nr], 4*u+p, k0, n)
					}
				}
				for r := 0; r < m; r++ {
					kern.row64(n, x[r*K+k0:], b, stride, y[r*N+c0:], k0 > 0)
				}
			}
			if bias != nil {
				for r := 0; r < m; r++ {
					yr := y[r*N+c0 : r*N+c0+4*nr]
					for j := range yr {
						yr[j] += bias[c0+j]
					}
				}
			}
		}
	}
	if threads == 1 {
		run()
	} else {
		var wg sync.WaitGroup
		for range threads {
			wg.Go(run)
		}
		wg.Wait()
	}
	return ctx.Err()
}

// panel computes output columns [16p, 16p+16) for every row.
func (mm *MatMul) panel(ws *workspace, y, a []float32, m int, w *Matrix, bias []float32, p int) {
	kern := mm.kern().run
	K, N := w.K, w.N
	c0 := p * nr
	cols := min(nr, N-c0)
	q := (m + mr - 1) / mr
	for k0 := 0; k0 < K; k0 += kc {
		n := min(kc, K-k0)
		b := w.block(ws.buf, p, k0, n)
		acc := k0 > 0
		for i := 0; i < q; i++ {
			ap := a[(i*K+k0)*mr:]
			r0 := i * mr
			rows := min(mr, m-r0)
			if rows == mr && cols == nr {
				kern(n, ap, b, y[r0*N+c0:], N, acc)
				continue
			}
			t := ws.tile[:]
			if acc {
				for r := 0; r < rows; r++ {
					copy(t[r*nr:r*nr+cols], y[(r0+r)*N+c0:(r0+r)*N+c0+cols])
				}
			}
			kern(n, ap, b, t, nr, acc)
			for r := 0; r < rows; r++ {
				copy(y[(r0+r)*N+c0:(r0+r)*N+c0+cols], t[r*nr:r*nr+cols])
			}
		}
	}
	if bias != nil {
		for r := 0; r < m; r++ {
			yr := y[r*N+c0 : r*N+c0+cols]
			for j := range yr {
				yr[j] += bias[c0+j]
			}
		}
	}
}

// KernelName names the matrix-product micro-kernel in use: "avx2-fma"
// (amd64), "neon-fma" (arm64) or "generic" (pure Go, also with the purego
// build tag).
func KernelName() string { return defaultKernel.name }
