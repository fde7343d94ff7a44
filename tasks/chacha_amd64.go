//go:build !purego

package tasks

// chachaBlocks8AVX2 computes the 8 ChaCha8 blocks of counters counter to
// counter+7 keyed by seed, using state as scratch, and stores them in the
// ChaCha8Rand layout as 64 values at out (two groups of four blocks).
//
//go:noescape
func chachaBlocks8AVX2(state *[16][8]uint32, seed *[4]uint64, out *uint64, counter uint32)

// chachaIteration is chachaIterationGeneric, in AVX2 where the CPU has it.
func chachaIteration(s *chachaStream) {
	if !useAVX2 {
		chachaIterationGeneric(s)
		return
	}
	chachaBlocks8AVX2(&s.state, &s.seed, &s.buf[0], 0)
	chachaBlocks8AVX2(&s.state, &s.seed, &s.buf[64], 8)
}

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
