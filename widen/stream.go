package widen

import (
	"context"
	"math"
	"slices"
	"sync"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// columnStats are the per-column statistics of pass 1 over N models and
// C columns, one flat float64 vector laid out as
// [ss0 | ss_1 … ss_N | dot_1 … dot_N], each part C long:
// ss0[j] = Σ_r base[r,j]², ss_k[j] = Σ_r x_k[r,j]², dot_k[j] = Σ_r x_k[r,j]·base[r,j].
type columnStats struct {
	n, c int
	v    []float64
	// ssv and dotv are the views ss(k) and dot(k) of v.
	ssv, dotv [][]float64
}

func newColumnStats(n, c int) *columnStats {
	s := &columnStats{n: n, c: c, v: make([]float64, (1+2*n)*c), ssv: make([][]float64, n), dotv: make([][]float64, n)}
	for k := range n {
		s.ssv[k], s.dotv[k] = s.ss(k), s.dot(k)
	}
	return s
}

func (s *columnStats) ss0() []float64     { return s.v[:s.c] }
func (s *columnStats) ss(k int) []float64 { return s.v[(1+k)*s.c : (2+k)*s.c] }
func (s *columnStats) dot(k int) []float64 {
	return s.v[(1+s.n+k)*s.c : (2+s.n+k)*s.c]
}

// add adds p's statistics to s's, element by element.
func (s *columnStats) add(p *columnStats) {
	dst := s.v[:len(p.v)]
	for i, v := range p.v {
		dst[i] += v
	}
}

// orderedSum adds per-chunk partial statistics into a total strictly in
// chunk order, whatever order the chunks finish in, so the total does not
// depend on the thread count. Only partials that finished ahead of an
// unfinished chunk are held.
type orderedSum struct {
	mu      sync.Mutex
	total   *columnStats
	next    int
	pending map[int]*columnStats
	free    []*columnStats
}

func newOrderedSum(n, c int) *orderedSum {
	return &orderedSum{total: newColumnStats(n, c), pending: map[int]*columnStats{}}
}

// get returns a zeroed partial.
func (o *orderedSum) get() *columnStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	if k := len(o.free); k > 0 {
		p := o.free[k-1]
		o.free = o.free[:k-1]
		clear(p.v)
		return p
	}
	return newColumnStats(o.total.n, o.total.c)
}

// put hands in the partial of chunk i and folds every partial that is now
// next in order into the total.
func (o *orderedSum) put(i int, p *columnStats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pending[i] = p
	for {
		q, ok := o.pending[o.next]
		if !ok {
			return
		}
		delete(o.pending, o.next)
		o.total.add(q)
		o.free = append(o.free, q)
		o.next++
	}
}

// rowChunkElems is about how many elements of each input one chunk of a
// 2-D pass covers: a quarter of the engine's chunk, so that a tensor of a
// few million elements still splits into enough chunks to keep every
// thread busy to the end. The split depends only on the shape, so the
// chunk-ordered sums of pass 1 do not depend on the thread count.
const rowChunkElems = merge.ChunkElems / 4

// rowChunks splits the task's tensor into chunks of whole rows (of cols
// elements).
func rowChunks(t *merge.Task, cols int) (chunks []merge.Chunk) {
	step := int64(max(1, rowChunkElems/cols) * cols)
	for lo := int64(0); lo < t.Len(); lo += step {
		chunks = append(chunks, merge.Chunk{Index: len(chunks), Lo: lo, Hi: min(lo+step, t.Len())})
	}
	return chunks
}

// blockElems is about how many elements of each input a worker holds at
// once inside a chunk: blocks of whole rows small enough that the base, the
// models and the accumulator stay in the CPU cache between the kernels.
const blockElems = 1 << 15

// rowBlocks calls fn for consecutive blocks of whole rows covering chunk c:
// elements [lo, hi) of the tensor.
func rowBlocks(c merge.Chunk, cols int, fn func(lo, hi int64) error) error {
	step := int64(max(1, blockElems/cols) * cols)
	for lo := c.Lo; lo < c.Hi; lo += step {
		if err := fn(lo, min(lo+step, c.Hi)); err != nil {
			return err
		}
	}
	return nil
}

// blockBuffers are one worker's buffers for a block of every input: float32
// values (base, models) and, for stored bfloat16 inputs read with pread,
// their bit patterns (base first).
type blockBuffers struct {
	base []float32
	x    [][]float32
	// raw holds the bit patterns of the base and the models, in the first
	// halves of the float32 buffers rawStore (nil unless asked for).
	raw      [][]uint16
	rawStore [][]float32
	// scratch takes the base's column squares that the fused pass-1
	// kernel computes again for models after the first two (nil for at
	// most two models).
	scratch []float64
	// xs16 and xsf are the model slices handed out by rawInputs.block,
	// read and widen.
	xs16 [][]uint16
	xsf  [][]float32
}

// getBlockBuffers returns buffers for blocks of whole rows of cols columns
// of n models and the base; raw adds the buffers for reading stored bit
// patterns (readRaw).
func getBlockBuffers(n, cols int, raw bool) *blockBuffers {
	size := max(1, blockElems/cols) * cols
	b := &blockBuffers{base: merge.GetFloats(size), x: make([][]float32, n),
		xs16: make([][]uint16, n), xsf: make([][]float32, n)}
	for k := range b.x {
		b.x[k] = merge.GetFloats(size)
	}
	if n > 2 {
		b.scratch = make([]float64, cols)
	}
	if raw {
		b.raw, b.rawStore = make([][]uint16, n+1), make([][]float32, n+1)
		for i := range b.raw {
			b.rawStore[i] = merge.GetFloats((size + 1) / 2)
			b.raw[i] = unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b.rawStore[i]))), size)
		}
	}
	return b
}

func (b *blockBuffers) release() {
	merge.PutFloats(b.base)
	for _, x := range b.x {
		merge.PutFloats(x)
	}
	for _, r := range b.rawStore {
		merge.PutFloats(r)
	}
}

// read fills the buffers with elements [lo, hi) of the base and every model
// and returns the filled base and model slices.
func (b *blockBuffers) read(t *merge.Task, lo, hi int64) ([]float32, [][]float32, error) {
	n := int(hi - lo)
	base := b.base[:n]
	if err := t.Base.Read(base, lo); err != nil {
		return nil, nil, err
	}
	for k, in := range t.Inputs {
		b.xsf[k] = b.x[k][:n]
		if err := in.Read(b.xsf[k], lo); err != nil {
			return nil, nil, err
		}
	}
	return base, b.xsf, nil
}

// widen fills the float32 buffers with the values of the bit patterns b
// and xs (simd.BF16ToF32, as a float32 source of the same tensor reads
// them) and returns the filled base and model slices.
func (b *blockBuffers) widen(b16 []uint16, xs [][]uint16) ([]float32, [][]float32) {
	n := len(b16)
	base := b.base[:n]
	simd.BF16ToF32(base, b16)
	for k, x := range xs {
		b.xsf[k] = b.x[k][:n]
		simd.BF16ToF32(b.xsf[k], x)
	}
	return base, b.xsf
}

// readRaw fills the worker's raw buffers with the bit patterns of elements
// [lo, hi) of the stored bfloat16 tensors raw (the base, then the models;
// see rawBF16Inputs) and returns the filled base and model slices.
func (b *blockBuffers) readRaw(raw []merge.RawReader, lo, hi int64) ([]uint16, [][]uint16, error) {
	n := int(hi - lo)
	for i, r := range raw {
		v := b.raw[i][:n]
		if err := r.ReadRaw(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 2*n), lo); err != nil {
			return nil, nil, err
		}
		if i > 0 {
			b.xs16[i-1] = v
		}
	}
	return b.raw[0][:n], b.xs16, nil
}

// rawInputs are the stored bfloat16 tensors of a 2-D task's base and
// models (in that order), either mapped into memory (merge.MapRawSources),
// so that both passes read the page cache in place, or, when a file cannot
// be mapped, read block by block into the workers' buffers. Both give the
// same bits.
type rawInputs struct {
	readers []merge.RawReader
	mp      *merge.MappedInputs // nil unless every input is mapped
	mapped  [][]uint16          // mp's values, by input
	dropAll bool                // drop pages whatever the tensor's size (tests)
}

// newRawInputs returns the raw inputs of t, mapped if mapFiles is set and
// every file allows it, or nil when the passes must read float32 through
// the sources (see rawBF16Inputs). Call close when done.
func newRawInputs(t *merge.Task, mapFiles bool) *rawInputs {
	raw := rawBF16Inputs(t)
	if raw == nil {
		return nil
	}
	in := &rawInputs{readers: raw}
	if !mapFiles {
		return in
	}
	if in.mp = merge.MapRawSources(t, formats.BF16); in.mp != nil {
		for i := range in.mp.Data {
			in.mapped = append(in.mapped, in.mp.U16(i))
		}
	}
	return in
}

// keepMappedBytes is the largest total size of a tensor's mapped inputs
// whose pages stay mapped from pass 1 into pass 2; a larger tensor drops
// each chunk's pages once a pass is done with it, so resident memory is
// bounded by this budget plus the chunks in flight, whatever the model.
// Keeping small tensors' pages saves pass 2 from faulting them in again.
const keepMappedBytes = 128 << 20

// drop releases the mapped pages of chunk c unless the tensor is small
// enough to keep them.
func (in *rawInputs) drop(c merge.Chunk) {
	if in == nil || in.mp == nil {
		return
	}
	var total int
	for _, d := range in.mp.Data {
		total += len(d)
	}
	if total <= keepMappedBytes && !in.dropAll {
		return
	}
	in.mp.Drop(c.Lo, c.Hi, 2)
}

// close releases the mappings.
func (in *rawInputs) close() {
	if in == nil || in.mp == nil {
		return
	}
	in.mp.Close()
	in.mp, in.mapped = nil, nil
}

// release unmaps the mappings of in once its passes are done: in the
// background (clearing the page tables of a large tensor takes a while,
// which would otherwise keep the other threads waiting), with at most
// maxPendingUnmaps tensors' mappings pending, or at once for a Method not
// made by New.
func (m *Method) release(in *rawInputs) {
	if in == nil || in.mp == nil {
		return
	}
	if m.unmapping == nil {
		in.close()
		return
	}
	m.unmapping <- struct{}{}
	mp := in.mp
	in.mp, in.mapped = nil, nil
	go func() {
		mp.Close()
		<-m.unmapping
	}()
}

// maxPendingUnmaps bounds the tensors whose mappings wait to be released,
// and so the mapped pages held beyond the tensors being merged.
const maxPendingUnmaps = 2

// block returns the bit patterns of elements [lo, hi) of the base and the
// models: views of the mappings, or read into buf.
func (in *rawInputs) block(buf *blockBuffers, lo, hi int64) ([]uint16, [][]uint16, error) {
	if in.mapped == nil {
		return buf.readRaw(in.readers, lo, hi)
	}
	for k := range buf.xs16 {
		buf.xs16[k] = in.mapped[1+k][lo:hi]
	}
	return in.mapped[0][lo:hi], buf.xs16, nil
}

// guard returns fn, run under the mappings' Guard: a fault on mapped
// memory (the file was truncated while mapped) becomes an error naming the
// file and tensor instead of a crash.
func (in *rawInputs) guard(fn func(c merge.Chunk) error) func(c merge.Chunk) error {
	if in == nil || in.mp == nil {
		return fn
	}
	mp := in.mp
	return func(c merge.Chunk) error {
		return mp.Guard(func() error { return fn(c) })
	}
}

// rawBF16Inputs returns the raw readers of the base and the models (in
// that order) when the passes can run on their bit patterns directly:
// every source reads a whole (uncropped) bfloat16 tensor and the CPU has
// the assembly kernels. Otherwise it returns nil and the passes read
// float32 through the sources. Both ways give the same bits.
func rawBF16Inputs(t *merge.Task) []merge.RawReader {
	if !hasColumnAsm || t.Base == nil {
		return nil
	}
	return merge.RawSources(t, formats.BF16)
}

// mergeMatrix merges a 2-D tensor [rows, cols]. For a token embedding
// (tokens true) WIDEN's columns are the stored rows.
func (m *Method) mergeMatrix(ctx context.Context, t *merge.Task, tokens bool) error {
	rows, cols := int(t.Shape[0]), int(t.Shape[1])
	if rows == 0 || cols == 0 {
		return nil
	}
	n := len(t.Inputs)
	chunks := rowChunks(t, cols)
	in := newRawInputs(t, !m.readOnly)
	if in != nil {
		in.dropAll = m.dropAll
	}
	defer m.release(in)
	var st *columnStats
	var err error
	if tokens {
		st, err = rowStats(ctx, t, chunks, rows, cols, in)
	} else {
		st, err = columnStatsPass(ctx, t, chunks, cols, in)
	}
	if err != nil {
		return err
	}
	c := st.c
	// Between the passes: the 2n sorts (magnitude and direction order of
	// every model) and then the weights of disjoint column ranges are
	// independent, so they run on the task's threads too.
	magPos, dirPos := make([][]int32, n), make([][]int32, n)
	jobs := make([]merge.Chunk, 2*n)
	for i := range jobs {
		jobs[i] = merge.Chunk{Index: i}
	}
	err = merge.Parallel(ctx, t.Threads(), jobs, func(j merge.Chunk) error {
		k := j.Index / 2
		mag, dir, idx, pos := make([]float64, c), make([]float64, c), make([]int32, c), make([]int32, c)
		columnDifferences(mag, dir, st.ss0(), st.ss(k), st.dot(k))
		if j.Index%2 == 0 {
			rankPositions(pos, mag, idx)
			magPos[k] = pos
		} else {
			rankPositions(pos, dir, idx)
			dirPos[k] = pos
		}
		return nil
	})
	if err != nil {
		return err
	}
	st = nil
	w := make([][]float32, n)
	for k := range w {
		w[k] = make([]float32, c)
	}
	parts := 1
	if c >= 256 {
		parts = t.Threads()
	}
	var ranges []merge.Chunk
	for i := range parts {
		ranges = append(ranges, merge.Chunk{Index: i, Lo: int64(c * i / parts), Hi: int64(c * (i + 1) / parts)})
	}
	err = merge.Parallel(ctx, t.Threads(), ranges, func(p merge.Chunk) error {
		fillColumnWeights(w, magPos, dirPos, c, int(p.Lo), int(p.Hi), m.Alpha, m.Calibration)
		return nil
	})
	if err != nil {
		return err
	}
	return weightedSumPass(ctx, t, chunks, cols, w, tokens, in)
}

// columnStatsPass is pass 1 for a linear weight: per-column sums over the
// rows, in row order within each chunk of whole rows, the chunks' sums
// added in chunk order.
func columnStatsPass(ctx context.Context, t *merge.Task, chunks []merge.Chunk, cols int, in *rawInputs) (*columnStats, error) {
	n := len(t.Inputs)
	sum := newOrderedSum(n, cols)
	err := merge.Parallel(ctx, t.Threads(), chunks, in.guard(func(c merge.Chunk) error {
		p := sum.get()
		buf := getBlockBuffers(n, cols, in != nil && in.mapped == nil)
		defer buf.release()
		err := rowBlocks(c, cols, func(lo, hi int64) error {
			if in != nil {
				b, xs, err := in.block(buf, lo, hi)
				if err != nil {
					return err
				}
				addColumnStatsBF16(p.ss0(), p.ssv, p.dotv, b, xs, buf.scratch)
				return nil
			}
			b, xs, err := buf.read(t, lo, hi)
			if err != nil {
				return err
			}
			addColumnSquares(p.ss0(), b)
			for k, x := range xs {
				addColumnSquaresDot(p.ss(k), p.dot(k), x, b)
			}
			return nil
		})
		if err != nil {
			return err
		}
		sum.put(c.Index, p)
		in.drop(c)
		return nil
	}))
	if err != nil {
		return nil, err
	}
	return sum.total, nil
}

// rowStats is pass 1 for a token embedding: every statistic belongs to one
// stored row.
func rowStats(ctx context.Context, t *merge.Task, chunks []merge.Chunk, rows, cols int, in *rawInputs) (*columnStats, error) {
	n := len(t.Inputs)
	st := newColumnStats(n, rows)
	err := merge.Parallel(ctx, t.Threads(), chunks, in.guard(func(c merge.Chunk) error {
		buf := getBlockBuffers(n, cols, in != nil && in.mapped == nil)
		defer buf.release()
		defer in.drop(c)
		return rowBlocks(c, cols, func(lo, hi int64) error {
			var b []float32
			var xs [][]float32
			if in != nil {
				b16, xs16, err := in.block(buf, lo, hi)
				if err != nil {
					return err
				}
				b, xs = buf.widen(b16, xs16)
			} else {
				var err error
				if b, xs, err = buf.read(t, lo, hi); err != nil {
					return err
				}
			}
			r0 := int(lo) / cols
			ss0 := st.ss0()
			for r := 0; r*cols < len(b); r++ {
				ss0[r0+r] = simd.SumSquares(b[r*cols : (r+1)*cols])
			}
			for k, x := range xs {
				ss, dot := st.ss(k), st.dot(k)
				for r := 0; r*cols < len(x); r++ {
					xr, br := x[r*cols:(r+1)*cols], b[r*cols:(r+1)*cols]
					ss[r0+r] = simd.SumSquares(xr)
					dot[r0+r] = simd.Dot(xr, br)
				}
			}
			return nil
		})
	}))
	if err != nil {
		return nil, err
	}
	return st, nil
}

// weightedSumPass is pass 2 of a 2-D tensor: out = base + Σ_k w_k ⊙ (x_k −
// base), each product rounded to float32 and accumulated in float32 in
// model order, with w_k[j] per column j (tokens false) or per stored row
// (tokens true).
func weightedSumPass(ctx context.Context, t *merge.Task, chunks []merge.Chunk, cols int, w [][]float32, tokens bool, in *rawInputs) error {
	n := len(t.Inputs)
	// Last chunk first: pass 1 read it last, so its stored bytes are likely
	// still in the CPU's last-level cache.
	backward := slices.Clone(chunks)
	slices.Reverse(backward)
	out := newChunkWriter(t)
	err := merge.Parallel(ctx, t.Threads(), backward, in.guard(func(c merge.Chunk) error {
		buf := getBlockBuffers(n, cols, in != nil && in.mapped == nil)
		defer buf.release()
		xr := make([][]float32, n)
		xp, wp := make([]*float32, n), make([]*float32, n)
		xr16, xp16 := make([][]uint16, n), make([]*uint16, n)
		// The chunk's result is written at once: fewer, larger writes.
		all := merge.GetFloats(c.Len())
		err := rowBlocks(c, cols, func(lo, hi int64) error {
			out := all[lo-c.Lo : hi-c.Lo]
			var b []float32
			var xs [][]float32
			if in != nil {
				b16, xs16, err := in.block(buf, lo, hi)
				if err != nil {
					return err
				}
				if !tokens {
					for r := 0; r*cols < len(b16); r++ {
						for k, x := range xs16 {
							xr16[k] = x[r*cols : (r+1)*cols]
						}
						weightedDeltaSumBF16(out[r*cols:(r+1)*cols], b16[r*cols:(r+1)*cols], xr16, w, xp16, wp)
					}
					return nil
				}
				b, xs = buf.widen(b16, xs16)
			} else {
				var err error
				if b, xs, err = buf.read(t, lo, hi); err != nil {
					return err
				}
			}
			r0 := int(lo) / cols
			for r := 0; r*cols < len(b); r++ {
				row := out[r*cols : (r+1)*cols]
				br := b[r*cols : (r+1)*cols]
				for k, x := range xs {
					xr[k] = x[r*cols : (r+1)*cols]
				}
				if tokens {
					weightedRowSum(row, br, xr, w, r0+r)
				} else {
					weightedDeltaSum(row, br, xr, w, xp, wp)
				}
			}
			return nil
		})
		if err != nil {
			merge.PutFloats(all)
			return err
		}
		in.drop(c)
		return out.write(all, c.Lo)
	}))
	if werr := out.close(); err == nil {
		err = werr
	}
	return err
}

// chunkWriter writes the results of pass 2 into the task's output. With
// more than one thread the writes go through one goroutine, in the order
// the chunks finish: the workers go on computing meanwhile, and they do not
// contend for the output file (concurrent writes to one file serialise in
// the kernel, which may spin while waiting). With one thread each write is
// made in place.
type chunkWriter struct {
	t    *merge.Task
	ch   chan chunkResult
	done chan error
}

// chunkResult is one chunk's result (a merge.GetFloats buffer) and its
// offset.
type chunkResult struct {
	vals []float32
	off  int64
}

func newChunkWriter(t *merge.Task) *chunkWriter {
	w := &chunkWriter{t: t}
	if t.Threads() < 2 {
		return w
	}
	w.ch, w.done = make(chan chunkResult, t.Threads()), make(chan error, 1)
	go func() {
		var err error
		for r := range w.ch {
			if err == nil {
				err = t.Out.Write(r.vals, r.off)
			}
			merge.PutFloats(r.vals)
		}
		w.done <- err
	}()
	return w
}

// write writes (or queues) vals at element off and takes over the buffer.
func (w *chunkWriter) write(vals []float32, off int64) error {
	if w.ch == nil {
		defer merge.PutFloats(vals)
		return w.t.Out.Write(vals, off)
	}
	w.ch <- chunkResult{vals, off}
	return nil
}

// close waits for the queued writes and returns the first write error.
func (w *chunkWriter) close() error {
	if w.ch == nil {
		return nil
	}
	close(w.ch)
	return <-w.done
}

// weightedRowSum sets out = b + Σ_k float32(w[k][row]·(x[k] − b)) for one
// stored row of a token embedding, whose weights are per row: the
// differences and products rounded to float32, summed in model order from
// +0.
func weightedRowSum(out, b []float32, xs, w [][]float32, row int) {
	clear(out)
	for k, x := range xs {
		// x is the block buffer's row: turn it into the delta in place.
		simd.Sub(x, x, b)
		simd.AddScaled(out, w[k][row], x)
	}
	simd.Add(out, b, out)
}

// mergeVector merges a 1-D (or 0-D) tensor: no ranks; the scores are the
// softmax over the models of the raw |Δ|, calibrated where |Δ| exceeds
// alpha times the model's mean |Δ|.
func (m *Method) mergeVector(ctx context.Context, t *merge.Task) error {
	n := len(t.Inputs)
	size := t.Len()
	if size == 0 {
		return nil
	}
	chunks := merge.Chunks(size, 1)
	partial := make([]float64, len(chunks)*n)
	// Pass 1: Σ|Δ| per model, per chunk, added in chunk order.
	err := t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		b, err := readChunk(t.Base, c)
		if err != nil {
			return err
		}
		defer merge.PutFloats(b)
		x := merge.GetFloats(c.Len())
		defer merge.PutFloats(x)
		for k, in := range t.Inputs {
			if err := in.Read(x, c.Lo); err != nil {
				return err
			}
			simd.Sub(x, x, b)
			partial[c.Index*n+k] = simd.SumAbs(x)
		}
		return nil
	})
	if err != nil {
		return err
	}
	thr := make([]float64, n)
	for i := range chunks {
		for k := range n {
			thr[k] += partial[i*n+k]
		}
	}
	for k := range thr {
		thr[k] = m.Alpha * (thr[k] / float64(size))
	}
	// Pass 2: the weighted sum.
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		b, err := readChunk(t.Base, c)
		if err != nil {
			return err
		}
		defer merge.PutFloats(b)
		d := make([][]float32, n)
		for k, in := range t.Inputs {
			if d[k], err = readChunk(in, c); err != nil {
				return err
			}
			defer merge.PutFloats(d[k])
			simd.Sub(d[k], d[k], b)
		}
		out := merge.GetFloats(c.Len())
		defer merge.PutFloats(out)
		e := make([]float64, n)
		for i := range out {
			for k := range n {
				e[k] = float64(abs32(d[k][i]))
			}
			softmax(e)
			var acc float32
			for k := range n {
				s := float32(e[k])
				if float64(abs32(d[k][i])) > thr[k] {
					s = float32(m.Calibration)
				}
				acc += float32(s * d[k][i])
			}
			out[i] = b[i] + acc
		}
		return t.Out.Write(out, c.Lo)
	})
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// readChunk fills a pooled buffer with elements [c.Lo, c.Hi) of src.
func readChunk(src merge.Source, c merge.Chunk) ([]float32, error) {
	buf := merge.GetFloats(c.Len())
	if err := src.Read(buf, c.Lo); err != nil {
		merge.PutFloats(buf)
		return nil, err
	}
	return buf, nil
}
