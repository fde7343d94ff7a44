package tasks

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// allMethods lists every method with parameters that make it sparsify.
var allMethods = []struct {
	name   string
	global merge.Params
	model  merge.Params
}{
	{"task_arithmetic", nil, merge.Params{}},
	{"ties", nil, merge.Params{"density": 0.5}},
	{"dare_linear", nil, merge.Params{"density": 0.5}},
	{"dare_ties", nil, merge.Params{"density": 0.5}},
	{"breadcrumbs", nil, merge.Params{"density": 0.5, "gamma": 0.1}},
	{"breadcrumbs_ties", nil, merge.Params{"density": 0.5, "gamma": 0.1}},
	{"della", nil, merge.Params{"density": 0.5}},
	{"della_linear", nil, merge.Params{"density": 0.5}},
	{"sce", merge.Params{"select_topk": 0.5}, nil},
}

func randomVec(r *rand.Rand, n int, scale float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

func perModel(p merge.Params, w ...float64) []merge.Params {
	out := make([]merge.Params, len(w))
	for i := range out {
		out[i] = merge.Params{}
		for k, v := range p {
			out[i][k] = v
		}
		if p != nil {
			out[i]["weight"] = w[i]
		}
	}
	return out
}

func TestIdenticalModelsReturnTheBase(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := randomVec(r, 300, 1)
	for _, m := range allMethods {
		got := runMethod(t, m.name, m.global, perModel(m.model, 0.7, 0.3), nil, base, base, base)
		assertClose(t, m.name, got, base, 0)
	}
}

func TestWeightZeroReturnsTheBase(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := randomVec(r, 300, 1)
	a, b := plus(base, randomVec(r, 300, 0.1)), plus(base, randomVec(r, 300, 0.1))
	for _, m := range allMethods {
		if m.model == nil {
			continue // sce has no weight
		}
		for _, norm := range []bool{false, true} {
			got := runMethod(t, m.name, merge.Params{"normalize": norm}, perModel(m.model, 0, 0), nil, base, a, b)
			assertClose(t, m.name, got, base, 0)
		}
	}
}

// With density 1 and task vectors that agree in sign everywhere, TIES is task
// arithmetic (normalised or not).
func TestTiesWithoutConflictIsTaskArithmetic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := randomVec(r, 500, 1)
	t1, t2 := randomVec(r, 500, 0.1), randomVec(r, 500, 0.1)
	for i := range t1 {
		t1[i] = float32(math.Abs(float64(t1[i]))) + 0.01
		t2[i] = float32(math.Abs(float64(t2[i]))) + 0.01
		if i%3 == 0 {
			t1[i], t2[i] = -t1[i], -t2[i]
		}
	}
	a, b := plus(base, t1), plus(base, t2)
	for _, norm := range []bool{false, true} {
		g := merge.Params{"normalize": norm}
		ties := runMethod(t, "ties", g, weights(0.6, 0.9), nil, base, a, b)
		ta := runMethod(t, "task_arithmetic", g, weights(0.6, 0.9), nil, base, a, b)
		assertClose(t, "ties vs task_arithmetic", ties, ta, 1e-6)
	}
}

func countChanged(out, base []float32) int {
	n := 0
	for i := range out {
		if out[i] != base[i] {
			n++
		}
	}
	return n
}

// TIES and Breadcrumbs keep exactly ⌊density·n⌋ entries, even when many
// magnitudes are tied at the threshold.
func TestKeptCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 1001
	base := make([]float32, n)
	tau := make([]float32, n)
	for i := range tau {
		tau[i] = float32(1+r.IntN(5)) * 0.25 // five distinct magnitudes: heavy ties
		if r.IntN(2) == 0 {
			tau[i] = -tau[i]
		}
	}
	x := plus(base, tau)
	for _, density := range []float64{0.001, 0.1, 0.37, 0.5, 0.999} {
		want := int(density * n)
		got := runMethod(t, "ties", merge.Params{"normalize": false}, []merge.Params{{"weight": 1.0, "density": density}}, nil, base, x)
		if c := countChanged(got, base); c != want {
			t.Errorf("ties density %v: kept %d, want %d", density, c, want)
		}
		got = runMethod(t, "breadcrumbs", nil, []merge.Params{{"weight": 1.0, "density": density, "gamma": 0.05}}, nil, base, x)
		if c := countChanged(got, base); c != want {
			t.Errorf("breadcrumbs density %v: kept %d, want %d", density, c, want)
		}
		got = runMethod(t, "breadcrumbs", nil, []merge.Params{{"weight": 1.0, "density": density, "gamma": 0.05}}, radixOnly, base, x)
		if c := countChanged(got, base); c != want {
			t.Errorf("breadcrumbs (radix selection) density %v: kept %d, want %d", density, c, want)
		}
	}
	// Ties at the threshold are kept in position order: with all magnitudes
	// equal, the first k entries survive.
	eq := make([]float32, 10)
	for i := range eq {
		eq[i] = 1
	}
	got := runMethod(t, "ties", merge.Params{"normalize": false}, []merge.Params{{"weight": 1.0, "density": 0.3}}, nil, make([]float32, 10), eq)
	assertClose(t, "ties on equal magnitudes", got, []float32{1, 1, 1, 0, 0, 0, 0, 0, 0, 0}, 0)
	// Breadcrumbs drops the first ⌊γ·n⌋ tied entries as outliers.
	got = runMethod(t, "breadcrumbs", nil, []merge.Params{{"weight": 1.0, "density": 0.3, "gamma": 0.2}}, nil, make([]float32, 10), eq)
	assertClose(t, "breadcrumbs on equal magnitudes", got, []float32{0, 0, 1, 1, 1, 0, 0, 0, 0, 0}, 0)
}

// A density keeping no entry gives a zero task vector instead of a crash.
func TestZeroKeptIsZeroTaskVector(t *testing.T) {
	m1, m2 := plus(exBase, exTau1), plus(exBase, exTau2)
	// density .1 of 6 entries keeps ⌊0.6⌋ = 0 of model 1: only model 2 counts.
	got := runMethod(t, "ties", merge.Params{"normalize": false}, []merge.Params{{"weight": 1.0, "density": 0.1}, {"weight": 1.0, "density": 1.0}}, func(m merge.Method) {
		m.(*gta).warn = func(*merge.Task, string, ...any) {}
	}, exBase, m1, m2)
	assertClose(t, "ties k=0", got, m2, 1e-6)
}

func TestL1RescaleRestoresTheNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	base := randomVec(r, 5000, 1)
	tau := randomVec(r, 5000, 0.05)
	x := plus(base, tau)
	var want float64
	for _, v := range tau {
		want += math.Abs(float64(v))
	}
	for _, name := range []string{"ties", "dare_linear", "breadcrumbs", "della_linear"} {
		got := runMethod(t, name, merge.Params{"rescale": "true", "normalize": false}, []merge.Params{{"weight": 1.0, "density": 0.3}}, nil, base, x)
		var norm float64
		for i := range got {
			norm += math.Abs(float64(got[i]) - float64(base[i]))
		}
		if math.Abs(norm-want)/want > 1e-4 {
			t.Errorf("%s: L1 norm %v after rescale, want %v", name, norm, want)
		}
	}
}

// DARE keeps each entry with probability density: over 400 000 entries the
// keep rate is within 5 standard deviations of it, and exact rescaling is
// unbiased.
func TestDAREKeepRate(t *testing.T) {
	const n = 400_000
	base := make([]float32, n)
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	for _, p := range []float64{0.1, 0.3, 0.9} {
		got := runMethod(t, "dare_linear", merge.Params{"rescale": "exact"}, []merge.Params{{"weight": 1.0, "density": p}}, nil, base, x)
		kept := countChanged(got, base)
		sd := math.Sqrt(p * (1 - p) / n)
		if rate := float64(kept) / n; math.Abs(rate-p) > 5*sd {
			t.Errorf("density %v: keep rate %v", p, rate)
		}
		var mean float64
		for _, v := range got {
			mean += float64(v)
		}
		mean /= n
		if math.Abs(mean-1) > 5*sd/p {
			t.Errorf("density %v: mean of exactly rescaled entries %v, want ≈ 1", p, mean)
		}
	}
}

// --sign unweighted elects from Σ δ instead of Σ w·δ.
func TestSignUnweighted(t *testing.T) {
	base := []float32{0}
	a, b := []float32{1}, []float32{-0.6}
	// Weighted: 0.2·1 + 1·(−0.6) < 0 elects −: only b counts → −0.6.
	got := runMethod(t, "ties", merge.Params{"normalize": false}, weights(0.2, 1), nil, base, a, b)
	assertClose(t, "weighted", got, []float32{-0.6}, 1e-7)
	// Unweighted: 1 − 0.6 > 0 elects +: only a counts → 0.2·1.
	got = runMethod(t, "ties", merge.Params{"normalize": false, "sign": "unweighted"}, weights(0.2, 1), nil, base, a, b)
	assertClose(t, "unweighted", got, []float32{0.2}, 1e-7)
}

func TestParameterErrors(t *testing.T) {
	m1 := plus(exBase, exTau1)
	for _, c := range []struct {
		method string
		global merge.Params
		model  merge.Params
		want   string
	}{
		{"della", nil, merge.Params{"weight": 1.0, "density": 0.5, "epsilon": 0.5}, "epsilon"},
		{"breadcrumbs", nil, merge.Params{"weight": 1.0, "density": 0.5, "gamma": 2.0}, "gamma"},
		{"ties", merge.Params{"rescale": "exact"}, merge.Params{"weight": 1.0}, "DARE and DELLA"},
		{"dare_ties", merge.Params{"scope": "model"}, merge.Params{"weight": 1.0}, "scope=model"},
		{"ties", nil, merge.Params{}, "weight"},
	} {
		_, err := tryMethod(c.method, c.global, []merge.Params{c.model}, nil, nil, exBase, m1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v %v: error %v, want one mentioning %q", c.method, c.global, c.model, err, c.want)
		}
	}
}

// writeCheckpoint writes tensors (name → values, shape) in dtype dt.
func writeCheckpoint(t testing.TB, path string, dt formats.DType, names []string, shapes [][]int64, vals [][]float32) {
	t.Helper()
	var specs []formats.TensorSpec
	for i, n := range names {
		specs = append(specs, formats.TensorSpec{Name: n, DType: dt, Shape: shapes[i]})
	}
	w, err := formats.Create(path, specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if _, err := w.WriteFloat32(n, 0, vals[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func readTensor(t testing.TB, path, name string) []float32 {
	t.Helper()
	m, err := formats.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tt, ok := m.Tensor(name)
	if !ok {
		t.Fatalf("%s: no tensor %q", path, name)
	}
	n := int64(1)
	for _, d := range tt.Shape {
		n *= d
	}
	out := make([]float32, n)
	if _, err := tt.ReadFloat32(out, 0, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// engineMerge runs a method through the real engine with the given thread
// count and returns the output file's bytes.
func engineMerge(t testing.TB, dir, method string, global merge.Params, pm []merge.Params, threads int, paths ...string) []byte {
	t.Helper()
	var models []*formats.Model
	for _, p := range paths {
		m, err := formats.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		models = append(models, m)
	}
	plan, err := merge.PlanMerge(&merge.Config{Spec: methodByName(t, method), Params: merge.ConstParams{Global: global, PerModel: pm},
		Base: models[0], Models: models[1:], Seed: 42, Threads: threads})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: threads}); err != nil {
		t.Fatalf("%s -j %d: %v", method, threads, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Results are byte-identical for -j 1 and -j 2 on a multi-chunk bf16 tensor
// with heavily tied magnitudes, and TIES still keeps exactly ⌊density·n⌋
// entries of it.
func TestThreadCountIndependence(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-chunk tensors")
	}
	dir := t.TempDir()
	const rows, cols = 640, 2048 // 1.3 M elements: two chunks
	n := rows * cols
	r := rand.New(rand.NewPCG(11, 12))
	names := []string{"model.layers.0.mlp.down_proj.weight", "model.norm.weight"}
	shapes := [][]int64{{rows, cols}, {cols}}
	var paths []string
	var vals [][][]float32
	for m := 0; m < 3; m++ {
		big := make([]float32, n)
		for i := range big {
			big[i] = float32(r.IntN(64)-32) / 64 // bf16-exact, many ties
		}
		small := randomVec(r, cols, 1)
		p := filepath.Join(dir, []string{"base", "a", "b"}[m]+".safetensors")
		writeCheckpoint(t, p, formats.BF16, names, shapes, [][]float32{big, small})
		paths = append(paths, p)
		vals = append(vals, [][]float32{big, small})
	}
	cases := append(allMethods[:len(allMethods):len(allMethods)],
		struct {
			name   string
			global merge.Params
			model  merge.Params
		}{"ties", merge.Params{"scope": "model", "rescale": "true"}, merge.Params{"density": 0.3}},
		struct {
			name   string
			global merge.Params
			model  merge.Params
		}{"dare_ties", merge.Params{"rescale": "exact"}, merge.Params{"density": 0.3}})
	for _, c := range cases {
		pm := perModel(c.model, 0.6, 0.8)
		one := engineMerge(t, dir, c.name, c.global, pm, 1, paths...)
		two := engineMerge(t, dir, c.name, c.global, pm, 2, paths...)
		if !bytes.Equal(one, two) {
			t.Errorf("%s %v: -j 1 and -j 2 differ", c.name, c.global)
		}
	}
	// Kept count on the tied multi-chunk tensor, one model, -j 2.
	for _, density := range []float64{0.3, 0.77} {
		engineMerge(t, dir, "ties", merge.Params{"normalize": false}, []merge.Params{{"weight": 1.0, "density": density}}, 2, paths[0], paths[1])
		out := readTensor(t, filepath.Join(dir, "out.safetensors"), names[0])
		changed := 0
		for i := range out {
			if out[i] != vals[0][0][i] {
				changed++
			}
		}
		// Entries where model a equals the base have δ = 0 and change nothing
		// even when kept; count the kept non-zero deltas the selection allows.
		var nonzero int
		for i := range out {
			if vals[1][0][i] != vals[0][0][i] {
				nonzero++
			}
		}
		want := min(int(density*float64(n)), nonzero)
		if changed != want {
			t.Errorf("density %v: %d entries changed, want %d", density, changed, want)
		}
	}
}

// Whole-model scope takes one threshold over every tensor: a tensor of large
// deltas keeps everything and one of small deltas nothing.
func TestScopeModel(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a.weight", "b.weight"}
	shapes := [][]int64{{4}, {4}}
	basePath := filepath.Join(dir, "base.safetensors")
	xPath := filepath.Join(dir, "x.safetensors")
	writeCheckpoint(t, basePath, formats.F32, names, shapes, [][]float32{{0, 0, 0, 0}, {0, 0, 0, 0}})
	writeCheckpoint(t, xPath, formats.F32, names, shapes, [][]float32{{5, -6, 7, 8}, {0.1, 0.2, -0.3, 0.4}})
	pm := []merge.Params{{"weight": 1.0, "density": 0.5}}
	engineMerge(t, dir, "ties", merge.Params{"scope": "model"}, pm, 2, basePath, xPath)
	out := filepath.Join(dir, "out.safetensors")
	assertClose(t, "model scope a", readTensor(t, out, "a.weight"), []float32{5, -6, 7, 8}, 0)
	assertClose(t, "model scope b", readTensor(t, out, "b.weight"), []float32{0, 0, 0, 0}, 0)
	engineMerge(t, dir, "ties", merge.Params{"scope": "tensor"}, pm, 2, basePath, xPath)
	assertClose(t, "tensor scope a", readTensor(t, out, "a.weight"), []float32{0, 0, 7, 8}, 0)
	assertClose(t, "tensor scope b", readTensor(t, out, "b.weight"), []float32{0, 0, -0.3, 0.4}, 1e-7)
}

// FuzzParseRescale: any string is either one of the accepted spellings or
// an error naming the accepted values; never a panic.
func FuzzParseRescale(f *testing.F) {
	for _, s := range []string{"true", "false", "exact", "True", "0", "", "sometimes"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mode, err := parseRescale(s, false)
		switch s {
		case "true", "True", "1":
			if err != nil || mode != rescaleL1 {
				t.Errorf("%q: %v, %v", s, mode, err)
			}
		case "false", "False", "0":
			if err != nil || mode != rescaleOff {
				t.Errorf("%q: %v, %v", s, mode, err)
			}
		case "exact":
			if err != nil || mode != rescaleExact {
				t.Errorf("%q: %v, %v", s, mode, err)
			}
		default:
			if err == nil || !strings.Contains(err.Error(), "want true, false or exact") {
				t.Errorf("%q: accepted as %v (err %v)", s, mode, err)
			}
		}
	})
}
