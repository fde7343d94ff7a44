//go:build unix

package merge

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
)

// TestMappedSourceReads checks that while a task's sources are mapped,
// ReadRaw and Read give what pread gives, and that a file truncated while
// mapped gives an error naming file and tensor instead of a crash.
func TestMappedSourceReads(t *testing.T) {
	const n = 3 << 20 // 6 MiB of bf16: above minMapBytes
	dir := t.TempDir()
	path := filepath.Join(dir, "a.safetensors")
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i%1000) / 7
	}
	formatstest.Write(t, path, formats.BF16, []formatstest.Tensor{{Name: "w", Data: v}}, "")
	m := formatstest.Open(t, path)
	tn, _ := m.Tensor("w")
	src, err := NewSource(tn, nil)
	if err != nil {
		t.Fatal(err)
	}
	task := &Task{Name: "w", Shape: []int64{n}, Inputs: []Source{src}}

	wantRaw := make([]byte, 2*n)
	if err := src.ReadRaw(wantRaw, 0); err != nil {
		t.Fatal(err)
	}
	wantF := make([]float32, n)
	if err := src.Read(wantF, 0); err != nil {
		t.Fatal(err)
	}

	release := task.mapSources()
	if src.mapping == nil {
		t.Fatal("source not mapped")
	}
	// Pieces of odd sizes at odd offsets, some read twice (their pages were
	// dropped after the first read).
	for _, r := range [][2]int{{0, 1}, {1, 4097}, {5000, 300_001}, {5000, 300_001}, {n - 3, 3}, {0, n}} {
		got := make([]byte, 2*r[1])
		if err := src.ReadRaw(got, int64(r[0])); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantRaw[2*r[0]:2*(r[0]+r[1])]) {
			t.Fatalf("ReadRaw [%d,+%d) differs from pread", r[0], r[1])
		}
		gf := make([]float32, r[1])
		if err := src.Read(gf, int64(r[0])); err != nil {
			t.Fatal(err)
		}
		for i := range gf {
			if gf[i] != wantF[r[0]+i] {
				t.Fatalf("Read [%d,+%d): element %d = %v, want %v", r[0], r[1], i, gf[i], wantF[r[0]+i])
			}
		}
	}
	if err := src.ReadRaw(make([]byte, 4), n-1); err == nil {
		t.Fatal("read past the end: no error")
	}

	if err := os.Truncate(path, 1<<20); err != nil {
		t.Fatal(err)
	}
	err = src.ReadRaw(make([]byte, 2<<20), n/2)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "w"`) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want a truncation error naming %s and tensor w", err, path)
	}
	release()
	if src.mapping != nil {
		t.Fatal("mapping not released")
	}
	// Reads go back to pread, which reports the truncation too.
	if err := src.ReadRaw(make([]byte, 2<<20), n/2); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("after release: err = %v", err)
	}
}
