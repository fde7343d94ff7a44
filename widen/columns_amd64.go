//go:build !purego

package widen

import "golang.org/x/sys/cpu"

// hasColumnAsm reports whether the AVX2 + FMA column kernels can run.
var hasColumnAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// columnSquaresAVX2 implements, for cols a multiple of 4,
//
//	for j := range cols {
//		for r := range rows { ss[j] += float64(x[r*stride+j]) * float64(x[r*stride+j]) }
//	}
//
//go:noescape
func columnSquaresAVX2(ss *float64, x *float32, cols, rows, stride int)

// columnSquaresDotAVX2 implements, for cols a multiple of 4,
//
//	for j := range cols {
//		for r := range rows {
//			f, g := float64(x[r*stride+j]), float64(b[r*stride+j])
//			ss[j] += f * f
//			dot[j] += f * g
//		}
//	}
//
//go:noescape
func columnSquaresDotAVX2(ss, dot *float64, x, b *float32, cols, rows, stride int)

// weightedDeltaSumAVX2 implements, for n a multiple of 16, with x_k and
// w_k the float32 arrays xs[k] and ws[k],
//
//	for j := range n {
//		var acc float32
//		for k := range m { acc += float32(w_k[j] * float32(x_k[j]-b[j])) }
//		out[j] = b[j] + acc
//	}
//
//go:noescape
func weightedDeltaSumAVX2(out, b *float32, xs, ws **float32, m, n int)

// weightedDeltaSum sets out[j] = b[j] + Σ_k float32(w[k][j]·(x[k][j] −
// b[j])), the sum in float32 in model order starting from +0, each product
// rounded to float32. xp and wp are scratch of len(xs) (the kernel's
// pointer arrays).
func weightedDeltaSum(out, b []float32, xs, w [][]float32, xp, wp []*float32) {
	n := len(out)
	v := n &^ 15
	if !hasColumnAsm || v == 0 || len(xs) == 0 {
		weightedDeltaSumRef(out, b, xs, w, 0)
		return
	}
	b = b[:n]
	for k := range xs {
		xp[k], wp[k] = &xs[k][:n][0], &w[k][:n][0]
	}
	weightedDeltaSumAVX2(&out[0], &b[0], &xp[0], &wp[0], len(xs), v)
	weightedDeltaSumRef(out, b, xs, w, v)
}

// addColumnSquares adds x[r,j]² to ss[j] for every row r of x (whole rows
// of len(ss) columns) in row order, in float64.
func addColumnSquares(ss []float64, x []float32) {
	cols := len(ss)
	if !hasColumnAsm || cols == 0 || len(x) < cols {
		addColumnSquaresRef(ss, x)
		return
	}
	rows := len(x) / cols
	_ = x[rows*cols-1]
	v := cols &^ 3
	if v > 0 {
		columnSquaresAVX2(&ss[0], &x[0], v, rows, cols)
	}
	if v < cols {
		addColumnSquaresTail(ss, x, v)
	}
}

// addColumnSquaresDot adds x[r,j]² to ss[j] and x[r,j]·b[r,j] to dot[j]
// for every row r (x and b hold the same whole rows of len(ss) columns) in
// row order, in float64.
func addColumnSquaresDot(ss, dot []float64, x, b []float32) {
	cols := len(ss)
	if !hasColumnAsm || cols == 0 || len(x) < cols {
		addColumnSquaresDotRef(ss, dot, x, b)
		return
	}
	rows := len(x) / cols
	_ = dot[cols-1]
	_ = x[rows*cols-1]
	_ = b[rows*cols-1]
	v := cols &^ 3
	if v > 0 {
		columnSquaresDotAVX2(&ss[0], &dot[0], &x[0], &b[0], v, rows, cols)
	}
	if v < cols {
		addColumnSquaresDotTail(ss, dot, x, b, v)
	}
}

// columnSquaresBF16AVX2 is columnSquaresAVX2 over bfloat16 bit patterns.
//
//go:noescape
func columnSquaresBF16AVX2(ss *float64, x *uint16, cols, rows, stride int)

// columnSquaresDotBF16AVX2 is columnSquaresDotAVX2 over bfloat16 bit
// patterns.
//
//go:noescape
func columnSquaresDotBF16AVX2(ss, dot *float64, x, b *uint16, cols, rows, stride int)

// weightedDeltaSumBF16AVX2 is weightedDeltaSumAVX2 over bfloat16 base and
// models: xs points to m *uint16, ws to m *float32.
//
//go:noescape
func weightedDeltaSumBF16AVX2(out *float32, b *uint16, xs **uint16, ws **float32, m, n int)

// addColumnSquaresBF16 is addColumnSquares over bfloat16 bit patterns.
func addColumnSquaresBF16(ss []float64, x []uint16) {
	cols := len(ss)
	if !hasColumnAsm || cols == 0 || len(x) < cols {
		addColumnSquaresBF16Ref(ss, x, 0)
		return
	}
	rows := len(x) / cols
	_ = x[rows*cols-1]
	v := cols &^ 3
	if v > 0 {
		columnSquaresBF16AVX2(&ss[0], &x[0], v, rows, cols)
	}
	if v < cols {
		addColumnSquaresBF16Ref(ss, x, v)
	}
}

// addColumnSquaresDotBF16 is addColumnSquaresDot over bfloat16 bit
// patterns.
func addColumnSquaresDotBF16(ss, dot []float64, x, b []uint16) {
	cols := len(ss)
	if !hasColumnAsm || cols == 0 || len(x) < cols {
		addColumnSquaresDotBF16Ref(ss, dot, x, b, 0)
		return
	}
	rows := len(x) / cols
	_ = dot[cols-1]
	_ = x[rows*cols-1]
	_ = b[rows*cols-1]
	v := cols &^ 3
	if v > 0 {
		columnSquaresDotBF16AVX2(&ss[0], &dot[0], &x[0], &b[0], v, rows, cols)
	}
	if v < cols {
		addColumnSquaresDotBF16Ref(ss, dot, x, b, v)
	}
}

// weightedDeltaSumBF16 is weightedDeltaSum over bfloat16 base and models.
func weightedDeltaSumBF16(out []float32, b []uint16, xs [][]uint16, w [][]float32, xp []*uint16, wp []*float32) {
	n := len(out)
	v := n &^ 15
	if !hasColumnAsm || v == 0 || len(xs) == 0 {
		weightedDeltaSumBF16Ref(out, b, xs, w, 0)
		return
	}
	b = b[:n]
	for k := range xs {
		xp[k], wp[k] = &xs[k][:n][0], &w[k][:n][0]
	}
	weightedDeltaSumBF16AVX2(&out[0], &b[0], &xp[0], &wp[0], len(xs), v)
	weightedDeltaSumBF16Ref(out, b, xs, w, v)
}

// columnStats2BF16AVX2 implements, for cols a multiple of 8, with acc =
// {ss0, ss1, dot1, ss2, dot2},
//
//	for j := range cols {
//		for r := range rows {
//			g, f1, f2 := bf16(b[r*stride+j]), bf16(x1[r*stride+j]), bf16(x2[r*stride+j])
//			ss0[j] += g * g
//			ss1[j] += f1 * f1; dot1[j] += f1 * g
//			ss2[j] += f2 * f2; dot2[j] += f2 * g
//		}
//	}
//
// in float64.
//
//go:noescape
func columnStats2BF16AVX2(acc **float64, b, x1, x2 *uint16, cols, rows, stride int)

// columnStats1BF16AVX2 is columnStats2BF16AVX2 for one model: acc = {ss0,
// ss1, dot1}.
//
//go:noescape
func columnStats1BF16AVX2(acc **float64, b, x *uint16, cols, rows, stride int)

// addColumnStatsBF16 adds the column statistics of a block of whole rows
// of the base b and the models xs (bfloat16 bit patterns): ss0 += b²,
// ss[k] += x_k², dot[k] += x_k·b, per column in row order. One sweep of
// the block serves the base and two models; with more than two models the
// later pairs add their base squares to scratch (len cols) instead.
func addColumnStatsBF16(ss0 []float64, ss, dot [][]float64, b []uint16, xs [][]uint16, scratch []float64) {
	cols := len(ss0)
	if !hasColumnAsm || cols < 8 || len(b) < cols || len(xs) == 0 {
		addColumnStatsBF16Ref(ss0, ss, dot, b, xs, 0)
		return
	}
	rows := len(b) / cols
	if 2*cols%4096 != 0 {
		addColumnStatsStrided(ss0, ss, dot, b, xs, rows, cols, scratch)
		return
	}
	// Rows 4 KiB apart fall into the same set of the L1 data cache: a
	// sweep down many of them evicts the lines the next strip of columns
	// needs. Two rows at a time keep every input's lines in L1 across the
	// strips (the accumulators go to memory and back more often instead);
	// the sums are the same.
	xg := make([][]uint16, len(xs))
	for r := 0; r < rows; r += 2 {
		g := min(2, rows-r)
		for k, x := range xs {
			xg[k] = x[r*cols:]
		}
		addColumnStatsStrided(ss0, ss, dot, b[r*cols:], xg, g, cols, scratch)
	}
}

// addColumnStatsStrided is addColumnStatsBF16 over rows rows of len(ss0)
// columns stored stride elements apart.
func addColumnStatsStrided(ss0 []float64, ss, dot [][]float64, b []uint16, xs [][]uint16, rows, stride int, scratch []float64) {
	cols := len(ss0)
	if rows == 0 {
		return
	}
	n := (rows-1)*stride + cols
	_ = b[n-1]
	v := cols &^ 7
	var acc [5]*float64
	for k := 0; k < len(xs); {
		s0 := ss0
		if k > 0 {
			s0 = scratch[:cols]
		}
		acc[0], acc[1], acc[2] = &s0[0], &ss[k][:cols][0], &dot[k][:cols][0]
		if k+1 < len(xs) {
			acc[3], acc[4] = &ss[k+1][:cols][0], &dot[k+1][:cols][0]
			columnStats2BF16AVX2(&acc[0], &b[0], &xs[k][:n][0], &xs[k+1][:n][0], v, rows, stride)
			k += 2
		} else {
			columnStats1BF16AVX2(&acc[0], &b[0], &xs[k][:n][0], v, rows, stride)
			k++
		}
	}
	if v < cols {
		xr := make([][]uint16, len(xs))
		for r := range rows {
			o := r * stride
			for k, x := range xs {
				xr[k] = x[o : o+cols]
			}
			addColumnStatsBF16Ref(ss0, ss, dot, b[o:o+cols], xr, v)
		}
	}
}
