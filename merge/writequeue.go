package merge

import "sync"

// QueuedRawWriter is implemented by sinks that can take a method's stored
// output bytes for writing later, from a writer goroutine of the whole
// merge: the method goes on computing instead of waiting for the write,
// and writes into the output file never contend with each other (two
// writes into one file serialise in the kernel, the second spinning on the
// file's lock). Execute waits for every queued write before it returns.
type QueuedRawWriter interface {
	RawWriter
	// QueueRaw queues WriteRaw(p, off) and calls release once p is no
	// longer needed (written, or dropped after an earlier error). It
	// returns the first error of an earlier queued write, if any.
	QueueRaw(p []byte, off int64, release func()) error
}

// writeQueueDepth is the number of writes a writeQueue holds before
// QueueRaw waits.
const writeQueueDepth = 8

// writeQueue writes queued pieces from one goroutine, in order.
type writeQueue struct {
	ch   chan queuedWrite
	done chan struct{}
	mu   sync.Mutex
	err  error
}

type queuedWrite struct {
	s       *writerSink
	p       []byte
	off     int64
	release func()
}

func newWriteQueue() *writeQueue {
	q := &writeQueue{ch: make(chan queuedWrite, writeQueueDepth), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for w := range q.ch {
			if q.failed() == nil {
				if err := w.s.WriteRaw(w.p, w.off); err != nil {
					q.mu.Lock()
					q.err = err
					q.mu.Unlock()
				}
			}
			if w.release != nil {
				w.release()
			}
		}
	}()
	return q
}

// failed returns the first write error so far.
func (q *writeQueue) failed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// put queues a write (see QueuedRawWriter).
func (q *writeQueue) put(w queuedWrite) error {
	if err := q.failed(); err != nil {
		if w.release != nil {
			w.release()
		}
		return err
	}
	q.ch <- w
	return nil
}

// close waits for the queued writes and returns the first error.
func (q *writeQueue) close() error {
	close(q.ch)
	<-q.done
	return q.err
}

// QueueRaw implements QueuedRawWriter (inline when the sink has no queue).
func (s *writerSink) QueueRaw(p []byte, off int64, release func()) error {
	if s.q == nil {
		err := s.WriteRaw(p, off)
		if release != nil {
			release()
		}
		return err
	}
	return s.q.put(queuedWrite{s: s, p: p, off: off, release: release})
}
