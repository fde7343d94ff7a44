package layerswap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/interp"
	"github.com/gomerge/gomerge/layerswap"
	"github.com/gomerge/gomerge/merge"
)

// tinyNames returns the tensor names and shapes of a tiny Llama-style model
// with the given number of layers.
func tinyNames(layers int) []formats.TensorSpec {
	specs := []formats.TensorSpec{
		{Name: "model.embed_tokens.weight", Shape: []int64{10, 4}},
		{Name: "model.norm.weight", Shape: []int64{4}},
		{Name: "lm_head.weight", Shape: []int64{10, 4}},
	}
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		specs = append(specs,
			formats.TensorSpec{Name: p + "self_attn.q_proj.weight", Shape: []int64{4, 4}},
			formats.TensorSpec{Name: p + "mlp.down_proj.weight", Shape: []int64{4, 6}},
			formats.TensorSpec{Name: p + "input_layernorm.weight", Shape: []int64{4}},
		)
	}
	return specs
}

// writeModel writes a model directory (config.json + model.safetensors)
// whose tensor values come from value(name, i).
func writeModel(t *testing.T, dir string, dt formats.DType, layers int, value func(name string, i int) float32) {
	t.Helper()
	specs := tinyNames(layers)
	for i := range specs {
		specs[i].DType = dt
	}
	cfg, _ := json.Marshal(map[string]any{"architectures": []string{"LlamaForCausalLM"}, "num_hidden_layers": layers})
	formatstest.WriteFunc(t, dir, specs, value, map[string][]byte{"config.json": cfg})
}

func open(t *testing.T, path string) *formats.Model { return formatstest.Open(t, path) }

func readAll(t *testing.T, m *formats.Model, name string) []float32 {
	return formatstest.Values(t, m, name)
}

func rawBytes(t *testing.T, m *formats.Model, name string) []byte {
	return formatstest.Bytes(t, m, name)
}

func TestTaskWeightWorkedExample(t *testing.T) {
	// Spec §3.4: L = 8, b = 2, u = 1, t_b = t_u = 1, w = 0.5; task expert 1,
	// language expert 3 ⇒ merged per layer [3 3 2 1 1 1 2 3].
	c := layerswap.Config{Layers: 8, Bottom: 2, Top: 1, TransBottom: 1, TransTop: 1, Blend: 0.5, NonLayer: "lang"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []float64{3, 3, 2, 1, 1, 1, 2, 3}
	for l, w := range want {
		tw := c.TaskWeight(l)
		if got := tw*1 + (1-tw)*3; got != w {
			t.Errorf("layer %d: %g, want %g", l, got, w)
		}
	}
	for _, tc := range []struct {
		nonlayer string
		want     float64
	}{{"lang", 0}, {"task", 1}, {"blend", 0.5}} {
		c.NonLayer = tc.nonlayer
		if got := c.TaskWeight(-1); got != tc.want {
			t.Errorf("nonlayer %s: task weight %g, want %g", tc.nonlayer, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := layerswap.Config{Layers: 8, Bottom: 2, Top: 1, TransBottom: 1, TransTop: 1, Blend: 0.5, NonLayer: "lang"}
	tests := []struct {
		name   string
		edit   func(*layerswap.Config)
		errHas string
	}{
		{"valid", func(*layerswap.Config) {}, ""},
		{"exact fit", func(c *layerswap.Config) { c.Bottom, c.Top = 4, 2 }, ""},
		{"no middle allowed when blocks meet", func(c *layerswap.Config) { c.Bottom, c.Top, c.TransBottom, c.TransTop = 5, 3, 0, 0 }, ""},
		{"overlap", func(c *layerswap.Config) { c.Bottom, c.Top = 5, 2 }, "5 + 1 = 6 > 8 − 2 − 1 = 5"},
		{"negative bottom", func(c *layerswap.Config) { c.Bottom = -1 }, "--bottom is -1"},
		{"negative transition", func(c *layerswap.Config) { c.TransTop = -2 }, "--transition-top is -2"},
		{"blend above 1", func(c *layerswap.Config) { c.Blend = 1.5 }, "--blend is 1.5"},
		{"blend below 0", func(c *layerswap.Config) { c.Blend = -0.1 }, "--blend is -0.1"},
		{"nonlayer", func(c *layerswap.Config) { c.NonLayer = "base" }, `--nonlayer "base"`},
		{"no layers", func(c *layerswap.Config) { c.Layers = 0 }, "number of layers is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

// TestPlanWorkedExample runs the spec's worked example on generated
// checkpoints and checks every tensor.
func TestPlanWorkedExample(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "task"), formats.BF16, 8, func(string, int) float32 { return 1 })
	writeModel(t, filepath.Join(dir, "lang"), formats.BF16, 8, func(string, int) float32 { return 3 })
	ex := layerswap.Experts{Task: open(t, filepath.Join(dir, "task")), Lang: open(t, filepath.Join(dir, "lang"))}
	cfg := layerswap.Config{Bottom: 2, Top: 1, TransBottom: 1, TransTop: 1, Blend: 0.5, NonLayer: "lang"}
	plan, cfg, err := layerswap.Plan(ex, cfg, layerswap.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Layers != 8 {
		t.Fatalf("layers %d, want 8 (config.json)", cfg.Layers)
	}
	out := filepath.Join(dir, "out.safetensors")
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
		t.Fatal(err)
	}
	got := open(t, out)
	perLayer := []float32{3, 3, 2, 1, 1, 1, 2, 3}
	for _, s := range tinyNames(8) {
		want := float32(3) // non-layer: language expert
		if l := merge.LayerIndex(s.Name); l >= 0 {
			want = perLayer[l]
		}
		for i, v := range readAll(t, got, s.Name) {
			if v != want {
				t.Fatalf("%s[%d] = %g, want %g", s.Name, i, v, want)
			}
		}
		if tn, _ := got.Tensor(s.Name); tn.DType != formats.BF16 {
			t.Errorf("%s: dtype %s, want BF16 (the inputs')", s.Name, tn.DType)
		}
	}
	if len(got.Names()) != len(tinyNames(8)) {
		t.Errorf("output has %d tensors, want %d", len(got.Names()), len(tinyNames(8)))
	}
}

// randomValue gives reproducible, distinct values per model, tensor and
// element.
func randomValue(seed uint64) func(string, int) float32 {
	return func(name string, i int) float32 {
		h := seed
		for _, c := range name {
			h = h*1099511628211 + uint64(c)
		}
		r := rand.New(rand.NewPCG(h, uint64(i)))
		return float32(r.NormFloat64() * 0.02)
	}
}

// TestPlanCopiesBytesAndBlends checks that whole-source tensors are
// byte-identical to their source, transition tensors are w·task + (1−w)·lang
// rounded once, and --nonlayer task|blend.
func TestPlanCopiesBytesAndBlends(t *testing.T) {
	for _, dt := range []formats.DType{formats.BF16, formats.F32, formats.F16} {
		for _, nl := range []string{"lang", "task", "blend"} {
			t.Run(string(dt)+"/"+nl, func(t *testing.T) {
				dir := t.TempDir()
				writeModel(t, filepath.Join(dir, "task"), dt, 6, randomValue(1))
				writeModel(t, filepath.Join(dir, "lang"), dt, 6, randomValue(2))
				tm, lm := open(t, filepath.Join(dir, "task")), open(t, filepath.Join(dir, "lang"))
				cfg := layerswap.Config{Bottom: 1, Top: 2, TransBottom: 1, TransTop: 1, Blend: 0.25, NonLayer: nl}
				plan, cfg, err := layerswap.Plan(layerswap.Experts{Task: tm, Lang: lm}, cfg, layerswap.PlanOptions{})
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out")
				if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 3}); err != nil {
					t.Fatal(err)
				}
				got := open(t, out)
				for _, s := range tinyNames(6) {
					w := cfg.TaskWeight(merge.LayerIndex(s.Name))
					switch w {
					case 1, 0:
						src := lm
						if w == 1 {
							src = tm
						}
						if !bytes.Equal(rawBytes(t, got, s.Name), rawBytes(t, src, s.Name)) {
							t.Errorf("%s: not a byte copy of %s", s.Name, src.Path)
						}
					default:
						a, b, o := readAll(t, tm, s.Name), readAll(t, lm, s.Name), readAll(t, got, s.Name)
						want := make([]float32, len(a))
						for i := range a {
							want[i] = float32(w)*a[i] + float32(1-w)*b[i]
						}
						round(t, dt, want)
						for i := range o {
							if o[i] != want[i] {
								t.Fatalf("%s[%d] = %g, want %g·%g + %g·%g = %g", s.Name, i, o[i], w, a[i], 1-w, b[i], want[i])
							}
						}
					}
				}
			})
		}
	}
}

// round rounds values to dt as the writer does.
func round(t *testing.T, dt formats.DType, v []float32) {
	b := make([]byte, len(v)*dt.Size())
	if err := formats.EncodeFloat32(b, v, dt); err != nil {
		t.Fatal(err)
	}
	if err := formats.DecodeFloat32(v, b, dt); err != nil {
		t.Fatal(err)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "a8"), formats.BF16, 8, randomValue(1))
	writeModel(t, filepath.Join(dir, "b8"), formats.BF16, 8, randomValue(2))
	writeModel(t, filepath.Join(dir, "c6"), formats.BF16, 6, randomValue(3))
	a8, b8, c6 := open(t, filepath.Join(dir, "a8")), open(t, filepath.Join(dir, "b8")), open(t, filepath.Join(dir, "c6"))
	good := layerswap.Config{Bottom: 2, Top: 1, Blend: 0.5, NonLayer: "lang"}
	tests := []struct {
		name   string
		ex     layerswap.Experts
		cfg    layerswap.Config
		errHas string
	}{
		{"different layer counts", layerswap.Experts{Task: a8, Lang: c6}, good, "different layer counts: 8 in"},
		{"base layer count", layerswap.Experts{Task: a8, Lang: b8, Base: c6}, good, "the base"},
		{"too many layers", layerswap.Experts{Task: a8, Lang: b8}, layerswap.Config{Bottom: 6, Top: 3, Blend: 0.5, NonLayer: "lang"}, "6 + 0 = 6 > 8 − 3 − 0 = 5"},
		{"negative", layerswap.Experts{Task: a8, Lang: b8}, layerswap.Config{Bottom: -1, Top: 1, Blend: 0.5, NonLayer: "lang"}, "--bottom is -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := layerswap.Plan(tc.ex, tc.cfg, layerswap.PlanOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

// TestMethodSpec runs the layer_swap recipe method through the engine and
// compares with the dedicated plan, for both ways of naming the experts.
func TestMethodSpec(t *testing.T) {
	dir := t.TempDir()
	writeModel(t, filepath.Join(dir, "task"), formats.F32, 8, randomValue(1))
	writeModel(t, filepath.Join(dir, "lang"), formats.F32, 8, randomValue(2))
	tm, lm := open(t, filepath.Join(dir, "task")), open(t, filepath.Join(dir, "lang"))
	global := merge.Params{"bottom": 2.0, "top": 1.0, "transition_bottom": 1.0, "transition_top": 1.0, "blend": 0.5}
	ref := filepath.Join(dir, "ref.safetensors")
	plan, _, err := layerswap.Plan(layerswap.Experts{Task: tm, Lang: lm},
		layerswap.Config{Bottom: 2, Top: 1, TransBottom: 1, TransTop: 1, Blend: 0.5, NonLayer: "lang"}, layerswap.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := merge.Write(context.Background(), plan, merge.Output{Path: ref}, merge.ExecOptions{Threads: 1}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		models []*formats.Model
		roles  []merge.Params
	}{
		{"order task, lang", []*formats.Model{tm, lm}, nil},
		{"roles", []*formats.Model{lm, tm}, []merge.Params{{"role": "lang"}, {"role": "task"}}},
		{"one role", []*formats.Model{lm, tm}, []merge.Params{{"role": "lang"}, {}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := merge.PlanMerge(&merge.Config{Spec: layerswap.Spec, Params: merge.ConstParams{Global: global, PerModel: tc.roles}, Models: tc.models})
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "o.safetensors")
			if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			got, want := open(t, out), open(t, ref)
			for _, n := range want.Names() {
				if !bytes.Equal(rawBytes(t, got, n), rawBytes(t, want, n)) {
					t.Errorf("%s differs from the layerswap plan", n)
				}
			}
		})
	}
	t.Run("same roles", func(t *testing.T) {
		plan, err := merge.PlanMerge(&merge.Config{Spec: layerswap.Spec, Params: merge.ConstParams{Global: global,
			PerModel: []merge.Params{{"role": "task"}, {"role": "task"}}}, Models: []*formats.Model{tm, lm}})
		if err != nil {
			t.Fatal(err)
		}
		err = merge.Write(context.Background(), plan, merge.Output{Path: filepath.Join(t.TempDir(), "o.safetensors")}, merge.ExecOptions{})
		if err == nil || !strings.Contains(err.Error(), `both models have role "task"`) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("invalid for L", func(t *testing.T) {
		g := merge.Params{"bottom": 6.0, "top": 3.0}
		plan, err := merge.PlanMerge(&merge.Config{Spec: layerswap.Spec, Params: merge.ConstParams{Global: g}, Models: []*formats.Model{tm, lm}})
		if err != nil {
			t.Fatal(err)
		}
		err = merge.Write(context.Background(), plan, merge.Output{Path: filepath.Join(t.TempDir(), "o.safetensors")}, merge.ExecOptions{})
		if err == nil || !strings.Contains(err.Error(), "6 + 0 = 6 > 8 − 3 − 0 = 5") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("New rejects", func(t *testing.T) {
		for _, g := range []merge.Params{
			{"bottom": 1.5, "top": 1.0},
			{"bottom": 1.0, "top": -1.0},
			{"bottom": 1.0, "top": 1.0, "blend": 2.0},
			{"bottom": 5.0, "top": 5.0, "num_layers": 8.0},
		} {
			g, err := layerswap.Spec.WithDefaults(g, false, "test")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := layerswap.Spec.New(g); err == nil {
				t.Errorf("New(%v) accepted", g.Format())
			}
		}
	})
}

// TestBlendInMemory runs the method on in-memory values with num_layers.
func TestBlendInMemory(t *testing.T) {
	g, err := layerswap.Spec.WithDefaults(merge.Params{"bottom": 2.0, "top": 1.0, "transition_bottom": 1.0, "transition_top": 1.0, "num_layers": 8.0}, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	m, err := layerswap.Spec.New(g)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{3, 3, 2, 1, 1, 1, 2, 3}
	for l := -1; l < 8; l++ {
		sink := &merge.SliceSink{Data: make([]float32, 3)}
		task := &merge.Task{Name: fmt.Sprintf("model.layers.%d.x", l), Shape: []int64{3}, Layer: l,
			Inputs: []merge.Source{&merge.SliceSource{Data: []float32{1, 1, 1}}, &merge.SliceSource{Data: []float32{3, 3, 3}}},
			Model:  []merge.Params{{}, {}}, Out: sink}
		if err := m.Merge(context.Background(), task); err != nil {
			t.Fatal(err)
		}
		w := float32(3)
		if l >= 0 {
			w = want[l]
		}
		for _, v := range sink.Data {
			if v != w {
				t.Fatalf("layer %d: %v, want %g", l, sink.Data, w)
			}
		}
	}
}

// layerWeights resolves linear's per-model weights per layer as a layer
// swap: models are [task, lang].
type layerWeights struct{ cfg layerswap.Config }

func (r layerWeights) Resolve(_ string, layer int) (merge.Params, []merge.Params, error) {
	w := r.cfg.TaskWeight(layer)
	return merge.Params{}, []merge.Params{{"weight": w}, {"weight": 1 - w}}, nil
}

// TestEquivalentToLinear: the same layer swap expressed as the linear
// method with per-layer weights (as a mergekit recipe with slices would)
// gives the same tensors, bit for bit.
func TestEquivalentToLinear(t *testing.T) {
	reg := merge.NewRegistry(interp.Methods()...)
	linear, ok := reg.Lookup("linear")
	if !ok {
		t.Fatal("interp has no linear method")
	}
	for _, dt := range []formats.DType{formats.BF16, formats.F32} {
		t.Run(string(dt), func(t *testing.T) {
			dir := t.TempDir()
			writeModel(t, filepath.Join(dir, "task"), dt, 8, randomValue(5))
			writeModel(t, filepath.Join(dir, "lang"), dt, 8, randomValue(6))
			tm, lm := open(t, filepath.Join(dir, "task")), open(t, filepath.Join(dir, "lang"))
			cfg := layerswap.Config{Bottom: 2, Top: 1, TransBottom: 1, TransTop: 1, Blend: 0.5, NonLayer: "lang"}
			plan, cfg, err := layerswap.Plan(layerswap.Experts{Task: tm, Lang: lm}, cfg, layerswap.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			swap := filepath.Join(dir, "swap.safetensors")
			if err := merge.Write(context.Background(), plan, merge.Output{Path: swap}, merge.ExecOptions{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			lplan, err := merge.PlanMerge(&merge.Config{Spec: linear, Params: layerWeights{cfg}, Models: []*formats.Model{tm, lm}})
			if err != nil {
				t.Fatal(err)
			}
			lin := filepath.Join(dir, "linear.safetensors")
			if err := merge.Write(context.Background(), lplan, merge.Output{Path: lin}, merge.ExecOptions{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			a, b := open(t, swap), open(t, lin)
			if len(a.Names()) != len(b.Names()) {
				t.Fatalf("%d tensors vs %d", len(a.Names()), len(b.Names()))
			}
			for _, n := range a.Names() {
				if !bytes.Equal(rawBytes(t, a, n), rawBytes(t, b, n)) {
					t.Errorf("%s (layer %d, task weight %g): layer swap and linear differ", n, merge.LayerIndex(n), cfg.TaskWeight(merge.LayerIndex(n)))
				}
			}
		})
	}
}
