package tasks

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/gomerge/gomerge/simd"
)

// absBits is the bit pattern of |v|. Bit patterns of non-negative floats
// order like their values (a NaN orders above +Inf, as torch sorts it), so
// every comparison of the exact selection is an integer comparison.
func absBits(v float32) uint32 { return math.Float32bits(v) &^ (1 << 31) }

// scanFunc calls visit for every chunk of the data — possibly from several
// goroutines at once — with the chunk's number (0, 1, … in data order) and
// the chunk's values of each stream (one stream per model, say).
type scanFunc func(ctx context.Context, visit func(item int, vals [][]float32) error) error

// histSet is one 65536-bin histogram per stream.
type histSet [][]uint64

// histPool hands each goroutine of a scan its own histogram set. Counts are
// integers, so their total does not depend on which goroutine counted what.
type histPool struct {
	mu      sync.Mutex
	streams int
	free    []histSet
	all     []histSet
}

func (p *histPool) get() histSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free = p.free[:n-1]
		return h
	}
	h := make(histSet, p.streams)
	for s := range h {
		h[s] = make([]uint64, 65536)
	}
	p.all = append(p.all, h)
	return h
}

func (p *histPool) put(h histSet) {
	p.mu.Lock()
	p.free = append(p.free, h)
	p.mu.Unlock()
}

// total sums the histograms of every goroutine.
func (p *histPool) total() histSet {
	out := make(histSet, p.streams)
	for s := range out {
		out[s] = make([]uint64, 65536)
		for _, h := range p.all {
			for b, n := range h[s] {
				out[s][b] += n
			}
		}
	}
	return out
}

// rankQuery asks for the element at descending position Rank (0-based) of
// stream Stream, ordering by |v| with ties broken by position.
type rankQuery struct {
	Stream int
	Rank   int64
}

// rankAnswer describes the value at a queried rank: its |v| bit pattern, how
// many elements of the stream are larger and how many equal it.
type rankAnswer struct {
	Bits    uint32
	Greater int64
	Equal   int64
}

// absSelector finds exact order statistics of |v| over several streams at
// once by radix selection on the bit patterns: one pass histograms the high
// 16 bits of every stream, a second pass the low 16 bits of the elements
// whose high bits hold a queried rank. Memory is 512 KiB per stream per
// goroutine, independent of the data size.
type absSelector struct {
	streams int
	high    histSet
}

// countHigh runs the first pass. extra, if set, is called on every chunk
// too (for sums the caller needs from the same pass).
func (s *absSelector) countHigh(ctx context.Context, scan scanFunc, extra func(item int, vals [][]float32)) error {
	pool := &histPool{streams: s.streams}
	err := scan(ctx, func(item int, vals [][]float32) error {
		h := pool.get()
		defer pool.put(h)
		for k, v := range vals {
			if v != nil {
				simd.HistAbsHigh16(h[k], v)
			}
		}
		if extra != nil {
			extra(item, vals)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.high = pool.total()
	return nil
}

// count is the number of elements of a stream (after countHigh).
func (s *absSelector) count(stream int) int64 {
	var n uint64
	for _, c := range s.high[stream] {
		n += c
	}
	return int64(n)
}

// resolve answers the queries with a second pass over the data. Every rank
// must lie in [0, count(stream)).
func (s *absSelector) resolve(ctx context.Context, scan scanFunc, qs []rankQuery) ([]rankAnswer, error) {
	type prefixKey struct {
		stream int
		prefix uint16
	}
	prefixes := make([]prefixKey, len(qs))
	above := make([]int64, len(qs)) // elements in higher high-16 bins
	slot := map[prefixKey]int{}
	var keys []prefixKey
	for i, q := range qs {
		h := s.high[q.Stream]
		var cum int64
		found := false
		for b := 65535; b >= 0; b-- {
			n := int64(h[b])
			if q.Rank < cum+n {
				prefixes[i] = prefixKey{q.Stream, uint16(b)}
				above[i] = cum
				found = true
				break
			}
			cum += n
		}
		if !found {
			return nil, fmt.Errorf("internal error: rank %d outside %d elements", q.Rank, cum)
		}
		if _, ok := slot[prefixes[i]]; !ok {
			slot[prefixes[i]] = len(keys)
			keys = append(keys, prefixes[i])
		}
	}
	pool := &histPool{streams: len(keys)}
	err := scan(ctx, func(_ int, vals [][]float32) error {
		h := pool.get()
		defer pool.put(h)
		for j, key := range keys {
			simd.HistAbsLow16(h[j], vals[key.stream], key.prefix)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	low := pool.total()
	out := make([]rankAnswer, len(qs))
	for i, q := range qs {
		h := low[slot[prefixes[i]]]
		cum := above[i]
		for b := 65535; b >= 0; b-- {
			n := int64(h[b])
			if q.Rank < cum+n {
				out[i] = rankAnswer{Bits: uint32(prefixes[i].prefix)<<16 | uint32(b), Greater: cum, Equal: n}
				break
			}
			cum += n
		}
	}
	return out, nil
}

// band keeps the elements of descending |v| rank in [lo, hi), ties broken
// by position: every element whose bits lie strictly between hiBits and
// loBits, the elements equal to loBits from the loSkip-th on and the first
// hiKeep elements equal to hiBits (both counted in position order over the
// whole stream).
type band struct {
	all, none bool // keep everything / nothing
	hasLo     bool
	loBits    uint32
	loSkip    int64
	hiBits    uint32
	hiKeep    int64
	// straddle: some elements equal to a threshold are kept and some are
	// not, so a chunk must know how many came before it.
	straddle bool
}

// bandQueries lists, for every wanted model k, the rank queries that fix
// its band: rank hi−1, then rank lo when lo > 0.
func bandQueries(want []bool, bs []rankBounds) []rankQuery {
	var qs []rankQuery
	for k := range want {
		if !want[k] {
			continue
		}
		qs = append(qs, rankQuery{Stream: k, Rank: bs[k].hi - 1})
		if bs[k].lo > 0 {
			qs = append(qs, rankQuery{Stream: k, Rank: bs[k].lo})
		}
	}
	return qs
}

// bandsFromAnswers sets bands[k] of every wanted model from the answers to
// bandQueries (in the same order) and reports whether any band straddles a
// run of equal values.
func bandsFromAnswers(want []bool, bs []rankBounds, ans []rankAnswer, bands []band) (straddle bool) {
	i := 0
	for k := range want {
		if !want[k] {
			continue
		}
		hiAns := ans[i]
		i++
		var loAns rankAnswer
		if bs[k].lo > 0 {
			loAns = ans[i]
			i++
		}
		bands[k] = newBand(bs[k].lo, bs[k].hi, loAns, hiAns)
		straddle = straddle || bands[k].straddle
	}
	return straddle
}

// newBand builds the band of ranks [lo, hi) from the answers for rank lo
// (ignored when lo == 0) and rank hi−1.
func newBand(lo, hi int64, loAns, hiAns rankAnswer) band {
	b := band{hiBits: hiAns.Bits, hiKeep: hi - hiAns.Greater}
	if hiAns.Greater+hiAns.Equal > hi {
		b.straddle = true
	}
	if lo > 0 {
		b.hasLo = true
		b.loBits = loAns.Bits
		b.loSkip = lo - loAns.Greater
		if b.loSkip > 0 {
			b.straddle = true
		}
	}
	return b
}

// countEqual returns how many elements of d equal the lower and the upper
// threshold (the same count twice when both thresholds are one value).
func (b *band) countEqual(d []float32) (lo, hi int64) {
	if b.all || b.none || !b.straddle {
		return 0, 0
	}
	loBits := b.loBits
	if !b.hasLo {
		loBits = 1 << 31 // matches no |v|
	}
	for _, v := range d {
		x := absBits(v)
		if x == b.hiBits {
			hi++
		}
		if x == loBits {
			lo++
		}
	}
	return lo, hi
}

// The rules a chunk applies to keep a band's elements (band.chunkRule).
const (
	ruleRange = iota // keep the |v| bit patterns of one inclusive range
	ruleEmpty        // keep nothing
	ruleTies         // the kept run of tied elements starts or ends here
)

// chunkRule returns how a chunk keeps the band's elements. eqLo and eqHi
// are the numbers of elements equal to the lower and upper thresholds before
// the chunk in the stream, inLo and inHi their numbers in the chunk (from
// countEqual). Only a chunk where the kept run of tied elements starts or
// ends needs the element-by-element rule (ruleTies); every other chunk keeps
// the inclusive range [from, to] of bit patterns (ruleRange) or nothing.
func (b *band) chunkRule(eqLo, eqHi, inLo, inHi int64) (from, to uint32, rule int) {
	switch {
	case b.all:
		return 0, 0x7fffffff, ruleRange
	case b.none:
		return 0, 0, ruleEmpty
	}
	lo, hi := int64(b.hiBits), int64(0x7fffffff)
	if b.hasLo {
		hi = int64(b.loBits)
	}
	if b.straddle {
		switch {
		case eqHi+inHi <= b.hiKeep:
			// every tied element of the chunk is kept
		case eqHi >= b.hiKeep:
			lo++
		default:
			return 0, 0, ruleTies
		}
		if b.hasLo {
			switch {
			case eqLo >= b.loSkip:
			case eqLo+inLo <= b.loSkip:
				hi--
			default:
				return 0, 0, ruleTies
			}
		}
	}
	if lo > hi {
		return 0, 0, ruleEmpty
	}
	return uint32(lo), uint32(hi), ruleRange
}

// apply zeroes the elements of d outside the band. eqLo, eqHi, inLo and
// inHi are as in chunkRule; the ties rule is a branch-free loop except at
// the (rare) elements equal to a threshold.
func (b *band) apply(d []float32, eqLo, eqHi, inLo, inHi int64) {
	if b.all {
		return
	}
	from, to, rule := b.chunkRule(eqLo, eqHi, inLo, inHi)
	switch rule {
	case ruleEmpty:
		clear(d)
	case ruleTies:
		b.applyTies(d, eqLo, eqHi)
	default:
		keepRange(d, from, to)
	}
}

// keepRange zeroes the elements whose |v| bit pattern lies outside
// [from, to].
func keepRange(d []float32, from, to uint32) {
	span := to - from
	for i, v := range d {
		x := math.Float32bits(v)
		if (x&0x7fffffff)-from > span {
			x = 0
		}
		d[i] = math.Float32frombits(x)
	}
}

// tieKeeper decides, element by element in stream order, which elements a
// chunk under ruleTies keeps: those strictly inside the band, the elements
// equal to loBits from the loSkip-th on and the first hiKeep elements equal
// to hiBits.
type tieKeeper struct {
	b          *band
	loBits     uint32 // 1<<31 (no |v|) without a lower threshold
	from, span uint32 // strictly inside: [from, from+span]
	eqLo, eqHi int64  // threshold-equal elements seen so far
}

func (b *band) tieKeeper(eqLo, eqHi int64) tieKeeper {
	loBits := uint32(1 << 31) // no |v| equals it
	to := uint32(0x7fffffff)
	if b.hasLo {
		loBits = b.loBits
		to = b.loBits - 1 // loBits > hiBits here or the two are one value
	}
	from := b.hiBits + 1
	span := to - from
	if from > to || (b.hasLo && b.loBits == b.hiBits) {
		span, from = 0, 1<<31 // nothing strictly inside
	}
	return tieKeeper{b: b, loBits: loBits, from: from, span: span, eqLo: eqLo, eqHi: eqHi}
}

// keep reports whether the next element, of |v| bit pattern a, is kept.
func (t *tieKeeper) keep(a uint32) bool {
	if a == t.b.hiBits || a == t.loBits {
		keep := true
		if a == t.b.hiBits {
			keep = t.eqHi < t.b.hiKeep
			t.eqHi++
		}
		if a == t.loBits {
			keep = keep && t.eqLo >= t.b.loSkip
			t.eqLo++
		}
		return keep
	}
	return a-t.from <= t.span
}

// applyTies is apply for the chunk where the kept tied elements start or
// end: elements strictly inside the band are kept by the branch-free rule,
// elements equal to a threshold (rare) are counted one by one.
func (b *band) applyTies(d []float32, eqLo, eqHi int64) {
	tk := b.tieKeeper(eqLo, eqHi)
	for i, v := range d {
		x := math.Float32bits(v)
		a := x & 0x7fffffff
		if a == b.hiBits || a == tk.loBits {
			if !tk.keep(a) {
				d[i] = 0
			}
			continue
		}
		if a-tk.from > tk.span {
			x = 0
		}
		d[i] = math.Float32frombits(x)
	}
}

// tieBits sets bit i of bits (byte i>>3, bit i&7) when the ties rule keeps
// element i of the block δ = x − base of stored bf16 values; *eqLo and
// *eqHi count the threshold-equal elements before the block and are
// advanced past it.
func (b *band) tieBits(bits []byte, x, base []uint16, eqLo, eqHi *int64) {
	tk := b.tieKeeper(*eqLo, *eqHi)
	bits = bits[:(len(base)+7)/8]
	clear(bits)
	for i := range base {
		a := math.Float32bits(bf16Value(x[i])-bf16Value(base[i])) & 0x7fffffff
		if tk.keep(a) {
			bits[i>>3] |= 1 << (i & 7)
		}
	}
	*eqLo, *eqHi = tk.eqLo, tk.eqHi
}

// eqChain passes, chunk to chunk in index order, the running counts of
// threshold-equal elements, so that chunks processed in parallel keep
// exactly the first ones in position order without an extra pass over the
// data. It relies on merge.Task.ForChunks starting chunks in index order
// (a chunk waits only for chunks started before it).
type eqChain struct {
	ready  []chan struct{}
	before [][]int64 // before[c]: counts of the chunks before c
	known  []bool
}

func newEqChain(chunks, slots int) *eqChain {
	c := &eqChain{ready: make([]chan struct{}, chunks+1), before: make([][]int64, chunks+1), known: make([]bool, chunks+1)}
	for i := range c.ready {
		c.ready[i] = make(chan struct{})
	}
	c.before[0] = make([]int64, slots)
	c.known[0] = true
	close(c.ready[0])
	return c
}

// wait returns the counts before chunk i.
func (c *eqChain) wait(ctx context.Context, i int) ([]int64, error) {
	select {
	case <-c.ready[i]:
		return c.before[i], nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// publish records chunk i's own counts (after wait(i) returned before).
func (c *eqChain) publish(i int, before, counts []int64) {
	if c.known[i+1] {
		return
	}
	next := make([]int64, len(counts))
	for s := range counts {
		next[s] = before[s] + counts[s]
	}
	c.before[i+1] = next
	c.known[i+1] = true
	close(c.ready[i+1])
}

// prefix returns the counts before chunk i of a chain whose chunks have all
// been published (a later pass over the same data).
func (c *eqChain) prefix(i int) []int64 { return c.before[i] }
