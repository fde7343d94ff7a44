package tasks

import (
	"encoding/binary"

	"github.com/gomerge/gomerge/merge"
)

// DARE's masks are drawn from merge.Task.RNG: a math/rand/v2 ChaCha8
// generator per (seed, tensor, model, chunk), two 32-bit draws per 64-bit
// value. Calling Rand.Uint64 per value costs more than everything else
// the merge does, so the blocked passes compute the same values in bulk:
// chachaIterationGeneric is the ChaCha8Rand construction math/rand/v2
// implements (c2sp.org/chacha8rand), written from its specification, and
// chachaMask turns whole iterations into keep masks (in AVX2 without
// storing the values). Tests compare the values with Task.RNG and the
// masks with the documented rule.

// chachaWords is the number of 64-bit values one ChaCha8Rand iteration
// produces (16 ChaCha8 blocks = 128 values, the last 4 reseed).
const chachaWords = 124

// rngKey is merge.RNGKey as the four little-endian words ChaCha8Rand
// seeds from.
func rngKey(seed uint64, tensor string, model, chunk int) [4]uint64 {
	sum := merge.RNGKey(seed, tensor, model, chunk)
	var key [4]uint64
	for i := range key {
		key[i] = binary.LittleEndian.Uint64(sum[8*i:])
	}
	return key
}

// chachaStream is the state of one ChaCha8Rand stream: the seed of its
// next iteration, that iteration's values (buf; the tests hand them out as
// rand.New(rand.NewChaCha8(key)).Uint64 would), and scratch for the AVX2
// kernel. chachaMask turns its iterations into keep masks.
type chachaStream struct {
	seed  [4]uint64
	buf   [128]uint64
	pos   int // next value of buf to hand out
	state [16][8]uint32
}

// chachaIterationGeneric fills s.buf with one iteration of 16 ChaCha8
// blocks (counters 0 to 15) keyed by s.seed, in the construction's layout:
// per group of four blocks, 32 values holding word w of block j as 32-bit
// value 4w + j (little-endian halves).
func chachaIterationGeneric(s *chachaStream) {
	var key [8]uint32
	for i, v := range s.seed {
		key[2*i], key[2*i+1] = uint32(v), uint32(v>>32)
	}
	clear(s.buf[:])
	for blk := range uint32(16) {
		x := [16]uint32{0x61707865, 0x3320646e, 0x79622d32, 0x6b206574}
		copy(x[4:12], key[:])
		x[12] = blk
		for range 4 {
			quarterRound(&x, 0, 4, 8, 12)
			quarterRound(&x, 1, 5, 9, 13)
			quarterRound(&x, 2, 6, 10, 14)
			quarterRound(&x, 3, 7, 11, 15)
			quarterRound(&x, 0, 5, 10, 15)
			quarterRound(&x, 1, 6, 11, 12)
			quarterRound(&x, 2, 7, 8, 13)
			quarterRound(&x, 3, 4, 9, 14)
		}
		for w := 4; w < 12; w++ {
			x[w] += key[w-4]
		}
		group, j := blk/4, blk%4
		for w, v := range x {
			idx := 32*group + 2*uint32(w) + j/2
			s.buf[idx] |= uint64(v) << (32 * (j % 2))
		}
	}
}

func quarterRound(x *[16]uint32, a, b, c, d int) {
	x[a] += x[b]
	x[d] ^= x[a]
	x[d] = x[d]<<16 | x[d]>>16
	x[c] += x[d]
	x[b] ^= x[c]
	x[b] = x[b]<<12 | x[b]>>20
	x[a] += x[b]
	x[d] ^= x[a]
	x[d] = x[d]<<8 | x[d]>>24
	x[c] += x[d]
	x[b] ^= x[c]
	x[b] = x[b]<<7 | x[b]>>25
}

// chachaElems is the number of keep-mask bits one ChaCha8Rand iteration
// gives (one per 32-bit half of its chachaWords values), chachaMaskBytes
// the bytes they fill.
const (
	chachaElems     = 2 * chachaWords
	chachaMaskBytes = chachaElems / 8
)

// chachaMaskGeneric runs iters iterations of the stream from its seed and
// sets bits[chachaMaskBytes·i:] to iteration i's keep mask: bit e (byte
// e>>3, bit e&7) set when the iteration's 32-bit value e (the low half of
// value e/2 when e is even, else the high half) is below thr. bits needs
// chachaMaskBytes·iters+1 bytes; the last one is scratch (the AVX2 kernel
// writes it). A stream serves either fill or chachaMask: this leaves its
// buffered values invalid.
func chachaMaskGeneric(s *chachaStream, bits []byte, iters int, thr uint32) {
	if iters <= 0 {
		return
	}
	_ = bits[chachaMaskBytes*iters]
	for i := range iters {
		chachaIterationGeneric(s)
		out := bits[chachaMaskBytes*i:]
		for b := range chachaMaskBytes {
			var m byte
			for j, v := range s.buf[4*b : 4*b+4] {
				if uint32(v) < thr {
					m |= 1 << (2 * j)
				}
				if uint32(v>>32) < thr {
					m |= 2 << (2 * j)
				}
			}
			out[b] = m
		}
		s.seed = [4]uint64(s.buf[chachaWords:])
	}
	bits[chachaMaskBytes*iters] = 0
}
