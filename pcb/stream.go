package pcb

import (
	"context"
	"fmt"
	"sync"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/orderstat"
	"github.com/gomerge/gomerge/simd"
)

// group is a set of tensors whose statistics are shared: every merged
// tensor of the model (--scope model) or one tensor (--scope tensor).
type group struct {
	items   []item
	n       int   // task vectors (models besides the base)
	d       int64 // elements per task vector
	threads int
	pool    sync.Pool // *buffers
}

// item is one chunk of one tensor.
type item struct {
	t *merge.Task
	c merge.Chunk
}

func newGroup(tasks []*merge.Task, threads int) *group {
	g := &group{threads: max(threads, 1)}
	if len(tasks) > 0 {
		g.n = len(tasks[0].Inputs)
	}
	for _, t := range tasks {
		g.d += t.Len()
		for _, c := range merge.Chunks(t.Len(), 1) {
			g.items = append(g.items, item{t: t, c: c})
		}
	}
	return g
}

func (g *group) getBuffers(size int) *buffers {
	b, _ := g.pool.Get().(*buffers)
	if b == nil || cap(b.base) < size {
		b = &buffers{}
		alloc := func() []float32 { return make([]float32, size) }
		b.base, b.sum, b.den = alloc(), alloc(), alloc()
		for range g.n {
			b.tau = append(b.tau, alloc())
			b.bal = append(b.bal, alloc())
			b.norm = append(b.norm, alloc())
		}
	}
	cut := func(s []float32) []float32 { return s[:size] }
	b.base, b.sum, b.den = cut(b.base), cut(b.sum), cut(b.den)
	for k := range g.n {
		b.tau[k], b.bal[k], b.norm[k] = cut(b.tau[k]), cut(b.bal[k]), cut(b.norm[k])
	}
	return b
}

// forEach reads every chunk of the group — base and task vectors — and
// calls fn with it, on up to g.threads goroutines. fn must only write the
// chunk's own positions of shared state.
func (g *group) forEach(ctx context.Context, fn func(it item, b *buffers) error) error {
	chunks := make([]merge.Chunk, len(g.items))
	for i := range chunks {
		chunks[i] = merge.Chunk{Index: i}
	}
	return merge.Parallel(ctx, g.threads, chunks, func(c merge.Chunk) error {
		it := g.items[c.Index]
		b := g.getBuffers(it.c.Len())
		defer g.pool.Put(b)
		t := it.t
		if err := t.Base.Read(b.base, it.c.Lo); err != nil {
			return fmt.Errorf("tensor %q: base: %w", t.Name, err)
		}
		for k, src := range t.Inputs {
			if err := src.Read(b.tau[k], it.c.Lo); err != nil {
				return fmt.Errorf("tensor %q: model %d: %w", t.Name, k+1, err)
			}
			simd.Sub(b.tau[k], b.tau[k], b.base)
		}
		return fn(it, b)
	})
}

// select2 runs the two passes of the selectors (one per task vector) over
// the values rows(b)[k] of every chunk.
func (g *group) select2(ctx context.Context, sel []*orderstat.Selector, rows func(b *buffers) [][]float32) error {
	for !sel[0].Done() {
		err := g.forEach(ctx, func(_ item, b *buffers) error {
			for k, vals := range rows(b) {
				sel[k].Add(vals)
			}
			return nil
		})
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
