package tasks

import (
	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// bf16Inputs are the stored bf16 values of a task's base and inputs (base
// first, in merge.RawSources' order) that the blocked passes read. One
// value serves every pass over a tensor (sample, window pass, DARE's L1
// pass, merge pass). When every source can be memory mapped
// (merge.MapRawSources) the passes read the page cache in place, without a
// read system call and a copy per block; otherwise they read each block
// with ReadRaw into a buffer of their own.
type bf16Inputs struct {
	raw    []merge.RawReader
	mapped *merge.MappedInputs // nil: read with ReadRaw
	u16    [][]uint16          // the mapped values, by source
	keep   bool                // dropEarly keeps the pages (small tensor)
}

// openBF16Inputs returns the bf16 inputs of t (mapped when mapIt and the
// sources allow it), or nil when some source does not store bf16. Their
// pages stay mapped between passes when they total at most keep bytes.
// Close it when the tensor is done.
func openBF16Inputs(t *merge.Task, mapIt bool, keep int64) *bf16Inputs {
	raw := merge.RawSources(t, formats.BF16)
	if raw == nil {
		return nil
	}
	in := &bf16Inputs{raw: raw}
	if !mapIt {
		return in
	}
	mp := merge.MapRawSources(t, formats.BF16)
	if mp == nil {
		return in
	}
	in.mapped = mp
	var total int64
	for _, d := range mp.Data {
		total += int64(len(d))
	}
	in.keep = total <= keep
	in.u16 = make([][]uint16, len(mp.Data))
	for i := range mp.Data {
		in.u16[i] = mp.U16(i)
	}
	return in
}

// close unmaps the inputs (nil: nothing to do).
func (in *bf16Inputs) close() {
	if in != nil && in.mapped != nil {
		in.mapped.Close()
		in.mapped, in.u16 = nil, nil
	}
}

// guard runs fn, which reads the inputs: over mappings, under the fault
// guard, so that a file truncated while mapped gives an error naming it
// instead of a crash. Every goroutine of a pass runs its reads in its own
// guard.
func (in *bf16Inputs) guard(fn func() error) error {
	if in.mapped == nil {
		return fn()
	}
	return in.mapped.Guard(fn)
}

// drop releases the mapped pages of elements [lo, hi) once a pass is done
// with them, so resident memory stays bounded by the pieces in flight. Call
// it once per finished chunk or piece, never per block: every page drop
// flushes the TLBs of all the process's threads.
func (in *bf16Inputs) drop(lo, hi int64) {
	if in.mapped != nil {
		in.mapped.Drop(lo, hi, 2)
	}
}

// maxKeptMapped bounds the mapped bytes (all sources together) of a tensor
// whose pages stay mapped from a first pass (window, L1) to the merge pass:
// dropping pages and mapping them again costs TLB flushes and page faults
// per piece (on the 1B family ~0.7 CPU-s of ties' ~9), so a tensor this
// small (a 22.5 MB MLP matrix of four models) is only dropped by its last
// pass; larger ones (embeddings) by every pass.
const maxKeptMapped = 128 << 20

// dropEarly is drop for a pass that another pass over the same elements
// follows: it keeps the pages of small tensors (openBF16Inputs' keep).
func (in *bf16Inputs) dropEarly(lo, hi int64) {
	if !in.keep {
		in.drop(lo, hi)
	}
}

// blockReader reads blocks of one source for one goroutine.
type blockReader struct {
	in  *bf16Inputs
	src int
	buf *rawBlock // nil when mapped
}

// reader returns a block reader of source src (0: the base, k+1: input k);
// give it back with release.
func (in *bf16Inputs) reader(src int) *blockReader {
	r := &blockReader{in: in, src: src}
	if in.mapped == nil {
		r.buf = getRawBlock()
	}
	return r
}

// sampleReader is reader for scattered reads (the sample): it reads with
// ReadRaw even when the inputs are mapped, unless the tensor is small
// enough to keep its pages. Touching a mapping at spread-out places maps
// pages all over the tensor, which nothing drops piece by piece: on a
// 1.5e9-element tensor that held 5.4 GiB resident.
func (in *bf16Inputs) sampleReader(src int) *blockReader {
	r := &blockReader{in: in, src: src}
	if in.mapped == nil || !in.keep {
		r.buf = getRawBlock()
	}
	return r
}

// readers returns readers, made by mk (in.reader or in.sampleReader), of
// the base and of the inputs k with want[k] (nil for the others); release
// gives them all back.
func (in *bf16Inputs) readers(want []bool, mk func(src int) *blockReader) (base *blockReader, xs []*blockReader, release func()) {
	base = mk(0)
	xs = make([]*blockReader, len(want))
	for k := range want {
		if want[k] {
			xs[k] = mk(k + 1)
		}
	}
	return base, xs, func() {
		base.release()
		for _, r := range xs {
			if r != nil {
				r.release()
			}
		}
	}
}

// release gives the reader's buffer back.
func (r *blockReader) release() {
	if r.buf != nil {
		putRawBlock(r.buf)
		r.buf = nil
	}
}

// read returns the n values of the source from element off: the mapped
// values themselves, or a copy in the reader's buffer (valid until the
// next read). n is at most fusedBlock.
func (r *blockReader) read(off int64, n int) ([]uint16, error) {
	if r.buf == nil {
		return r.in.u16[r.src][off : off+int64(n) : off+int64(n)], nil
	}
	return r.buf.read(r.in.raw[r.src], off, n)
}
