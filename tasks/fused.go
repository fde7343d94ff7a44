package tasks

import (
	"context"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/gomerge/gomerge/merge"
)

// The blocked bf16 passes of TIES and DARE-TIES. When the base and every
// model store bf16 (merge.RawSources), a pass reads the stored values in
// blocks of fusedBlock elements into buffers that stay in the core's L2
// cache and runs one fused kernel per block (fusedkernels.go) instead of
// converting million-element chunks to float32 and running one kernel after
// another over them. Chunks, per-chunk random streams, tie hand-over and
// summation order are those of the float32 path, so the output is the
// same bit for bit; the float32 path remains for other dtypes and options.

// fusedBlock is the number of elements a blocked pass handles at a time: a
// multiple of l1Lanes and of 8, small enough that the block's stored
// values, masks and output stay in L2.
const fusedBlock = 16 << 10

// maxMaskCache bounds the memory (bytes) of the random keep masks the L1
// pass of DARE keeps for the merge pass; a larger tensor draws them again.
const maxMaskCache = 256 << 20

// allKeep is a keep mask of fusedBlock set bits. Read-only.
var allKeep = func() []byte {
	b := make([]byte, fusedBlock/8)
	for i := range b {
		b[i] = 0xff
	}
	return b
}()

// rawBlock holds one source's stored bf16 values of a block.
type rawBlock struct {
	b []byte
	u []uint16
}

// rawPool recycles the blocks of the blocked passes.
var rawPool = sync.Pool{New: func() any {
	b := make([]byte, 2*fusedBlock)
	return &rawBlock{b: b, u: unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), fusedBlock)}
}}

func getRawBlock() *rawBlock  { return rawPool.Get().(*rawBlock) }
func putRawBlock(r *rawBlock) { rawPool.Put(r) }

// read fills the block with n values of src from element off.
func (r *rawBlock) read(src merge.RawReader, off int64, n int) ([]uint16, error) {
	if err := src.ReadRaw(r.b[:2*n], off); err != nil {
		return nil, err
	}
	return r.u[:n], nil
}

// fused reports whether the merge of t can take the blocked bf16 path when
// its sources store bf16: a weighted sign-consensus merge pruned by
// magnitude (with every threshold tie count known before the pass; chain
// nil: none needed) or by random masks without exact rescaling.
func (m *gta) fused(t *merge.Task, chain *eqChain) bool {
	if m.refOnly || !m.v.consensus || m.unweighted || m.rescale == rescaleExact || len(t.Inputs) > maxFusedModels {
		return false
	}
	switch m.v.sparse {
	case sparseMagnitude, sparseOutliers:
		return chain == nil || chain.complete()
	case sparseRandom:
		return m.draw == nil
	}
	return false
}

// usesBF16Passes reports whether some pass over t may read the stored bf16
// values in blocks (the window pass of the magnitude methods, the passes
// of fused): Merge then maps the inputs once for all of them.
func (m *gta) usesBF16Passes(t *merge.Task) bool {
	if m.refOnly {
		return false
	}
	switch m.v.sparse {
	case sparseMagnitude, sparseOutliers:
		if !m.modelScope && !m.radixOnly {
			return true
		}
	}
	return m.fused(t, nil)
}

// complete reports whether every chunk's counts are published.
func (c *eqChain) complete() bool { return c.known[len(c.known)-1] }

// maskCache holds the keep masks of the sparsified models of one tensor,
// one bit per element (bit i&7 of byte i>>3), as the L1 pass drew them.
type maskCache struct {
	bits [][]byte // by model; nil for models without a mask
}

// maskBufs recycles the bits of mask caches by size class (capacity 1<<c
// in maskBufs[c]): fresh memory for every tensor would cost zeroing and
// page faults. The L1 pass writes every byte it hands out.
var maskBufs [48]sync.Pool

// getMaskBuf returns a buffer of n bytes (contents undefined).
func getMaskBuf(n int) []byte {
	c := bits.Len(uint(max(n, 1) - 1))
	if p, ok := maskBufs[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<c)
}

// release gives the cache's buffers back (c may be nil).
func (c *maskCache) release() {
	if c == nil {
		return
	}
	for k, b := range c.bits {
		if cl := bits.Len(uint(max(cap(b), 1) - 1)); b != nil && cap(b) == 1<<cl {
			maskBufs[cl].Put(&b)
		}
		c.bits[k] = nil
	}
}

// maskDraw draws one model's keep masks of one chunk, block after block,
// from the chunk's random stream: element e of the chunk is kept when
// 32-bit value e of t.RNG(model, chunk) is below thr (each 64-bit value
// gives two, the low half first), as bernoulliMask draws them. The mask
// bits come from chachaMask, a ChaCha8Rand iteration (chachaElems
// elements) at a time; those of an iteration a block ends inside wait in
// pend for the next block.
type maskDraw struct {
	rng  *chachaStream // the seed of t.RNG(model, chunk)'s next iteration
	thr  uint64
	pend [chachaMaskBytes + 1]byte // the current iteration's mask bits
	used int                       // elements of pend handed out
}

// drawPool recycles the mask draws of the passes (one per model and
// chunk).
var drawPool = sync.Pool{New: func() any { return &maskDraw{rng: new(chachaStream)} }}

// newMaskDraw returns the draw of model k's masks in chunk c; give it back
// with putMaskDraw.
func newMaskDraw(t *merge.Task, k int, c merge.Chunk, density float64) *maskDraw {
	d := drawPool.Get().(*maskDraw)
	d.rng.seed = rngKey(t.Seed, t.Name, k, c.Index)
	d.thr = keepThreshold(float32(density))
	d.used = chachaElems
	return d
}

func putMaskDraw(d *maskDraw) { drawPool.Put(d) }

// next fills bits with the masks of the chunk's next n elements; the bits
// of a last partial byte above n are cleared. Blocks of a multiple of 8
// elements (all but a chunk's last) are handled byte by byte.
func (d *maskDraw) next(bits []byte, n int) {
	bits = bits[:(n+7)/8]
	if n == 0 {
		return
	}
	if d.thr > 0xffffffff {
		// Every value is below the threshold: the stream is not needed.
		for i := range bits {
			bits[i] = 0xff
		}
	} else {
		thr := uint32(d.thr)
		for o := 0; o < n; {
			if d.used == chachaElems {
				// Whole iterations straight into bits (each writes one
				// scratch byte past its mask bytes, which must be in bits).
				if k := min((n-o)/chachaElems, (len(bits)-o/8-1)/chachaMaskBytes); o%8 == 0 && k > 0 {
					chachaMask(d.rng, bits[o/8:], k, thr)
					o += k * chachaElems
					continue
				}
				chachaMask(d.rng, d.pend[:], 1, thr)
				d.used = 0
			}
			m := min(chachaElems-d.used, n-o)
			copyBits(bits, o, d.pend[:], d.used, m)
			d.used += m
			o += m
		}
	}
	if r := n & 7; r != 0 {
		bits[len(bits)-1] &= 1<<r - 1
	}
}

// copyBits copies bits [from, from+n) of src to bits [to, to+n) of dst
// (bit i is bit i&7 of byte i>>3). When both start on a byte, the bits of
// a last partial byte above n are overwritten too.
func copyBits(dst []byte, to int, src []byte, from, n int) {
	if to%8 == 0 && from%8 == 0 {
		copy(dst[to/8:], src[from/8:(from+n+7)/8])
		return
	}
	for i := range n {
		s, t := from+i, to+i
		bit := src[s>>3] >> (s & 7) & 1
		dst[t>>3] = dst[t>>3]&^(1<<(t&7)) | bit<<(t&7)
	}
}

// l1ScalesBF16 is l1Scales for random masks on bf16 tensors: one blocked
// pass sums |δ| and the kept |δ| per model and chunk (in simd.SumAbs's lane
// order). It returns the drawn masks when they fit in maxMaskCache.
func (m *gta) l1ScalesBF16(ctx context.Context, t *merge.Task, ps []modelPlan, in *bf16Inputs) (*maskCache, error) {
	n := t.Len()
	chunks := merge.Chunks(n, 1)
	K := len(ps)
	before := make([]float64, len(chunks)*K)
	after := make([]float64, len(chunks)*K)
	want := make([]bool, K)
	nw := 0
	for k := range ps {
		want[k] = ps[k].sparse && !ps[k].zero
		if want[k] {
			nw++
		}
	}
	var cache *maskCache
	if int64(nw)*((n+7)/8) <= m.maskBudget {
		cache = &maskCache{bits: make([][]byte, K)}
		for k := range ps {
			if want[k] {
				cache.bits[k] = getMaskBuf(int((n + 7) / 8))
			}
		}
	}
	err := t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		baseBuf, xBufs, release := in.readers(want, in.reader)
		defer release()
		acc := make([][2][l1Lanes]float64, K)
		draws := make([]*maskDraw, K)
		var scratch []byte
		if cache == nil {
			scratch = make([]byte, fusedBlock/8)
		}
		for k := range ps {
			if want[k] {
				draws[k] = newMaskDraw(t, k, c, ps[k].density)
				defer putMaskDraw(draws[k])
			}
		}
		err := in.guard(func() error {
			for lo := c.Lo; lo < c.Hi; lo += fusedBlock {
				bn := int(min(fusedBlock, c.Hi-lo))
				b, err := baseBuf.read(lo, bn)
				if err != nil {
					return err
				}
				for k := range ps {
					if !want[k] {
						continue
					}
					x, err := xBufs[k].read(lo, bn)
					if err != nil {
						return err
					}
					bits := scratch
					if cache != nil {
						bits = cache.bits[k][lo/8:]
					}
					draws[k].next(bits, bn)
					l1BF16(&acc[k], x, b, bits)
				}
			}
			in.dropEarly(c.Lo, c.Hi)
			return nil
		})
		if err != nil {
			return err
		}
		for k := range ps {
			if want[k] {
				before[c.Index*K+k] = combineL1Lanes(acc[k][0])
				after[c.Index*K+k] = combineL1Lanes(acc[k][1])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k := range ps {
		if !want[k] {
			continue
		}
		var b, a float64
		for c := range chunks {
			b += before[c*K+k]
			a += after[c*K+k]
		}
		if b >= 1e-7 && a >= 1e-7 {
			ps[k].scale = float32(b / a)
		}
	}
	return cache, nil
}

// finalBF16 is final for the merges fused accepts: one blocked pass
// computes the kept entries, the sign election and the merged values.
// A chunk whose models keep by bands or cached masks is merged as two
// halves (pieces) that run in parallel, so that a tensor's pieces keep
// both cores busy to the end; a chunk where a kept tie run starts or ends,
// or whose masks are drawn in the pass, is one piece.
func (m *gta) finalBF16(ctx context.Context, t *merge.Task, ps []modelPlan, chain *eqChain, in *bf16Inputs, cache *maskCache) error {
	whole := func(c merge.Chunk) bool {
		for k := range ps {
			p := &ps[k]
			if p.zero || !p.sparse {
				continue
			}
			switch m.v.sparse {
			case sparseMagnitude, sparseOutliers:
				if chain != nil {
					before, after := chain.prefix(c.Index), chain.prefix(c.Index+1)
					lo, hi := before[2*k], before[2*k+1]
					if _, _, rule := p.band.chunkRule(lo, hi, after[2*k]-lo, after[2*k+1]-hi); rule == ruleTies {
						return true
					}
				}
			case sparseRandom:
				if cache == nil {
					return true
				}
			}
		}
		return false
	}
	pieces := splitChunks(t, whole)
	items := make([]merge.Chunk, len(pieces))
	for i := range items {
		items[i] = merge.Chunk{Index: i}
	}
	return merge.Parallel(ctx, t.Threads(), items, func(it merge.Chunk) error {
		pc := pieces[it.Index]
		c := pc.chunk
		var before, after []int64
		if chain != nil {
			before, after = chain.prefix(c.Index), chain.prefix(c.Index+1)
		}
		type active struct {
			k        int
			ties     bool // the chunk holds the start or end of a kept tie run
			eqLo     int64
			eqHi     int64
			draw     *maskDraw
			cached   []byte
			buf      *blockReader
			bits     []byte
			eqs      []uint32 // scratch of the ties rule
			template fusedModel
		}
		var act []*active
		for k := range ps {
			p := &ps[k]
			if p.zero {
				continue
			}
			a := &active{k: k, template: fusedModel{from: 0, span: 0x7fffffff, scale: p.scale, w: p.weight}}
			if p.sparse {
				switch m.v.sparse {
				case sparseMagnitude, sparseOutliers:
					var lo, hi, inLo, inHi int64
					if before != nil {
						lo, hi = before[2*k], before[2*k+1]
						inLo, inHi = after[2*k]-lo, after[2*k+1]-hi
					}
					from, to, rule := p.band.chunkRule(lo, hi, inLo, inHi)
					switch rule {
					case ruleEmpty:
						continue
					case ruleTies:
						a.ties, a.eqLo, a.eqHi = true, lo, hi
						a.bits = make([]byte, fusedBlock/8)
						a.eqs = make([]uint32, fusedBlock+8)
					default:
						a.template.from, a.template.span = from, to-from
					}
				case sparseRandom:
					if cache != nil {
						a.cached = cache.bits[k]
					} else {
						a.draw = newMaskDraw(t, k, c, p.density)
						defer putMaskDraw(a.draw)
						a.bits = make([]byte, fusedBlock/8)
					}
				}
			}
			a.buf = in.reader(k + 1)
			defer a.buf.release()
			act = append(act, a)
		}
		baseBuf := in.reader(0)
		defer baseBuf.release()
		out := merge.GetFloats(fusedBlock)
		defer merge.PutFloats(out)
		// A bf16 output is encoded per piece and written at once.
		enc := newBF16Out(t, pc.lo, pc.hi)
		ms := make([]fusedModel, 0, len(act))
		err := in.guard(func() error {
			for lo := pc.lo; lo < pc.hi; lo += fusedBlock {
				bn := int(min(fusedBlock, pc.hi-lo))
				b, err := baseBuf.read(lo, bn)
				if err != nil {
					return err
				}
				ms = ms[:0]
				for _, a := range act {
					x, err := a.buf.read(lo, bn)
					if err != nil {
						return err
					}
					f := a.template
					f.x = x
					switch {
					case a.ties:
						if !ps[a.k].band.blockRule(&f, a.bits, a.eqs, x, b, &a.eqLo, &a.eqHi) {
							continue
						}
					case a.cached != nil:
						f.bits = a.cached[lo/8:]
					case a.draw != nil:
						a.draw.next(a.bits, bn)
						f.bits = a.bits
					}
					ms = append(ms, f)
				}
				if enc != nil {
					electBF16Encode(enc.at(lo, bn), out[:bn], b, ms, m.normalize, m.lambda)
					continue
				}
				electBF16(out[:bn], b, ms, m.normalize, m.lambda)
				if err := t.Out.Write(out[:bn], lo); err != nil {
					return err
				}
			}
			in.drop(pc.lo, pc.hi)
			return nil
		})
		if err != nil || enc == nil {
			enc.release()
			return err
		}
		return enc.write()
	})
}

// piece is a range [lo, hi) of a chunk that a pass handles as one item.
type piece struct {
	chunk  merge.Chunk
	lo, hi int64
}

// splitChunks returns the chunks of t in order, each split into two pieces
// (at a block boundary) unless whole(c) or the chunk is short.
func splitChunks(t *merge.Task, whole func(c merge.Chunk) bool) []piece {
	var out []piece
	for _, c := range merge.Chunks(t.Len(), 1) {
		if c.Len() < 4*fusedBlock || (whole != nil && whole(c)) {
			out = append(out, piece{c, c.Lo, c.Hi})
			continue
		}
		mid := c.Lo + int64(c.Len()/2/fusedBlock*fusedBlock)
		out = append(out, piece{c, c.Lo, mid}, piece{c, mid, c.Hi})
	}
	return out
}

// windowPassBF16 is windowPass on the stored bf16 values, block by block;
// the chunks are passed as halves (the queries' per-piece results, which
// resolveWindow folds into the chunks).
func windowPassBF16(ctx context.Context, t *merge.Task, in *bf16Inputs, want []bool, qs []*windowQuery, nChunks int) error {
	pieces := splitChunks(t, nil)
	chunkOf := make([]int, len(pieces))
	items := make([]merge.Chunk, len(pieces))
	for i, pc := range pieces {
		chunkOf[i] = pc.chunk.Index
		// c below is the piece: Index numbers the pieces.
		items[i] = merge.Chunk{Index: i, Lo: pc.lo, Hi: pc.hi}
	}
	shifts := make([]uint, len(qs))
	for i, q := range qs {
		q.alloc(len(pieces))
		q.hists = make([][]uint32, len(pieces))
		q.chunkOf = chunkOf
		shifts[i] = q.bucketShift()
	}
	var mu sync.Mutex
	total := make([]int64, len(qs))
	return merge.Parallel(ctx, t.Threads(), items, func(c merge.Chunk) error {
		baseBuf, bufs, release := in.readers(want, in.reader)
		defer release()
		xs := make([][]uint16, len(want))
		inside := make([][]uint32, len(qs))
		args := make([]windowArg, len(qs))
		hists := make([][]uint32, len(qs))
		above := make([]int64, len(qs))
		eqLo := make([]int64, len(qs))
		eqHi := make([]int64, len(qs))
		for i, q := range qs {
			// Room for the sample's share and a margin: growing is rare.
			inside[i] = getWindowBuf(int(q.frac*1.25*float64(c.Len())) + c.Len()/256 + fusedBlock + 8)
			hists[i] = make([]uint32, (q.hi-q.lo)>>shifts[i]+1)
		}
		err := in.guard(func() error {
			for lo := c.Lo; lo < c.Hi; lo += fusedBlock {
				bn := int(min(fusedBlock, c.Hi-lo))
				b, err := baseBuf.read(lo, bn)
				if err != nil {
					return err
				}
				for k := range want {
					if want[k] {
						if xs[k], err = bufs[k].read(lo, bn); err != nil {
							return err
						}
					}
				}
				for i, q := range qs {
					win := inside[i]
					if cap(win)-len(win) < bn+8 {
						grown := getWindowBuf(2*cap(win) + bn + 8)[:len(win)]
						copy(grown, win)
						putWindowBuf(win)
						win = grown
						inside[i] = win
					}
					args[i] = newWindowArg(xs[q.Stream], win[:cap(win)], q.lo, q.hi)
					args[i].count = int64(len(win))
				}
				windowMulti(args, b)
				for i, q := range qs {
					win := inside[i]
					n := int(args[i].count)
					countBuckets(hists[i], win[len(win):n], q.lo, shifts[i])
					inside[i] = win[:n]
					above[i] += args[i].above
					eqLo[i] += args[i].eqLo
					eqHi[i] += args[i].eqHi
				}
			}
			in.dropEarly(c.Lo, c.Hi)
			return nil
		})
		if err != nil {
			for i := range inside {
				putWindowBuf(inside[i])
			}
			return err
		}
		for i, q := range qs {
			mu.Lock()
			total[i] += int64(len(inside[i]))
			if total[i] > maxWindow {
				q.overflow = true
			}
			over := q.overflow
			mu.Unlock()
			q.above[c.Index] = above[i]
			q.eqLo[c.Index], q.eqHi[c.Index] = eqLo[i], eqHi[i]
			q.hists[c.Index] = hists[i]
			if !over {
				q.inside[c.Index] = inside[i]
			} else {
				putWindowBuf(inside[i])
			}
		}
		return nil
	})
}

// blockRule sets f's rule for one block of a chunk under ruleTies: δ =
// x − base, *eqLo and *eqHi count the threshold-equal elements before the
// block and are advanced past it. Most blocks of such a chunk keep a range
// (the band's rule applied to the block alone); only the block where the
// kept tie run starts or ends gets per-element mask bits. It returns false
// when the block keeps nothing. eqs is scratch of fusedBlock+8 values.
func (b *band) blockRule(f *fusedModel, bits []byte, eqs []uint32, x, base []uint16, eqLo, eqHi *int64) bool {
	// One window query counts both thresholds' ties (hiBits ≤ loBits:
	// descending rank hi − 1 is at most rank lo); its interior goes to eqs.
	top := b.hiBits
	if b.hasLo {
		top = b.loBits
	}
	q := [1]windowArg{newWindowArg(x, eqs, b.hiBits, top)}
	windowMulti(q[:], base)
	inHi, inLo := int(q[0].eqLo), 0
	if b.hasLo {
		inLo = int(q[0].eqHi)
	}
	from, to, rule := b.chunkRule(*eqLo, *eqHi, int64(inLo), int64(inHi))
	switch rule {
	case ruleEmpty:
		*eqLo += int64(inLo)
		*eqHi += int64(inHi)
		return false
	case ruleTies:
		b.tieBits(bits, x, base, eqLo, eqHi)
		f.bits = bits
		return true
	}
	*eqLo += int64(inLo)
	*eqHi += int64(inHi)
	f.from, f.span = from, to-from
	return true
}
