package merge

import (
	"bytes"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomerge/gomerge/formats"
)

// TestWriteQueue checks the queued writes of a sink: they land at their
// offsets, every buffer is released exactly once, and after a failed write
// later ones are dropped (still released) and the first error — naming
// the file and tensor — comes back from QueueRaw and from close.
func TestWriteQueue(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.safetensors")
	w, err := formats.Create(p, []formats.TensorSpec{{Name: "a", DType: formats.BF16, Shape: []int64{64}}}, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	q := newWriteQueue()
	good := &writerSink{w: w, name: "a", q: q}
	var released atomic.Int64
	rel := func() { released.Add(1) }
	for i := 0; i < 4; i++ {
		piece := bytes.Repeat([]byte{byte(i + 1)}, 32)
		if err := good.QueueRaw(piece, int64(16*i), rel); err != nil {
			t.Fatal(err)
		}
	}
	// A write outside the tensor fails; the queue reports it from then on.
	if err := good.QueueRaw(make([]byte, 32), 60, rel); err != nil {
		t.Fatalf("the failing write is queued, its error comes later: %v", err)
	}
	var later error
	calls := int64(5)
	for i := 0; i < 3*writeQueueDepth && later == nil; i++ {
		later = good.QueueRaw(make([]byte, 2), 0, rel)
		calls++
	}
	err = q.close()
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("close: %v, want the failed write's error naming %s and tensor a", err, p)
	}
	if later == nil || later.Error() != err.Error() {
		t.Errorf("QueueRaw after the failure: %v, want %v", later, err)
	}
	if n := released.Load(); n != calls {
		t.Errorf("released %d buffers, want %d (every one, once)", n, calls)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	m, err := formats.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tn, _ := m.Tensor("a")
	got := make([]byte, 128)
	if err := tn.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if want := bytes.Repeat([]byte{byte(i + 1)}, 32); !bytes.Equal(got[32*i:32*i+32], want) {
			t.Errorf("piece %d: %v, want %v", i, got[32*i:32*i+32], want)
		}
	}
}
