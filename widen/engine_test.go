package widen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/evaluate"
	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// namedTensor is one tensor of a test checkpoint.
type namedTensor struct {
	name  string
	shape []int64
	data  []float32
}

// writeCheckpoint writes tensors as dt to path (a .safetensors file, or a
// directory sharded at shardSize bytes).
func writeCheckpoint(t *testing.T, path string, dt formats.DType, tensors []namedTensor, shardSize int64) {
	t.Helper()
	var specs []formats.TensorSpec
	for _, x := range tensors {
		specs = append(specs, formats.TensorSpec{Name: x.name, DType: dt, Shape: x.shape})
	}
	w, err := formats.Create(path, specs, formats.WriteOptions{ShardSize: shardSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range tensors {
		if _, err := w.WriteFloat32(x.name, 0, x.data, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func openModel(t *testing.T, path string) *formats.Model {
	t.Helper()
	m, err := formats.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func readFloats(t *testing.T, m *formats.Model, name string) []float32 {
	t.Helper()
	x, ok := m.Tensor(name)
	if !ok {
		t.Fatalf("%s: no tensor %q", m.Path, name)
	}
	n := int64(1)
	for _, d := range x.Shape {
		n *= d
	}
	out := make([]float32, n)
	if _, err := x.ReadFloat32(out, 0, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

func readRaw(t *testing.T, m *formats.Model, name string) []byte {
	t.Helper()
	x, ok := m.Tensor(name)
	if !ok {
		t.Fatalf("%s: no tensor %q", m.Path, name)
	}
	b := make([]byte, x.Size)
	if err := x.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// mergeCheckpoints runs widen through the engine: PlanMerge and Write.
func mergeCheckpoints(t *testing.T, base string, models []string, global merge.Params, exclude []*regexp.Regexp, threads int, out string) {
	t.Helper()
	cfg := &merge.Config{Spec: Spec, Params: merge.ConstParams{Global: global}, Base: openModel(t, base),
		Exclude: exclude, Threads: threads}
	for _, p := range models {
		cfg.Models = append(cfg.Models, openModel(t, p))
	}
	plan, err := merge.PlanMerge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: threads}); err != nil {
		t.Fatal(err)
	}
}

// testFamily returns a base and two experts with tensors of every kind;
// big adds tensors larger than one chunk.
func testFamily(seed uint64, big bool) [][]namedTensor {
	rng := rand.New(rand.NewPCG(seed, 99))
	shapes := []namedTensor{
		{name: "model.embed_tokens.weight", shape: []int64{40, 8}},
		{name: "model.layers.0.self_attn.q_proj.weight", shape: []int64{16, 8}},
		{name: "model.layers.0.mlp.down_proj.weight", shape: []int64{8, 24}},
		{name: "model.layers.0.input_layernorm.weight", shape: []int64{8}},
		{name: "model.norm.weight", shape: []int64{8}},
		{name: "lm_head.weight", shape: []int64{40, 8}},
	}
	if big {
		shapes = append(shapes,
			namedTensor{name: "model.layers.1.mlp.up_proj.weight", shape: []int64{1100, 1000}},
			namedTensor{name: "model.layers.1.post_attention_layernorm.weight", shape: []int64{merge.ChunkElems + 77}},
			namedTensor{name: "model.layers.1.embed_tokens.weight", shape: []int64{1200, 900}},
		)
	}
	family := make([][]namedTensor, 3)
	for _, s := range shapes {
		n := int64(1)
		for _, d := range s.shape {
			n *= d
		}
		base := randomMatrix(rng, int(n), 1)
		family[0] = append(family[0], namedTensor{s.name, s.shape, base})
		for k := 1; k < 3; k++ {
			x := addDelta(base, randomMatrix(rng, int(n), 0.05*float32(k)))
			family[k] = append(family[k], namedTensor{s.name, s.shape, x})
		}
	}
	return family
}

func TestThreadCountIndependent(t *testing.T) {
	if testing.Short() {
		t.Skip("tensors larger than a chunk")
	}
	dir := t.TempDir()
	family := testFamily(1, true)
	var paths []string
	for k, f := range family {
		p := filepath.Join(dir, []string{"base", "a", "b"}[k]+".safetensors")
		writeCheckpoint(t, p, formats.BF16, f, 0)
		paths = append(paths, p)
	}
	var outs [][]byte
	for _, j := range []int{1, 2, 5} {
		out := filepath.Join(dir, "out.safetensors")
		mergeCheckpoints(t, paths[0], paths[1:], merge.Params{"alpha": 1.0, "calibration": 1.0}, nil, j, out)
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	for i, j := range []int{2, 5} {
		if !bytes.Equal(outs[0], outs[1+i]) {
			t.Fatalf("-j 1 and -j %d outputs differ", j)
		}
	}
}

func TestExcludedTensorsKeepBaseBytes(t *testing.T) {
	dir := t.TempDir()
	family := testFamily(2, false)
	var paths []string
	for k, f := range family {
		p := filepath.Join(dir, []string{"base", "a", "b"}[k]+".safetensors")
		writeCheckpoint(t, p, formats.BF16, f, 0)
		paths = append(paths, p)
	}
	out := filepath.Join(dir, "out.safetensors")
	exclude := []*regexp.Regexp{regexp.MustCompile(`^lm_head\.`), regexp.MustCompile(`self_attn\.q_proj`)}
	mergeCheckpoints(t, paths[0], paths[1:], merge.Params{}, exclude, 2, out)
	base, merged := openModel(t, paths[0]), openModel(t, out)
	for _, x := range family[0] {
		same := bytes.Equal(readRaw(t, base, x.name), readRaw(t, merged, x.name))
		excluded := exclude[0].MatchString(x.name) || exclude[1].MatchString(x.name)
		if excluded && !same {
			t.Errorf("%s is excluded but differs from the base", x.name)
		}
		if !excluded && same {
			t.Errorf("%s was merged but equals the base", x.name)
		}
	}
}

// bf16Round rounds float32 values to bfloat16 and back.
func bf16Round(x []float32) []float32 {
	h := make([]uint16, len(x))
	simd.F32ToBF16(h, x)
	out := make([]float32, len(x))
	simd.BF16ToF32(out, h)
	return out
}

func TestMixedDTypesAndShardedInputs(t *testing.T) {
	dir := t.TempDir()
	family := testFamily(3, false)
	base := filepath.Join(dir, "base")       // bf16, sharded directory
	a := filepath.Join(dir, "a.safetensors") // f16 file
	b := filepath.Join(dir, "b")             // f32, sharded directory
	writeCheckpoint(t, base, formats.BF16, family[0], 600)
	writeCheckpoint(t, a, formats.F16, family[1], 0)
	writeCheckpoint(t, b, formats.F32, family[2], 1000)
	if n := len(openModel(t, base).Shards()); n < 2 {
		t.Fatalf("base has %d shards, want several", n)
	}
	out := filepath.Join(dir, "out")
	params := merge.Params{"alpha": 1.5, "calibration": 0.7}
	mergeCheckpoints(t, base, []string{a, b}, params, nil, 2, out)
	mb, ma, mB, mo := openModel(t, base), openModel(t, a), openModel(t, b), openModel(t, out)
	for _, x := range family[0] {
		outT, _ := mo.Tensor(x.name)
		if outT.DType != formats.BF16 {
			t.Errorf("%s: output dtype %s, want the base's BF16", x.name, outT.DType)
		}
		want := bf16Round(runWiden(t, x.name, x.shape, readFloats(t, mb, x.name),
			[][]float32{readFloats(t, ma, x.name), readFloats(t, mB, x.name)}, 1.5, 0.7))
		got := readFloats(t, mo, x.name)
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s[%d] = %v, want %v (in-memory merge of the decoded inputs)", x.name, i, got[i], want[i])
			}
		}
	}
}

// testbed is the trained checkpoint family of testdata/testbed.
const testbed = "../testdata/testbed/models"

func TestTestbedMerge(t *testing.T) {
	base := filepath.Join(testbed, "base")
	if _, err := os.Stat(base); err != nil {
		t.Skip("testbed not present:", err)
	}
	add, rev := filepath.Join(testbed, "expert_add"), filepath.Join(testbed, "expert_rev")
	dir := t.TempDir()
	out := filepath.Join(dir, "merged.safetensors")
	mergeCheckpoints(t, base, []string{add, rev}, merge.Params{}, nil, 2, out)
	mb, ma, mr, mo := openModel(t, base), openModel(t, add), openModel(t, rev), openModel(t, out)
	if len(mo.Names()) != len(mb.Names()) {
		t.Fatalf("merged model has %d tensors, base %d", len(mo.Names()), len(mb.Names()))
	}
	changed := 0
	for _, name := range mb.Names() {
		bt, _ := mb.Tensor(name)
		ot, ok := mo.Tensor(name)
		if !ok || ot.DType != bt.DType || !equalShapes(ot.Shape, bt.Shape) {
			t.Fatalf("%s: merged tensor %v, base %v", name, ot, bt.TensorInfo)
		}
		b, xa, xr, o := readFloats(t, mb, name), readFloats(t, ma, name), readFloats(t, mr, name), readFloats(t, mo, name)
		differs := false
		for i := range o {
			if math.IsNaN(float64(o[i])) || math.IsInf(float64(o[i]), 0) {
				t.Fatalf("%s[%d] = %v", name, i, o[i])
			}
			// Every score is in (0, 1] with s = 1: the merged delta lies
			// within the sum of the experts' deltas (plus bf16 rounding).
			da, dr := float64(xa[i]-b[i]), float64(xr[i]-b[i])
			d := float64(o[i] - b[i])
			lo, hi := min(da, 0)+min(dr, 0), max(da, 0)+max(dr, 0)
			tol := math.Abs(float64(o[i]))/128 + 1e-30
			if d < lo-tol || d > hi+tol {
				t.Fatalf("%s[%d]: merged delta %v outside [%v, %v]", name, i, d, lo, hi)
			}
			differs = differs || o[i] != b[i]
		}
		if differs {
			changed++
		}
	}
	if changed < len(mb.Names())/2 {
		t.Errorf("only %d of %d tensors changed", changed, len(mb.Names()))
	}
	// One expert with s = 1 gives the expert back: every score is 1 and
	// base + (expert − base) is exact for bf16 values.
	one := filepath.Join(dir, "one.safetensors")
	mergeCheckpoints(t, base, []string{add}, merge.Params{}, nil, 2, one)
	m1 := openModel(t, one)
	for _, name := range ma.Names() {
		if !bytes.Equal(readRaw(t, m1, name), readRaw(t, ma, name)) {
			t.Errorf("%s: a one-expert merge differs from the expert", name)
		}
	}
	// The base merged with itself is the base.
	self := filepath.Join(dir, "self.safetensors")
	mergeCheckpoints(t, base, []string{base, base}, merge.Params{}, nil, 1, self)
	ms := openModel(t, self)
	for _, name := range mb.Names() {
		if !bytes.Equal(readRaw(t, ms, name), readRaw(t, mb, name)) {
			t.Errorf("%s: merging the base with itself changed it", name)
		}
	}
}

func equalShapes(a, b []int64) bool {
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

func TestTestbedMergeKeepsBothSkills(t *testing.T) {
	if testing.Short() {
		t.Skip("evaluates a merged model")
	}
	base := filepath.Join(testbed, "base")
	if _, err := os.Stat(base); err != nil {
		t.Skip("testbed not present:", err)
	}
	out := filepath.Join(t.TempDir(), "merged")
	cfg := &merge.Config{Spec: Spec, Params: merge.ConstParams{Global: merge.Params{}}, Base: openModel(t, base),
		Models: []*formats.Model{openModel(t, filepath.Join(testbed, "expert_add")), openModel(t, filepath.Join(testbed, "expert_rev"))}}
	plan, err := merge.PlanMerge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out, CopyFrom: cfg.Base}, merge.ExecOptions{Threads: 2}); err != nil {
		t.Fatal(err)
	}
	merged := []*formats.Model{openModel(t, out)}
	// Testbed README: base 0.5% / 3.02 (add) and 0.5% / 3.73 (rev);
	// expert_add 90% / 0.081 on add, expert_rev 100% / 0.0005 on rev. The
	// merge must keep most of each expert's skill (measured: 71.5% / 0.18 on
	// add and 100% / 0.002 on rev).
	for _, tc := range []struct {
		task    string
		minAcc  float64
		maxLoss float64
	}{
		{"add", 0.6, 0.3},
		{"rev", 0.95, 0.02},
	} {
		rows, err := evaluate.Run(context.Background(), merged,
			[]evaluate.Dataset{{Path: filepath.Join(testbed, "..", "eval", tc.task+".jsonl")}},
			evaluate.Options{Threads: 2, Generate: true})
		if err != nil {
			t.Fatal(err)
		}
		r := rows[0]
		t.Logf("%s: accuracy %.3f, answer loss %.4f", tc.task, *r.Accuracy, r.Loss)
		if *r.Accuracy < tc.minAcc || r.Loss > tc.maxLoss {
			t.Errorf("%s: merged accuracy %.3f, loss %.4f; want ≥ %.2f and ≤ %.2f", tc.task, *r.Accuracy, r.Loss, tc.minAcc, tc.maxLoss)
		}
	}
}

func TestBF16FilesMatchFloat32Sources(t *testing.T) {
	// Merging bfloat16 tensors straight from the files (the bit-pattern
	// kernels) must give exactly the result of merging the same values
	// handed over as float32, for every kind of tensor, one chunk or many,
	// with a column count that is not a multiple of the vector width.
	family := testFamily(4, !testing.Short())
	family[0] = append(family[0], namedTensor{"model.layers.2.mlp.gate_proj.weight", []int64{70, 37}, randomMatrix(rand.New(rand.NewPCG(1, 2)), 70*37, 1)})
	for k := 1; k < 3; k++ {
		family[k] = append(family[k], namedTensor{"model.layers.2.mlp.gate_proj.weight", []int64{70, 37},
			addDelta(family[0][len(family[0])-1].data, randomMatrix(rand.New(rand.NewPCG(uint64(k), 3)), 70*37, 0.1))})
	}
	dir := t.TempDir()
	var models []*formats.Model
	for k, f := range family {
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k))
		writeCheckpoint(t, p, formats.BF16, f, 0)
		models = append(models, openModel(t, p))
	}
	m, err := New(merge.Params{"alpha": 1.0, "calibration": 1.0})
	if err != nil {
		t.Fatal(err)
	}
	for _, nt := range family[0] {
		fromFile := &merge.Task{Name: nt.name, Shape: nt.shape}
		fromFloats := &merge.Task{Name: nt.name, Shape: nt.shape}
		for k, model := range models {
			tensor, ok := model.Tensor(nt.name)
			if !ok {
				t.Fatalf("%s: missing", nt.name)
			}
			src, err := merge.NewSource(tensor, nil)
			if err != nil {
				t.Fatal(err)
			}
			vals := make([]float32, src.Len())
			if err := src.Read(vals, 0); err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				fromFile.Base, fromFloats.Base = src, &merge.SliceSource{Data: vals, Dims: nt.shape}
				continue
			}
			fromFile.Inputs = append(fromFile.Inputs, src)
			fromFloats.Inputs = append(fromFloats.Inputs, &merge.SliceSource{Data: vals, Dims: nt.shape})
			fromFile.Model = append(fromFile.Model, merge.Params{})
			fromFloats.Model = append(fromFloats.Model, merge.Params{})
		}
		if len(nt.shape) == 2 && !isTokenEmbedding(nt.name) && hasColumnAsm && rawBF16Inputs(fromFile) == nil {
			t.Fatalf("%s: the bfloat16 kernels are not used", nt.name)
		}
		var outs [2][]float32
		for i, task := range []*merge.Task{fromFile, fromFloats} {
			sink := &merge.SliceSink{Data: make([]float32, len(nt.data))}
			task.Out = sink
			if err := m.Merge(context.Background(), task); err != nil {
				t.Fatal(err)
			}
			outs[i] = sink.Data
		}
		for i := range outs[0] {
			if math.Float32bits(outs[0][i]) != math.Float32bits(outs[1][i]) {
				t.Fatalf("%s element %d: from the file %v, from float32 %v", nt.name, i, outs[0][i], outs[1][i])
			}
		}
	}
}

// specialBF16Family returns a base and m models of one tensor in bfloat16
// values (as float32) whose data hold exact zeros, -0, subnormals, ±Inf,
// NaN, a zero column and a column equal to the base in every model.
func specialBF16Family(rng *rand.Rand, rows, cols, m int) [][]float32 {
	n := rows * cols
	base := bf16Round(randomMatrix(rng, n, 1))
	for r := range rows {
		base[r*cols+cols/2] = 0 // a zero column of the base
	}
	out := [][]float32{base}
	special := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(0x00010000), math.Float32frombits(0x80030000),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for k := range m {
		x := bf16Round(addDelta(base, randomMatrix(rng, n, 0.05*float32(k+1))))
		for r := range rows {
			x[r*cols] = base[r*cols] // column 0 unchanged
		}
		for i, v := range special {
			x[(i*7919+k*104729+13)%n] = v
		}
		out = append(out, x)
	}
	return out
}

func TestRawPathsMatchFloat32(t *testing.T) {
	// Merging bfloat16 files through the raw paths (stored bit patterns,
	// mapped or read block by block, fused kernels) must give the bits of merging the same values handed over as
	// float32, for linear weights with an odd column count and for token
	// embeddings, over several chunks, with 1 to 4 models and special
	// values.
	if !hasColumnAsm {
		t.Skip("the raw paths need the assembly kernels")
	}
	rng := rand.New(rand.NewPCG(31, 31))
	type tensorCase struct {
		name       string
		rows, cols int
	}
	cases := []tensorCase{
		{"model.layers.0.mlp.down_proj.weight", 700, 523},
		{"model.embed_tokens.weight", 600, 450},
		{"model.layers.0.self_attn.q_proj.weight", 40, 24},
	}
	models := []int{1, 2, 3, 4}
	if testing.Short() {
		cases, models = cases[2:], []int{2, 3}
	}
	dir := t.TempDir()
	for _, tc := range cases {
		for _, m := range models {
			vals := specialBF16Family(rng, tc.rows, tc.cols, m)
			shape := []int64{int64(tc.rows), int64(tc.cols)}
			var fileSrcs, floatSrcs []merge.Source
			for k, v := range vals {
				p := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.safetensors", tc.name, m, k))
				writeCheckpoint(t, p, formats.BF16, []namedTensor{{tc.name, shape, v}}, 0)
				tensor, ok := openModel(t, p).Tensor(tc.name)
				if !ok {
					t.Fatalf("%s: missing", tc.name)
				}
				src, err := merge.NewSource(tensor, nil)
				if err != nil {
					t.Fatal(err)
				}
				fileSrcs = append(fileSrcs, src)
				floatSrcs = append(floatSrcs, &merge.SliceSource{Data: v, Dims: shape})
			}
			run := func(srcs []merge.Source, raw, readOnly, dropAll bool) []float32 {
				meth, err := New(merge.Params{"alpha": 1.0, "calibration": 0.7})
				if err != nil {
					t.Fatal(err)
				}
				meth.(*Method).readOnly = readOnly
				meth.(*Method).dropAll = dropAll
				task := &merge.Task{Name: tc.name, Shape: shape, Base: srcs[0], Inputs: srcs[1:], Model: make([]merge.Params, m)}
				if (rawBF16Inputs(task) != nil) != raw {
					t.Fatalf("%s: raw path taken %v, want %v", tc.name, !raw, raw)
				}
				sink := &merge.SliceSink{Data: make([]float32, tc.rows*tc.cols)}
				task.Out = sink
				if err := meth.Merge(context.Background(), task); err != nil {
					t.Fatal(err)
				}
				return sink.Data
			}
			want := run(floatSrcs, false, false, false)
			// Mapped keeping pages between the passes, mapped dropping
			// them chunk by chunk, and read block by block.
			for _, mode := range [][2]bool{{false, false}, {false, true}, {true, false}} {
				readOnly, dropAll := mode[0], mode[1]
				got := run(fileSrcs, true, readOnly, dropAll)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s models=%d read only %v, drop all %v, element %d: raw %v, float32 %v", tc.name, m, readOnly, dropAll, i, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestMappedFileTruncatedIsAnError(t *testing.T) {
	// A mapped input file that shrinks while the passes read it must give
	// an error naming the tensor, not a crash (SIGBUS).
	dir := t.TempDir()
	const name = "model.layers.0.mlp.up_proj.weight"
	rows, cols := 512, 512
	shape := []int64{int64(rows), int64(cols)}
	rng := rand.New(rand.NewPCG(41, 41))
	vals := specialBF16Family(rng, rows, cols, 2)
	task := &merge.Task{Name: name, Shape: shape, Model: make([]merge.Params, 2)}
	var paths []string
	for k, v := range vals {
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k))
		writeCheckpoint(t, p, formats.BF16, []namedTensor{{name, shape, v}}, 0)
		paths = append(paths, p)
		tensor, _ := openModel(t, p).Tensor(name)
		src, err := merge.NewSource(tensor, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			task.Base = src
		} else {
			task.Inputs = append(task.Inputs, src)
		}
	}
	in := newRawInputs(task, true)
	if in == nil || in.mapped == nil {
		t.Skip("files cannot be mapped here")
	}
	defer in.close()
	if err := os.Truncate(paths[1], 4096); err != nil {
		t.Fatal(err)
	}
	_, err := columnStatsPass(context.Background(), task, rowChunks(task, cols), cols, in)
	if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), paths[1]) {
		t.Fatalf("got error %v, want one naming %q and %s", err, name, paths[1])
	}
	t.Log(err)
}
