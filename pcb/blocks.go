package pcb

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// rawPiece is how many elements of every input a chunk of bf16 tensors
// reads at a time: 128 KiB per input, as cat reads (smaller reads cost
// measurably more system time); they are widened block by block from the
// core's caches.
const rawPiece = 64 << 10

// blockFunc is called for every block of a group; b.at is the block's
// offset in its piece, off its element offset in the tensor.
type blockFunc func(it item, off int64, b *buffers) error

// pieceFunc is called after the blocks of every piece of n elements at
// element offset off; b.out holds (at least) n values for it.
type pieceFunc func(it item, off int64, n int, b *buffers) error

// forBlocks reads every chunk of the group and calls fn with the task
// vectors τ_k = model_k − base of each block (b.tau set, b.base with the
// block's length, holding the base's values only when withBase), then
// piece, if non-nil, after each piece; chunks on up to g.threads
// goroutines. Tensors whose inputs all store bf16 are read as stored bytes
// in small pieces (rawPiece) and widened block by block; others through
// float32 pieces (forEach). Both give the same τ bit for bit: bf16 widens
// exactly to float32 and the subtraction is the same.
func (g *group) forBlocks(ctx context.Context, withBase bool, fn blockFunc, piece pieceFunc) error {
	if g.noRaw {
		return g.forEachBlocks(ctx, fn, piece)
	}
	chunks := make([]merge.Chunk, len(g.items))
	for i := range chunks {
		chunks[i] = merge.Chunk{Index: i}
	}
	return merge.Parallel(ctx, g.threads, chunks, func(c merge.Chunk) error {
		it := g.items[c.Index]
		srcs := merge.RawSources(it.t, formats.BF16)
		if srcs == nil {
			return g.forItemFloat(it, fn, piece)
		}
		if g.rawItems != nil {
			g.rawItems.Add(1)
		}
		return g.forItemBF16(it, srcs, withBase, fn, piece)
	})
}

// forEachBlocks is forBlocks through float32 pieces only.
func (g *group) forEachBlocks(ctx context.Context, fn blockFunc, piece pieceFunc) error {
	chunks := make([]merge.Chunk, len(g.items))
	for i := range chunks {
		chunks[i] = merge.Chunk{Index: i}
	}
	return merge.Parallel(ctx, g.threads, chunks, func(c merge.Chunk) error {
		return g.forItemFloat(g.items[c.Index], fn, piece)
	})
}

// forItemFloat runs fn and piece over one item read as float32 pieces.
func (g *group) forItemFloat(it item, fn blockFunc, piece pieceFunc) error {
	return g.forItem(it, func(_ item, off int64, cd *chunkData) error {
		b := g.getScratch()
		defer g.scratch.Put(b)
		b.ensureOut(len(cd.base))
		var err error
		cd.blocksInto(b, func(at int, b *buffers) {
			if err == nil {
				b.at = at
				err = fn(it, off+int64(at), b)
			}
		})
		if err == nil && piece != nil {
			err = piece(it, off, len(cd.base), b)
		}
		return err
	})
}

// forItemBF16 runs fn and piece over one item whose base and models are
// read as stored bf16 (srcs: base first); see forBlocks.
func (g *group) forItemBF16(it item, srcs []merge.RawReader, withBase bool, fn blockFunc, piece pieceFunc) error {
	t := it.t
	b := g.getScratch()
	defer g.scratch.Put(b)
	b.ensureRaw(len(srcs))
	b.ensureOut(rawPiece)
	for off := it.c.Lo; off < it.c.Hi; off += rawPiece {
		n := int(min(it.c.Hi-off, rawPiece))
		for i, s := range srcs {
			if err := s.ReadRaw(b.raw[i][:2*n], off); err != nil {
				if i == 0 {
					return fmt.Errorf("tensor %q: base: %w", t.Name, err)
				}
				return fmt.Errorf("tensor %q: model %d: %w", t.Name, i, err)
			}
		}
		for lo := 0; lo < n; lo += blockElems {
			hi := min(lo+blockElems, n)
			size := hi - lo
			b.setLen(size)
			b.base = b.ownBase[:size]
			if withBase {
				simd.BF16ToF32(b.base, b.raw16[0][lo:hi])
			}
			for k := range b.tau {
				b.tau[k] = b.ownTau[k][:size]
				b.mrows[k] = b.raw16[k+1][lo:hi]
			}
			deltasBF16(b.tau, b.sum, b.mrows, b.raw16[0][lo:hi], b.addrs)
			b.sumReady = true
			b.at = lo
			if err := fn(it, off+int64(lo), b); err != nil {
				return err
			}
		}
		if piece != nil {
			if err := piece(it, off, n, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// ensureRaw gives b byte buffers of rawPiece bf16 values for m inputs and
// float32 rows for the base and the task vectors.
func (b *buffers) ensureRaw(m int) {
	for len(b.raw) < m {
		r := make([]byte, 2*rawPiece)
		b.raw = append(b.raw, r)
		b.raw16 = append(b.raw16, unsafe.Slice((*uint16)(unsafe.Pointer(&r[0])), rawPiece))
	}
	if b.ownBase == nil {
		b.ownBase = make([]float32, blockElems)
	}
	for len(b.ownTau) < len(b.tau) {
		b.ownTau = append(b.ownTau, make([]float32, blockElems))
	}
	if len(b.mrows) < len(b.tau) {
		b.mrows = make([][]uint16, len(b.tau))
		b.addrs = make([]uintptr, 2*len(b.tau))
	}
}

// ensureOut gives b an output row of at least n values.
func (b *buffers) ensureOut(n int) {
	if cap(b.out) < n {
		b.out = make([]float32, n)
	}
	b.out = b.out[:n]
}

// setLen sizes the working rows of b for a block of n entries.
func (b *buffers) setLen(n int) {
	for k := range b.bal {
		b.bal[k] = b.bal[k][:cap(b.bal[k])][:n]
		b.norm[k] = b.norm[k][:cap(b.norm[k])][:n]
	}
	b.sum = b.sum[:cap(b.sum)][:n]
	b.den = b.den[:cap(b.den)][:n]
}
