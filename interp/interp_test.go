package interp

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// The inputs of the worked examples (task-arithmetic-family.md §5.4).
var (
	exBase = []float32{0.10, -0.20, 0.30, 0.00, 0.50, -0.40}
	exM1   = []float32{0.4, -0.3, 0.35, -0.2, 0.5, -0.25}
	exM2   = []float32{-0.15, 0.02, 0.4, -0.05, 0.58, -0.28}
	exTau3 = []float32{0.10, -0.05, 0.20, -0.10, 0.05, 0.02}
)

func exM3() []float32 {
	out := make([]float32, len(exBase))
	for i := range out {
		out[i] = exBase[i] + exTau3[i]
	}
	return out
}

func spec(t testing.TB, name string) *merge.MethodSpec {
	t.Helper()
	for _, s := range Methods() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no method %q", name)
	return nil
}

// newMethod validates global parameters as the engine does.
func newMethod(t testing.TB, s *merge.MethodSpec, global merge.Params) (merge.Method, error) {
	t.Helper()
	g, err := s.WithDefaults(global, false, "test")
	if err != nil {
		return nil, err
	}
	return s.New(g)
}

// runTask runs m on in-memory tensors of the given shape; base may be nil.
func runTask(t testing.TB, m merge.Method, s *merge.MethodSpec, global merge.Params, per []merge.Params, shape []int64, base []float32, inputs ...[]float32) ([]float32, error) {
	t.Helper()
	g, err := s.WithDefaults(global, false, "test")
	if err != nil {
		return nil, err
	}
	task := &merge.Task{Name: "model.layers.0.w", Shape: shape, Layer: 0, Global: g}
	if base != nil {
		task.Base = &merge.SliceSource{Data: base, Dims: shape}
	}
	for k, x := range inputs {
		task.Inputs = append(task.Inputs, &merge.SliceSource{Data: x, Dims: shape})
		var p merge.Params
		if k < len(per) {
			p = per[k]
		}
		p, err = s.WithDefaults(p, true, "test model")
		if err != nil {
			return nil, err
		}
		task.Model = append(task.Model, p)
	}
	sink := &merge.SliceSink{Data: make([]float32, task.Len())}
	task.Out = sink
	if err := m.Merge(context.Background(), task); err != nil {
		return nil, err
	}
	return sink.Data, nil
}

// mergeSlices builds the method from global and runs it.
func mergeSlices(t testing.TB, name string, global merge.Params, per []merge.Params, shape []int64, base []float32, inputs ...[]float32) ([]float32, error) {
	t.Helper()
	s := spec(t, name)
	m, err := newMethod(t, s, global)
	if err != nil {
		return nil, err
	}
	return runTask(t, m, s, global, per, shape, base, inputs...)
}

func weights(ws ...float64) []merge.Params {
	out := make([]merge.Params, len(ws))
	for i, w := range ws {
		out[i] = merge.Params{"weight": w}
	}
	return out
}

func assertClose(t *testing.T, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol) {
			t.Fatalf("element %d: got %.9g, want %.9g (|diff| %.3g > %.3g)\n got  %v\n want %v", i, got[i], want[i], d, tol, got, want)
		}
	}
}

func TestWorkedExamples(t *testing.T) {
	m3 := exM3()
	twice := make([]float32, len(exM1))
	for i := range twice {
		twice[i] = 2 * exM1[i]
	}
	m2x3 := []int64{2, 3}
	cases := []struct {
		name   string
		method string
		global merge.Params
		per    []merge.Params
		shape  []int64
		base   []float32
		inputs [][]float32
		want   []float32
	}{
		{"linear w=[3,1]", "linear", nil, weights(3, 1), nil, nil, [][]float32{exM1, exM2},
			[]float32{0.2625, -0.22, 0.3625, -0.1625, 0.52, -0.2575}},
		{"slerp t=.3", "slerp", merge.Params{"t": 0.3}, nil, nil, exM1, [][]float32{exM2},
			[]float32{0.2474973, -0.2165336, 0.3940877, -0.1655198, 0.5658467, -0.2795817}},
		{"slerp colinear", "slerp", merge.Params{"t": 0.3}, nil, nil, exM1, [][]float32{twice},
			[]float32{0.52, -0.39, 0.455, -0.26, 0.65, -0.325}},
		{"nuslerp t=.4 flatten", "nuslerp", nil, weights(0.6, 0.4), nil, nil, [][]float32{exM1, exM2},
			[]float32{0.1927501, -0.1854431, 0.4034429, -0.1516189, 0.580135, -0.285648}},
		{"nuslerp t=.4 base", "nuslerp", nil, weights(0.6, 0.4), nil, exBase, [][]float32{exM1, exM2},
			[]float32{0.2102131, -0.1290434, 0.4300032, -0.2442102, 0.5630406, -0.1518317}},
		{"nuslerp rows", "nuslerp", merge.Params{"nuslerp_flatten": false}, weights(0.6, 0.4), m2x3, nil, [][]float32{exM1, exM2},
			[]float32{0.2135554, -0.2075359, 0.4589142, -0.1411155, 0.5366117, -0.2642658}},
		{"nuslerp columns", "nuslerp", merge.Params{"nuslerp_flatten": false, "nuslerp_row_wise": true}, weights(0.6, 0.4), m2x3, nil, [][]float32{exM1, exM2},
			[]float32{0.3871025, -0.1781756, 0.3700041, -0.3365666, 0.5540662, -0.2620029}},
		{"model_stock 2", "model_stock", nil, nil, nil, exBase, [][]float32{exM1, exM2},
			[]float32{0.0645429, -0.2850971, 0.1936285, 0.1772857, 0.4432686, -0.5914686}},
		{"model_stock 3", "model_stock", nil, nil, nil, exBase, [][]float32{exM1, exM2, m3},
			[]float32{0.1085233, -0.1960224, 0.3198878, -0.0198878, 0.5073869, -0.3835215}},
		// §5.4 computes the filter_wise example with the three models.
		{"model_stock filter_wise", "model_stock", merge.Params{"filter_wise": true}, nil, m2x3, exBase, [][]float32{exM1, exM2, m3},
			[]float32{0.0714247, -0.2133352, 0.2333243, -0.1040791, 0.5386579, -0.313763}},
		{"karcher 2", "karcher", nil, nil, nil, nil, [][]float32{exM1, exM2},
			[]float32{0.1227521, -0.1451358, 0.4122119, -0.1330946, 0.593792, -0.2911586}},
		{"karcher 3", "karcher", nil, nil, nil, nil, [][]float32{exM1, exM2, m3},
			[]float32{0.147625, -0.1795734, 0.4432239, -0.1227416, 0.5828975, -0.3218139}},
		{"nearswap t=.1", "nearswap", merge.Params{"t": 0.1}, nil, nil, exBase, [][]float32{exM1},
			[]float32{0.2, -0.3, 0.35, -0.1, 0.5, -0.3}},
		{"multislerp", "multislerp", nil, weights(0.6, 0.4), nil, nil, [][]float32{exM1, exM2},
			[]float32{0.18273, -0.1797391, 0.405077, -0.1490563, 0.5826373, -0.2867033}},
		{"multislerp base", "multislerp", nil, weights(0.6, 0.4), nil, exBase, [][]float32{exM1, exM2},
			[]float32{0.2255715, -0.1413105, 0.4251538, -0.2431176, 0.5588566, -0.156966}},
		{"passthrough scale", "passthrough", nil, []merge.Params{{"scale": 0.5}}, nil, nil, [][]float32{exM1},
			[]float32{0.2, -0.15, 0.175, -0.1, 0.25, -0.125}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shape := c.shape
			if shape == nil {
				shape = []int64{6}
			}
			got, err := mergeSlices(t, c.method, c.global, c.per, shape, c.base, c.inputs...)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, got, c.want, 1e-6)
		})
	}
}

// TestModelStockRatio checks the cosines and ratios quoted in §5.4.
func TestModelStockRatio(t *testing.T) {
	m3 := exM3()
	for _, c := range []struct {
		inputs  [][]float32
		cos, tt float64
	}{
		{[][]float32{exM1, exM2}, -0.4149114, -1.4182857},
		{[][]float32{exM1, exM2, m3}, 0.0641079, 0.170467},
	} {
		n := len(c.inputs)
		g := make([]float64, gramWidth(n))
		for i := range n {
			for j := i; j < n; j++ {
				var s float64
				for e := range exBase {
					s += float64(c.inputs[i][e]-exBase[e]) * float64(c.inputs[j][e]-exBase[e])
				}
				g[gramIndex(n, i, j)] = s
			}
		}
		got, err := modelStockRatio(g, n)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(got)-c.tt) > 1e-6 {
			t.Errorf("N=%d: t = %.7f, want %.7f", n, got, c.tt)
		}
		// cos from t: t = N c/(1+(N−1)c)  ⇒  c = t/(N − (N−1)t).
		cos := float64(got) / (float64(n) - float64(n-1)*float64(got))
		if math.Abs(cos-c.cos) > 1e-6 {
			t.Errorf("N=%d: cos = %.7f, want %.7f", n, cos, c.cos)
		}
	}
}

func TestInvariants(t *testing.T) {
	m3 := exM3()
	same := func(name string, global merge.Params, per []merge.Params, base []float32, inputs [][]float32, want []float32, tol float64) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			got, err := mergeSlices(t, strings.Fields(name)[0], global, per, []int64{6}, base, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, got, want, tol)
		})
	}
	// Identical models return them.
	same("linear identical", nil, weights(0.3, 0.7), nil, [][]float32{exM1, exM1}, exM1, 1e-7)
	same("slerp identical", merge.Params{"t": 0.4}, nil, exM1, [][]float32{exM1}, exM1, 1e-7)
	same("nuslerp identical", nil, weights(1, 2), nil, [][]float32{exM2, exM2}, exM2, 1e-7)
	same("multislerp identical", nil, weights(1, 2, 3), nil, [][]float32{exM2, exM2, exM2}, exM2, 1e-6)
	same("karcher identical", nil, nil, nil, [][]float32{m3, m3, m3}, m3, 1e-6)
	same("model_stock identical", nil, nil, exM1, [][]float32{exM1, exM1}, exM1, 0)
	same("model_stock identical-offsets", nil, nil, exBase, [][]float32{exM2, exM2, exM2}, exM2, 1e-7)
	same("nearswap identical", merge.Params{"t": 0.01}, nil, exM1, [][]float32{exM1}, exM1, 0)
	same("passthrough copy", nil, nil, nil, [][]float32{exM2}, exM2, 0)
	// Weight 0 and endpoints return an input exactly.
	same("linear [1,0]", nil, weights(1, 0), nil, [][]float32{exM1, exM2}, exM1, 0)
	same("linear [0,2]", nil, weights(0, 2), nil, [][]float32{exM1, exM2}, exM2, 0)
	same("slerp t=0", merge.Params{"t": 0.0}, nil, exM1, [][]float32{exM2}, exM1, 0)
	same("slerp t=1", merge.Params{"t": 1.0}, nil, exM1, [][]float32{exM2}, exM2, 0)
	same("nuslerp w=[1,0]", nil, weights(1, 0), nil, [][]float32{exM1, exM2}, exM1, 0)
	same("nuslerp w=[0,1]", nil, weights(0, 1), nil, [][]float32{exM1, exM2}, exM2, 0)
	same("nearswap t=0", merge.Params{"t": 0.0}, nil, exBase, [][]float32{exM1}, exBase, 0)
	same("nearswap tiny t", merge.Params{"t": 1e-30}, nil, exBase, [][]float32{exM1}, exBase, 1e-12)
	// Large t takes the other model wherever it differs by less than t.
	same("nearswap large t", merge.Params{"t": 10.0}, nil, exBase, [][]float32{exM1}, exM1, 0)
	same("karcher single", nil, nil, nil, [][]float32{exM2}, exM2, 0)
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name   string
		method string
		global merge.Params
		per    []merge.Params
		base   []float32
		inputs [][]float32
		want   string
	}{
		{"linear zero sum", "linear", nil, weights(1, -1), nil, [][]float32{exM1, exM2}, `tensor "model.layers.0.w": linear weights [1 -1] sum to zero`},
		{"linear cancelling sum", "linear", nil, weights(0.1, 0.2, -0.3), nil, [][]float32{exM1, exM2, exBase}, "sum to zero"},
		{"linear missing weight", "linear", nil, nil, nil, [][]float32{exM1, exM2}, `missing required parameter "weight"`},
		{"slerp missing t", "slerp", nil, nil, exBase, [][]float32{exM1}, `missing required parameter "t"`},
		{"model_stock antiparallel", "model_stock", nil, nil, exBase, [][]float32{exM1, reflect(exM1, exBase)}, "divides by zero"},
		{"model_stock one model", "model_stock", nil, nil, exBase, [][]float32{exM1}, "at least two models"},
		{"multislerp zero sum", "multislerp", nil, weights(1, -1), nil, [][]float32{exM1, exM2}, "sum to zero"},
		{"karcher bad max_iter", "karcher", merge.Params{"max_iter": 2.5}, nil, nil, [][]float32{exM1, exM2}, "max_iter must be a whole number"},
		{"passthrough two", "passthrough", nil, nil, nil, [][]float32{exM1, exM2}, "exactly one input"},
		{"nuslerp one", "nuslerp", nil, weights(1), nil, [][]float32{exM1}, "exactly two models"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := mergeSlices(t, c.method, c.global, c.per, []int64{6}, c.base, c.inputs...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// reflect returns 2·base − x, whose offset from base is −(x − base).
func reflect(x, base []float32) []float32 {
	out := make([]float32, len(x))
	for i := range out {
		out[i] = 2*base[i] - x[i]
	}
	return out
}

func TestMultislerpAntipodal(t *testing.T) {
	// Two antipodal task vectors with equal weights: the mean direction
	// vanishes and two models fall back to lerp (here: the base).
	neg := reflect(exM1, exBase)
	got, err := mergeSlices(t, "multislerp", nil, weights(1, 1), []int64{6}, exBase, exM1, neg)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, exBase, 1e-7)
	// Three unchanged models (all task vectors zero) give the base, where
	// mergekit stops with the zero-mean error.
	got, err = mergeSlices(t, "multislerp", nil, weights(1, 2, 3), []int64{6}, exBase, exBase, exBase, exBase)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, exBase, 0)
	// Three models whose directions cancel are an error.
	_, err = mergeSlices(t, "multislerp", nil, weights(1, 1, 0), []int64{6}, exBase, exM1, neg, exM2)
	if err == nil || !strings.Contains(err.Error(), "weighted mean of the unit vectors is zero") {
		t.Fatalf("error %v, want the zero-mean error", err)
	}
}

func TestSpecs(t *testing.T) {
	want := map[string]struct {
		base     merge.BaseUse
		min, max int
	}{
		"linear":      {merge.BaseNone, 1, 0},
		"slerp":       {merge.BaseRequired, 1, 1},
		"nuslerp":     {merge.BaseOptional, 2, 2},
		"multislerp":  {merge.BaseOptional, 1, 0},
		"karcher":     {merge.BaseNone, 1, 0},
		"model_stock": {merge.BaseRequired, 2, 0},
		"nearswap":    {merge.BaseRequired, 1, 1},
		"passthrough": {merge.BaseNone, 1, 1},
	}
	specs := Methods()
	if len(specs) != len(want) {
		t.Fatalf("%d methods, want %d", len(specs), len(want))
	}
	for _, s := range specs {
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected method %s", s.Name)
			continue
		}
		if s.Base != w.base || s.MinModels != w.min || s.MaxModels != w.max {
			t.Errorf("%s: base %v models [%d, %d], want %v [%d, %d]", s.Name, s.Base, s.MinModels, s.MaxModels, w.base, w.min, w.max)
		}
		if s.Summary == "" || !strings.Contains(s.Long, "Example") || !strings.Contains(s.Long, "mergekit") {
			t.Errorf("%s: help lacks a summary, an example or the mergekit comparison", s.Name)
		}
	}
	defaults := map[string]map[string]any{
		"linear":      {"normalize": true},
		"nuslerp":     {"nuslerp_flatten": true, "nuslerp_row_wise": false},
		"multislerp":  {"normalize_weights": true, "eps": 1e-8},
		"karcher":     {"max_iter": 10, "tol": 1e-5},
		"model_stock": {"filter_wise": false},
	}
	for name, ps := range defaults {
		s := spec(t, name)
		for p, v := range ps {
			ps, ok := s.Param(p)
			if !ok || ps.Default != v {
				t.Errorf("%s: parameter %s default %v, want %v", name, p, ps, v)
			}
		}
	}
	for _, name := range []string{"linear", "nuslerp", "multislerp"} {
		if p, ok := spec(t, name).Param("weight"); !ok || !p.Required || !p.PerModel {
			t.Errorf("%s: weight must be a required per-model parameter", name)
		}
	}
	for _, name := range []string{"slerp", "nearswap"} {
		if p, ok := spec(t, name).Param("t"); !ok || !p.Required || p.PerModel {
			t.Errorf("%s: t must be a required global parameter", name)
		}
	}
}

// TestNearswapFloor checks the 1e-6 floor of the difference: with t below
// it, elements that differ by less than 1e-6 move only t/1e-6 of the way.
func TestNearswapFloor(t *testing.T) {
	base := []float32{0, 1}
	x := []float32{1e-7, 1 + 0.5}
	got, err := mergeSlices(t, "nearswap", merge.Params{"t": 1e-7}, nil, []int64{2}, base, x)
	if err != nil {
		t.Fatal(err)
	}
	// w = 1e-7/1e-6 = 0.1 for the first element, 1e-7/0.5 for the second.
	assertClose(t, got, []float32{0.1 * 1e-7, 1 + 0.5*(1e-7/0.5)}, 1e-12)
}

// TestDegenerateShapes runs every method on an empty tensor and a scalar.
func TestDegenerateShapes(t *testing.T) {
	for _, c := range streamCases {
		for _, shape := range [][]int64{{0, 3}, {}} {
			n := 1
			for _, d := range shape {
				n *= int(d)
			}
			vals := func(v float32) []float32 {
				out := make([]float32, n)
				for i := range out {
					out[i] = v
				}
				return out
			}
			var base []float32
			if c.base {
				base = vals(1)
			}
			var inputs [][]float32
			for k := range c.models {
				inputs = append(inputs, vals(float32(k+2)))
			}
			got, err := mergeSlices(t, c.method, c.global, c.per, shape, base, inputs...)
			if err != nil {
				t.Fatalf("%s %v: %v", c.name(), shape, err)
			}
			for _, v := range got {
				if math.IsNaN(float64(v)) {
					t.Fatalf("%s %v: NaN result %v", c.name(), shape, got)
				}
			}
		}
	}
}
