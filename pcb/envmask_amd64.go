//go:build !purego

package pcb

import "golang.org/x/sys/cpu"

// envMaskAVX2 is envMaskGeneric over n entries, n a multiple of 8.
//
//go:noescape
func envMaskAVX2(mask *uint8, x, tau *float32, n int, p *envParams)

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// envMask is envMaskGeneric, in AVX2 where the CPU has it.
func envMask(mask []uint8, x, tau []float32, p *envParams) {
	if !useAVX2 || len(x) == 0 {
		envMaskGeneric(mask, x, tau, p)
		return
	}
	_ = mask[len(x)/8-1]
	_ = tau[len(x)-1]
	envMaskAVX2(&mask[0], &x[0], &tau[0], len(x), p)
}

// countPositiveProductsAVX2 is countPositiveProductsGeneric over n entries,
// n a multiple of 8.
//
//go:noescape
func countPositiveProductsAVX2(a, b *float32, n int) int

func countPositiveProductsArch(a, b []float32) int {
	nv := len(a) &^ 7
	if !useAVX2 || nv == 0 {
		return countPositiveProductsGeneric(a, b)
	}
	_ = b[len(a)-1]
	return countPositiveProductsAVX2(&a[0], &b[0], nv) + countPositiveProductsGeneric(a[nv:], b[nv:len(a)])
}

// compressAVX2 is compressGeneric over ngroups mask bytes; it stores 8
// lanes per group, so idx and dx need room for 8·ngroups values. iota is
// start + 0…7.
//
//go:noescape
func compressAVX2(idx *int32, dx, x *float32, masks *uint8, ngroups int, perm *[256][8]int32, iota *[8]int32) int

// compressPerm holds, for each 8-bit mask, the positions of its set bits in
// ascending order (the rest 0): the lane permutation that packs the kept
// values to the front. Read-only after initialisation.
var compressPerm = func() *[256][8]int32 {
	var p [256][8]int32
	for m := range 256 {
		c := 0
		for t := range 8 {
			if m>>t&1 != 0 {
				p[m][c] = int32(t)
				c++
			}
		}
	}
	return &p
}()

// compress is compressGeneric, in AVX2 where the CPU has it.
func compress(idx []int32, dx, x []float32, masks []uint8, start int32) int {
	if !useAVX2 || len(masks) == 0 {
		return compressGeneric(idx, dx, x, masks, start)
	}
	n := 8 * len(masks)
	_, _, _ = idx[n-1], dx[n-1], x[n-1]
	iota := [8]int32{start, start + 1, start + 2, start + 3, start + 4, start + 5, start + 6, start + 7}
	return compressAVX2(&idx[0], &dx[0], &x[0], &masks[0], len(masks), compressPerm, &iota)
}
