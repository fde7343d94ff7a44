package model

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
)

const testbed = "../testdata/testbed"

func loadTestbed(t testing.TB, name string) *Model {
	t.Helper()
	src, err := formats.Open(filepath.Join(testbed, "models", name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m, err := Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAll(t testing.TB, src *formats.Model, name string) []float32 {
	t.Helper()
	ts, ok := src.Tensor(name)
	if !ok {
		t.Fatalf("reference tensor %q missing", name)
	}
	v := make([]float32, ts.NumElements())
	if _, err := ts.ReadFloat32(v, 0, nil); err != nil {
		t.Fatal(err)
	}
	return v
}

// relErr is max|got−want| / max|want|: the error relative to the tensor's scale.
func relErr(got, want []float32) float64 {
	var d, s float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i])-float64(want[i])))
		s = max(s, math.Abs(float64(want[i])))
	}
	return d / s
}

// TestReferenceActivations compares every traced activation with the
// reference of an independent implementation, for each kernel and -j.
func TestReferenceActivations(t *testing.T) {
	for _, name := range []string{"base", "expert_add"} {
		m := loadTestbed(t, name)
		ref, err := formats.Open(filepath.Join(testbed, "reference", name+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer ref.Close()
		worst := 0.0
		defer func() { t.Logf("%s: largest relative error %.3g", name, worst) }()
		for _, kern := range kernels() {
			for _, threads := range []int{1, 2} {
				for j := 0; j < 4; j++ {
					ids := readAll(t, ref, fmt.Sprintf("seq%d.input_ids", j))
					toks := make([]int, len(ids))
					for i, v := range ids {
						toks[i] = int(v)
					}
					r := m.NewRunner(threads)
					r.mm.kernel = kern
					seen := map[string]bool{}
					r.Trace = func(tn string, rows int, x []float32) {
						want := readAll(t, ref, fmt.Sprintf("seq%d.%s", j, tn))
						if len(want) != len(x) {
							t.Fatalf("%s seq%d %s: %d values, reference has %d", name, j, tn, len(x), len(want))
						}
						if e := relErr(x, want); e > 1e-4 {
							t.Errorf("%s %s -j %d seq%d %s: relative error %.3g > 1e-4", name, kern.name, threads, j, tn, e)
						}
						seen[tn] = true
						worst = max(worst, relErr(x, want))
					}
					h, err := r.Forward(context.Background(), []Seq{{Tokens: toks}})
					if err != nil {
						t.Fatal(err)
					}
					logits := make([]float32, len(toks)*m.Vocab)
					if err := r.Logits(context.Background(), logits, h, len(toks)); err != nil {
						t.Fatal(err)
					}
					if want := 3 + 2*m.Layers; len(seen) != want {
						t.Errorf("%d activations traced, want %d", len(seen), want)
					}
				}
			}
		}
	}
}
