package tasks

import "unsafe"

// windowArg is one window query of windowMulti over a block: its model's
// stored values, where its collected bit patterns go, its counts so far,
// and its window [lo, hi] as windowMultiAVX2 reads it (offsets 0, 8, 16,
// 24, 32, 36).
type windowArg struct {
	x     *uint16 // the model's stored bf16 values of the block
	dst   *uint32 // room for the block's length + 8 more values
	count int64   // values stored at dst so far
	above int64   // values above hi so far
	loM1  uint32  // lo − 1 (as int32: −1 when lo is 0)
	hi    uint32
}

// newWindowArg returns the query [lo, hi] of model values x (at least the
// block's length) collecting into dst, which must have room for the
// block's length + 8 values.
func newWindowArg(x []uint16, dst []uint32, lo, hi uint32) windowArg {
	return windowArg{x: &x[0], dst: &dst[0], loM1: lo - 1, hi: hi}
}

// windowMultiGeneric is windowBF16Generic for every query of qs over the
// block b: each query's |δ| bit patterns inside its window are appended at
// its dst (advancing count), and those above hi counted.
func windowMultiGeneric(qs []windowArg, b []uint16) {
	for i := range qs {
		q := &qs[i]
		x := unsafe.Slice(q.x, len(b))
		dst := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(q.dst), 4*q.count)), len(b)+8)
		lo := q.loM1 + 1
		c, a := windowBF16Generic(dst, x, b, lo, q.hi-lo, q.hi)
		q.count += int64(c)
		q.above += int64(a)
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
