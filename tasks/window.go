package tasks

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/gomerge/gomerge/merge"
)

// Window selection answers the rank queries of one tensor in a single pass
// over the data instead of the two of the radix selection: a sample of
// evenly spaced pieces of the tensor gives, per query, a window of bit
// patterns that holds the answer with overwhelming probability; one pass
// counts the elements above each window and equal to each of its two edges
// — deltas of stored bf16 values take few distinct values, so the edges
// are usually long tie runs — and collects, chunk by chunk, the few
// strictly between. The answer is then exact, and the counts and
// collected elements also give every chunk's number of threshold ties, so
// the merge pass needs no tie counting of its own. If a window misses the
// answer (or would hold too many elements) the caller falls back to the
// radix selection: the result is exact either way.
const (
	samplePiece = 1024    // elements per sample piece
	minSample   = 1 << 16 // sample elements (at least)
	maxSample   = 1 << 21 // sample elements (at most)
	maxWindow   = 8 << 20 // collected elements per query
	windowSigma = 6       // window half-width in standard deviations of the sample rank
)

// windowBufs recycles the buffers that hold collected window values
// between a window pass and its resolution, by size class (capacity 1<<c
// in windowBufs[c]): fresh memory for every piece would cost zeroing and
// page faults.
var windowBufs [40]sync.Pool

// windowClass is the size class of a buffer of capacity at least n.
func windowClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// getWindowBuf returns an empty buffer of capacity at least n.
func getWindowBuf(n int) []uint32 {
	c := windowClass(n)
	if c >= len(windowBufs) {
		return make([]uint32, 0, n)
	}
	if p, ok := windowBufs[c].Get().(*[]uint32); ok {
		return (*p)[:0]
	}
	return make([]uint32, 0, 1<<c)
}

// putWindowBuf gives a buffer back to getWindowBuf.
func putWindowBuf(b []uint32) {
	c := windowClass(cap(b))
	if cap(b) == 0 || c >= len(windowBufs) || cap(b) != 1<<c {
		return // not one of getWindowBuf's
	}
	b = b[:0]
	windowBufs[c].Put(&b)
}

// scratchPool recycles the per-chunk compaction buffers of windowPass.
var scratchPool = sync.Pool{New: func() any { return new([]uint32) }}

// windowQuery is one rank query with its window [lo, hi] of bit patterns.
type windowQuery struct {
	rankQuery
	lo, hi   uint32
	above    []int64    // per chunk: elements above hi
	eqLo     []int64    // per chunk: elements equal to lo
	eqHi     []int64    // per chunk: elements equal to hi
	inside   [][]uint32 // per chunk: bit patterns strictly inside the window (lo, hi), in position order
	answer   rankAnswer
	perChunk []int64 // per chunk: elements equal to the answer
	overflow bool    // the window held more than maxWindow elements
	frac     float64 // the fraction of the sample the pass collects
	// hists, per chunk: the histogram of the chunk's collected bit
	// patterns x by bucket (x − lo) >> bucketShift() (nil: not counted
	// during the pass; resolveWindow counts it)
	hists [][]uint32
	// chunkOf, if set, maps the items of above, inside and hists (pieces
	// of chunks, in order) to chunks; nil: they are the chunks
	chunkOf []int
}

// windowBuckets bounds the buckets of a window's histograms: 16 KiB of
// counts per chunk, which stay in the L1 cache while a pass fills them.
const windowBuckets = 4096

// bucketShift is the shift that maps the window's bit patterns to fewer
// than windowBuckets buckets.
func (q *windowQuery) bucketShift() uint {
	span := q.hi - q.lo
	s := uint(0)
	for span>>s >= windowBuckets {
		s++
	}
	return s
}

// countBuckets adds the window values v (all in [lo, hi]) to hist.
func countBuckets(hist, v []uint32, lo uint32, shift uint) {
	for _, x := range v {
		hist[(x-lo)>>shift]++
	}
}

// windowBands tries to find the bands of the models with want[k] (ranks
// bs[k]) by window selection. It returns the bands and the tie chain, or
// ok = false when the caller must use the radix selection.
// in, if not nil, holds the tensor's stored bf16 values.
func (m *gta) windowBands(ctx context.Context, t *merge.Task, want []bool, bs []rankBounds, nChunks int, in *bf16Inputs) (bands []band, chain *eqChain, ok bool, err error) {
	n := t.Len()
	s := min(max(n/256, minSample), maxSample)
	exact := n <= 2*s
	if exact {
		s = n
	}
	samples, err := readSample(ctx, t, want, s, exact, in)
	if err != nil {
		return nil, nil, false, err
	}
	var qs []*windowQuery
	for k := range want {
		if !want[k] {
			continue
		}
		qs = append(qs, &windowQuery{rankQuery: rankQuery{Stream: k, Rank: bs[k].hi - 1}})
		if bs[k].lo > 0 {
			qs = append(qs, &windowQuery{rankQuery: rankQuery{Stream: k, Rank: bs[k].lo}})
		}
	}
	// Each stream's queries (in order, on one copy of its sample) run in
	// parallel with the other streams'.
	var streams []int
	byStream := map[int][]*windowQuery{}
	for _, q := range qs {
		if byStream[q.Stream] == nil {
			streams = append(streams, q.Stream)
		}
		byStream[q.Stream] = append(byStream[q.Stream], q)
	}
	tooFull := make([]bool, len(streams))
	items := make([]merge.Chunk, len(streams))
	for i := range items {
		items[i] = merge.Chunk{Index: i}
	}
	err = merge.Parallel(ctx, t.Threads(), items, func(it merge.Chunk) error {
		a := samples[streams[it.Index]]
		for _, q := range byStream[streams[it.Index]] {
			if windowFromSample(q, a, n, exact) {
				tooFull[it.Index] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	if slices.Contains(tooFull, true) {
		return nil, nil, false, nil
	}
	if exact {
		// The sample is the tensor: count directly.
		for _, q := range qs {
			q.alloc(nChunks)
			for _, c := range merge.Chunks(n, 1) {
				collectWindow(q, c.Index, samples[q.Stream][c.Lo:c.Hi])
			}
		}
	} else if in != nil {
		if err := windowPassBF16(ctx, t, in, want, qs, nChunks); err != nil {
			return nil, nil, false, err
		}
	} else if err := windowPass(ctx, t, want, qs, nChunks); err != nil {
		return nil, nil, false, err
	}
	// The queries' windows are resolved in parallel (one per goroutine).
	resolved := make([]bool, len(qs))
	byQuery := make([]merge.Chunk, len(qs))
	for i := range byQuery {
		byQuery[i] = merge.Chunk{Index: i}
	}
	err = merge.Parallel(ctx, t.Threads(), byQuery, func(c merge.Chunk) error {
		resolved[c.Index] = resolveWindow(qs[c.Index], nChunks)
		return nil
	})
	if err != nil {
		return nil, nil, false, err
	}
	if slices.Contains(resolved, false) {
		return nil, nil, false, nil
	}
	bands = make([]band, len(want))
	chain = newEqChain(nChunks, 2*len(want))
	counts := make([][]int64, nChunks)
	for c := range counts {
		counts[c] = make([]int64, 2*len(want))
	}
	straddle := false
	i := 0
	for k := range want {
		if !want[k] {
			continue
		}
		hiQ := qs[i]
		i++
		var loAns rankAnswer
		var loQ *windowQuery
		if bs[k].lo > 0 {
			loQ = qs[i]
			loAns = loQ.answer
			i++
		}
		bands[k] = newBand(bs[k].lo, bs[k].hi, loAns, hiQ.answer)
		straddle = straddle || bands[k].straddle
		for c := 0; c < nChunks; c++ {
			counts[c][2*k+1] = hiQ.perChunk[c]
			if loQ != nil {
				counts[c][2*k] = loQ.perChunk[c]
			}
		}
	}
	if !straddle {
		return bands, nil, true, nil
	}
	for c := 0; c < nChunks; c++ {
		chain.publish(c, chain.prefix(c), counts[c])
	}
	return bands, chain, true, nil
}

// windowFromSample sets the window of q from the sample a (of a tensor of
// n elements; the whole tensor when exact). It reports a window the sample
// already shows to be too full (a huge run of tied values), which would
// only cost a wasted pass; the values equal to the window's edges are
// counted, not collected, so only those strictly inside count.
func windowFromSample(q *windowQuery, a []uint32, n int64, exact bool) (tooFull bool) {
	ns := int64(len(a))
	h := newSampleHist(a)
	if exact {
		v := h.rank(q.Rank)
		q.lo, q.hi = v, v
		return false
	}
	p := float64(q.Rank) / float64(n)
	r := int64(p * float64(ns))
	margin := int64(windowSigma*math.Sqrt(float64(ns)*p*(1-p))) + 2
	q.hi, q.lo = 0x7fffffff, 0
	var inside int64
	if hiOK, loOK := r-margin >= 0, r+margin < ns; hiOK && loOK {
		q.hi, q.lo, inside = h.window(r-margin, r+margin)
	} else {
		if hiOK {
			q.hi = h.rank(r - margin)
		}
		if loOK {
			q.lo = h.rank(r + margin)
		}
		inside = countInside(a, q.lo, q.hi)
	}
	q.frac = float64(inside) / float64(ns)
	return float64(inside)*float64(n)/float64(ns) > 0.8*maxWindow
}

// countInside counts the values of a strictly inside (lo, hi).
func countInside(a []uint32, lo, hi uint32) int64 {
	var n int64
	for _, x := range a {
		if x > lo && x < hi {
			n++
		}
	}
	return n
}

// rankShift maps a |δ| bit pattern (< 2³¹) to one of rankBuckets
// buckets: the exponent and the top 3 mantissa bits.
const (
	rankShift   = 20
	rankBuckets = 1 << (31 - rankShift)
)

// sampleHist selects ranks of a sample of bit patterns below 2³¹ without
// reordering it: a histogram of its buckets finds a rank's bucket, and
// the bucket's elements alone are selected exactly (quickselect on the
// whole sample costs several times more).
type sampleHist struct {
	a    []uint32
	hist [rankBuckets]uint32
}

func newSampleHist(a []uint32) *sampleHist {
	h := &sampleHist{a: a}
	for _, x := range a {
		h.hist[(x>>rankShift)&(rankBuckets-1)]++
	}
	return h
}

// bucket returns the bucket of descending rank r and the number of
// elements in the buckets above it.
func (h *sampleHist) bucket(r int64) (b uint32, above int64) {
	b = rankBuckets - 1
	for ; b > 0 && r >= above+int64(h.hist[b]); b-- {
		above += int64(h.hist[b])
	}
	return b, above
}

// collect returns the elements of buckets b1 and b2 (one pass; the same
// slice twice when b1 = b2).
func (h *sampleHist) collect(b1, b2 uint32) (v1, v2 []uint32) {
	v1 = make([]uint32, 0, h.hist[b1])
	if b1 == b2 {
		for _, x := range h.a {
			if x>>rankShift == b1 {
				v1 = append(v1, x)
			}
		}
		return v1, v1
	}
	v2 = make([]uint32, 0, h.hist[b2])
	for _, x := range h.a {
		switch x >> rankShift {
		case b1:
			v1 = append(v1, x)
		case b2:
			v2 = append(v2, x)
		}
	}
	return v1, v2
}

// rank returns the element of descending rank r (0-based, below the
// sample's length).
func (h *sampleHist) rank(r int64) uint32 {
	b, above := h.bucket(r)
	v, _ := h.collect(b, b)
	return nthLargest(v, r-above)
}

// window returns the elements hi and lo of descending ranks rHi ≤ rLo and
// the number of elements strictly between them, from one more pass over
// the sample.
func (h *sampleHist) window(rHi, rLo int64) (hi, lo uint32, inside int64) {
	bh, ah := h.bucket(rHi)
	bl, al := h.bucket(rLo)
	vh, vl := h.collect(bh, bl)
	hi = nthLargest(vh, rHi-ah)
	lo = nthLargest(vl, rLo-al)
	// Buckets strictly between lo's and hi's hold values strictly inside.
	for b := bl + 1; b < bh; b++ {
		inside += int64(h.hist[b])
	}
	inside += countInside(vh, lo, hi)
	if bl != bh {
		inside += countInside(vl, lo, hi)
	}
	return hi, lo, inside
}

// rankBounds are the descending ranks [lo, hi) a model keeps.
type rankBounds struct{ lo, hi int64 }

// readSample reads s elements of each wanted model's task vector as |δ| bit
// patterns: evenly spaced pieces of samplePiece elements, or everything
// (in order) when exact. Groups of pieces are read in parallel; on bf16
// tensors (in not nil) the stored values are read and converted as
// merge.Source.Read would.
func readSample(ctx context.Context, t *merge.Task, want []bool, s int64, exact bool, in *bf16Inputs) ([][]uint32, error) {
	n := t.Len()
	type piece struct{ off, len, at int64 }
	var pieces []piece
	var total int64
	add := func(off, l int64) {
		pieces = append(pieces, piece{off, l, total})
		total += l
	}
	if exact {
		for off := int64(0); off < n; off += samplePiece {
			add(off, min(samplePiece, n-off))
		}
	} else {
		count := s / samplePiece
		for j := int64(0); j < count; j++ {
			add(j*(n-samplePiece)/max(count-1, 1), samplePiece)
		}
	}
	out := make([][]uint32, len(want))
	for k := range want {
		if want[k] {
			out[k] = make([]uint32, total)
		}
	}
	const perGroup = 16 // pieces per parallel item
	groups := make([]merge.Chunk, (len(pieces)+perGroup-1)/perGroup)
	for g := range groups {
		groups[g] = merge.Chunk{Index: g}
	}
	err := merge.Parallel(ctx, t.Threads(), groups, func(g merge.Chunk) error {
		mine := pieces[g.Index*perGroup : min((g.Index+1)*perGroup, len(pieces))]
		if in != nil {
			baseRaw, xRaw, release := in.readers(want, in.sampleReader)
			defer release()
			return in.guard(func() error {
				for _, p := range mine {
					bu, err := baseRaw.read(p.off, int(p.len))
					if err != nil {
						return err
					}
					for k := range want {
						if !want[k] {
							continue
						}
						xu, err := xRaw[k].read(p.off, int(p.len))
						if err != nil {
							return err
						}
						dst := out[k][p.at : p.at+p.len]
						for i := range dst {
							dst[i] = absBits(bf16Value(xu[i]) - bf16Value(bu[i]))
						}
					}
				}
				return nil
			})
		}
		base, x := make([]float32, samplePiece), make([]float32, samplePiece)
		for _, p := range mine {
			if err := t.Base.Read(base[:p.len], p.off); err != nil {
				return err
			}
			for k, src := range t.Inputs {
				if !want[k] {
					continue
				}
				dst := out[k][p.at : p.at+p.len]
				v := x[:p.len]
				if err := src.Read(v, p.off); err != nil {
					return err
				}
				for i := range dst {
					dst[i] = absBits(v[i] - base[i])
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// windowPass reads the tensor once and collects every query's window.
func windowPass(ctx context.Context, t *merge.Task, want []bool, qs []*windowQuery, nChunks int) error {
	for _, q := range qs {
		q.alloc(nChunks)
	}
	var mu sync.Mutex
	total := make([]int64, len(qs))
	return deltaScan(t, 1, want)(ctx, func(item int, d [][]float32) error {
		for i, q := range qs {
			v := d[q.Stream]
			sp := scratchPool.Get().(*[]uint32)
			if cap(*sp) < len(v) {
				*sp = make([]uint32, len(v))
			}
			buf := (*sp)[:len(v)]
			var above, eqLo, eqHi int64
			count := 0
			lo, hi := q.lo, q.hi
			for _, f := range v {
				x := math.Float32bits(f) & 0x7fffffff
				above += int64((hi - x) >> 31) // 1 when x > hi (both < 2³¹)
				if x == lo {
					eqLo++
				}
				if x == hi {
					eqHi++
				}
				// Branch-free compaction: always store, advance when inside.
				buf[count] = x
				inc := 0
				if x > lo && x < hi {
					inc = 1
				}
				count += inc
			}
			bits := slices.Clone(buf[:count])
			scratchPool.Put(sp)
			mu.Lock()
			total[i] += int64(len(bits))
			if total[i] > maxWindow {
				q.overflow = true
			}
			over := q.overflow
			mu.Unlock()
			q.above[item], q.eqLo[item], q.eqHi[item] = above, eqLo, eqHi
			if !over {
				q.inside[item] = bits
			}
		}
		return nil
	})
}

// alloc makes the query's per-chunk counts and collections for nChunks
// chunks.
func (q *windowQuery) alloc(nChunks int) {
	q.above = make([]int64, nChunks)
	q.eqLo = make([]int64, nChunks)
	q.eqHi = make([]int64, nChunks)
	q.inside = make([][]uint32, nChunks)
}

// collectWindow records, for chunk c, the values of v above the query's
// window, equal to its edges and strictly inside it.
func collectWindow(q *windowQuery, c int, v []uint32) {
	var in []uint32
	for _, x := range v {
		switch {
		case x > q.hi:
			q.above[c]++
		case x > q.lo && x < q.hi:
			in = append(in, x)
		}
		if x == q.lo {
			q.eqLo[c]++
		}
		if x == q.hi {
			q.eqHi[c]++
		}
	}
	q.inside[c] = in
}

// resolveWindow finds the answer of a query from its collected window, or
// reports that the window missed it. It selects without gathering the
// chunks' values: the chunks' bucket histograms (counted by the pass or
// here) find the bucket holding the rank, and only that bucket's values
// are selected exactly (none are read when a bucket is one bit pattern:
// the histograms then give every count).
func resolveWindow(q *windowQuery, nChunks int) bool {
	if q.overflow {
		return false
	}
	if q.chunkOf != nil {
		if !resolveWindowItems(q, len(q.above)) {
			return false
		}
		per := make([]int64, nChunks)
		for i, n := range q.perChunk {
			per[q.chunkOf[i]] += n
		}
		q.perChunk = per
		return true
	}
	return resolveWindowItems(q, nChunks)
}

// resolveWindowItems is resolveWindow over the query's nChunks items.
func resolveWindowItems(q *windowQuery, nChunks int) bool {
	var greater, size int64
	for c := 0; c < nChunks; c++ {
		greater += q.above[c]
		size += int64(len(q.inside[c]))
	}
	pos := q.Rank - greater
	if pos >= 0 {
		// The run equal to hi, then the values inside, then the run
		// equal to lo (one run when lo = hi).
		var nLo, nHi int64
		for c := 0; c < nChunks; c++ {
			nLo += q.eqLo[c]
			nHi += q.eqHi[c]
		}
		edge := func(v uint32, greater, equal int64, per []int64) bool {
			q.answer = rankAnswer{Bits: v, Greater: greater, Equal: equal}
			q.perChunk = slices.Clone(per[:nChunks])
			q.release()
			return true
		}
		switch {
		case pos < nHi:
			return edge(q.hi, greater, nHi, q.eqHi)
		case q.lo == q.hi:
			return false
		case pos >= nHi+size && pos < nHi+size+nLo:
			return edge(q.lo, greater+nHi+size, nLo, q.eqLo)
		}
		greater += nHi
		pos -= nHi
	}
	if pos < 0 || pos >= size {
		return false
	}
	lo, shift := q.lo, q.bucketShift()
	nb := int((q.hi-lo)>>shift) + 1
	if q.hists == nil {
		q.hists = make([][]uint32, nChunks)
	}
	total := make([]int64, nb)
	for c := 0; c < nChunks; c++ {
		h := q.hists[c]
		if h == nil {
			h = make([]uint32, nb)
			countBuckets(h, q.inside[c], lo, shift)
			q.hists[c] = h
		}
		for j, n := range h {
			total[j] += int64(n)
		}
	}
	var cum int64 // elements of the window in buckets above b
	b := nb - 1
	for ; b > 0 && pos >= cum+total[b]; b-- {
		cum += total[b]
	}
	q.perChunk = make([]int64, nChunks)
	if shift == 0 {
		v := lo + uint32(b)
		q.answer = rankAnswer{Bits: v, Greater: greater + cum, Equal: total[b]}
		for c := 0; c < nChunks; c++ {
			if h := q.hists[c]; h != nil {
				q.perChunk[c] = int64(h[b])
				continue
			}
			for _, x := range q.inside[c] {
				if x == v {
					q.perChunk[c]++
				}
			}
		}
		q.release()
		return true
	}
	// The bucket is usually one bit pattern (a run of ties at the
	// threshold): then the histograms give every count.
	if v, ok := bucketPattern(q, nChunks, uint32(b), shift); ok {
		for c := 0; c < nChunks; c++ {
			q.perChunk[c] = int64(q.hists[c][b])
		}
		q.answer = rankAnswer{Bits: v, Greater: greater + cum, Equal: total[b]}
		q.release()
		return true
	}
	// The bucket's values, chunk after chunk (starts[c]: chunk c's first).
	in := make([]uint32, total[b]+1) // +1: the compaction stores every value
	starts := make([]int, nChunks+1)
	m, bb := 0, uint32(b)
	for c := 0; c < nChunks; c++ {
		starts[c] = m
		if q.hists[c] != nil && q.hists[c][b] == 0 {
			continue
		}
		for _, x := range q.inside[c] {
			// Branch-free compaction: store always, advance when in b.
			in[m] = x
			inc := 0
			if (x-lo)>>shift == bb {
				inc = 1
			}
			m += inc
		}
	}
	starts[nChunks] = m
	in = in[:m]
	// The bucket's values are often a few bit patterns in long tie runs:
	// a histogram of the bucket's bit patterns finds the answer.
	var v uint32
	above, equal := cum, int64(0)
	if shift <= 16 {
		sub := make([]uint32, 1<<shift)
		mask := uint32(1)<<shift - 1
		for _, x := range in {
			sub[(x-lo)&mask]++
		}
		j := len(sub) - 1
		for ; j > 0 && pos >= above+int64(sub[j]); j-- {
			above += int64(sub[j])
		}
		v, equal = lo+uint32(b)<<shift+uint32(j), int64(sub[j])
		for c := 0; c < nChunks; c++ {
			for _, x := range in[starts[c]:starts[c+1]] {
				if x == v {
					q.perChunk[c]++
				}
			}
		}
	} else {
		v = nthLargest(slices.Clone(in), pos-cum)
		for c := 0; c < nChunks; c++ {
			for _, x := range in[starts[c]:starts[c+1]] {
				if x > v {
					above++
				} else if x == v {
					equal++
					q.perChunk[c]++
				}
			}
		}
	}
	q.answer = rankAnswer{Bits: v, Greater: greater + above, Equal: equal}
	q.release()
	return true
}

// bucketPattern reports whether every collected value of q in bucket b
// (of width 1<<shift) is one bit pattern, and returns it. It reads the
// chunks whose histograms hold values in b.
func bucketPattern(q *windowQuery, nChunks int, b uint32, shift uint) (v uint32, ok bool) {
	lo := q.lo
	found := false
	var diff uint32
	for c := 0; c < nChunks; c++ {
		if q.hists[c][b] == 0 {
			continue
		}
		vals := q.inside[c]
		if !found {
			for _, x := range vals {
				if (x-lo)>>shift == b {
					v, found = x, true
					break
				}
			}
		}
		for _, x := range vals {
			// diff collects the bits in which a value of the bucket
			// differs from v (branch-free: most values are in it).
			var in uint32
			if (x-lo)>>shift == b {
				in = ^uint32(0)
			}
			diff |= in & (x ^ v)
		}
		if diff != 0 {
			return 0, false
		}
	}
	return v, found
}

// release drops the collected values, giving their buffers back.
func (q *windowQuery) release() {
	for _, b := range q.inside {
		putWindowBuf(b)
	}
	q.inside, q.hists, q.eqLo, q.eqHi = nil, nil, nil, nil
}

// nthLargest returns the element of descending rank r (0-based) of a,
// reordering a (quickselect with a median-of-three pivot and a three-way
// partition, so runs of equal values cost no extra work).
func nthLargest(a []uint32, r int64) uint32 {
	k := len(a) - 1 - int(r) // ascending position
	lo, hi := 0, len(a)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		x, y, z := a[lo], a[mid], a[hi]
		pivot := max(min(x, y), min(max(x, y), z))
		// a[lo:lt] < pivot, a[lt:i] == pivot, a[gt+1:hi+1] > pivot
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch v := a[i]; {
			case v < pivot:
				a[lt], a[i] = a[i], a[lt]
				lt++
				i++
			case v > pivot:
				a[i], a[gt] = a[gt], a[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt - 1
		case k > gt:
			lo = gt + 1
		default:
			return pivot
		}
	}
	return a[k]
}
