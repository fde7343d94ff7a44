package formats

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpus returns the fixture files of ../testdata/formats matching pattern.
func corpus(t testing.TB, pattern string) map[string][]byte {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "formats", pattern))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures %s: %v", pattern, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = b
	}
	return out
}

// TestCorpus opens every checked-in fixture: good-* must open, bad-* must
// fail with an error naming the file.
func TestCorpus(t *testing.T) {
	for p := range corpus(t, "*.safetensors") {
		m, err := Open(p)
		good := strings.HasPrefix(filepath.Base(p), "good-")
		switch {
		case good && err != nil:
			t.Errorf("%s: %v", p, err)
		case !good && err == nil:
			t.Errorf("%s: opened, want an error", p)
		case !good && !strings.HasPrefix(err.Error(), p+":"):
			t.Errorf("%s: error %q does not name the file", p, err)
		}
		if err == nil {
			m.Close()
		}
	}
	for p, data := range corpus(t, "*.json") {
		_, err := ParseIndex(data)
		if good := strings.HasPrefix(filepath.Base(p), "good-"); good != (err == nil) {
			t.Errorf("%s: ParseIndex error %v", p, err)
		}
	}
}

// checkHeaderInvariants verifies what a successful parse promises.
func checkHeaderInvariants(t *testing.T, h *Header, size int64) {
	pos := h.DataStart
	seen := map[string]bool{}
	for _, ti := range h.Tensors {
		if seen[ti.Name] || ti.Name == "__metadata__" {
			t.Fatalf("name %q repeated or reserved", ti.Name)
		}
		seen[ti.Name] = true
		if ti.Offset != pos {
			t.Fatalf("tensor %q at %d, want %d", ti.Name, ti.Offset, pos)
		}
		if ti.Size != ti.NumElements()*int64(ti.DType.Size()) || ti.Size < 0 {
			t.Fatalf("tensor %q: size %d for shape %v", ti.Name, ti.Size, ti.Shape)
		}
		pos += ti.Size
	}
	if pos != size {
		t.Fatalf("tensors end at %d, file has %d bytes", pos, size)
	}
}

// FuzzHeader feeds arbitrary files to ReadHeader: it must never panic, and
// whatever it accepts must satisfy the layout invariants and survive a
// write with Create and a re-read.
func FuzzHeader(f *testing.F) {
	for _, b := range corpus(f, "*.safetensors") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data), int64(len(data)), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkHeaderInvariants(t, h, int64(len(data)))
		// Re-encode the accepted header and parse it again.
		specs := make([]TensorSpec, len(h.Tensors))
		for i, ti := range h.Tensors {
			specs[i] = TensorSpec{Name: ti.Name, DType: ti.DType, Shape: ti.Shape}
		}
		if total := int64(len(data)); total > 1<<20 {
			return
		}
		hdr, _ := encodeHeader(specs, h.Metadata)
		buf := append(hdr, data[h.DataStart:]...)
		h2, err := ReadHeader(bytes.NewReader(buf), int64(len(buf)), "again")
		if err != nil {
			t.Fatalf("re-encoded header rejected: %v\n%q", err, hdr)
		}
		if len(h2.Tensors) != len(h.Tensors) {
			t.Fatalf("re-encoded header has %d tensors, want %d", len(h2.Tensors), len(h.Tensors))
		}
		if len(hdr)%8 != 0 {
			t.Fatalf("header of %d bytes is not padded to 8", len(hdr))
		}
	})
}

// FuzzIndex feeds arbitrary documents to ParseIndex and to the opening of
// a model directory holding two shards (tensor "a" in
// model-00001-of-00002.safetensors, "b" in model-00002-of-00002.safetensors):
// nothing may panic, every shard name accepted must stay inside the
// directory, and an opened model must hold exactly the indexed tensors.
func FuzzIndex(f *testing.F) {
	for _, b := range corpus(f, "*.json") {
		f.Add(b)
	}
	f.Add([]byte(`{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"model-00002-of-00002.safetensors"}}`))
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "model-00001-of-00002.safetensors"), goodFile("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "model-00002-of-00002.safetensors"), goodFile("b"), 0o644)
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := ParseIndex(data)
		if err != nil {
			return
		}
		if len(idx.WeightMap) == 0 {
			t.Fatal("accepted an index without weight_map entries")
		}
		for name, shard := range idx.WeightMap {
			if shard == "" || filepath.Base(shard) != shard || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
				t.Fatalf("tensor %q: accepted shard name %q", name, shard)
			}
		}
		m := &Model{Path: dir, Dir: dir}
		err = m.openIndex(dir, filepath.Join(dir, IndexFile), data)
		m.finish()
		defer m.Close()
		if err != nil {
			return
		}
		if len(m.Names()) != len(idx.WeightMap) {
			t.Fatalf("opened %v for weight_map %v", m.Names(), idx.WeightMap)
		}
		for name, shard := range idx.WeightMap {
			tt, ok := m.Tensor(name)
			if !ok || filepath.Base(tt.File) != shard {
				t.Fatalf("tensor %q: want it from %s, got %v", name, shard, tt)
			}
		}
	})
}
