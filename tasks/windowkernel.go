package tasks

import (
	"math"
	"unsafe"
)

// windowArg is one window query of windowMulti over a block: its model's
// stored values, where its collected bit patterns go, its counts so far,
// and its window [lo, hi] as 8-lane rows, as windowMultiAVX2 reads it
// (offsets 0, 8, 16, 24, 32, 40, 48, 80).
type windowArg struct {
	x     *uint16 // the model's stored bf16 values of the block
	dst   *uint32 // room for the block's length + 8 more values
	count int64   // values stored at dst so far
	above int64   // values above hi so far
	eqLo  int64   // values equal to lo so far
	eqHi  int64   // values equal to hi so far
	lo    [8]uint32
	hi    [8]uint32
}

// newWindowArg returns the query [lo, hi] of model values x (at least the
// block's length) collecting into dst, which must have room for the
// block's length + 8 values.
func newWindowArg(x []uint16, dst []uint32, lo, hi uint32) windowArg {
	a := windowArg{x: &x[0], dst: &dst[0]}
	for i := range 8 {
		a.lo[i], a.hi[i] = lo, hi
	}
	return a
}

// windowMultiGeneric runs every query of qs over the block b: of the |δ|
// bit patterns a of δ = x − b, those strictly inside the query's window
// (lo < a < hi) are appended at its dst in position order (advancing
// count), and those above hi, equal to lo and equal to hi counted (with
// lo = hi, a value equal to both counts in both).
func windowMultiGeneric(qs []windowArg, b []uint16) {
	for i := range qs {
		q := &qs[i]
		x := unsafe.Slice(q.x, len(b))
		dst := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(q.dst), 4*q.count)), len(b)+8)
		lo, hi := q.lo[0], q.hi[0]
		n := 0
		for j := range b {
			a := math.Float32bits(bf16Value(x[j])-bf16Value(b[j])) & 0x7fffffff
			switch {
			case a > hi:
				q.above++
			case a > lo && a < hi:
				dst[n] = a
				n++
			}
			if a == hi {
				q.eqHi++
			}
			if a == lo {
				q.eqLo++
			}
		}
		q.count += int64(n)
	}
}

// compactBytes holds, for each 8-bit mask, the positions of its set bits
// in order as bytes (a little-endian word; the rest zero): VPMOVZXBD turns
// an entry into the VPERMD indices that pack the mask's lanes to the
// front. Read-only.
var compactBytes = func() *[256]uint64 {
	var p [256]uint64
	for m := range 256 {
		c := 0
		for t := range 8 {
			if m>>t&1 != 0 {
				p[m] |= uint64(t) << (8 * c)
				c++
			}
		}
	}
	return &p
}()
