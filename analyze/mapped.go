package analyze

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// The bf16 path reads memory mappings of the stored tensors when it can:
// the kernels then read the page cache in place, without a pread system
// call and a copy per piece. A tensor is mapped when its first chunk starts
// and unmapped when its last chunk is done; each chunk drops its pages once
// its statistics are taken, so resident memory stays bounded by the chunks
// in flight. A file truncated while mapped makes an access fault, which
// guard turns into an error naming the file and tensor. When a tensor
// cannot be mapped its chunks read with ReadRaw as before.

// tensorMaps are the mappings of one tensor of the base and the compared
// experts, shared by the tensor's chunks.
type tensorMaps struct {
	mu sync.Mutex
	// tried is set once mapping was attempted; maps is nil when it failed
	// (or the tensor's chunks are all done).
	tried bool
	// maps[0] is the base's mapping, maps[k+1] expert k's (nil when the
	// expert lacks the tensor); data the same as []uint16 views.
	maps []*formats.Mapping
	data [][]uint16
	// left counts the chunks not yet done; the last one unmaps.
	left atomic.Int64
}

// acquire returns the tensor's mapped values (mapping them on the first
// call), or nil when they cannot be mapped: the caller then reads with
// ReadRaw. Each chunk that got a non-nil result calls release when done.
func (j *tensorJob) acquire() [][]uint16 {
	m := &j.mapped
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.tried {
		m.tried = true
		m.left.Store(int64(len(j.chunks)))
		m.mapAll(j)
	}
	return m.data
}

// mapAll maps the base's and the compared experts' stored bytes of j, or
// nothing when one of them cannot be mapped.
func (m *tensorMaps) mapAll(j *tensorJob) {
	srcs := append([]*merge.TensorSource{j.base}, j.experts...)
	m.maps = make([]*formats.Mapping, len(srcs))
	m.data = make([][]uint16, len(srcs))
	for k, s := range srcs {
		if s == nil {
			continue
		}
		mm, err := s.MapRaw()
		if err != nil || int64(len(mm.Data)) != 2*s.Len() {
			if err == nil {
				_ = mm.Close()
			}
			m.closeAll()
			return
		}
		m.maps[k] = mm
		m.data[k] = merge.BytesAsU16(mm.Data)
	}
}

// release drops the pages of elements [c.Lo, c.Hi) and unmaps the tensor
// after its last chunk.
func (j *tensorJob) release(c merge.Chunk) {
	m := &j.mapped
	// Every chunk drops its pages before it counts itself done, so the
	// last one unmaps only after all the others have dropped theirs: the
	// drops need no lock (and do not hold up the other threads).
	for _, mm := range m.maps {
		if mm != nil {
			mm.Drop(2*c.Lo, 2*int64(c.Len()))
		}
	}
	if m.left.Add(-1) == 0 {
		j.close()
	}
}

// close unmaps the tensor if it is still mapped (a run that stopped early).
func (j *tensorJob) close() {
	m := &j.mapped
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closeAll()
}

func (m *tensorMaps) closeAll() {
	for _, mm := range m.maps {
		if mm != nil {
			_ = mm.Close()
		}
	}
	m.maps, m.data = nil, nil
}

// guard runs fn, which reads the mapped values data of j (as acquire
// returned them), under merge.GuardFaults: a memory fault (an input file
// truncated while mapped) returns an error naming the file and tensor
// instead of crashing. Every goroutine that reads mappings runs its reads
// under its own guard.
func (j *tensorJob) guard(data [][]uint16, fn func()) error {
	files := []string{j.base.T.File}
	raw := make([][]byte, len(data))
	for _, e := range j.experts {
		f := ""
		if e != nil {
			f = e.T.File
		}
		files = append(files, f)
	}
	for k, d := range data {
		if len(d) > 0 {
			raw[k] = unsafe.Slice((*byte)(unsafe.Pointer(&d[0])), 2*len(d))
		}
	}
	return merge.GuardFaults(j.name, files, raw, func() error {
		fn()
		return nil
	})
}
