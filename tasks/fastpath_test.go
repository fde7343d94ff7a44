package tasks

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/merge"
)

// TestTaskArithmeticBF16FastPath checks that the blocked bf16 path (stored
// bytes through simd.WeightedDeltaSumBF16) gives the same bits as the
// float32 path on the same values, for a tensor of several chunks and an odd
// tail.
func TestTaskArithmeticBF16FastPath(t *testing.T) {
	dir := t.TempDir()
	n := merge.ChunkElems + 3*sumBlock + 17
	rng := rand.New(rand.NewPCG(1, 2))
	paths := make([]string, 3)
	for k := range paths {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.02)
		}
		paths[k] = filepath.Join(dir, string(rune('a'+k))+".safetensors")
		formatstest.Write(t, paths[k], formats.BF16, []formatstest.Tensor{{Name: "w", Data: v}}, "")
	}
	ms := make([]*formats.Model, 3)
	for k, p := range paths {
		ms[k] = formatstest.Open(t, p)
	}
	spec := taskArithmeticSpecForTest(t)
	weights := []merge.Params{{"weight": 0.7}, {"weight": -0.3}}
	plan, err := merge.PlanMerge(&merge.Config{Spec: spec, Params: merge.ConstParams{PerModel: weights}, Base: ms[0], Models: ms[1:], OutDType: formats.F32})
	if err != nil {
		t.Fatal(err)
	}
	if merge.RawSources(plan.Tasks[0], formats.BF16) == nil {
		t.Fatal("the bf16 fast path is not taken")
	}
	out := filepath.Join(dir, "out.safetensors")
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
		t.Fatal(err)
	}
	got := formatstest.Read(t, out, "w")

	// The mapped inputs (what merge.Write used) and the pread path give the
	// same bits.
	mapped := merge.MapRawSources(plan.Tasks[0], formats.BF16)
	if mapped == nil {
		t.Fatal("the inputs could not be mapped")
	}
	mapped.Close()
	read := plan.Tasks[0]
	readSink := &merge.SliceSink{Data: make([]float32, n)}
	read.Out = readSink
	pread := openBF16Inputs(read, false, 0)
	defer pread.close()
	if err := (&gta{}).plainSumBF16(context.Background(), read, pread, []float32{0.7, -0.3}); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != readSink.Data[i] {
			t.Fatalf("element %d: mapped %v, read %v", i, got[i], readSink.Data[i])
		}
	}

	// The float32 path on the decoded values.
	task := &merge.Task{Name: "w", Shape: []int64{int64(n)}, Layer: -1}
	task.Base = &merge.SliceSource{Data: formatstest.Read(t, paths[0], "w")}
	for k := 1; k < 3; k++ {
		task.Inputs = append(task.Inputs, &merge.SliceSource{Data: formatstest.Read(t, paths[k], "w")})
	}
	task.Model = weights
	task.Global = merge.Params{"lambda": 1.0, "normalize": false, "rescale": "false", "int8_mask": false}
	sink := &merge.SliceSink{Data: make([]float32, n)}
	task.Out = sink
	m, err := spec.New(task.Global)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Merge(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != sink.Data[i] {
			t.Fatalf("element %d: fast path %v, float32 path %v", i, got[i], sink.Data[i])
		}
	}
}

func taskArithmeticSpecForTest(t *testing.T) *merge.MethodSpec {
	for _, s := range Methods() {
		if s.Name == "task_arithmetic" {
			return s
		}
	}
	t.Fatal("no task_arithmetic")
	return nil
}

// TestTaskArithmeticBF16Output checks the mapped path's raw bf16 writes (one
// encoded buffer per chunk) against the float32 path encoded by the sink,
// over several chunks and an odd tail.
func TestTaskArithmeticBF16Output(t *testing.T) {
	testBF16Output(t, "task_arithmetic", nil, []merge.Params{{"weight": 0.6}, {"weight": 0.9}})
}

// TestConsensusBF16Output is TestTaskArithmeticBF16Output for the blocked
// merge pass of ties and dare_ties (one encoded buffer per piece).
func TestConsensusBF16Output(t *testing.T) {
	testBF16Output(t, "ties", nil, []merge.Params{{"weight": 0.6, "density": 0.4}, {"weight": -0.9, "density": 0.7}})
	testBF16Output(t, "dare_ties", nil, []merge.Params{{"weight": 0.6, "density": 0.4}, {"weight": 0.9, "density": 0.7}})
}

func testBF16Output(t *testing.T, method string, global merge.Params, weights []merge.Params) {
	dir := t.TempDir()
	n := 2*merge.ChunkElems + sumBlock + 5
	rng := rand.New(rand.NewPCG(3, 4))
	var paths []string
	for k := range 3 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.02)
		}
		p := filepath.Join(dir, string(rune('a'+k))+".safetensors")
		formatstest.Write(t, p, formats.BF16, []formatstest.Tensor{{Name: "w", Data: v}}, "")
		paths = append(paths, p)
	}
	var spec *merge.MethodSpec
	for _, s := range Methods() {
		if s.Name == method {
			spec = s
		}
	}
	write := func(name string, dt formats.DType) string {
		plan, err := merge.PlanMerge(&merge.Config{Spec: spec, Params: merge.ConstParams{Global: global, PerModel: weights},
			Base: formatstest.Open(t, paths[0]), Models: []*formats.Model{formatstest.Open(t, paths[1]), formatstest.Open(t, paths[2])}, OutDType: dt})
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := formatstest.RawBytes(t, write("bf16.safetensors", formats.BF16))["w"]
	f32 := formatstest.Read(t, write("f32.safetensors", formats.F32), "w")
	want := make([]byte, 2*n)
	if err := formats.EncodeFloat32(want, f32, formats.BF16); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d bytes, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: byte %d (element %d): %#x, want %#x", method, i, i/2, got[i], want[i])
		}
	}
}
