package analyze

import (
	"math"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// The bf16 fast path. For checkpoints stored in bf16 (the common case) the
// chunk is read as stored bytes, block by block, and every statistic of a
// block is taken in three fused kernels whose buffers stay in the L1/L2
// cache: baseSquares (Σθ₀²), expertDeltas (Δ = θ_e − θ₀ stored as float32
// for the pairs, Σ|Δ|, ΣΔ², the count of |Δ| ≥ thr) and pairDeltas (ΣΔ_a·Δ_b
// and the signs of Δ_a·Δ_b). They accumulate exactly as the float32 path
// (simd.SumSquares, SumAbs, Dot on converted values): element i of a block
// goes to float64 lane i%16 in index order, the lanes are folded as
// simd.Sum folds them, and the block totals are added in block order, so
// the results are bit for bit those of analyzeChunk.

// sumLanes is the number of float64 accumulators of the simd reductions.
const sumLanes = 16

// lanes are float64 partial sums: element i goes to lane i%16.
type lanes [sumLanes]float64

// total folds the lanes as simd.Sum does (acc[j] += acc[j+h] for h = 8, 4,
// 2, 1) and returns the sum.
func (a *lanes) total() float64 {
	c := *a
	for h := sumLanes / 2; h >= 1; h /= 2 {
		for j := range h {
			c[j] += c[j+h]
		}
	}
	return c[0]
}

// deltaLanes are the lane sums of one expert's changes over a block: Σ|Δ|
// and ΣΔ². The assembly kernels rely on this layout.
type deltaLanes struct {
	abs lanes
	sq  lanes
}

// subBlock is the piece of a block the expert and pair kernels run over
// together, so that the float32 changes they share stay in the L1 cache; a
// multiple of sumLanes so lanes continue across pieces.
const subBlock = 2048

// readElems is the number of elements read from each model at a time: a
// multiple of BlockElems (so blocks start where the float32 path's do),
// large enough that the reads cost about what cat's do, small enough that
// the raw buffers of three models stay in the L2 cache.
const readElems = 4 * BlockElems

// bf16Value converts one bfloat16 bit pattern to float32 as
// simd.BF16ToF32 does (a signalling NaN is quieted).
func bf16Value(h uint16) float32 {
	if h&0x7fff > 0x7f80 {
		h |= 0x0040
	}
	return math.Float32frombits(uint32(h) << 16)
}

// baseSquares adds float64(b[i])² to acc[i%16].
func baseSquares(acc *lanes, b []uint16) {
	done := 0
	if haveDeltaAsm && len(b) >= sumLanes {
		done = len(b) &^ (sumLanes - 1)
		baseSquaresAsm(acc, &b[0], done)
	}
	baseSquaresRef(acc, b, done)
}

// baseSquaresRef is the reference loop of baseSquares over b[lo:].
func baseSquaresRef(acc *lanes, b []uint16, lo int) {
	for i := lo; i < len(b); i++ {
		v := float64(bf16Value(b[i]))
		acc[i%sumLanes] += v * v
	}
}

// expertDeltas computes the changes v_i = float32(x[i]) − float32(b[i]),
// adds |v_i| and v_i² (in float64) to lane i%16 of st, and returns the
// number of elements with |v_i| ≥ thr (a float comparison: NaN never
// counts). It stores v_i in d[deltaSlot(i, len(d))], the order pairDeltas
// reads. len(b), len(x) and len(d) must be equal and below 2³¹.
func expertDeltas(st *deltaLanes, d []float32, b, x []uint16, thr float32) (ge int) {
	b, x = b[:len(d)], x[:len(d)]
	done := 0
	if haveDeltaAsm && len(d) >= sumLanes {
		done = len(d) &^ (sumLanes - 1)
		ge = expertDeltasAsm(st, &d[0], &b[0], &x[0], thr, done)
	}
	return ge + expertDeltasRef(st, d, b, x, thr, done)
}

// deltaSlot is where expertDeltas stores the change of element i of n: the
// AVX2 kernel unpacks bf16 within 128-bit halves and stores every whole
// group of 16 elements in the order 0-3, 8-11, 4-7, 12-15; the generic
// kernel and the tail after the last whole group keep index order.
func deltaSlot(i, n int) int {
	if !haveDeltaAsm || n < sumLanes || i >= n&^(sumLanes-1) {
		return i
	}
	j := i & 15
	return i&^15 | j&3 | (j>>2&1)<<3 | (j>>3&1)<<2
}

// expertDeltasRef is the reference loop of expertDeltas over [lo, len(d)),
// in index order.
func expertDeltasRef(st *deltaLanes, d []float32, b, x []uint16, thr float32, lo int) (ge int) {
	b, x = b[:len(d)], x[:len(d)]
	for i := lo; i < len(d); i++ {
		v := bf16Value(x[i]) - bf16Value(b[i])
		d[i] = v
		a := math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
		st.abs[i%sumLanes] += float64(a)
		st.sq[i%sumLanes] += float64(v) * float64(v)
		if a >= thr {
			ge++
		}
	}
	return ge
}

// pairDeltas takes two experts' changes as expertDeltas stores them
// (element i at x[deltaSlot(i, len(x))]), adds float64(x_i)·float64(y_i) to
// dot[i%16] and counts, over the float32 products p = x_i·y_i, the zeros
// (±0) and the negative non-zero ones (sign bit set: a NaN with the sign
// bit counts), as signConflicts does. len(x) = len(y) < 2³¹.
func pairDeltas(dot *lanes, x, y []float32) (zeros, neg int) {
	y = y[:len(x)]
	done := 0
	if haveDeltaAsm && len(x) >= sumLanes {
		done = len(x) &^ (sumLanes - 1)
		zeros, neg = pairDeltasAsm(dot, &x[0], &y[0], done)
	}
	z, g := pairDeltasRef(dot, x, y, done)
	return zeros + z, neg + g
}

// pairDeltasRef is the reference loop of pairDeltas over [lo, len(x)), in
// index order.
func pairDeltasRef(dot *lanes, x, y []float32, lo int) (zeros, neg int) {
	y = y[:len(x)]
	for i := lo; i < len(x); i++ {
		dot[i%sumLanes] += float64(x[i]) * float64(y[i])
		u := math.Float32bits(x[i] * y[i])
		if u&0x7fffffff == 0 {
			zeros++
		} else if u>>31 != 0 {
			neg++
		}
	}
	return zeros, neg
}

// rawBF16 reports whether the base and every compared expert of j can be
// read as stored bf16 values (no f16/f32 tensor, no cropped embedding).
func rawBF16(j *tensorJob) bool {
	if j.base.RawDType() != formats.BF16 {
		return false
	}
	for _, e := range j.experts {
		if e != nil && e.RawDType() != formats.BF16 {
			return false
		}
	}
	return true
}

// u16s returns a []uint16 view of n elements over a float32 buffer of at
// least n/2 elements.
func u16s(f []float32, n int) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(f))), n)
}

// nearZeroThreshold is the threshold of the near-zero count of a block of
// n base values with Σθ₀² = baseSq.
func nearZeroThreshold(tol, baseSq float64, n int) float32 {
	thr := float32(tol * math.Sqrt(baseSq/float64(n)))
	if thr == 0 || math.IsNaN(float64(thr)) {
		thr = math.SmallestNonzeroFloat32 // exact zeros only
	}
	return thr
}

// analyzeChunkBF16 is analyzeChunk for bf16 tensors (rawBF16(j)): it reads
// the stored values and gives the same statistics, bit for bit.
func analyzeChunkBF16(j *tensorJob, c merge.Chunk, ne int, tol float64) ([]Sums, []PairSums, error) {
	np := ne * (ne - 1) / 2
	a := &chunkBF16{
		job: j, tol: tol,
		raw: make([][]uint16, ne+1), deltas: make([][]float32, ne),
		sums: make([]Sums, ne), pairs: make([]PairSums, np),
		st: make([]deltaLanes, ne), ge: make([]int, ne), dots: make([]lanes, np), zeros: make([]int, np),
	}
	// The float32 changes of one sub-block per expert.
	for k, e := range j.experts {
		if e != nil {
			a.deltas[k] = merge.GetFloats(subBlock)
			defer merge.PutFloats(a.deltas[k])
		}
	}
	var data [][]uint16
	if !j.noMap {
		data = j.acquire()
	}
	if data != nil {
		// Mapped: the blocks are read from the page cache in place.
		for k := range a.raw {
			if data[k] != nil {
				a.raw[k] = data[k][c.Lo:c.Hi]
			}
		}
		n := int(c.Len())
		err := j.guard(data, func() {
			for b := 0; b < n; b += BlockElems {
				a.block(b, min(BlockElems, n-b))
			}
		})
		if err != nil {
			return nil, nil, err
		}
		j.release(c)
		a.pairSquares()
		return a.sums, a.pairs, nil
	}
	// Raw values read with ReadRaw (bf16, two per float32 of the pooled
	// buffers).
	for k := range a.raw {
		if k > 0 && j.experts[k-1] == nil {
			continue
		}
		buf := merge.GetFloats(readElems / 2)
		defer merge.PutFloats(buf)
		a.raw[k] = u16s(buf, readElems)
	}
	for lo := c.Lo; lo < c.Hi; lo += readElems {
		n := int(min(readElems, c.Hi-lo))
		if err := j.base.ReadRaw(u16Bytes(a.raw[0][:n]), lo); err != nil {
			return nil, nil, err
		}
		for k, src := range j.experts {
			if src != nil {
				if err := src.ReadRaw(u16Bytes(a.raw[k+1][:n]), lo); err != nil {
					return nil, nil, err
				}
			}
		}
		for b := 0; b < n; b += BlockElems {
			a.block(b, min(BlockElems, n-b))
		}
	}
	a.pairSquares()
	return a.sums, a.pairs, nil
}

// pairSquares sets the pairs' norms: the experts' (over the elements both
// have).
func (a *chunkBF16) pairSquares() {
	a.forPairs(func(p, x, y int) {
		a.pairs[p].SqA, a.pairs[p].SqB = a.sums[x].SumSq, a.sums[y].SumSq
	})
}

// chunkBF16 is the state of analyzeChunkBF16.
type chunkBF16 struct {
	job *tensorJob
	tol float64
	// raw[0] holds the base's stored values, raw[k+1] expert k's (nil when
	// the expert lacks the tensor); deltas[k] expert k's float32 changes of
	// one sub-block.
	raw    [][]uint16
	deltas [][]float32
	// The chunk's results.
	sums  []Sums
	pairs []PairSums
	// Per-block scratch: lane sums and counts of each expert and pair.
	st    []deltaLanes
	ge    []int
	dots  []lanes
	zeros []int
}

// forPairs calls f for every pair x < y of experts that both have the
// tensor, with p the pair's index among all pairs.
func (a *chunkBF16) forPairs(f func(p, x, y int)) {
	ne := len(a.job.experts)
	p := 0
	for x := 0; x < ne; x++ {
		for y := x + 1; y < ne; y++ {
			if a.job.experts[x] != nil && a.job.experts[y] != nil {
				f(p, x, y)
			}
			p++
		}
	}
}

// block adds the statistics of the block of the n raw values from lo (one
// near-zero threshold; the float32 path's block) to a.sums and a.pairs.
func (a *chunkBF16) block(lo, n int) {
	var bl lanes
	baseSquares(&bl, a.raw[0][lo:lo+n])
	baseSq := bl.total()
	thr := nearZeroThreshold(a.tol, baseSq, n)
	clear(a.st)
	clear(a.ge)
	clear(a.dots)
	clear(a.zeros)
	for s := lo; s < lo+n; s += subBlock {
		m := min(subBlock, lo+n-s)
		for k, x := range a.raw[1:] {
			if x != nil {
				a.ge[k] += expertDeltas(&a.st[k], a.deltas[k][:m], a.raw[0][s:s+m], x[s:s+m], thr)
			}
		}
		a.forPairs(func(p, x, y int) {
			z, g := pairDeltas(&a.dots[p], a.deltas[x][:m], a.deltas[y][:m])
			a.zeros[p] += z
			a.pairs[p].Conflicts += int64(g)
		})
	}
	for k, x := range a.raw[1:] {
		if x == nil {
			continue
		}
		s := &a.sums[k]
		s.N += int64(n)
		s.SumAbs += a.st[k].abs.total()
		s.SumSq += a.st[k].sq.total()
		s.BaseSumSq += baseSq
		s.NearZero += int64(n - a.ge[k])
	}
	a.forPairs(func(p, x, y int) {
		a.pairs[p].Dot += a.dots[p].total()
		a.pairs[p].Both += int64(n - a.zeros[p])
	})
}

// u16Bytes returns the bytes of a []uint16 (little-endian on every
// platform gomerge runs on, as safetensors stores them).
func u16Bytes(u []uint16) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(u))), 2*len(u))
}
