//go:build !amd64 || purego

package widen

// hasColumnAsm reports whether assembly column kernels can run: never here.
const hasColumnAsm = false

// addColumnSquares adds x[r,j]² to ss[j] for every row r of x (whole rows
// of len(ss) columns) in row order, in float64.
func addColumnSquares(ss []float64, x []float32) { addColumnSquaresRef(ss, x) }

// addColumnSquaresDot adds x[r,j]² to ss[j] and x[r,j]·b[r,j] to dot[j]
// for every row r (x and b hold the same whole rows of len(ss) columns) in
// row order, in float64.
func addColumnSquaresDot(ss, dot []float64, x, b []float32) {
	addColumnSquaresDotRef(ss, dot, x, b)
}

// weightedDeltaSum sets out[j] = b[j] + Σ_k float32(w[k][j]·(x[k][j] −
// b[j])), the sum in float32 in model order starting from +0, each product
// rounded to float32. xp and wp are unused here.
func weightedDeltaSum(out, b []float32, xs, w [][]float32, xp, wp []*float32) {
	weightedDeltaSumRef(out, b, xs, w, 0)
}

// addColumnSquaresBF16 is addColumnSquares over bfloat16 bit patterns.
func addColumnSquaresBF16(ss []float64, x []uint16) { addColumnSquaresBF16Ref(ss, x, 0) }

// addColumnSquaresDotBF16 is addColumnSquaresDot over bfloat16 bit
// patterns.
func addColumnSquaresDotBF16(ss, dot []float64, x, b []uint16) {
	addColumnSquaresDotBF16Ref(ss, dot, x, b, 0)
}

// weightedDeltaSumBF16 is weightedDeltaSum over bfloat16 base and models.
func weightedDeltaSumBF16(out []float32, b []uint16, xs [][]uint16, w [][]float32, xp []*uint16, wp []*float32) {
	weightedDeltaSumBF16Ref(out, b, xs, w, 0)
}

// addColumnStatsBF16 adds the column statistics of a block of whole rows
// of the base b and the models xs (bfloat16 bit patterns): ss0 += b²,
// ss[k] += x_k², dot[k] += x_k·b, per column in row order. scratch (len
// cols) is unused here.
func addColumnStatsBF16(ss0 []float64, ss, dot [][]float64, b []uint16, xs [][]uint16, scratch []float64) {
	addColumnStatsBF16Ref(ss0, ss, dot, b, xs, 0)
}
