package merge

import (
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
)

// RawMapper is implemented by sources whose stored bytes can be memory
// mapped (formats.Tensor.Map): a pass over a mapping reads the page cache
// in place, without ReadRaw's system call and copy per block.
type RawMapper interface {
	MapRaw() (*formats.Mapping, error)
}

// MapRaw implements RawMapper for uncropped tensors.
func (s *TensorSource) MapRaw() (*formats.Mapping, error) {
	if s.cropped() {
		return nil, fmt.Errorf("%s: tensor %q: %w (cropped)", s.T.File, s.T.Name, formats.ErrMapUnsupported)
	}
	return s.T.Map()
}

// MappedInputs are the mapped stored bytes of a task's base (when set)
// followed by its inputs, in RawSources' order.
type MappedInputs struct {
	// Data holds each source's stored bytes.
	Data  [][]byte
	maps  []*formats.Mapping
	files []string
	name  string
}

// MapRawSources maps the stored bytes of t.Base and t.Inputs when every one
// stores dtype dt uncropped and can be mapped, else returns nil (nothing
// stays mapped) and the caller reads with RawSources or Read. Reads of
// Data must run under Guard; Close unmaps.
func MapRawSources(t *Task, dt formats.DType) *MappedInputs {
	srcs := t.Inputs
	if t.Base != nil {
		srcs = append([]Source{t.Base}, t.Inputs...)
	}
	m := &MappedInputs{name: t.Name}
	for _, s := range srcs {
		r, ok1 := s.(RawReader)
		mp, ok2 := s.(RawMapper)
		if !ok1 || !ok2 || r.RawDType() != dt {
			m.Close()
			return nil
		}
		mm, err := mp.MapRaw()
		if err != nil {
			m.Close()
			return nil
		}
		m.maps = append(m.maps, mm)
		m.Data = append(m.Data, mm.Data)
		file := ""
		if ts, ok := s.(*TensorSource); ok {
			file = ts.T.File
		}
		m.files = append(m.files, file)
	}
	return m
}

// Drop releases the mapped pages of elements [lo, hi) of every input (of
// elemSize bytes each) once a pass is done with them, so resident memory
// stays bounded by the chunks in flight (see formats.Mapping.Drop).
func (m *MappedInputs) Drop(lo, hi int64, elemSize int) {
	for _, mm := range m.maps {
		mm.Drop(lo*int64(elemSize), (hi-lo)*int64(elemSize))
	}
}

// Close unmaps the inputs.
func (m *MappedInputs) Close() {
	for _, mm := range m.maps {
		_ = mm.Close()
	}
	m.maps, m.Data = nil, nil
}

// Guard runs fn, which reads m.Data, so that a memory fault (an input file
// truncated while mapped) returns an error naming the file and tensor
// instead of crashing. Every goroutine that reads the mappings must run
// under its own Guard.
func (m *MappedInputs) Guard(fn func() error) error {
	return GuardFaults(m.name, m.files, m.Data, fn)
}

// U16 returns input i's stored bytes as 16-bit values (bf16 or f16).
func (m *MappedInputs) U16(i int) []uint16 { return BytesAsU16(m.Data[i]) }

// BytesAsU16 views b (of even length) as 16-bit values, without copying.
func BytesAsU16(b []byte) []uint16 {
	if len(b) == 0 {
		return []uint16{}
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

// GuardFaults runs fn, which reads the mapped byte slices data (of the files
// of the same index) of tensor name, so that a memory fault — a mapped file
// truncated meanwhile — returns an error naming the file and tensor instead
// of crashing the program (debug.SetPanicOnFault, which holds for the
// calling goroutine only: every goroutine that reads mappings needs its own
// guard). Any other panic goes on.
func GuardFaults(name string, files []string, data [][]byte, fn func() error) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		f, ok := r.(interface{ Addr() uintptr })
		if !ok {
			panic(r)
		}
		err = fmt.Errorf("%s: tensor %q: file changed or truncated while mapped (fault at %#x)", faultFile(files, data, f.Addr()), name, f.Addr())
	}()
	return fn()
}

// faultFile names the file whose mapping holds address a (a fault may hit
// the page before a mapping that starts mid-page).
func faultFile(files []string, data [][]byte, a uintptr) string {
	for i, d := range data {
		if len(d) == 0 || i >= len(files) {
			continue
		}
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(d)))
		if a >= lo-4096 && a < lo+uintptr(len(d)) {
			return files[i]
		}
	}
	return "an input file"
}
