//go:build unix

package widen

import (
	"bytes"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// mapTensor maps the stored bytes of a raw bfloat16 source read-only and
// returns its elements and the mapping (for unmapTensor), or nil when the
// source cannot be mapped (not a whole stored tensor, standard input, a
// file that does not hold the tensor or no longer matches what the model
// read, an odd offset): the caller then reads it with ReadRaw.
//
// A mapping reads the page cache in place: no system call and no copy per
// block, where ReadRaw copies every block into the worker's buffer.
func mapTensor(src merge.RawReader) (elems []uint16, mapping []byte) {
	ts, ok := src.(*merge.TensorSource)
	if !ok || ts.T == nil || ts.T.File == formats.StdinName || ts.T.Size == 0 || ts.T.Offset%2 != 0 {
		return nil, nil
	}
	t := ts.T
	f, err := os.Open(t.File)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < t.Offset+t.Size {
		return nil, nil
	}
	page := int64(os.Getpagesize())
	start := t.Offset / page * page
	m, err := unix.Mmap(int(f.Fd()), start, int(t.Offset+t.Size-start), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil
	}
	data := m[t.Offset-start:]
	// The path must still name the file the model opened: compare the
	// first bytes with a read through the model's own file.
	head := make([]byte, min(64, len(data))&^1)
	if err := src.ReadRaw(head, 0); err != nil || !bytes.Equal(head, data[:len(head)]) {
		_ = unix.Munmap(m)
		return nil, nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&data[0])), t.Size/2), m
}

// unmapTensor releases a mapping of mapTensor. The pages are dropped
// first (MADV_DONTNEED holds the address-space lock only for reading, so
// other threads keep faulting pages in meanwhile); the unmap itself is
// then short.
func unmapTensor(m []byte) {
	_ = unix.Madvise(m, unix.MADV_DONTNEED)
	_ = unix.Munmap(m)
}

// dropPages releases the mapped pages that lie wholly inside elements
// [lo, hi) of elems, a view into mapping m (MADV_DONTNEED: the page cache
// keeps them, pass 2 maps them again). Dropping each chunk's pages once a
// pass is done with them keeps resident memory bounded by the chunks in
// flight instead of growing with the tensor.
func dropPages(m []byte, elems []uint16, lo, hi int64) {
	if len(m) == 0 || len(elems) == 0 || hi <= lo {
		return
	}
	page := int64(os.Getpagesize())
	skip := int64(uintptr(unsafe.Pointer(&elems[0])) - uintptr(unsafe.Pointer(&m[0])))
	a := (skip + 2*lo + page - 1) / page * page
	b := min((skip+2*hi)/page*page, int64(len(m)))
	if b > a {
		_ = unix.Madvise(m[a:b], unix.MADV_DONTNEED)
	}
}
