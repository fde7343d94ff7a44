package analyze

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// writeBF16 writes a safetensors file of bf16 tensors with the given bit
// patterns and opens it.
func writeBF16(t *testing.T, path string, sp []formats.TensorSpec, values [][]uint16) *formats.Model {
	t.Helper()
	w, err := formats.Create(path, sp, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sp {
		if err := w.WriteAt(s.Name, leBytes(values[i]), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	m, err := formats.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestMappedMatchesPread runs the whole analysis with the bf16 path reading
// memory mappings and reading with ReadRaw, at one and two threads, on a
// tensor of several chunks (whose pages are dropped chunk by chunk while
// other chunks still read the mapping), odd lengths, ties, ±0, subnormals
// and an expert lacking a tensor: the JSON reports are identical.
func TestMappedMatchesPread(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	dir := t.TempDir()
	type tensor struct {
		name     string
		n        int
		specials []uint16
	}
	// Specials whose changes stay finite (the JSON report has no NaN/Inf).
	specials := []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x3f80, 0xbf80}
	tensors := []tensor{
		{"model.layers.0.mlp.up_proj.weight", 2*merge.ChunkElems + 3*BlockElems + 77, specials},
		{"model.layers.0.self_attn.q_proj.weight", 1001, specials},
		{"model.layers.1.mlp.down_proj.weight", BlockElems + 16, nil},
	}
	const ne = 3
	models := make([]*formats.Model, ne+1)
	var base [][]uint16
	for k := range models {
		var sp []formats.TensorSpec
		var vals [][]uint16
		for i, tn := range tensors {
			if k == 2 && i == 1 {
				continue // expert 2 lacks the q projection
			}
			sp = append(sp, formats.TensorSpec{Name: tn.name, DType: formats.BF16, Shape: []int64{int64(tn.n)}})
			var like []uint16
			if k > 0 {
				like = base[i]
			}
			v := randomBF16(r, tn.n, like, tn.specials)
			if k == 0 {
				base = append(base, v)
			}
			vals = append(vals, v)
		}
		models[k] = writeBF16(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k)), sp, vals)
	}
	report := func(mapped bool, threads int) string {
		rep, err := run(context.Background(), models[0], models[1:], Options{Threads: threads, ZeroTol: DefaultZeroTol}, mapped)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	want := report(false, 1)
	if !strings.Contains(want, `"elements"`) {
		t.Fatalf("report without element counts: %.200s", want)
	}
	for _, threads := range []int{1, 2} {
		if got := report(true, threads); got != want {
			t.Errorf("-j %d: the mapped path's report differs from the pread path's", threads)
		}
		if got := report(false, threads); got != want {
			t.Errorf("-j %d: the pread path's report differs from -j 1", threads)
		}
	}
}

// TestMappedTruncated truncates an expert's file while its tensor is
// mapped: the analysis returns an error naming the file and the tensor
// instead of crashing with SIGBUS.
func TestMappedTruncated(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	dir := t.TempDir()
	const name = "model.layers.0.mlp.up_proj.weight"
	n := merge.ChunkElems + 5*BlockElems
	sp := []formats.TensorSpec{{Name: name, DType: formats.BF16, Shape: []int64{int64(n)}}}
	b := randomBF16(r, n, nil, nil)
	base := writeBF16(t, filepath.Join(dir, "base.safetensors"), sp, [][]uint16{b})
	exPath := filepath.Join(dir, "expert.safetensors")
	ex := writeBF16(t, exPath, sp, [][]uint16{randomBF16(r, n, b, nil)})
	source := func(m *formats.Model) *merge.TensorSource {
		tt, _ := m.Tensor(name)
		s, err := merge.NewSource(tt, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	j := &tensorJob{name: name, base: source(base), experts: []*merge.TensorSource{source(ex)}, chunks: merge.Chunks(int64(n), 1)}
	defer j.close()
	if !rawBF16(j) || j.acquire() == nil {
		t.Fatal("the tensor is not mapped on the bf16 path")
	}
	// Keep the header and the first few KiB: every chunk reads past the end.
	et, _ := ex.Tensor(name)
	if err := os.Truncate(exPath, et.Offset+4096); err != nil {
		t.Fatal(err)
	}
	for _, c := range j.chunks {
		_, _, err := analyzeChunkBF16(j, c, 1, DefaultZeroTol)
		if err == nil {
			t.Fatalf("chunk %d: no error reading a truncated mapping", c.Index)
		}
		if msg := err.Error(); !strings.Contains(msg, exPath) || !strings.Contains(msg, name) || !strings.Contains(msg, "truncated") {
			t.Errorf("chunk %d: error %q does not name the file and tensor", c.Index, msg)
		}
	}
}
