//go:build unix

package formats

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Map maps the tensor's stored bytes read-only from its file. Reading the
// mapping reads the page cache in place, without the system call and the
// copy per block that ReadAt costs; hot loops over raw bf16 use it when the
// whole tensor is read once or twice.
//
// A file truncated while mapped makes a later access fault: callers must
// read the mapping under merge.GuardFaults to turn that into an error
// instead of a crash.
func (t *Tensor) Map() (*Mapping, error) {
	if t.Size == 0 {
		return &Mapping{}, nil
	}
	st, err := t.f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", t.File, t.Name, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: tensor %q: %w", t.File, t.Name, ErrMapUnsupported)
	}
	if st.Size() < t.Offset+t.Size {
		return nil, fmt.Errorf("%s: tensor %q: file changed or truncated (%d bytes, the tensor ends at %d)", t.File, t.Name, st.Size(), t.Offset+t.Size)
	}
	page := int64(os.Getpagesize())
	start := t.Offset / page * page
	m, err := unix.Mmap(int(t.f.Fd()), start, int(t.Offset+t.Size-start), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: mapping: %w", t.File, t.Name, err)
	}
	return &Mapping{Data: m[t.Offset-start:], region: m}, nil
}

// Close unmaps the mapping. Its pages are dropped first (MADV_DONTNEED
// holds the address-space lock only for reading, so other threads go on
// faulting pages in meanwhile), which keeps the unmap itself short.
func (m *Mapping) Close() error {
	if m.region == nil {
		return nil
	}
	_ = unix.Madvise(m.region, unix.MADV_DONTNEED)
	err := unix.Munmap(m.region)
	m.region, m.Data = nil, nil
	return err
}

// Drop releases the mapped pages that lie wholly inside bytes [off, off+n)
// of Data (MADV_DONTNEED: the page cache keeps them, a later access maps
// them again). A pass that drops what it has read keeps the process's
// resident memory bounded by the pieces in flight instead of growing with
// the tensor.
func (m *Mapping) Drop(off, n int64) {
	if m.region == nil || n <= 0 {
		return
	}
	page := int64(os.Getpagesize())
	skip := int64(len(m.region) - len(m.Data)) // Data's offset in region
	lo := (skip + off + page - 1) / page * page
	hi := min((skip+off+n)/page*page, int64(len(m.region)))
	if hi <= lo {
		return
	}
	_ = unix.Madvise(m.region[lo:hi], unix.MADV_DONTNEED)
}
