//go:build !purego

package tasks

import "unsafe"

// windowMultiAVX2 is windowMultiGeneric over n entries (n a multiple of
// 8, k ≥ 1 queries).
//
//go:noescape
func windowMultiAVX2(qs *windowArg, k int, b *uint16, n int, perm *[256]uint64)

// windowMulti is windowMultiGeneric, in AVX2 where the CPU has it.
func windowMulti(qs []windowArg, b []uint16) {
	nv := len(b) &^ 7
	if !useAVX2 || nv == 0 || len(qs) == 0 {
		windowMultiGeneric(qs, b)
		return
	}
	windowMultiAVX2(&qs[0], len(qs), &b[0], nv, compactBytes)
	if nv == len(b) {
		return
	}
	tail := make([]windowArg, len(qs))
	for i, q := range qs {
		q.x = (*uint16)(unsafe.Add(unsafe.Pointer(q.x), 2*nv))
		tail[i] = q
	}
	windowMultiGeneric(tail, b[nv:])
	for i := range qs {
		qs[i].count, qs[i].above, qs[i].eqLo, qs[i].eqHi = tail[i].count, tail[i].above, tail[i].eqLo, tail[i].eqHi
	}
}
