package pcb

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/orderstat"
	"github.com/gomerge/gomerge/simd"
)

// blockElems is the length of the blocks a chunk is computed in: every
// working row of a block (n task vectors, n balance rows, …) stays in the
// core's cache while the kernels sweep it several times.
const blockElems = 4096

// group is a set of tensors whose statistics are shared: every merged
// tensor of the model (--scope model) or one tensor (--scope tensor).
type group struct {
	items   []item
	n       int   // task vectors (models besides the base)
	d       int64 // elements per task vector
	threads int
	scratch *sync.Pool // *buffers of blockElems (shared by a method's groups)

	// noRaw reads bf16 tensors as float32 pieces too (tests compare the
	// two ways of reading).
	noRaw    bool
	rawItems *atomic.Int64 // counts items read as stored bf16, if set
}

// item is one chunk of one tensor.
type item struct {
	t   *merge.Task
	c   merge.Chunk
	idx int // position in group.items
}

func newGroup(tasks []*merge.Task, threads int) *group {
	g := &group{threads: max(threads, 1), scratch: new(sync.Pool)}
	if len(tasks) > 0 {
		g.n = len(tasks[0].Inputs)
	}
	for _, t := range tasks {
		g.d += t.Len()
		// Large chunks in quarters, so that a tensor of a few chunks
		// (merged with all threads, one tensor at a time) still keeps
		// every thread busy.
		for _, c := range merge.Chunks(t.Len(), 1) {
			step := c.Hi - c.Lo
			if step >= itemSplit*pieceElems {
				step = (step + itemSplit - 1) / itemSplit
			}
			for lo := c.Lo; lo < c.Hi; lo += step {
				g.items = append(g.items, item{t: t, c: merge.Chunk{Index: len(g.items), Lo: lo, Hi: min(lo+step, c.Hi)}, idx: len(g.items)})
			}
		}
	}
	return g
}

// chunkData is one chunk read from the sources: the base and the raw model
// values, turned into task vectors block by block.
type chunkData struct {
	base   []float32
	models [][]float32
	g      *group
}

// getScratch returns block buffers; their base and tau rows are set per block.
func (g *group) getScratch() *buffers {
	if b, ok := g.scratch.Get().(*buffers); ok {
		return b
	}
	alloc := func() []float32 { return make([]float32, blockElems) }
	b := &buffers{sum: alloc(), den: alloc(), tau: make([][]float32, g.n),
		idx: make([]int32, blockElems), dx: alloc(), dm: alloc()}
	for range g.n {
		b.bal = append(b.bal, alloc())
		b.norm = append(b.norm, alloc())
	}
	return b
}

// blocks computes τ = model − base block by block (in place) and calls fn
// with each block's buffers and its offset in the chunk.
func (cd *chunkData) blocks(fn func(off int, b *buffers)) {
	b := cd.g.getScratch()
	defer cd.g.scratch.Put(b)
	cd.blocksInto(b, fn)
}

// blocksInto is blocks with the given scratch buffers.
func (cd *chunkData) blocksInto(b *buffers, fn func(off int, b *buffers)) {
	for lo := 0; lo < len(cd.base); lo += blockElems {
		hi := min(lo+blockElems, len(cd.base))
		b.setLen(hi - lo)
		b.sumReady = false
		b.base = cd.base[lo:hi]
		for k, m := range cd.models {
			b.tau[k] = m[lo:hi]
			simd.Sub(b.tau[k], b.tau[k], b.base)
		}
		fn(lo, b)
	}
	b.setLen(blockElems)
}

// itemSplit is how many items a chunk of merge.Chunks is cut into.
const itemSplit = 4

// pieceElems is how many elements of every input a chunk reads at a time:
// small enough that the base and the models (converted to float32) stay in
// the core's cache while blocks are computed from them.
const pieceElems = 1 << 16

// forEach reads every chunk of the group — base and models, one piece at a
// time — and calls fn with each piece and its element offset in the
// tensor, chunks on up to g.threads goroutines. fn must only write the
// piece's own positions of shared state.
func (g *group) forEach(ctx context.Context, fn func(it item, off int64, cd *chunkData) error) error {
	chunks := make([]merge.Chunk, len(g.items))
	for i := range chunks {
		chunks[i] = merge.Chunk{Index: i}
	}
	return merge.Parallel(ctx, g.threads, chunks, func(c merge.Chunk) error {
		return g.forItem(g.items[c.Index], fn)
	})
}

// forItem reads one item piece by piece and calls fn with each piece (see
// forEach).
func (g *group) forItem(it item, fn func(it item, off int64, cd *chunkData) error) error {
	t := it.t
	size := min(it.c.Len(), pieceElems)
	cd := &chunkData{g: g, base: merge.GetFloats(size), models: make([][]float32, len(t.Inputs))}
	defer merge.PutFloats(cd.base)
	for k := range cd.models {
		cd.models[k] = merge.GetFloats(size)
		defer merge.PutFloats(cd.models[k])
	}
	base, models := cd.base, slices.Clone(cd.models)
	for off := it.c.Lo; off < it.c.Hi; off += pieceElems {
		n := int(min(it.c.Hi-off, pieceElems))
		cd.base = base[:n]
		if err := t.Base.Read(cd.base, off); err != nil {
			return fmt.Errorf("tensor %q: base: %w", t.Name, err)
		}
		for k, src := range t.Inputs {
			cd.models[k] = models[k][:n]
			if err := src.Read(cd.models[k], off); err != nil {
				return fmt.Errorf("tensor %q: model %d: %w", t.Name, k+1, err)
			}
		}
		if err := fn(it, off, cd); err != nil {
			return err
		}
	}
	return nil
}

// select2 runs the two passes of the selectors (one per task vector); feed
// is called for every block (of item it, at element offset off of its
// tensor) and adds each task's values with add(k, vals). between, if given,
// runs after the first pass.
func (g *group) select2(ctx context.Context, sel []*orderstat.Selector, feed func(it item, off int64, b *buffers, add func(k int, vals []float32)), between ...func()) error {
	add := func(k int, vals []float32) { sel[k].Add(vals) }
	for !sel[0].Done() {
		if sel[0].Pass() == 1 {
			for _, f := range between {
				f()
			}
		}
		err := g.forBlocks(ctx, false, func(it item, off int64, b *buffers) error {
			feed(it, off, b, add)
			return nil
		}, nil)
		if err != nil {
			return err
		}
		for k, s := range sel {
			if err := s.Next(); err != nil {
				return fmt.Errorf("pcb: task vector of model %d: %w", k+1, err)
			}
		}
	}
	return nil
}

// eachTask runs fn(k) for k = 0…n−1 on up to g.threads goroutines (the
// per-task selections between passes) and returns the error of the lowest
// k that failed.
func (g *group) eachTask(ctx context.Context, n int, fn func(k int) error) error {
	chunks := make([]merge.Chunk, n)
	for i := range chunks {
		chunks[i] = merge.Chunk{Index: i}
	}
	return merge.Parallel(ctx, g.threads, chunks, func(c merge.Chunk) error { return fn(c.Index) })
}
