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

// flush writes the piece.
func (o *bf16Out) flush() error {
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

// writeBehind writes the encoded pieces of one pass from a goroutine of
// its own, in the order they are handed over: the pass's workers go on
// computing instead of waiting for their writes, and never contend for the
// output file (two writes into one file serialise in the kernel, the
// second spinning on the file's lock).
type writeBehind struct {
	ch   chan *bf16Out
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// writeBehindDepth is the number of pieces a writeBehind holds queued.
const writeBehindDepth = 4

// newWriteBehind starts the writer of a pass run on threads goroutines,
// or returns nil when one thread writes inline just as well. Call wait
// when the pass is done, whatever its outcome.
func newWriteBehind(threads int) *writeBehind {
	if threads <= 1 {
		return nil
	}
	w := &writeBehind{ch: make(chan *bf16Out, writeBehindDepth), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for o := range w.ch {
			if w.failed() == nil {
				if err := o.flush(); err != nil {
					w.mu.Lock()
					w.err = err
					w.mu.Unlock()
				}
			}
			o.release()
		}
	}()
	return w
}

// failed returns the first write error so far.
func (w *writeBehind) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// write writes o and releases it: inline when w is nil, else queued (o
// then belongs to the writer). It returns a write error seen so far.
func (w *writeBehind) write(o *bf16Out) error {
	if w == nil {
		defer o.release()
		return o.flush()
	}
	if err := w.failed(); err != nil {
		o.release()
		return err
	}
	w.ch <- o
	return nil
}

// wait waits for the queued writes and returns the first error.
func (w *writeBehind) wait() error {
	if w == nil {
		return nil
	}
	close(w.ch)
	<-w.done
	return w.err
}
