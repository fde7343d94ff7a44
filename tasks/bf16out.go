package tasks

import (
	"sync"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// bf16Out is a piece of a bf16 output tensor that a pass encodes block by
// block and writes at once through merge.RawWriter: the bits the sink's own
// encoding gives, in one large write instead of one per block.
type bf16Out struct {
	w   merge.RawWriter
	buf *[]uint16
	lo  int64
}

// encPool recycles the buffers of bf16Out.
var encPool = sync.Pool{New: func() any { return new([]uint16) }}

// newBF16Out returns the piece [lo, hi) of t's output, or nil when the
// sink does not take stored bf16 bytes (or the piece is empty): the pass
// then writes float32 blocks through t.Out. Release it when done.
func newBF16Out(t *merge.Task, lo, hi int64) *bf16Out {
	w, ok := t.Out.(merge.RawWriter)
	if !ok || w.RawDType() != formats.BF16 || hi <= lo {
		return nil
	}
	bp := encPool.Get().(*[]uint16)
	if int64(cap(*bp)) < hi-lo {
		*bp = make([]uint16, hi-lo)
	}
	*bp = (*bp)[:hi-lo]
	return &bf16Out{w: w, buf: bp, lo: lo}
}

// put encodes the results v of elements [off, off+len(v)).
func (o *bf16Out) put(v []float32, off int64) {
	simd.F32ToBF16((*o.buf)[off-o.lo:off-o.lo+int64(len(v))], v)
}

// at returns the encodings of elements [off, off+n), for a kernel to fill.
func (o *bf16Out) at(off int64, n int) []uint16 {
	return (*o.buf)[off-o.lo : off-o.lo+int64(n)]
}

// write writes the piece and releases it.
func (o *bf16Out) write() error {
	defer o.release()
	enc := *o.buf
	return o.w.WriteRaw(unsafe.Slice((*byte)(unsafe.Pointer(&enc[0])), 2*len(enc)), o.lo)
}

// release recycles the piece's buffer (nil: nothing to do).
func (o *bf16Out) release() {
	if o != nil && o.buf != nil {
		encPool.Put(o.buf)
		o.buf = nil
	}
}
