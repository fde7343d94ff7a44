package widen

import "math"

// sortKey maps a float64 to a uint64 whose unsigned order is the
// ascending order of the values with NaN after every number: all NaNs map
// to the largest key and ±0 to the same key (they compare equal), so ties
// stay ties.
func sortKey(x float64) uint64 {
	switch {
	case x != x:
		return math.MaxUint64
	case x == 0:
		return 1 << 63
	}
	b := math.Float64bits(x)
	if b>>63 != 0 {
		return ^b
	}
	return b | 1<<63
}

// rankPositions sets pos[j] to the position of column j in the stable
// ascending order of keys (NaN last, as torch's sort): equal keys keep
// their index order. idx is scratch space of len(keys). It is a
// least-significant-digit radix sort of sortKey over 8-bit digits, which
// is stable; digits where every key agrees are skipped.
func rankPositions(pos []int32, keys []float64, idx []int32) {
	n := len(keys)
	k, k2 := make([]uint64, n), make([]uint64, n)
	idx2 := make([]int32, n)
	var and, or uint64 = math.MaxUint64, 0
	for j, x := range keys {
		k[j] = sortKey(x)
		idx[j] = int32(j)
		and &= k[j]
		or |= k[j]
	}
	varying := and ^ or // bits on which some keys differ
	var count [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		if (varying>>shift)&0xff == 0 {
			continue
		}
		clear(count[:])
		for _, v := range k {
			count[(v>>shift)&0xff]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for j, v := range k {
			d := (v >> shift) & 0xff
			p := count[d]
			count[d]++
			k2[p], idx2[p] = v, idx[j]
		}
		k, k2 = k2, k
		idx, idx2 = idx2, idx
	}
	for p, j := range idx {
		pos[j] = int32(p)
	}
}

// calibratedRank reports whether rank index i of c columns is above alpha
// times the mean rank: i/c > alpha·(c−1)/(2c), evaluated exactly as
// 2·i > alpha·(c−1).
func calibratedRank(i int32, c int, alpha float64) bool {
	return float64(2*int64(i)) > alpha*float64(c-1)
}

// addRankScores adds, for every column lo ≤ j < hi, the importance score
// of each model k from its rank positions pos[k][j] among c columns to
// acc[k][j−lo]: the softmax over the models of pos/c, replaced by calib
// where the rank is calibrated. e is scratch space of len(pos).
func addRankScores(acc [][]float64, pos [][]int32, c, lo, hi int, alpha, calib float64, e []float64) {
	for j := lo; j < hi; j++ {
		for k := range pos {
			e[k] = float64(pos[k][j]) / float64(c)
		}
		softmax(e)
		for k := range pos {
			if calibratedRank(pos[k][j], c, alpha) {
				e[k] = calib
			}
			acc[k][j-lo] += e[k]
		}
	}
}

// columnWeights returns w[k][j] = (magnitude score + direction score)/2 of
// model k at column j, from the rank positions of the magnitude and the
// direction differences.
func columnWeights(magPos, dirPos [][]int32, c int, alpha, calib float64) [][]float32 {
	w := make([][]float32, len(magPos))
	for k := range w {
		w[k] = make([]float32, c)
	}
	fillColumnWeights(w, magPos, dirPos, c, 0, c, alpha, calib)
	return w
}

// fillColumnWeights sets the weights w[k][j] of columnWeights for the
// columns lo ≤ j < hi (each column's weights depend on that column only).
func fillColumnWeights(w [][]float32, magPos, dirPos [][]int32, c, lo, hi int, alpha, calib float64) {
	n := len(magPos)
	acc := make([][]float64, n)
	for k := range acc {
		acc[k] = make([]float64, hi-lo)
	}
	e := make([]float64, n)
	addRankScores(acc, magPos, c, lo, hi, alpha, calib, e)
	addRankScores(acc, dirPos, c, lo, hi, alpha, calib, e)
	for k := range w {
		for j, v := range acc[k] {
			w[k][lo+j] = float32(0.5 * v)
		}
	}
}

// softmax replaces v by exp(v − max v) / Σ exp(v − max v), in float64.
func softmax(v []float64) {
	hi := math.Inf(-1)
	for _, x := range v {
		hi = max(hi, x)
	}
	var sum float64
	for i, x := range v {
		v[i] = math.Exp(x - hi)
		sum += v[i]
	}
	for i := range v {
		v[i] /= sum
	}
}

// columnDifferences computes, from the per-column statistics of the base
// (ss0 = Σ w0²) and of a model (ss = Σ w², dot = Σ w·w0), the magnitude
// difference |‖w‖ − ‖w0‖| and the direction difference 1 − cos(w, w0) of
// every column. A zero column has no direction: its direction difference
// is NaN (it ranks last), as in the official code, which divides by the
// norm without an epsilon. An unchanged column gives exactly 0 for both.
func columnDifferences(mag, dir, ss0, ss, dot []float64) {
	for j := range mag {
		mag[j] = math.Abs(math.Sqrt(ss[j]) - math.Sqrt(ss0[j]))
		// sqrt(ss·ss0) rather than sqrt(ss)·sqrt(ss0): for an unchanged
		// column ss = ss0 = dot and sqrt(fl(x²)) = x, so cos is exactly 1.
		dir[j] = 1 - dot[j]/math.Sqrt(ss[j]*ss0[j])
	}
}
