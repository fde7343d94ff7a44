package formats

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize is the largest header gomerge accepts (100 MiB), as in the
// reference safetensors implementation.
const MaxHeaderSize = 100 << 20

// TensorInfo describes one tensor of a safetensors file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
	// Offset is the absolute position of the tensor's first byte in File.
	Offset int64
	// Size is the tensor's length in bytes.
	Size int64
	// File is the path of the file holding the tensor.
	File string
}

// NumElements returns the product of the shape (1 for a scalar).
func (t *TensorInfo) NumElements() int64 { return NumElements(t.Shape) }

// NumElements returns the product of a shape (1 for a scalar).
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// Header is the parsed header of one safetensors file.
type Header struct {
	// Tensors in the order of their data offsets.
	Tensors []TensorInfo
	// Metadata is the optional string→string __metadata__ map.
	Metadata map[string]string
	// DataStart is the file offset of the data section (8 + header length).
	DataStart int64
}

// ReadHeader reads and validates the header of the safetensors file r of the
// given size. name is used in error messages.
func ReadHeader(r io.ReaderAt, size int64, name string) (*Header, error) {
	var lenBuf [8]byte
	if size < 8 {
		return nil, fmt.Errorf("%s: not a safetensors file: %d bytes, shorter than the 8-byte header length", name, size)
	}
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: reading header length: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%s: header length %d is larger than the 100 MiB limit", name, n)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("%s: header length %d is larger than the file (%d bytes)", name, n, size)
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, 8); err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	h, err := ParseHeader(buf, size-8-int64(n))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	h.DataStart = 8 + int64(n)
	for i := range h.Tensors {
		h.Tensors[i].Offset += h.DataStart
		h.Tensors[i].File = name
	}
	return h, nil
}

// ParseHeader parses the JSON header of a safetensors file whose data section
// is dataLen bytes long. Offsets in the result are relative to the data
// section. Every structural rule of the format is checked: valid UTF-8 JSON,
// unique names, known dtypes, non-overflowing shapes, byte lengths matching
// shapes, offsets in range and covering the data section without gaps or
// overlaps, and a string→string __metadata__.
func ParseHeader(buf []byte, dataLen int64) (*Header, error) {
	if !utf8.Valid(buf) {
		return nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("header is not a JSON object")
	}
	h := &Header{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("header is not valid JSON: %w", err)
		}
		key := tok.(string)
		if seen[key] {
			return nil, fmt.Errorf("tensor %q: duplicate name in header", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("header is not valid JSON: %w", err)
		}
		if key == "__metadata__" {
			md := map[string]string{}
			if err := json.Unmarshal(raw, &md); err != nil {
				return nil, errors.New("__metadata__ is not a map of strings to strings")
			}
			h.Metadata = md
			continue
		}
		t, err := parseEntry(key, raw)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("header is not valid JSON: trailing data")
	}
	if err := checkLayout(h.Tensors, dataLen); err != nil {
		return nil, err
	}
	return h, nil
}

func parseEntry(name string, raw json.RawMessage) (TensorInfo, error) {
	var e struct {
		DType       *string  `json:"dtype"`
		Shape       *[]int64 `json:"shape"`
		DataOffsets *[]int64 `json:"data_offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&e); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return TensorInfo{}, fmt.Errorf("tensor %q: %s holds a %s where %s is expected", name, te.Field, te.Value, typeWord(te.Type.String()))
		case errors.As(err, &te):
			return TensorInfo{}, fmt.Errorf("tensor %q: entry is a JSON %s, not an object", name, te.Value)
		}
		return TensorInfo{}, fmt.Errorf("tensor %q: malformed entry: %v", name, err)
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return TensorInfo{}, fmt.Errorf("tensor %q: entry needs dtype, shape and data_offsets", name)
	}
	dt := DType(*e.DType)
	if dt.Size() == 0 {
		return TensorInfo{}, fmt.Errorf("tensor %q: unknown dtype %q", name, *e.DType)
	}
	shape := *e.Shape
	want, err := checkedSize(shape, dt)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets must have two entries, got %d", name, len(offs))
	}
	if offs[0] < 0 || offs[1] < 0 {
		return TensorInfo{}, fmt.Errorf("tensor %q: negative data_offsets [%d, %d]", name, offs[0], offs[1])
	}
	if offs[1] < offs[0] {
		return TensorInfo{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] are reversed", name, offs[0], offs[1])
	}
	if got := offs[1] - offs[0]; got != want {
		return TensorInfo{}, fmt.Errorf("tensor %q: byte length %d does not match shape %v of %s (%d bytes)", name, got, shape, dt, want)
	}
	return TensorInfo{Name: name, DType: dt, Shape: append([]int64{}, shape...), Offset: offs[0], Size: want}, nil
}

// typeWord names a Go type of a header field for an error message.
func typeWord(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "int64":
		return "an integer"
	}
	return "a list of integers"
}

// checkedSize returns the byte length of a tensor of the given shape and
// dtype, or an error if a dimension is negative or the length overflows.
func checkedSize(shape []int64, dt DType) (int64, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64/8 {
			return 0, fmt.Errorf("shape %v overflows the element count", shape)
		}
		n = lo
	}
	return int64(n) * int64(dt.Size()), nil
}

// checkLayout sorts tensors by offset and checks that they tile [0, dataLen).
func checkLayout(ts []TensorInfo, dataLen int64) error {
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Offset != ts[j].Offset {
			return ts[i].Offset < ts[j].Offset
		}
		return ts[i].Size < ts[j].Size
	})
	pos := int64(0)
	for i := range ts {
		t := &ts[i]
		if t.Offset+t.Size > dataLen {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the end of the data (%d bytes; file truncated?)", t.Name, t.Offset, t.Offset+t.Size, dataLen)
		}
		if t.Offset < pos {
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q", t.Name, t.Offset, t.Offset+t.Size, ts[i-1].Name)
		}
		if t.Offset > pos {
			return fmt.Errorf("tensor %q: gap of %d bytes before its data at offset %d", t.Name, t.Offset-pos, t.Offset)
		}
		pos = t.Offset + t.Size
	}
	if pos != dataLen {
		return fmt.Errorf("%d bytes of data after the last tensor are not described by the header", dataLen-pos)
	}
	return nil
}
