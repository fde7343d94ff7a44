//go:build !purego

package orderstat

import "golang.org/x/sys/cpu"

// absFewMaskAVX2 sets bit t of mask[j] when the key of x[8j+t] (its bits
// with the sign cleared) is nonzero and its high half equals one of the
// four prefixes pre (−1 matches nothing), for n a multiple of 8, and returns
// how many keys are zero.
//
//go:noescape
func absFewMaskAVX2(mask *uint8, x *float32, n int, pre *[4]int32) int

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// histAbsLow16Few is histAbsLow16FewGeneric, with the matching done in AVX2
// where the CPU has it: only the (few) matching values take the scalar path.
func histAbsLow16Few(hs *[4][]uint64, vals []float32, few *[4]int32) uint64 {
	if !useAVX2 {
		return histAbsLow16FewGeneric(hs, vals, few)
	}
	var masks [512]uint8
	zeros := uint64(0)
	for lo := 0; lo < len(vals); lo += 8 * len(masks) {
		part := vals[lo:min(lo+8*len(masks), len(vals))]
		nv := len(part) &^ 7
		if nv > 0 {
			zeros += uint64(absFewMaskAVX2(&masks[0], &part[0], nv, few))
			countMatches(hs, part, masks[:nv/8], few)
		}
		zeros += histAbsLow16FewGeneric(hs, part[nv:], few)
	}
	return zeros
}
