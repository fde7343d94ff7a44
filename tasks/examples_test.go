package tasks

import (
	"context"
	"math"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// The worked example of the spec (task-arithmetic-family.md §5.4).
var (
	exBase = []float32{0.10, -0.20, 0.30, 0.00, 0.50, -0.40}
	exTau1 = []float32{0.30, -0.10, 0.05, -0.20, 0.00, 0.15}
	exTau2 = []float32{-0.25, 0.22, 0.10, -0.05, 0.08, 0.12}
	// Fixed DARE/DELLA masks of the spec's examples.
	exMask1 = []bool{true, true, false, true, false, false}
	exMask2 = []bool{true, true, true, false, true, false}
)

func plus(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// methodByName finds one of this package's methods.
func methodByName(t testing.TB, name string) *merge.MethodSpec {
	t.Helper()
	for _, s := range Methods() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no method %q", name)
	return nil
}

// runMethod merges in memory: base plus models, with per-model and global
// parameters completed with the method's defaults. fix, if set, adjusts the
// method before it runs (mask injection).
func runMethod(t testing.TB, name string, global merge.Params, perModel []merge.Params, fix func(merge.Method), base []float32, models ...[]float32) []float32 {
	t.Helper()
	out, err := tryMethod(name, global, perModel, fix, nil, base, models...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func tryMethod(name string, global merge.Params, perModel []merge.Params, fix func(merge.Method), shape []int64, base []float32, models ...[]float32) ([]float32, error) {
	var spec *merge.MethodSpec
	for _, s := range Methods() {
		if s.Name == name {
			spec = s
		}
	}
	g, err := spec.WithDefaults(global, false, "test")
	if err != nil {
		return nil, err
	}
	m, err := spec.New(g)
	if err != nil {
		return nil, err
	}
	if fix != nil {
		fix(m)
	}
	if shape == nil {
		shape = []int64{int64(len(base))}
	}
	task := &merge.Task{Name: "model.layers.0.mlp.w", Shape: shape, Layer: 0, Global: g,
		Base: &merge.SliceSource{Data: base, Dims: shape}, Out: &merge.SliceSink{Data: make([]float32, len(base))}}
	for k, x := range models {
		task.Inputs = append(task.Inputs, &merge.SliceSource{Data: x, Dims: shape})
		var p merge.Params
		if k < len(perModel) {
			p = perModel[k]
		}
		p, err = spec.WithDefaults(p, true, "test")
		if err != nil {
			return nil, err
		}
		task.Model = append(task.Model, p)
	}
	if pr, ok := m.(merge.Preparer); ok {
		if err := pr.Prepare(context.Background(), []*merge.Task{task}); err != nil {
			return nil, err
		}
	}
	if err := m.Merge(context.Background(), task); err != nil {
		return nil, err
	}
	return task.Out.(*merge.SliceSink).Data, nil
}

// fixedMasks makes a DARE/DELLA method use the given masks per model.
func fixedMasks(masks ...[]bool) func(merge.Method) {
	return func(m merge.Method) {
		m.(*gta).draw = func(t *merge.Task, model int, c merge.Chunk, p []float32, bits []byte) {
			clear(bits)
			for i, keep := range masks[model][c.Lo:c.Hi] {
				if keep {
					bits[i>>3] |= 1 << (i & 7)
				}
			}
		}
	}
}

func weights(ws ...float64) []merge.Params {
	out := make([]merge.Params, len(ws))
	for i, w := range ws {
		out[i] = merge.Params{"weight": w}
	}
	return out
}

func withAll(ps []merge.Params, name string, v any) []merge.Params {
	for _, p := range ps {
		p[name] = v
	}
	return ps
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])) > tol || math.IsNaN(float64(got[i])) {
			t.Errorf("%s: got %v\nwant %v (element %d differs)", what, got, want, i)
			return
		}
	}
}

func TestWorkedExamples(t *testing.T) {
	m1, m2 := plus(exBase, exTau1), plus(exBase, exTau2)
	type tc struct {
		name     string
		method   string
		global   merge.Params
		perModel []merge.Params
		fix      func(merge.Method)
		want     []float32
	}
	d5 := func() []merge.Params { return withAll(weights(1, 0.5), "density", 0.5) }
	bc := func(gamma float64) []merge.Params { return withAll(d5(), "gamma", gamma) }
	masks := fixedMasks(exMask1, exMask2)
	cases := []tc{
		{"task_arithmetic", "task_arithmetic", nil, weights(1, 0.5), nil, []float32{0.275, -0.19, 0.4, -0.225, 0.54, -0.19}},
		{"task_arithmetic normalize", "task_arithmetic", merge.Params{"normalize": true}, weights(1, 0.5), nil, []float32{0.2166667, -0.1933333, 0.3666667, -0.15, 0.5266667, -0.26}},
		{"task_arithmetic lambda", "task_arithmetic", merge.Params{"lambda": 0.5}, weights(1, 0.5), nil, []float32{0.1875, -0.195, 0.35, -0.1125, 0.52, -0.295}},
		{"ties d=.5", "ties", nil, d5(), nil, []float32{0.4, 0.02, 0.3, -0.2, 0.5, -0.26}},
		{"ties d=.5 int8_mask", "ties", merge.Params{"int8_mask": true}, d5(), nil, []float32{0.4, 0.02, 0.3, -0.2, 0.5, -0.26}},
		{"ties d=.5 normalize=false", "ties", merge.Params{"normalize": false}, d5(), nil, []float32{0.4, -0.09, 0.3, -0.2, 0.5, -0.19}},
		{"ties d=.5 rescale", "ties", merge.Params{"rescale": "true"}, d5(), nil, []float32{0.4692307, 0.1057627, 0.3, -0.2461538, 0.5, -0.2213299}},
		{"ties d=.5 rescale (recipe bool)", "ties", merge.Params{"rescale": true}, d5(), nil, []float32{0.4692307, 0.1057627, 0.3, -0.2461538, 0.5, -0.2213299}},
		{"ties d=1", "ties", nil, weights(1, 0.5), nil, []float32{0.4, 0.02, 0.3666667, -0.15, 0.58, -0.26}},
		{"breadcrumbs d=.5 gamma=.2", "breadcrumbs", nil, bc(0.2), nil, []float32{0.1, -0.19, 0.35, -0.2, 0.5, -0.19}},
		{"breadcrumbs_ties d=.5 gamma=.2", "breadcrumbs_ties", nil, bc(0.2), nil, []float32{0.1, -0.09, 0.35, -0.2, 0.5, -0.19}},
		// mergekit prunes everything here (n_top = 0 makes its slice empty)
		// and returns the base; gomerge keeps the 3 largest entries of each
		// task vector: base + [.3,0,0,-.2,0,.15] + .5·[-.25,.22,0,0,0,.12].
		{"breadcrumbs d=.5 gamma=.01 (fixed)", "breadcrumbs", nil, bc(0.01), nil, []float32{0.275, -0.09, 0.3, -0.2, 0.5, -0.19}},
		{"dare_linear masks", "dare_linear", nil, d5(), masks, []float32{0.3423077, -0.1945641, 0.3630769, -0.2666667, 0.5504615, -0.4}},
		{"dare_linear masks rescale=false", "dare_linear", merge.Params{"rescale": "false"}, d5(), masks, []float32{0.275, -0.19, 0.35, -0.2, 0.54, -0.4}},
		{"dare_ties masks", "dare_ties", nil, d5(), masks, []float32{0.5, -0.0612308, 0.3630769, -0.2666667, 0.5504615, -0.4}},
		{"della masks", "della", nil, d5(), masks, []float32{0.5, 0.0775385, 0.4261538, -0.2666667, 0.6009231, -0.4}},
		{"della_linear masks", "della_linear", nil, d5(), masks, []float32{0.3423077, -0.1945641, 0.3630769, -0.2666667, 0.5504615, -0.4}},
		{"sce select_topk=1", "sce", nil, nil, nil, []float32{0.4, 0.02, 0.3733183, -0.1300453, 0.58, -0.2639909}},
		{"sce select_topk=.5", "sce", merge.Params{"select_topk": 0.5}, nil, nil, []float32{0.4, 0.02, 0.3, -0.1328729, 0.5, -0.4}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runMethod(t, c.method, c.global, c.perModel, c.fix, exBase, m1, m2)
			assertClose(t, c.name, got, c.want, 1e-6)
		})
	}
}

// Exact rescaling divides each kept entry by its keep probability.
func TestRescaleExact(t *testing.T) {
	m1, m2 := plus(exBase, exTau1), plus(exBase, exTau2)
	masks := fixedMasks(exMask1, exMask2)
	got := runMethod(t, "dare_linear", merge.Params{"rescale": "exact"}, withAll(weights(1, 0.5), "density", 0.5), masks, exBase, m1, m2)
	want := make([]float32, 6)
	for i := range want {
		var s float32
		if exMask1[i] {
			s += exTau1[i] / 0.5
		}
		if exMask2[i] {
			s += 0.5 * (exTau2[i] / 0.5)
		}
		want[i] = exBase[i] + s
	}
	assertClose(t, "dare_linear exact", got, want, 1e-6)

	// DELLA exact: each kept entry divided by its own probability (the
	// keep-probability example below).
	p1 := []float32{.65, .47, .41, .59, .35, .53}
	p2 := []float32{.65, .59, .47, .35, .41, .53}
	got = runMethod(t, "della_linear", merge.Params{"rescale": "exact"}, withAll(weights(1, 0.5), "density", 0.5), masks, exBase, m1, m2)
	for i := range want {
		var s float32
		if exMask1[i] {
			s += exTau1[i] / p1[i]
		}
		if exMask2[i] {
			s += 0.5 * (exTau2[i] / p2[i])
		}
		want[i] = exBase[i] + s
	}
	assertClose(t, "della_linear exact", got, want, 1e-6)
}

func TestDellaKeepProbabilities(t *testing.T) {
	for _, c := range []struct {
		tau  []float32
		want []float32
	}{
		{exTau1, []float32{.65, .47, .41, .59, .35, .53}},
		{exTau2, []float32{.65, .59, .47, .35, .41, .53}},
	} {
		p := make([]float32, len(c.tau))
		dellaProbs(p, c.tau, 0.5, 0.15, nil)
		assertClose(t, "della probabilities", p, c.want, 1e-6)
	}
	// A one-entry row keeps with probability density (mergekit: 0/0).
	p := []float32{0}
	dellaProbs(p, []float32{0.3}, 0.4, 0.1, nil)
	if p[0] != 0.4 {
		t.Errorf("one-entry row: p = %v, want 0.4", p[0])
	}
}
