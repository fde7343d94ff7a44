package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
)

func tinyOptions(dir string, threads int) options {
	return options{out: dir, params: 1e6, experts: 2, dtype: formats.F32, seed: 7, shardSize: 1 << 20, zeroFrac: 0.25, threads: threads}
}

// TestGenerateStatistics checks the promised distributions on a tiny family:
// base ≈ N(0, 0.02), norms ≈ 1, expert deltas ≈ N(0, 0.002) with the
// requested fraction of exact zeros, and a sharded directory layout.
func TestGenerateStatistics(t *testing.T) {
	dir := t.TempDir()
	paths, err := generate(context.Background(), tinyOptions(dir, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Fatalf("paths = %v, want base and 2 experts", paths)
	}
	base, err := formats.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	ex, err := formats.Open(paths[1])
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	if len(base.Shards()) < 2 {
		t.Errorf("shards = %v, want several with a 1 MiB shard size", base.Shards())
	}
	if _, err := os.Stat(filepath.Join(paths[0], "config.json")); err != nil {
		t.Error(err)
	}
	read := func(m *formats.Model, name string) []float32 {
		tt, ok := m.Tensor(name)
		if !ok {
			t.Fatalf("no tensor %s", name)
		}
		v := make([]float32, tt.NumElements())
		if _, err := tt.ReadFloat32(v, 0, nil); err != nil {
			t.Fatal(err)
		}
		return v
	}
	stats := func(v []float32) (mean, std float64) {
		for _, x := range v {
			mean += float64(x)
		}
		mean /= float64(len(v))
		for _, x := range v {
			std += (float64(x) - mean) * (float64(x) - mean)
		}
		return mean, math.Sqrt(std / float64(len(v)))
	}
	b := read(base, "model.embed_tokens.weight")
	if m, s := stats(b); math.Abs(m) > 1e-3 || math.Abs(s-0.02) > 1e-3 {
		t.Errorf("base embedding mean %g std %g, want ≈0 and ≈0.02", m, s)
	}
	if m, _ := stats(read(base, "model.norm.weight")); math.Abs(m-1) > 0.01 {
		t.Errorf("norm mean %g, want ≈1", m)
	}
	e := read(ex, "model.embed_tokens.weight")
	var d []float32
	zeros := 0
	for i := range b {
		if e[i] == b[i] {
			zeros++
			continue
		}
		d = append(d, e[i]-b[i])
	}
	if f := float64(zeros) / float64(len(b)); math.Abs(f-0.25) > 0.01 {
		t.Errorf("zero-delta fraction %g, want ≈0.25", f)
	}
	if m, s := stats(d); math.Abs(m) > 1e-4 || math.Abs(s-0.002) > 1e-4 {
		t.Errorf("delta mean %g std %g, want ≈0 and ≈0.002", m, s)
	}
}

// TestGenerateDeterministic checks that the bytes do not depend on the
// thread count.
func TestGenerateDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, err := generate(context.Background(), tinyOptions(a, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(context.Background(), tinyOptions(b, 3)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(a, "*", "*"))
	if len(files) == 0 {
		t.Fatal("no files written")
	}
	for _, f := range files {
		rel, _ := filepath.Rel(a, f)
		x, _ := os.ReadFile(f)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between 1 and 3 threads (%v)", rel, err)
		}
	}
}

// TestChooseArch checks that the chosen shapes hit the requested size.
func TestChooseArch(t *testing.T) {
	for _, p := range []float64{1e6, 1e8, 1e9, 7e9} {
		a := chooseArch(p, 0)
		if r := float64(a.params()) / p; r < 0.85 || r > 1.15 {
			t.Errorf("params %g: got %d (%+v)", p, a.params(), a)
		}
		if a.Layers < 4 {
			t.Errorf("params %g: %d layers", p, a.Layers)
		}
	}
	a := chooseArch(1e8, 1.5e9)
	if !a.Tied || a.Vocab*a.Hidden < 1.5e9 || a.Vocab*a.Hidden > 1.5e9+a.Hidden {
		t.Errorf("big tensor: %+v", a)
	}
}
