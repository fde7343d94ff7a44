// Package formatstest writes and reads small checkpoints for tests of the
// packages built on formats.
package formatstest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gomerge/gomerge/formats"
)

// Tensor is one tensor of a test checkpoint. A nil Shape means a 1-D tensor
// of len(Data) elements.
type Tensor struct {
	Name  string
	Shape []int64
	Data  []float32
}

// Write writes the tensors as a checkpoint of dtype dt at path (a
// .safetensors file or a directory), failing the test on any error. With
// config non-empty and a directory path, it is written as config.json.
func Write(tb testing.TB, path string, dt formats.DType, tensors []Tensor, config string) {
	tb.Helper()
	specs := make([]formats.TensorSpec, len(tensors))
	for i, t := range tensors {
		shape := t.Shape
		if shape == nil {
			shape = []int64{int64(len(t.Data))}
		}
		specs[i] = formats.TensorSpec{Name: t.Name, DType: dt, Shape: shape}
	}
	w, err := formats.Create(path, specs, formats.WriteOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, t := range tensors {
		if _, err := w.WriteFloat32(t.Name, 0, t.Data, nil); err != nil {
			w.Abort()
			tb.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		tb.Fatal(err)
	}
	if config != "" && w.IsDir() {
		if err := os.WriteFile(filepath.Join(path, "config.json"), []byte(config), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// WriteMap is Write for a map of 1-D tensors (written in name order).
func WriteMap(tb testing.TB, path string, dt formats.DType, tensors map[string][]float32) {
	tb.Helper()
	names := make([]string, 0, len(tensors))
	for n := range tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	ts := make([]Tensor, len(names))
	for i, n := range names {
		ts[i] = Tensor{Name: n, Data: tensors[n]}
	}
	Write(tb, path, dt, ts, "")
}

// Read returns one tensor of the checkpoint at path as float32.
func Read(tb testing.TB, path, name string) []float32 {
	tb.Helper()
	m, err := formats.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	t, ok := m.Tensor(name)
	if !ok {
		tb.Fatalf("%s: no tensor %q", path, name)
	}
	out := make([]float32, t.NumElements())
	if _, err := t.ReadFloat32(out, 0, nil); err != nil {
		tb.Fatal(err)
	}
	return out
}

// ReadAll returns every floating-point tensor of the checkpoint at path.
func ReadAll(tb testing.TB, path string) map[string][]float32 {
	tb.Helper()
	m, err := formats.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	out := map[string][]float32{}
	for _, n := range m.Names() {
		t, _ := m.Tensor(n)
		if !t.DType.IsFloat() {
			continue
		}
		v := make([]float32, t.NumElements())
		if _, err := t.ReadFloat32(v, 0, nil); err != nil {
			tb.Fatal(err)
		}
		out[n] = v
	}
	return out
}

// RawBytes returns every tensor's stored bytes, for byte-identity checks.
func RawBytes(tb testing.TB, path string) map[string][]byte {
	tb.Helper()
	m, err := formats.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	out := map[string][]byte{}
	for _, n := range m.Names() {
		t, _ := m.Tensor(n)
		b := make([]byte, t.Size)
		if err := t.ReadAt(b, 0); err != nil {
			tb.Fatal(err)
		}
		out[n] = b
	}
	return out
}

// WriteFunc writes a checkpoint holding specs, element i of tensor name
// being value(name, i), plus extra files (config.json …) for a directory
// output.
func WriteFunc(tb testing.TB, path string, specs []formats.TensorSpec, value func(name string, i int) float32, files map[string][]byte) {
	tb.Helper()
	w, err := formats.Create(path, specs, formats.WriteOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Abort()
	for _, s := range specs {
		v := make([]float32, formats.NumElements(s.Shape))
		for i := range v {
			v[i] = value(s.Name, i)
		}
		if _, err := w.WriteFloat32(s.Name, 0, v, nil); err != nil {
			tb.Fatal(err)
		}
	}
	for name, data := range files {
		w.AddFile(name, data)
	}
	if err := w.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// Open opens a checkpoint and closes it when the test ends.
func Open(tb testing.TB, path string) *formats.Model {
	tb.Helper()
	m, err := formats.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// Values reads one tensor of an opened model as float32.
func Values(tb testing.TB, m *formats.Model, name string) []float32 {
	tb.Helper()
	t, ok := m.Tensor(name)
	if !ok {
		tb.Fatalf("%s: no tensor %q", m.Path, name)
	}
	out := make([]float32, t.NumElements())
	if _, err := t.ReadFloat32(out, 0, nil); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Bytes reads one tensor of an opened model as stored bytes.
func Bytes(tb testing.TB, m *formats.Model, name string) []byte {
	tb.Helper()
	t, ok := m.Tensor(name)
	if !ok {
		tb.Fatalf("%s: no tensor %q", m.Path, name)
	}
	b := make([]byte, t.Size)
	if err := t.ReadAt(b, 0); err != nil {
		tb.Fatal(err)
	}
	return b
}
