// Package orderstat computes exact order statistics (k-th smallest values,
// quantiles at sorted positions, medians) of float32 data that is streamed
// rather than held: the data is visited twice, never sorted and never
// stored.
//
// The method is a two-level radix selection over order-preserving 32-bit
// keys of the float bit patterns. The first pass counts the values by the
// high 16 bits of their keys (a 65536-bucket histogram), which locates the
// bucket holding each requested rank; the second pass counts the low 16 bits
// of the values in those buckets only, which pins down the exact bit pattern.
// Memory is 512 KiB per histogram: one for the first pass and one per
// distinct bucket needed in the second, per concurrent visitor.
//
// The order is the float32 total order with −0 and +0 treated as equal values
// (a zero result is returned as +0) and NaNs sorted after +Inf. In the signed
// order ([Kth]) every NaN is returned as the canonical quiet NaN; in the
// absolute order ([KthAbs]) a NaN rank returns one of the NaNs met.
//
// Counts are integers, so results do not depend on how the data is chunked
// or on how many goroutines feed a [Selector].
package orderstat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync"

	"github.com/gomerge/gomerge/simd"
)

// Scan visits all values of a multiset in chunks of any size; it must visit
// the same multiset each time it is called (the order and chunking may
// differ). Scan may call visit from several goroutines at once: visit is
// safe for concurrent use. visit does not keep vals after it returns.
type Scan func(ctx context.Context, visit func(vals []float32) error) error

// ErrEmpty is returned when order statistics of an empty multiset are asked for.
var ErrEmpty = errors.New("orderstat: no values")

// Kth returns, for each 0-based rank k in ks, the k-th smallest value of the
// multiset that scan visits, in ascending float32 order (−0 equals +0, NaNs
// last). It calls scan exactly twice. A rank outside [0, n) is an error, as
// is an empty multiset (ErrEmpty).
func Kth(ctx context.Context, scan Scan, ks ...int64) ([]float32, error) {
	return run(ctx, NewSelector(false, ks...), scan)
}

// KthAbs is Kth over the absolute values |x| of the multiset.
func KthAbs(ctx context.Context, scan Scan, ks ...int64) ([]float32, error) {
	return run(ctx, NewSelector(true, ks...), scan)
}

// Count returns how many values scan visits, in one call of scan.
func Count(ctx context.Context, scan Scan) (int64, error) {
	var mu sync.Mutex
	var n int64
	err := scan(ctx, func(vals []float32) error {
		mu.Lock()
		n += int64(len(vals))
		mu.Unlock()
		return nil
	})
	return n, err
}

func run(ctx context.Context, s *Selector, scan Scan) ([]float32, error) {
	visit := func(vals []float32) error { s.Add(vals); return nil }
	for !s.Done() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := scan(ctx, visit); err != nil {
			return nil, err
		}
		if err := s.Next(); err != nil {
			return nil, err
		}
	}
	return s.Results(), nil
}

// Selector is the two-pass selection as a state machine, for callers that
// drive the passes themselves (for example, one read of a model feeding the
// selectors of several task vectors at once):
//
//	s := NewSelector(false, ks...)
//	for !s.Done() {
//		// feed every value once, in any chunks, from any goroutines:
//		s.Add(vals)
//		if err := s.Next(); err != nil { … }
//	}
//	res := s.Results()
//
// Add is safe for concurrent use; Next, Done and Results are not (call them
// between passes).
type Selector struct {
	abs bool
	ks  []int64

	pass int // 0: counting high bits, 1: counting low bits, 2: done

	mu   sync.Mutex
	free []*counts // histogram sets not in use by an Add
	all  []*counts // every histogram set of this pass

	n        int64    // values in pass 1
	prefixes []uint16 // distinct high-16 buckets holding a requested rank, ascending
	inBucket []uint64 // pass-1 count of each of prefixes
	slot     []int32  // high 16 bits → index in prefixes, or −1 (more than 4 buckets)
	few      [4]int32 // prefixes when at most 4, −1 for unused
	kBucket  []int    // per rank: index in prefixes
	kRank    []uint64 // per rank: rank within its bucket
	results  []float32
}

// counts is one visitor's histograms: one in pass 1, one per prefix in pass 2.
type counts struct {
	h [][]uint64
}

// NewSelector returns a selector of the given 0-based ranks in the signed
// order, or of the absolute values when abs is set. The ranks are checked
// against the number of values after the first pass.
func NewSelector(abs bool, ks ...int64) *Selector {
	return &Selector{abs: abs, ks: slices.Clone(ks)}
}

// Done reports whether both passes are complete.
func (s *Selector) Done() bool { return s.pass >= 2 }

// Pass returns 0 during the first pass, 1 during the second and 2 when done.
func (s *Selector) Pass() int { return s.pass }

// N returns the number of values counted in the first pass (valid after it).
func (s *Selector) N() int64 { return s.n }

// Floor returns the smallest value that can still count in the current
// pass: −Inf during the first pass (and when done), and during the second
// the smallest value of the lowest bucket holding a requested rank — a
// caller may skip values below it (with [Selector.Add] they would be
// ignored anyway). In the absolute order it bounds |x|.
func (s *Selector) Floor() float32 {
	if s.pass != 1 || len(s.prefixes) == 0 {
		return float32(math.Inf(-1))
	}
	key := uint32(s.prefixes[0]) << 16
	var v float32
	if s.abs {
		v = math.Float32frombits(key)
	} else {
		v = fromSignedKey(key)
		if math.Signbit(float64(v)) && v == 0 {
			v = 0
		}
	}
	if v != v { // only NaNs are needed: no bound on the others' order
		return float32(math.Inf(-1))
	}
	return v
}

// Results returns the selected values, one per rank in the order given to
// NewSelector. It is nil until Done.
func (s *Selector) Results() []float32 { return s.results }

func (s *Selector) acquire() *counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		c := s.free[n-1]
		s.free = s.free[:n-1]
		return c
	}
	nh := 1
	if s.pass == 1 {
		nh = len(s.prefixes)
	}
	c := &counts{h: make([][]uint64, nh)}
	for i := range c.h {
		c.h[i] = make([]uint64, 1<<16)
	}
	s.all = append(s.all, c)
	return c
}

func (s *Selector) release(c *counts) {
	s.mu.Lock()
	s.free = append(s.free, c)
	s.mu.Unlock()
}

// Add counts vals in the current pass. It is safe for concurrent use. Adding
// after Done panics.
func (s *Selector) Add(vals []float32) {
	if len(vals) == 0 {
		return
	}
	if s.pass >= 2 {
		panic("orderstat: Add after the selection is done")
	}
	c := s.acquire()
	defer s.release(c)
	switch {
	case s.pass == 0 && s.abs:
		simd.HistAbsHigh16(c.h[0], vals)
	case s.pass == 0:
		histHigh16(c.h[0], vals)
	case len(s.prefixes) <= 4:
		histLow16Few(c.h, vals, &s.few, s.abs)
	case s.abs:
		histAbsLow16Slots(c.h, vals, s.slot)
	default:
		histLow16Slots(c.h, vals, s.slot)
	}
}

// sumCounts adds every visitor's histograms into one set and forgets the visitors.
func (s *Selector) sumCounts(nh int) [][]uint64 {
	var tot [][]uint64
	if len(s.all) > 0 {
		tot = s.all[0].h
		for _, c := range s.all[1:] {
			for i := range tot {
				a, b := tot[i], c.h[i]
				for j := range a {
					a[j] += b[j]
				}
			}
		}
	} else {
		tot = make([][]uint64, nh)
		for i := range tot {
			tot[i] = make([]uint64, 1<<16)
		}
	}
	s.all, s.free = nil, nil
	return tot
}

// Next ends the current pass: after the first it locates the bucket of
// every rank, after the second it computes the results. It fails when the
// multiset is empty, a rank is out of range, or the second pass saw
// different values than the first.
func (s *Selector) Next() error {
	switch s.pass {
	case 0:
		return s.endPass1()
	case 1:
		return s.endPass2()
	}
	return errors.New("orderstat: Next after the selection is done")
}

func (s *Selector) endPass1() error {
	hist := s.sumCounts(1)[0]
	var n uint64
	for _, c := range hist {
		n += c
	}
	s.n = int64(n)
	if n == 0 {
		return ErrEmpty
	}
	for _, k := range s.ks {
		if k < 0 || k >= s.n {
			return fmt.Errorf("orderstat: rank %d outside [0, %d)", k, s.n)
		}
	}
	// Visit the ranks in ascending order, sweeping the cumulative counts once.
	order := make([]int, len(s.ks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(s.ks[a], s.ks[b]) })
	s.kBucket = make([]int, len(s.ks))
	s.kRank = make([]uint64, len(s.ks))
	var below uint64 // values in buckets before b
	b := 0
	for _, i := range order {
		k := uint64(s.ks[i])
		for below+hist[b] <= k {
			below += hist[b]
			b++
		}
		if len(s.prefixes) == 0 || s.prefixes[len(s.prefixes)-1] != uint16(b) {
			s.prefixes = append(s.prefixes, uint16(b))
			s.inBucket = append(s.inBucket, hist[b])
		}
		s.kBucket[i] = len(s.prefixes) - 1
		s.kRank[i] = k - below
	}
	s.few = [4]int32{-1, -1, -1, -1}
	for i, p := range s.prefixes[:min(len(s.prefixes), 4)] {
		s.few[i] = int32(p)
	}
	if len(s.prefixes) > 4 {
		s.slot = make([]int32, 1<<16)
		for i := range s.slot {
			s.slot[i] = -1
		}
		for i, p := range s.prefixes {
			s.slot[p] = int32(i)
		}
	}
	s.pass = 1
	return nil
}

func (s *Selector) endPass2() error {
	hists := s.sumCounts(len(s.prefixes))
	for i, h := range hists {
		var n uint64
		for _, c := range h {
			n += c
		}
		if n != s.inBucket[i] {
			return fmt.Errorf("orderstat: the second pass saw %d values in bucket %#04x, the first %d: the scan is not repeatable", n, s.prefixes[i], s.inBucket[i])
		}
	}
	s.results = make([]float32, len(s.ks))
	for i := range s.ks {
		h := hists[s.kBucket[i]]
		r := s.kRank[i]
		low := 0
		for r >= h[low] {
			r -= h[low]
			low++
		}
		key := uint32(s.prefixes[s.kBucket[i]])<<16 | uint32(low)
		if s.abs {
			s.results[i] = math.Float32frombits(key)
		} else {
			s.results[i] = fromSignedKey(key)
		}
	}
	s.slot, s.prefixes, s.inBucket = nil, nil, nil
	s.pass = 2
	return nil
}

// nanKey is the signed key of every NaN: after +Inf.
const nanKey = 0xffffffff

// signedKey maps a float32 to a uint32 whose unsigned order is the float
// order: positive values get the sign bit set, negative values are
// complemented. −0 sorts just below +0 (both return as +0); NaNs share
// nanKey.
func signedKey(v float32) uint32 {
	b := math.Float32bits(v)
	if b&0x7fffffff > 0x7f800000 {
		return nanKey
	}
	return b ^ (uint32(int32(b)>>31) | 0x80000000)
}

// absKey is the bit pattern of |v|, which orders like |v| (NaNs last).
func absKey(v float32) uint32 { return math.Float32bits(v) & 0x7fffffff }

// fromSignedKey inverts signedKey, returning zeros as +0 and NaN as the
// canonical quiet NaN.
func fromSignedKey(k uint32) float32 {
	if k == nanKey {
		return float32(math.NaN())
	}
	var b uint32
	if k&0x80000000 != 0 {
		b = k &^ 0x80000000
	} else {
		b = ^k
	}
	if b == 0x80000000 {
		b = 0
	}
	return math.Float32frombits(b)
}

func histHigh16(hist []uint64, vals []float32) {
	hist = hist[:1<<16]
	for _, v := range vals {
		hist[signedKey(v)>>16]++
	}
}

// histLow16Few is the second pass for at most four buckets: comparisons
// with the prefixes (rarely true, so well predicted) instead of a table
// lookup. In the absolute order the zeros, often a large part of the data
// (and then in the lowest bucket, where a needed rank often falls), are
// counted apart without a branch, so that they never take the comparisons'
// rarely-taken path.
func histLow16Few(h [][]uint64, vals []float32, few *[4]int32, abs bool) {
	p0, p1, p2, p3 := few[0], few[1], few[2], few[3]
	var h0, h1, h2, h3 []uint64
	h0 = h[0][:1<<16]
	if len(h) > 1 {
		h1 = h[1][:1<<16]
	}
	if len(h) > 2 {
		h2 = h[2][:1<<16]
	}
	if len(h) > 3 {
		h3 = h[3][:1<<16]
	}
	if abs {
		hs := [4][]uint64{h0, h1, h2, h3}
		zeros := histAbsLow16Few(&hs, vals, few)
		if p0 == 0 {
			h0[0] += zeros
		}
		return
	}
	for _, v := range vals {
		k := signedKey(v)
		switch int32(k >> 16) {
		case p0:
			h0[k&0xffff]++
		case p1:
			h1[k&0xffff]++
		case p2:
			h2[k&0xffff]++
		case p3:
			h3[k&0xffff]++
		}
	}
}

func histLow16Slots(h [][]uint64, vals []float32, slot []int32) {
	slot = slot[:1<<16]
	for _, v := range vals {
		k := signedKey(v)
		if i := slot[k>>16]; i >= 0 {
			h[i][k&0xffff]++
		}
	}
}

func histAbsLow16Slots(h [][]uint64, vals []float32, slot []int32) {
	slot = slot[:1<<16]
	for _, v := range vals {
		k := absKey(v)
		if i := slot[k>>16]; i >= 0 {
			h[i][k&0xffff]++
		}
	}
}

// histAbsLow16FewGeneric is the absolute-order loop of histLow16Few: it
// counts the low halves of the nonzero keys whose high half is one of few
// into the matching histogram of hs, and returns the number of zeros (key
// 0), which it leaves out.
func histAbsLow16FewGeneric(hs *[4][]uint64, vals []float32, few *[4]int32) uint64 {
	p0, p1, p2, p3 := few[0], few[1], few[2], few[3]
	h0, h1, h2, h3 := hs[0], hs[1], hs[2], hs[3]
	zeros := uint64(0)
	for _, v := range vals {
		k := absKey(v)
		z := (k - 1) >> 31 // 1 for ±0 (key 0), else 0: keys are < 2³¹
		zeros += uint64(z)
		// A zero's high half becomes 0x10000, which no prefix equals.
		switch int32(k>>16 | z<<16) {
		case p0:
			h0[k&0xffff]++
		case p1:
			h1[k&0xffff]++
		case p2:
			h2[k&0xffff]++
		case p3:
			h3[k&0xffff]++
		}
	}
	return zeros
}

// countMatches adds the low halves of the keys of vals[i] for the bits i
// set in masks (one byte per 8 values) to the histogram of their prefix.
func countMatches(hs *[4][]uint64, vals []float32, masks []uint8, few *[4]int32) {
	for j, mb := range masks {
		for m := uint(mb); m != 0; m &= m - 1 {
			k := absKey(vals[8*j+bits.TrailingZeros(m)])
			for i, p := range few {
				if int32(k>>16) == p {
					hs[i][k&0xffff]++
					break
				}
			}
		}
	}
}
