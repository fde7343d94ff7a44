package tasks

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/gomerge/gomerge/merge"
)

// TestChachaStreamMatchesTaskRNG checks that the bulk stream gives the
// values of merge.RNG's generator, across reseeds (every 124 values), for
// several keys and read sizes.
func TestChachaStreamMatchesTaskRNG(t *testing.T) {
	for _, c := range []struct {
		seed          uint64
		tensor        string
		model, chunk  int
		piece, values int
	}{
		{0, "w", 0, 0, 1, 300},
		{1, "model.layers.3.mlp.up_proj.weight", 2, 7, 123, 1000},
		{42, "x", 1, 1000, 8192, 20000},
	} {
		want := merge.RNG(c.seed, c.tensor, c.model, c.chunk)
		s := newChachaStream(rngKey(c.seed, c.tensor, c.model, c.chunk))
		got := make([]uint64, c.values)
		for lo := 0; lo < len(got); lo += c.piece {
			s.fill(got[lo:min(lo+c.piece, len(got))])
		}
		for i, g := range got {
			if w := want.Uint64(); g != w {
				t.Fatalf("%+v: value %d: %x, Task.RNG %x", c, i, g, w)
			}
		}
	}
}

// newChachaStream returns the stream of key, which fill hands out.
func newChachaStream(key [4]uint64) *chachaStream {
	return &chachaStream{seed: key, pos: chachaWords}
}

// fill sets dst to the stream's next len(dst) values.
func (s *chachaStream) fill(dst []uint64) {
	for len(dst) > 0 {
		if s.pos == chachaWords {
			s.refill()
		}
		n := copy(dst, s.buf[s.pos:chachaWords])
		s.pos += n
		dst = dst[n:]
	}
}

// refill computes the next iteration into buf and reseeds (pos must be
// chachaWords: every value of buf handed out).
func (s *chachaStream) refill() {
	chachaIterationGeneric(s)
	s.seed = [4]uint64(s.buf[chachaWords:])
	s.pos = 0
}

func BenchmarkChachaStream(b *testing.B) {
	s := newChachaStream(rngKey(1, "w", 0, 0))
	buf := make([]uint64, fusedBlock/2)
	b.SetBytes(8 * int64(len(buf)))
	for b.Loop() {
		s.fill(buf)
	}
}

func BenchmarkTaskRNG(b *testing.B) {
	r := merge.RNG(1, "w", 0, 0)
	buf := make([]uint64, fusedBlock/2)
	b.SetBytes(8 * int64(len(buf)))
	for b.Loop() {
		for i := range buf {
			buf[i] = r.Uint64()
		}
	}
}

func BenchmarkChachaIteration(b *testing.B) {
	s := newChachaStream(rngKey(1, "w", 0, 0))
	b.SetBytes(1024)
	for b.Loop() {
		chachaIterationGeneric(s)
	}
}

// streamMaskNext is maskDraw.next as it was before chachaMask: the mask
// bits of the next n elements from the stream's buffered values (s.pos a
// multiple of 4: every earlier block a multiple of 8 elements), or from
// fill into words. The reference path of the tests and benchmarks.
func streamMaskNext(s *chachaStream, words []uint64, bits []byte, n int, thr uint64) {
	bits = bits[:(n+7)/8]
	if thr <= 0xffffffff && s.pos%4 == 0 {
		for done := 0; done < n; {
			if s.pos == chachaWords {
				s.refill()
			}
			m := min(chachaWords-s.pos, (n-done+1)/2)
			e := min(2*m, n-done)
			r := unsafe.Slice((*uint32)(unsafe.Pointer(&s.buf[s.pos])), 2*m)[:e]
			maskBitsGeneric(bits[done/8:], r, uint32(thr))
			s.pos += m
			done += e
		}
		return
	}
	nw := (n + 1) / 2
	w := words[:nw]
	s.fill(w)
	if thr > 0xffffffff {
		for i := range bits {
			bits[i] = 0xff
		}
		if r := n & 7; r != 0 {
			bits[len(bits)-1] = 1<<r - 1
		}
		return
	}
	maskBitsGeneric(bits, unsafe.Slice((*uint32)(unsafe.Pointer(&w[0])), 2*nw)[:n], uint32(thr))
}

// rngMask is the documented rule on merge.RNG's generator (math/rand/v2's
// ChaCha8): element e is kept when 32-bit value e is below thr, the low
// half of each Uint64 first.
func rngMask(seed uint64, tensor string, model, chunk, n int, thr uint64) []byte {
	r := merge.RNG(seed, tensor, model, chunk)
	bits := make([]byte, (n+7)/8)
	for e := 0; e < n; e += 2 {
		v := r.Uint64()
		if v&0xffffffff < thr {
			bits[e>>3] |= 1 << (e & 7)
		}
		if e+1 < n && v>>32 < thr {
			bits[(e+1)>>3] |= 1 << ((e + 1) & 7)
		}
	}
	return bits
}

// TestMaskDrawMatchesRNG draws chunks' masks block by block through
// maskDraw.next and checks every bit against math/rand/v2's ChaCha8 and
// the documented rule, and, where the old stream path applies (blocks of a
// multiple of 8 elements but the last), against it too; the bytes after
// each block's mask must stay untouched.
func TestMaskDrawMatchesRNG(t *testing.T) {
	const b = fusedBlock
	blockings := [][]int{
		{1}, {7}, {8}, {247}, {248}, {249}, {b}, {b + 3},
		{b, b, 5000}, {b, b, b, 1}, {b, 248}, {b, b - 8},
		// Multiples of 8 that do not fill whole iterations or blocks.
		{8, 16, 240, 248, 256, 1000, 7},
		// Odd block lengths mid-chunk (not the blocked passes' order,
		// but next must still hand out the stream in order).
		{7, 248, 1, b, 3}, {249, 249, 13},
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	thrs := []uint64{0, 1, 0x80000000, 0xffffffff, 1 << 32}
	for range 3 {
		thrs = append(thrs, uint64(rnd.Uint32()))
	}
	for seed := range uint64(4) {
		for bi, blocks := range blockings {
			n := 0
			for _, l := range blocks {
				n += l
			}
			for ti, thr := range thrs {
				tensor, model, chunk := "model.layers.0.mlp.up_proj.weight", int(seed)%3, bi+7*ti
				want := rngMask(seed, tensor, model, chunk, n, thr)
				d := &maskDraw{rng: new(chachaStream), thr: thr, used: chachaElems}
				d.rng.seed = rngKey(seed, tensor, model, chunk)
				old := newChachaStream(rngKey(seed, tensor, model, chunk))
				aligned := true
				buf := make([]byte, b/8+64)
				oldBuf := make([]byte, b/8+64)
				words := make([]uint64, (b+3)/2+1)
				at := 0
				for i, l := range blocks {
					for j := range buf {
						buf[j] = 0xa5
					}
					d.next(buf, l)
					for j := (l + 7) / 8; j < len(buf); j++ {
						if buf[j] != 0xa5 {
							t.Fatalf("seed %d blocks %v thr %#x: block %d: byte %d after the mask written", seed, blocks, thr, i, j)
						}
					}
					if r := l & 7; r != 0 && buf[(l-1)/8]>>r != 0 {
						t.Fatalf("seed %d blocks %v thr %#x: block %d: bits above %d set: %08b", seed, blocks, thr, i, l, buf[(l-1)/8])
					}
					if aligned {
						streamMaskNext(old, words, oldBuf, l, thr)
					}
					for e := range l {
						got := buf[e>>3] >> (e & 7) & 1
						w := want[(at+e)>>3] >> ((at + e) & 7) & 1
						if got != w {
							t.Fatalf("seed %d blocks %v thr %#x: element %d (block %d): %d, rand/v2 %d", seed, blocks, thr, at+e, i, got, w)
						}
						if aligned && got != oldBuf[e>>3]>>(e&7)&1 {
							t.Fatalf("seed %d blocks %v thr %#x: element %d (block %d): %d, stream path differs", seed, blocks, thr, at+e, i, got)
						}
					}
					at += l
					aligned = aligned && l%8 == 0
				}
			}
		}
	}
}

// TestChachaMaskMatchesGeneric compares chachaMask (AVX2 where the CPU
// has it) with chachaMaskGeneric over several iterations per call, with
// the seeds they leave, and checks the ones written with the values of
// chachaIterationGeneric.
func TestChachaMaskMatchesGeneric(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		key := rngKey(uint64(i), "t", i, 3*i)
		thr := []uint32{0, 1, 0x80000000, 0xffffffff, rnd.Uint32()}[i%5]
		iters := 1 + i%7
		a, b := newChachaStream(key), newChachaStream(key)
		ga := make([]byte, chachaMaskBytes*iters+8)
		gb := make([]byte, chachaMaskBytes*iters+8)
		for j := range ga {
			ga[j], gb[j] = 0x5a, 0x5a
		}
		chachaMask(a, ga, iters, thr)
		chachaMaskGeneric(b, gb, iters, thr)
		if !bytes.Equal(ga[:chachaMaskBytes*iters], gb[:chachaMaskBytes*iters]) {
			t.Fatalf("key %d thr %#x iters %d: masks differ:\n%x\n%x", i, thr, iters, ga, gb)
		}
		for j := chachaMaskBytes*iters + 1; j < len(ga); j++ {
			if ga[j] != 0x5a {
				t.Fatalf("key %d: byte %d past the scratch byte written", i, j)
			}
		}
		if a.seed != b.seed {
			t.Fatalf("key %d: seeds after %d iterations differ", i, iters)
		}
		// The generic one from the stream's values.
		s := newChachaStream(key)
		for it := range iters {
			vals := make([]uint32, chachaElems)
			for e := range vals {
				if e%2 == 0 {
					if s.pos == chachaWords {
						s.refill()
					}
					v := s.buf[s.pos]
					s.pos++
					vals[e], vals[e+1] = uint32(v), uint32(v>>32)
				}
			}
			want := make([]byte, chachaMaskBytes)
			maskBitsGeneric(want, vals, thr)
			if got := gb[chachaMaskBytes*it : chachaMaskBytes*(it+1)]; !bytes.Equal(got, want) {
				t.Fatalf("key %d thr %#x: iteration %d: generic mask %x, from the stream %x", i, thr, it, got, want)
			}
		}
	}
}

// BenchmarkMaskDraw compares, per element, the masks of a chunk drawn
// block by block from the stream's buffered values and the reference
// threshold compare, maskBitsGeneric (stream), with chachaMask's fused
// kernel (fused).
func BenchmarkMaskDraw(b *testing.B) {
	const chunk = 64 * fusedBlock
	key := rngKey(1, "w", 0, 0)
	bits := make([]byte, fusedBlock/8)
	b.Run("stream", func(b *testing.B) {
		words := make([]uint64, fusedBlock/2)
		for b.Loop() {
			s := newChachaStream(key)
			for lo := 0; lo < chunk; lo += fusedBlock {
				streamMaskNext(s, words, bits, fusedBlock, 0x80000000)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/chunk, "ns/elem")
	})
	b.Run("fused", func(b *testing.B) {
		d := &maskDraw{rng: new(chachaStream), thr: 0x80000000}
		for b.Loop() {
			d.rng.seed, d.used = key, chachaElems
			for lo := 0; lo < chunk; lo += fusedBlock {
				d.next(bits, fusedBlock)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/chunk, "ns/elem")
	})
}

func BenchmarkChachaMask(b *testing.B) {
	s := newChachaStream(rngKey(1, "w", 0, 0))
	const iters = 64
	bits := make([]byte, chachaMaskBytes*iters+1)
	b.SetBytes(1024 * iters)
	for b.Loop() {
		chachaMask(s, bits, iters, 0x80000000)
	}
}
