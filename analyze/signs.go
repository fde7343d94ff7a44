package analyze

import "math"

// signConflicts counts the elements where both x and y are non-zero, and
// those of them with opposite signs: over p = x·y (float32), the non-zero
// elements of p and the negative ones. A product that underflows to zero
// (|x·y| < 2⁻¹⁴⁹) counts as not both changed; a NaN counts as changed.
func signConflicts(x, y []float32) (both, conflicts int64) {
	y = y[:len(x)]
	done := 0
	if haveSignCountAsm && len(x) >= 8 {
		// Lane counters are 32-bit: call on pieces below 2³¹ elements.
		for done+8 <= len(x) {
			n := min(len(x)-done, 1<<30) &^ 7
			zeros, neg := signCountAsm(&x[done], &y[done], n)
			both += int64(n - zeros)
			conflicts += int64(neg)
			done += n
		}
	}
	b, c := signCountRef(x[done:], y[done:])
	return both + b, conflicts + c
}

// signCountRef is the reference loop of signConflicts (branch-free: random
// signs would defeat branch prediction).
func signCountRef(x, y []float32) (both, conflicts int64) {
	y = y[:len(x)]
	for i, a := range x {
		u := math.Float32bits(a * y[i])
		nz := (u&0x7fffffff + 0x7fffffff) >> 31 // 1 iff |p| ≠ 0
		both += int64(nz)
		conflicts += int64(nz & (u >> 31))
	}
	return both, conflicts
}
