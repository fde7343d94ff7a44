package fusion

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

var (
	exBase = []float32{0.10, -0.20, 0.30, 0.00, 0.50, -0.40}
	exM1   = []float32{0.4, -0.3, 0.35, -0.2, 0.5, -0.25}
)

func newTask(shape []int64, base, x []float32) (*merge.Task, *merge.SliceSink) {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	sink := &merge.SliceSink{Data: make([]float32, n)}
	return &merge.Task{
		Name:   "model.layers.0.mlp.up_proj.weight",
		Shape:  shape,
		Base:   &merge.SliceSource{Data: base, Dims: shape},
		Inputs: []merge.Source{&merge.SliceSource{Data: x, Dims: shape}},
		Model:  []merge.Params{{}},
		Out:    sink,
	}, sink
}

func run(t *testing.T, m *method, shape []int64, base, x []float32) []float32 {
	t.Helper()
	task, sink := newTask(shape, base, x)
	if err := m.Merge(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	return sink.Data
}

// importances computes the importance of every element through the
// streaming code (rowKL + importance).
func importances(t *testing.T, tile int64, shape []int64, base, x []float32) []float32 {
	t.Helper()
	task, _ := newTask(shape, base, x)
	rows, cols := task.Rows()
	kl, err := rowKL(context.Background(), task, rowTiles(rows, cols, tile), rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	imp := make([]float32, len(x))
	importance(imp, base, x, kl, 0, cols)
	return imp
}

// TestWorkedExample reproduces §5.4: base and m1 as 2×3 matrices.
func TestWorkedExample(t *testing.T) {
	shape := []int64{2, 3}
	for _, tile := range []int64{0, 2} { // whole rows; pieces of rows
		kt := tile
		if kt == 0 {
			kt = merge.ChunkElems
		}
		imp := importances(t, kt, shape, exBase, exM1)
		want := []float32{.0037336, .0012445, .0006223, .0015438, 0, .0011579}
		for i := range want {
			if math.Abs(float64(imp[i]-want[i])) > 1e-6 {
				t.Fatalf("tile %d: importance %v, want %v", tile, imp, want)
			}
		}
		sorted := slices.Clone(imp)
		slices.Sort(sorted)
		thr := threshold(sorted[1], sorted[2], sorted[3])
		if math.Abs(float64(thr)-.0020913) > 1e-6 {
			t.Fatalf("threshold %v, want .0020913", thr)
		}
		got := run(t, &method{tile: tile}, shape, exBase, exM1)
		wantOut := []float32{0.4, -0.2, 0.3, 0.0, 0.5, -0.4}
		for i := range got {
			if math.Abs(float64(got[i]-wantOut[i])) > 1e-6 {
				t.Fatalf("tile %d: result %v, want %v", tile, got, wantOut)
			}
		}
	}
}

func TestIdenticalModelsReturnThem(t *testing.T) {
	got := run(t, &method{}, []int64{2, 3}, exM1, exM1)
	if !slices.Equal(got, exM1) {
		t.Fatalf("got %v, want %v", got, exM1)
	}
}

// reference computes arcee_fusion directly in float64 with a full sort.
func reference(shape []int64, base, x []float32) (out []float32, thr float64) {
	cols := int(shape[len(shape)-1])
	n := len(x)
	imp := make([]float64, n)
	for r := 0; r < n/cols; r++ {
		xs, bs := x[r*cols:(r+1)*cols], base[r*cols:(r+1)*cols]
		mx, mb := math.Inf(-1), math.Inf(-1)
		for i := range xs {
			mx = math.Max(mx, float64(xs[i]))
			mb = math.Max(mb, float64(bs[i]))
		}
		var sx, sb float64
		for i := range xs {
			sx += math.Exp(float64(xs[i]) - mx)
			sb += math.Exp(float64(bs[i]) - mb)
		}
		var kl float64
		for i := range xs {
			p := math.Exp(float64(xs[i])-mx)/sx + 1e-8
			q := math.Exp(float64(bs[i])-mb)/sb + 1e-8
			kl += p * math.Log(p/q)
		}
		for i := range xs {
			imp[r*cols+i] = math.Abs(float64(xs[i])-float64(bs[i])) * kl
		}
	}
	sorted := slices.Clone(imp)
	slices.Sort(sorted)
	q := func(k int) float64 { return sorted[k] }
	thr = q((n-1)/2) + 1.5*(q(3*(n-1)/4)-q((n-1)/4))
	out = make([]float32, n)
	for i := range out {
		if imp[i] >= thr {
			out[i] = x[i]
		} else {
			out[i] = base[i]
		}
	}
	return out, thr
}

// TestMultiChunkMatchesReference merges a tensor of more than one chunk
// (ChunkElems) and compares with a direct in-memory computation, and runs
// the long-row path (rows split over tiles) against the whole-row path.
func TestMultiChunkMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	shape := []int64{520, 2048} // 1,064,960 elements: two chunks
	n := int(shape[0] * shape[1])
	base := make([]float32, n)
	x := make([]float32, n)
	for i := range base {
		base[i] = float32(rng.NormFloat64())
		x[i] = base[i] + float32(0.3*rng.NormFloat64())
	}
	want, _ := reference(shape, base, x)
	got := run(t, &method{}, shape, base, x)
	mismatch := 0
	for i := range got {
		if got[i] != want[i] {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 {
				mismatch++
			}
		}
	}
	// Elements whose importance lies within float rounding of the threshold
	// may fall either way; there must be almost none.
	if mismatch > 2 {
		t.Fatalf("%d of %d elements differ from the reference", mismatch, n)
	}
	pieces := run(t, &method{tile: 300}, shape, base, x)
	diff := 0
	for i := range pieces {
		if pieces[i] != got[i] {
			diff++
		}
	}
	if diff > 2 {
		t.Fatalf("long-row path differs from whole-row path in %d elements", diff)
	}
}

func TestOneDimensional(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	shape := []int64{1000}
	base := make([]float32, 1000)
	x := make([]float32, 1000)
	for i := range base {
		base[i] = float32(rng.NormFloat64())
		x[i] = base[i] + float32(rng.NormFloat64())
	}
	want, _ := reference(shape, base, x)
	got := run(t, &method{}, shape, base, x)
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("element %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSpec(t *testing.T) {
	s := Methods()[0]
	if s.Name != "arcee_fusion" || s.Base != merge.BaseRequired || s.MinModels != 1 || s.MaxModels != 1 || len(s.Params) != 0 {
		t.Fatalf("unexpected spec %+v", s)
	}
}

// TestEngineThreadIndependent merges checkpoints through merge.PlanMerge and
// merge.Write with -j 1 and -j 2 and checks the outputs are byte-identical
// and equal to the in-memory merge.
func TestEngineThreadIndependent(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"model.layers.0.mlp.up_proj.weight", "model.norm.weight"}
	shapes := [][]int64{{1100, 1000}, {1000}}
	var vals [2][][]float32
	for m := range 2 {
		var specs []formats.TensorSpec
		for i, n := range names {
			specs = append(specs, formats.TensorSpec{Name: n, DType: formats.F32, Shape: shapes[i]})
			size := int(shapes[i][0])
			if len(shapes[i]) > 1 {
				size *= int(shapes[i][1])
			}
			v := make([]float32, size)
			for e := range v {
				v[e] = float32(0.02 * rng.NormFloat64())
				if m == 1 {
					v[e] = vals[0][i][e] + float32(0.01*rng.NormFloat64())
				}
			}
			vals[m] = append(vals[m], v)
		}
		w, err := formats.Create(filepath.Join(dir, fmt.Sprintf("m%d.safetensors", m)), specs, formats.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			if _, err := w.WriteFloat32(n, 0, vals[m][i], nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	var outs [][]byte
	for _, j := range []int{1, 2} {
		base, err := formats.Open(filepath.Join(dir, "m0.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		other, err := formats.Open(filepath.Join(dir, "m1.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := merge.PlanMerge(&merge.Config{Spec: Methods()[0], Params: merge.ConstParams{}, Base: base, Models: []*formats.Model{other}, Threads: j})
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, fmt.Sprintf("out%d.safetensors", j))
		if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: j}); err != nil {
			t.Fatal(err)
		}
		base.Close()
		other.Close()
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, data)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Fatal("-j 1 and -j 2 outputs differ")
	}
	om, err := formats.Open(filepath.Join(dir, "out1.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer om.Close()
	for i, n := range names {
		want := run(t, &method{}, shapes[i], vals[0][i], vals[1][i])
		ot, _ := om.Tensor(n)
		got := make([]float32, len(want))
		if _, err := ot.ReadFloat32(got, 0, nil); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: engine output differs from the in-memory merge", n)
		}
		kept := 0
		for e := range got {
			if got[e] != vals[0][i][e] {
				kept++
			}
		}
		if kept == 0 || kept > len(got)/2 {
			t.Fatalf("%s: %d of %d elements taken from the model; want a few outliers", n, kept, len(got))
		}
	}
}

func BenchmarkArceeFusion(b *testing.B) {
	const rows, cols = 1024, 4096
	rng := rand.New(rand.NewPCG(9, 9))
	base := make([]float32, rows*cols)
	x := make([]float32, rows*cols)
	for i := range base {
		base[i] = float32(0.02 * rng.NormFloat64())
		x[i] = base[i] + float32(0.01*rng.NormFloat64())
	}
	b.SetBytes(int64(8 * rows * cols))
	for b.Loop() {
		task, _ := newTask([]int64{rows, cols}, base, x)
		if err := (&method{}).Merge(context.Background(), task); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKLAgainstFloat64 checks the KL sums (the logarithm-free terms where
// p and q are far above ε, math.Log elsewhere) against an all-float64
// computation, on rows whose probabilities span both paths. The float32
// exponentials (relative error ~6e-8 each) limit the agreement to about
// 1e-8 absolute.
func TestKLAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, spread := range []float64{0.02, 1, 8, 30} {
		const n = 3000
		x, b := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(spread * rng.NormFloat64())
			b[i] = x[i] + float32(0.1*spread*rng.NormFloat64())
		}
		s := softmaxRow{maxX: maxOf(x), maxB: maxOf(b)}
		scratch := make([]float32, 2*n)
		s.sumX = sumExp(scratch, x, s.maxX)
		s.sumB = sumExp(scratch, b, s.maxB)
		got := klSum(scratch, x, b, s)
		var sx, sb float64
		for i := range n {
			sx += math.Exp(float64(x[i] - s.maxX))
			sb += math.Exp(float64(b[i] - s.maxB))
		}
		var want float64
		for i := range n {
			p := math.Exp(float64(x[i]-s.maxX))/sx + klEps
			q := math.Exp(float64(b[i]-s.maxB))/sb + klEps
			want += p * math.Log(p/q)
		}
		if math.Abs(got-want) > 1e-5*math.Abs(want)+1e-8 {
			t.Errorf("spread %v: KL %.15g, want %.15g", spread, got, want)
		}
	}
}

// TestDegenerateShapes: a scalar keeps the model's value (its importance
// equals the threshold) and an empty tensor writes nothing.
func TestDegenerateShapes(t *testing.T) {
	got := run(t, &method{}, []int64{}, []float32{1}, []float32{3})
	if got[0] != 3 {
		t.Fatalf("scalar: got %v, want 3", got)
	}
	if got := run(t, &method{}, []int64{0, 4}, nil, nil); len(got) != 0 {
		t.Fatalf("empty: got %v", got)
	}
}
