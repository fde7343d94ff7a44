package tasks

import (
	"context"
	"fmt"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// preparedBands are the whole-model magnitude bands of one tensor
// (--scope model): one band per model, shared by every tensor, and the
// threshold-tie counts before each of the tensor's chunks.
type preparedBands struct {
	bands []band
	zero  []bool
	chain *eqChain // nil: no band straddles a tie
}

// Prepare implements merge.Preparer. It checks every tensor's per-model
// parameters before any tensor is written, and with scope=model finds each
// model's magnitude thresholds over the whole model: two passes over every
// tensor the method merges (three when a threshold value is tied).
func (m *gta) Prepare(ctx context.Context, tasks []*merge.Task) error {
	for _, t := range tasks {
		if _, err := m.plans(t, false); err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
	}
	if !m.modelScope || len(tasks) == 0 {
		return nil
	}
	K := len(tasks[0].Inputs)
	first, _ := m.plans(tasks[0], false)
	var total int64
	for _, t := range tasks {
		if len(t.Inputs) != K {
			return fmt.Errorf("scope=model: tensor %q has %d models instead of %d (with --missing union every model must still have every merged tensor)", t.Name, len(t.Inputs), K)
		}
		ps, _ := m.plans(t, false)
		for k := range ps {
			if ps[k].density != first[k].density || (m.v.sparse == sparseOutliers && ps[k].gamma != first[k].gamma) {
				return fmt.Errorf("scope=model: tensor %q: model %d has density %v (gamma %v) but tensor %q has %v (%v); one whole-model top-k needs one value per model",
					t.Name, k+1, ps[k].density, ps[k].gamma, tasks[0].Name, first[k].density, first[k].gamma)
			}
		}
		if t.Base == nil {
			return fmt.Errorf("tensor %q: %s needs a base model", t.Name, m.v.name)
		}
		total += t.Len()
	}
	type item struct {
		task int
		c    merge.Chunk
	}
	var items []item
	firstItem := make([]int, len(tasks)+1)
	for ti, t := range tasks {
		firstItem[ti] = len(items)
		for _, c := range merge.Chunks(t.Len(), 1) {
			items = append(items, item{ti, c})
		}
	}
	firstItem[len(tasks)] = len(items)
	want := make([]bool, K)
	zero := make([]bool, K)
	bs := make([]rankBounds, K)
	for k := range first {
		p := first[k]
		if !p.sparse {
			continue
		}
		if p.zero {
			zero[k] = true
			continue
		}
		lo, hi := magnitudeRanks(m.v.sparse, p.density, p.gamma, total)
		if hi <= lo {
			zero[k] = true
			m.warn(tasks[0], "model %d: density %v keeps 0 of the model's %d elements; its task vector is zero", k+1, p.density, total)
			continue
		}
		want[k] = true
		bs[k] = rankBounds{lo, hi}
	}
	qs := bandQueries(want, bs)
	pb := &preparedBands{bands: make([]band, K), zero: zero}
	m.mu.Lock()
	m.prepared = map[string]*preparedBands{}
	for _, t := range tasks {
		m.prepared[t.Name] = pb
	}
	m.mu.Unlock()
	if len(qs) == 0 {
		return nil
	}
	threads := tasks[0].Threads()
	pseudo := make([]merge.Chunk, len(items))
	for i := range pseudo {
		pseudo[i] = merge.Chunk{Index: i}
	}
	scan := func(ctx context.Context, visit func(int, [][]float32) error) error {
		return merge.Parallel(ctx, threads, pseudo, func(pc merge.Chunk) error {
			it := items[pc.Index]
			t := tasks[it.task]
			n := it.c.Len()
			base := merge.GetFloats(n)
			defer merge.PutFloats(base)
			if err := t.Base.Read(base, it.c.Lo); err != nil {
				return fmt.Errorf("tensor %q: %w", t.Name, err)
			}
			d := make([][]float32, K)
			defer func() {
				for _, b := range d {
					if b != nil {
						merge.PutFloats(b)
					}
				}
			}()
			for k := range d {
				if !want[k] {
					continue
				}
				d[k] = merge.GetFloats(n)
				if err := t.Inputs[k].Read(d[k], it.c.Lo); err != nil {
					return fmt.Errorf("tensor %q: %w", t.Name, err)
				}
				simd.Sub(d[k], d[k], base)
			}
			return visit(pc.Index, d)
		})
	}
	sel := &absSelector{streams: K}
	if err := sel.countHigh(ctx, scan, nil); err != nil {
		return err
	}
	ans, err := sel.resolve(ctx, scan, qs)
	if err != nil {
		return err
	}
	if !bandsFromAnswers(want, bs, ans, pb.bands) {
		return nil
	}
	// Count threshold ties per chunk, then give every tensor its running
	// counts in (tensor, chunk) order.
	counts := make([]int64, len(items)*2*K)
	err = scan(ctx, func(it int, d [][]float32) error {
		for k := range d {
			if d[k] != nil {
				counts[it*2*K+2*k], counts[it*2*K+2*k+1] = pb.bands[k].countEqual(d[k])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	run := make([]int64, 2*K)
	chains := map[string]*eqChain{}
	for ti, t := range tasks {
		nc := firstItem[ti+1] - firstItem[ti]
		ch := newEqChain(nc, 2*K)
		copy(ch.before[0], run)
		for c := 0; c < nc; c++ {
			it := firstItem[ti] + c
			ch.publish(c, ch.before[c], counts[it*2*K:(it+1)*2*K])
		}
		copy(run, ch.before[nc])
		chains[t.Name] = ch
	}
	m.mu.Lock()
	for _, t := range tasks {
		m.prepared[t.Name] = &preparedBands{bands: pb.bands, zero: zero, chain: chains[t.Name]}
	}
	m.mu.Unlock()
	return nil
}

// preparedFor returns the whole-model bands of a tensor.
func (m *gta) preparedFor(t *merge.Task) (*preparedBands, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	pb, ok := m.prepared[t.Name]
	if !ok {
		return nil, fmt.Errorf("scope=model: no whole-model thresholds for this tensor (the engine did not call Prepare)")
	}
	return pb, nil
}
