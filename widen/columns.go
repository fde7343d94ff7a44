package widen

// Per-column statistics of row-major blocks: the portable reference
// kernels. The assembly versions (columns_amd64.s) give the same bits.

import "math"

// addColumnSquaresRef adds, for every column j and every row r in row
// order, x[r,j]² to ss[j] (float64; the square of a float32 is exact). x
// holds whole rows of len(ss) columns. Four rows are taken per sweep and
// added one after the other, so the sums equal those of a row-by-row loop.
func addColumnSquaresRef(ss []float64, x []float32) {
	cols := len(ss)
	r := 0
	for ; r+4*cols <= len(x); r += 4 * cols {
		x0, x1, x2, x3 := x[r:r+cols], x[r+cols:r+2*cols], x[r+2*cols:r+3*cols], x[r+3*cols:r+4*cols]
		for j := range ss {
			f0, f1, f2, f3 := float64(x0[j]), float64(x1[j]), float64(x2[j]), float64(x3[j])
			s := ss[j]
			s += f0 * f0
			s += f1 * f1
			s += f2 * f2
			s += f3 * f3
			ss[j] = s
		}
	}
	for ; r < len(x); r += cols {
		xr := x[r : r+cols]
		for j := range ss {
			f := float64(xr[j])
			ss[j] += f * f
		}
	}
}

// addColumnSquaresDotRef adds, for every column j and every row r in row
// order, x[r,j]² to ss[j] and x[r,j]·b[r,j] to dot[j] (float64; the
// products of float32 values are exact). x and b hold the same whole rows
// of len(ss) columns.
func addColumnSquaresDotRef(ss, dot []float64, x, b []float32) {
	cols := len(ss)
	dot = dot[:cols]
	r := 0
	for ; r+4*cols <= len(x); r += 4 * cols {
		x0, x1, x2, x3 := x[r:r+cols], x[r+cols:r+2*cols], x[r+2*cols:r+3*cols], x[r+3*cols:r+4*cols]
		b0, b1, b2, b3 := b[r:r+cols], b[r+cols:r+2*cols], b[r+2*cols:r+3*cols], b[r+3*cols:r+4*cols]
		for j := range ss {
			f0, f1, f2, f3 := float64(x0[j]), float64(x1[j]), float64(x2[j]), float64(x3[j])
			s := ss[j]
			s += f0 * f0
			s += f1 * f1
			s += f2 * f2
			s += f3 * f3
			ss[j] = s
			d := dot[j]
			d += f0 * float64(b0[j])
			d += f1 * float64(b1[j])
			d += f2 * float64(b2[j])
			d += f3 * float64(b3[j])
			dot[j] = d
		}
	}
	for ; r < len(x); r += cols {
		xr, br := x[r:r+cols], b[r:r+cols]
		for j := range ss {
			f := float64(xr[j])
			ss[j] += f * f
			dot[j] += f * float64(br[j])
		}
	}
}

// addColumnSquaresTail is addColumnSquaresRef restricted to the columns
// j ≥ from.
func addColumnSquaresTail(ss []float64, x []float32, from int) {
	cols := len(ss)
	for r := 0; r+cols <= len(x); r += cols {
		xr := x[r : r+cols]
		for j := from; j < cols; j++ {
			f := float64(xr[j])
			ss[j] += f * f
		}
	}
}

// addColumnSquaresDotTail is addColumnSquaresDotRef restricted to the
// columns j ≥ from.
func addColumnSquaresDotTail(ss, dot []float64, x, b []float32, from int) {
	cols := len(ss)
	dot = dot[:cols]
	for r := 0; r+cols <= len(x); r += cols {
		xr, br := x[r:r+cols], b[r:r+cols]
		for j := from; j < cols; j++ {
			f := float64(xr[j])
			ss[j] += f * f
			dot[j] += f * float64(br[j])
		}
	}
}

// weightedDeltaSumRef sets, for j ≥ from, out[j] = b[j] + Σ_k
// float32(w[k][j]·(x[k][j] − b[j])): the difference and each product
// rounded to float32, the sum in float32 in model order starting from +0.
func weightedDeltaSumRef(out, b []float32, xs, w [][]float32, from int) {
	b = b[:len(out)]
	for j := from; j < len(out); j++ {
		var acc float32
		for k, x := range xs {
			acc += float32(w[k][j] * float32(x[j]-b[j]))
		}
		out[j] = b[j] + acc
	}
}

// bf16 widens a bfloat16 bit pattern to float32 (exact).
func bf16(v uint16) float32 { return math.Float32frombits(uint32(v) << 16) }

// addColumnSquaresBF16Ref is addColumnSquaresTail over bfloat16 bit
// patterns: columns j ≥ from, rows in order.
func addColumnSquaresBF16Ref(ss []float64, x []uint16, from int) {
	cols := len(ss)
	for r := 0; r+cols <= len(x); r += cols {
		xr := x[r : r+cols]
		for j := from; j < cols; j++ {
			f := float64(bf16(xr[j]))
			ss[j] += f * f
		}
	}
}

// addColumnSquaresDotBF16Ref is addColumnSquaresDotTail over bfloat16 bit
// patterns: columns j ≥ from, rows in order.
func addColumnSquaresDotBF16Ref(ss, dot []float64, x, b []uint16, from int) {
	cols := len(ss)
	dot = dot[:cols]
	for r := 0; r+cols <= len(x); r += cols {
		xr, br := x[r:r+cols], b[r:r+cols]
		for j := from; j < cols; j++ {
			f := float64(bf16(xr[j]))
			ss[j] += f * f
			dot[j] += f * float64(bf16(br[j]))
		}
	}
}

// weightedDeltaSumBF16Ref is weightedDeltaSumRef over bfloat16 base and
// models.
func weightedDeltaSumBF16Ref(out []float32, b []uint16, xs [][]uint16, w [][]float32, from int) {
	b = b[:len(out)]
	for j := from; j < len(out); j++ {
		bj := bf16(b[j])
		var acc float32
		for k, x := range xs {
			acc += float32(w[k][j] * float32(bf16(x[j])-bj))
		}
		out[j] = bj + acc
	}
}

// addColumnStatsBF16Ref is the reference of the fused pass-1 kernel over
// bfloat16 bit patterns, for the columns j ≥ from: ss0[j] += b[r,j]² and,
// for every model k, ss[k][j] += x_k[r,j]² and dot[k][j] += x_k[r,j]·b[r,j],
// every sum in row order. Each accumulator sees the additions of
// addColumnSquaresBF16Ref and addColumnSquaresDotBF16Ref in the same order,
// so the sums are theirs bit for bit.
func addColumnStatsBF16Ref(ss0 []float64, ss, dot [][]float64, b []uint16, xs [][]uint16, from int) {
	addColumnSquaresBF16Ref(ss0, b, from)
	for k, x := range xs {
		addColumnSquaresDotBF16Ref(ss[k], dot[k], x, b, from)
	}
}
