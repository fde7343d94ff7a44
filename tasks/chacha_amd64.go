//go:build !purego

package tasks

// chachaMaskAVX2 is chachaMaskGeneric for iters ≥ 0 iterations into the
// 31·iters+1 bytes at bits, computing the blocks and comparing their
// words with thr in registers; state is scratch.
//
//go:noescape
func chachaMaskAVX2(state *[16][8]uint32, seed *[4]uint64, bits *byte, iters int, thr uint32)

// chachaMask is chachaMaskGeneric, in AVX2 where the CPU has it.
func chachaMask(s *chachaStream, bits []byte, iters int, thr uint32) {
	if !useAVX2 {
		chachaMaskGeneric(s, bits, iters, thr)
		return
	}
	if iters <= 0 {
		return
	}
	_ = bits[chachaMaskBytes*iters]
	chachaMaskAVX2(&s.state, &s.seed, &bits[0], iters, thr)
}
