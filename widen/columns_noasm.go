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
