package merge_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// writeModel writes a float32 checkpoint from name → values (1-D tensors
// unless shapes gives a shape).
func writeModel(t *testing.T, path string, dt formats.DType, tensors map[string][]float32, shapes map[string][]int64) {
	t.Helper()
	var specs []formats.TensorSpec
	for n, v := range tensors {
		shape := shapes[n]
		if shape == nil {
			shape = []int64{int64(len(v))}
		}
		specs = append(specs, formats.TensorSpec{Name: n, DType: dt, Shape: shape})
	}
	w, err := formats.Create(path, specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for n, v := range tensors {
		if _, err := w.WriteFloat32(n, 0, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// meanMethod is a test method: the mean of the inputs plus 0·base.
type meanMethod struct{}

func (meanMethod) Merge(ctx context.Context, t *merge.Task) error {
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		acc := make([]float32, c.Len())
		buf := make([]float32, c.Len())
		for _, in := range t.Inputs {
			if err := in.Read(buf, c.Lo); err != nil {
				return err
			}
			for i := range acc {
				acc[i] += buf[i] / float32(len(t.Inputs))
			}
		}
		return t.Out.Write(acc, c.Lo)
	})
}

var meanSpec = &merge.MethodSpec{
	Name: "mean", MinModels: 1, Base: merge.BaseNone,
	New: func(merge.Params) (merge.Method, error) { return meanMethod{}, nil },
}

func TestEngineMergesAndIsThreadIndependent(t *testing.T) {
	dir := t.TempDir()
	big := make([]float32, merge.ChunkElems*2+17)
	big2 := make([]float32, len(big))
	for i := range big {
		big[i] = float32(i % 1000)
		big2[i] = float32(-(i % 7))
	}
	a := filepath.Join(dir, "a.safetensors")
	b := filepath.Join(dir, "b.safetensors")
	writeModel(t, a, formats.F32, map[string][]float32{"x": {1, 2, 3}, "model.layers.0.w": big, "ids": {7}}, nil)
	writeModel(t, b, formats.F32, map[string][]float32{"x": {3, 4, 5}, "model.layers.0.w": big2, "ids": {9}}, nil)
	var outs [][]byte
	for _, j := range []int{1, 2, 3} {
		ma, _ := formats.Open(a)
		mb, _ := formats.Open(b)
		plan, err := merge.PlanMerge(&merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: []*formats.Model{ma, mb}, OutDType: formats.BF16})
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.safetensors")
		if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: j}); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(out)
		outs = append(outs, data)
		m, err := formats.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := m.Tensor("x")
		got := make([]float32, 3)
		if _, err := x.ReadFloat32(got, 0, nil); err != nil {
			t.Fatal(err)
		}
		if got[0] != 2 || got[1] != 3 || got[2] != 4 {
			t.Fatalf("x = %v, want [2 3 4]", got)
		}
		w, _ := m.Tensor("model.layers.0.w")
		one := make([]float32, 1)
		w.ReadFloat32(one, int64(len(big)-1), nil)
		i := len(big) - 1
		if want := float32(i%1000)/2 - float32(i%7)/2; one[0] != want {
			t.Fatalf("last = %v, want %v", one[0], want)
		}
		m.Close()
		ma.Close()
		mb.Close()
	}
	for i := 1; i < len(outs); i++ {
		if !bytes.Equal(outs[0], outs[i]) {
			t.Fatalf("output differs between thread counts")
		}
	}
}

func TestEngineListsEveryMismatch(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.safetensors")
	b := filepath.Join(dir, "b.safetensors")
	writeModel(t, a, formats.F32, map[string][]float32{"x": {1, 2, 3}, "y": {1}, "z": {1}}, nil)
	writeModel(t, b, formats.F32, map[string][]float32{"x": {3, 4}, "y": {1}}, nil)
	ma, _ := formats.Open(a)
	mb, _ := formats.Open(b)
	defer ma.Close()
	defer mb.Close()
	_, err := merge.PlanMerge(&merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: []*formats.Model{ma, mb}})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`tensor "x" has different shapes`, `tensor "z" is missing from`} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
