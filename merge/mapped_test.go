//go:build unix

package merge_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/merge"
)

// mappedTask returns a task over base + one model, each holding one bf16
// tensor "w" of n elements, and the base file's path.
func mappedTask(t *testing.T, n int) (*merge.Task, string) {
	t.Helper()
	dir := t.TempDir()
	var srcs []merge.Source
	var paths []string
	for k := range 2 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%251) - float32(k)
		}
		p := filepath.Join(dir, string(rune('a'+k))+".safetensors")
		formatstest.Write(t, p, formats.BF16, []formatstest.Tensor{{Name: "w", Data: v}}, "")
		m := formatstest.Open(t, p)
		tn, _ := m.Tensor("w")
		s, err := merge.NewSource(tn, nil)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
		paths = append(paths, p)
	}
	return &merge.Task{Name: "w", Shape: []int64{int64(n)}, Base: srcs[0], Inputs: srcs[1:]}, paths[0]
}

func TestMappedInputsMatchReadRaw(t *testing.T) {
	const n = 300_000
	task, _ := mappedTask(t, n)
	in := merge.MapRawSources(task, formats.BF16)
	if in == nil {
		t.Fatal("not mapped")
	}
	defer in.Close()
	raws := merge.RawSources(task, formats.BF16)
	for i, r := range raws {
		want := make([]byte, 2*n)
		if err := r.ReadRaw(want, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in.Data[i], want) {
			t.Fatalf("input %d: mapped bytes differ from ReadRaw", i)
		}
	}
	// Dropping pages keeps the data readable (the page cache maps them
	// again), including ranges that start and end inside pages.
	in.Drop(1000, 200_001, 2)
	in.Drop(0, n, 2)
	for i, r := range raws {
		want := make([]byte, 2*n)
		_ = r.ReadRaw(want, 0)
		if !bytes.Equal(in.Data[i], want) {
			t.Fatalf("input %d: bytes differ after Drop", i)
		}
	}
	if merge.MapRawSources(task, formats.F16) != nil {
		t.Fatal("mapped as f16 a bf16 tensor")
	}
}

func TestMappedFileTruncatedIsAnError(t *testing.T) {
	const n = 1 << 20
	task, base := mappedTask(t, n)
	in := merge.MapRawSources(task, formats.BF16)
	if in == nil {
		t.Fatal("not mapped")
	}
	defer in.Close()
	if err := os.Truncate(base, 4096); err != nil {
		t.Fatal(err)
	}
	var sum byte
	err := in.Guard(func() error {
		for _, b := range in.Data[0] {
			sum += b
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), base) || !strings.Contains(err.Error(), `tensor "w"`) || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v, want a truncation error naming %s and tensor w", err, base)
	}
	// Mapping a truncated file fails at once.
	if merge.MapRawSources(task, formats.BF16) != nil {
		t.Fatal("mapped a truncated file")
	}
}
