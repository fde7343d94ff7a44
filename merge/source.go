package merge

import (
	"fmt"
	"sync"

	"github.com/gomerge/gomerge/formats"
)

var bytePool = sync.Pool{New: func() any { return new([]byte) }}

// TensorSource reads a stored tensor as float32, optionally cropped to the
// top-left sub-matrix of a smaller shape (token embeddings of models whose
// vocabularies differ).
type TensorSource struct {
	T     *formats.Tensor
	shape []int64
}

// NewSource returns a Source over a stored floating-point tensor. A non-nil
// crop shape (same rank, each dimension ≤ the stored one) selects the
// top-left sub-matrix.
func NewSource(t *formats.Tensor, crop []int64) (*TensorSource, error) {
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("%s: tensor %q: dtype %s cannot be merged (integer and bool tensors are copied from the base)", t.File, t.Name, t.DType)
	}
	s := &TensorSource{T: t, shape: t.Shape}
	if crop != nil {
		if len(crop) != len(t.Shape) || len(crop) == 0 {
			return nil, fmt.Errorf("%s: tensor %q: cannot crop shape %v to %v", t.File, t.Name, t.Shape, crop)
		}
		for i := range crop {
			if crop[i] > t.Shape[i] {
				return nil, fmt.Errorf("%s: tensor %q: cannot crop shape %v to %v", t.File, t.Name, t.Shape, crop)
			}
		}
		s.shape = append([]int64{}, crop...)
	}
	return s, nil
}

// Shape implements Source.
func (s *TensorSource) Shape() []int64 { return s.shape }

// Len implements Source.
func (s *TensorSource) Len() int64 { return formats.NumElements(s.shape) }

func (s *TensorSource) cropped() bool {
	for i := range s.shape {
		if s.shape[i] != s.T.Shape[i] {
			return true
		}
	}
	return false
}

// RawReader is implemented by sources that can hand out their stored
// bytes: hot loops may then read bf16 or f16 directly instead of float32.
type RawReader interface {
	// RawDType is the stored dtype, or "" when the source cannot read raw
	// bytes (a cropped tensor).
	RawDType() formats.DType
	// ReadRaw fills p with the stored bytes of elements [off, off+len(p)/size).
	ReadRaw(p []byte, off int64) error
}

// RawSources returns the raw readers of t.Base (when set) followed by
// t.Inputs if every one stores dtype dt uncropped, else nil: hot loops then
// read the stored bytes (bf16, say) instead of float32 copies.
func RawSources(t *Task, dt formats.DType) []RawReader {
	srcs := t.Inputs
	if t.Base != nil {
		srcs = append([]Source{t.Base}, t.Inputs...)
	}
	out := make([]RawReader, 0, len(srcs))
	for _, s := range srcs {
		r, ok := s.(RawReader)
		if !ok || r.RawDType() != dt {
			return nil
		}
		out = append(out, r)
	}
	return out
}

// RawDType implements RawReader.
func (s *TensorSource) RawDType() formats.DType {
	if s.cropped() {
		return ""
	}
	return s.T.DType
}

// ReadRaw implements RawReader.
func (s *TensorSource) ReadRaw(p []byte, off int64) error {
	sz := int64(s.T.DType.Size())
	if s.cropped() || int64(len(p))%sz != 0 {
		return fmt.Errorf("%s: tensor %q: raw read not possible", s.T.File, s.T.Name)
	}
	return s.T.ReadAt(p, off*sz)
}

// Read implements Source.
func (s *TensorSource) Read(dst []float32, off int64) error {
	if off < 0 || off+int64(len(dst)) > s.Len() {
		return fmt.Errorf("%s: tensor %q: read [%d, %d) outside %d elements", s.T.File, s.T.Name, off, off+int64(len(dst)), s.Len())
	}
	bp := bytePool.Get().(*[]byte)
	defer bytePool.Put(bp)
	if !s.cropped() {
		var err error
		*bp, err = s.T.ReadFloat32(dst, off, *bp)
		return err
	}
	// Cropped: the last dimension is contiguous; read row pieces.
	_, cols := MatrixShape(s.shape)
	_, fullCols := MatrixShape(s.T.Shape)
	for len(dst) > 0 {
		r, c := off/cols, off%cols
		n := min(int64(len(dst)), cols-c)
		var err error
		if *bp, err = s.T.ReadFloat32(dst[:n], r*fullCols+c, *bp); err != nil {
			return err
		}
		dst = dst[n:]
		off += n
	}
	return nil
}

// writerSink writes float32 results into one tensor of a formats.Writer.
type writerSink struct {
	w    *formats.Writer
	name string
	done func(n int64)
}

func (s *writerSink) Write(src []float32, off int64) error {
	bp := bytePool.Get().(*[]byte)
	defer bytePool.Put(bp)
	var err error
	*bp, err = s.w.WriteFloat32(s.name, off, src, *bp)
	if err == nil && s.done != nil {
		s.done(int64(len(src)))
	}
	return err
}

// RawWriter is implemented by sinks that take the output tensor's stored
// bytes directly: a hot loop that already holds its results in the output
// dtype (bf16, say) writes them without a float32 round trip, and in large
// pieces.
type RawWriter interface {
	// RawDType is the output tensor's stored dtype.
	RawDType() formats.DType
	// WriteRaw writes the stored bytes p of elements [off, off+len(p)/size).
	WriteRaw(p []byte, off int64) error
}

// RawDType implements RawWriter.
func (s *writerSink) RawDType() formats.DType {
	dt, _ := s.w.DType(s.name)
	return dt
}

// WriteRaw implements RawWriter.
func (s *writerSink) WriteRaw(p []byte, off int64) error {
	dt, ok := s.w.DType(s.name)
	if !ok {
		return fmt.Errorf("%s: tensor %q was not declared", s.w.Path(), s.name)
	}
	sz := int64(dt.Size())
	if int64(len(p))%sz != 0 {
		return fmt.Errorf("%s: tensor %q: raw write of %d bytes is not whole %s elements", s.w.Path(), s.name, len(p), dt)
	}
	err := s.w.WriteAt(s.name, p, off*sz)
	if err == nil && s.done != nil {
		s.done(int64(len(p)) / sz)
	}
	return err
}

// SliceSource is a Source over values in memory (tests, small tensors).
type SliceSource struct {
	Data []float32
	Dims []int64
}

// Shape implements Source.
func (s *SliceSource) Shape() []int64 {
	if s.Dims == nil {
		return []int64{int64(len(s.Data))}
	}
	return s.Dims
}

// Len implements Source.
func (s *SliceSource) Len() int64 { return int64(len(s.Data)) }

// Read implements Source.
func (s *SliceSource) Read(dst []float32, off int64) error {
	if off < 0 || off+int64(len(dst)) > int64(len(s.Data)) {
		return fmt.Errorf("read [%d, %d) outside %d elements", off, off+int64(len(dst)), len(s.Data))
	}
	copy(dst, s.Data[off:])
	return nil
}

// SliceSink is a Sink collecting values in memory (tests).
type SliceSink struct {
	Data []float32
}

// Write implements Sink.
func (s *SliceSink) Write(src []float32, off int64) error {
	if off < 0 || off+int64(len(src)) > int64(len(s.Data)) {
		return fmt.Errorf("write [%d, %d) outside %d elements", off, off+int64(len(src)), len(s.Data))
	}
	copy(s.Data[off:], src)
	return nil
}
