package merge_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/merge"
)

// writeModel writes a float32 checkpoint from name → values (1-D tensors
// unless shapes gives a shape).
func writeModel(t *testing.T, path string, dt formats.DType, tensors map[string][]float32, shapes map[string][]int64) {
	t.Helper()
	var ts []formatstest.Tensor
	for n, v := range tensors {
		ts = append(ts, formatstest.Tensor{Name: n, Shape: shapes[n], Data: v})
	}
	formatstest.Write(t, path, dt, ts, "")
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

func readAll(t *testing.T, m *formats.Model, name string) []float32 {
	return formatstest.Values(t, m, name)
}

func mergeTo(t *testing.T, cfg *merge.Config) *formats.Model {
	t.Helper()
	plan, err := merge.PlanMerge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.safetensors")
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
		t.Fatal(err)
	}
	m, err := formats.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func openAll(t *testing.T, paths ...string) []*formats.Model {
	var ms []*formats.Model
	for _, p := range paths {
		ms = append(ms, formatstest.Open(t, p))
	}
	return ms
}

func TestEmbeddingMismatchUsesCommonSubmatrix(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	// a: vocab 3 × hidden 2; b: vocab 2 × hidden 2.
	writeModel(t, a, formats.F32, map[string][]float32{"model.embed_tokens.weight": {1, 2, 3, 4, 5, 6}}, map[string][]int64{"model.embed_tokens.weight": {3, 2}})
	writeModel(t, b, formats.F32, map[string][]float32{"model.embed_tokens.weight": {3, 4, 5, 6}}, map[string][]int64{"model.embed_tokens.weight": {2, 2}})
	var warn bytes.Buffer
	ms := openAll(t, a, b)
	out := mergeTo(t, &merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: ms, Warn: &warn})
	got := readAll(t, out, "model.embed_tokens.weight")
	if want := []float32{2, 3, 4, 5}; !equalF(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if !bytes.Contains(warn.Bytes(), []byte(`"model.embed_tokens.weight": token embedding shapes differ`)) {
		t.Errorf("no warning: %q", warn.String())
	}
}

// baseMeanSpec is a task-vector test method: base + mean of deltas.
type baseMean struct{}

func (baseMean) Merge(ctx context.Context, t *merge.Task) error {
	n := t.Len()
	base := make([]float32, n)
	t.Base.Read(base, 0)
	acc := append([]float32{}, base...)
	buf := make([]float32, n)
	for _, in := range t.Inputs {
		in.Read(buf, 0)
		for i := range acc {
			acc[i] += (buf[i] - base[i]) / float32(len(t.Inputs))
		}
	}
	return t.Out.Write(acc, 0)
}

var baseMeanSpec = &merge.MethodSpec{Name: "basemean", Base: merge.BaseRequired, MinModels: 1, TaskVector: true,
	New: func(merge.Params) (merge.Method, error) { return baseMean{}, nil }}

func TestTaskVectorEmbeddingCropsToBase(t *testing.T) {
	dir := t.TempDir()
	base, x := filepath.Join(dir, "base.safetensors"), filepath.Join(dir, "x.safetensors")
	writeModel(t, base, formats.F32, map[string][]float32{"lm_head.weight": {0, 0, 0, 0}}, map[string][]int64{"lm_head.weight": {2, 2}})
	writeModel(t, x, formats.F32, map[string][]float32{"lm_head.weight": {1, 2, 3, 4, 5, 6}}, map[string][]int64{"lm_head.weight": {3, 2}})
	ms := openAll(t, base, x)
	out := mergeTo(t, &merge.Config{Spec: baseMeanSpec, Params: merge.ConstParams{}, Base: ms[0], Models: ms[1:]})
	if got := readAll(t, out, "lm_head.weight"); !equalF(got, []float32{1, 2, 3, 4}) {
		t.Errorf("got %v, want the base-shaped [1 2 3 4]", got)
	}
}

func TestMissingPoliciesAndExclude(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeModel(t, a, formats.F32, map[string][]float32{"w": {1, 1}, "only_a": {7}, "model.layers.0.skip": {5, 5}}, nil)
	writeModel(t, b, formats.F32, map[string][]float32{"w": {3, 3}, "model.layers.0.skip": {9, 9}}, nil)
	ms := openAll(t, a, b)
	inter := mergeTo(t, &merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: ms, Missing: merge.MissingIntersection,
		Exclude: []*regexp.Regexp{regexp.MustCompile(`\.skip$`)}})
	if _, ok := inter.Tensor("only_a"); ok {
		t.Error("intersection kept a tensor b lacks")
	}
	if got := readAll(t, inter, "model.layers.0.skip"); !equalF(got, []float32{5, 5}) {
		t.Errorf("excluded tensor = %v, want the first model's [5 5]", got)
	}
	if got := readAll(t, inter, "w"); !equalF(got, []float32{2, 2}) {
		t.Errorf("w = %v", got)
	}
	union := mergeTo(t, &merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: ms, Missing: merge.MissingUnion})
	if got := readAll(t, union, "only_a"); !equalF(got, []float32{7}) {
		t.Errorf("union only_a = %v", got)
	}
}

func TestTiedLMHeadReadsEmbedding(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	emb := map[string][]int64{"model.embed_tokens.weight": {2, 1}, "lm_head.weight": {2, 1}}
	writeModel(t, a, formats.F32, map[string][]float32{"model.embed_tokens.weight": {1, 2}, "lm_head.weight": {10, 20}}, emb)
	writeModel(t, b, formats.F32, map[string][]float32{"model.embed_tokens.weight": {3, 4}}, emb)
	ms := openAll(t, a, b)
	out := mergeTo(t, &merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: ms})
	if got := readAll(t, out, "lm_head.weight"); !equalF(got, []float32{6.5, 12}) {
		t.Errorf("lm_head = %v, want mean of a's head and b's tied embedding [6.5 12]", got)
	}
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestIntegerTensorsCopiedByteForByte(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i, v := range []byte{3, 9} {
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i))
		w, err := formats.Create(p, []formats.TensorSpec{{Name: "pos", DType: formats.I64, Shape: []int64{2}}, {Name: "w", DType: formats.F32, Shape: []int64{1}}}, formats.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w.WriteAt("pos", []byte{v, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, 0)
		w.WriteFloat32("w", 0, []float32{float32(v)}, nil)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ms := openAll(t, paths...)
	out := mergeTo(t, &merge.Config{Spec: meanSpec, Params: merge.ConstParams{}, Models: ms, OutDType: formats.BF16})
	tn, _ := out.Tensor("pos")
	b := make([]byte, 16)
	if err := tn.ReadAt(b, 0); err != nil || tn.DType != formats.I64 || !bytes.Equal(b, []byte{3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("pos = %s %v (%v), want the first model's bytes", tn.DType, b, err)
	}
	if got := readAll(t, out, "w"); !equalF(got, []float32{6}) {
		t.Errorf("w = %v", got)
	}
}

func TestLayerIndexAndWithLayer(t *testing.T) {
	cases := []struct {
		name    string
		layer   int
		renamed string
	}{
		{"model.layers.12.mlp.up_proj.weight", 12, "model.layers.7.mlp.up_proj.weight"},
		{"transformer.h.3.attn.c_attn.weight", 3, "transformer.h.7.attn.c_attn.weight"},
		{"model.embed_tokens.weight", -1, "model.embed_tokens.weight"},
		{"lm_head.weight", -1, "lm_head.weight"},
	}
	for _, c := range cases {
		if got := merge.LayerIndex(c.name); got != c.layer {
			t.Errorf("LayerIndex(%q) = %d, want %d", c.name, got, c.layer)
		}
		if got := merge.WithLayer(c.name, 7); got != c.renamed {
			t.Errorf("WithLayer(%q, 7) = %q, want %q", c.name, got, c.renamed)
		}
	}
}
