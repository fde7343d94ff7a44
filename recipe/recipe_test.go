package recipe

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

func TestGradientWorkedExample(t *testing.T) {
	// mergekit-compat.md: t: [0, 0.5, 0.3, 0.7, 1] over one 40-layer slice.
	s := &Setting{Gradient: []any{0.0, 0.5, 0.3, 0.7, 1.0}}
	want := map[int]float64{0: 0, 1: 0.051282, 10: 0.494872, 19: 0.310256, 20: 0.320513, 30: 0.723077, 39: 1}
	for layer, w := range want {
		v, ok := s.Eval("model.layers.x.mlp.up_proj.weight", LayerT(layer, 40))
		if !ok || math.Abs(v.(float64)-w) > 1e-6 {
			t.Errorf("layer %d: got %v, want %v", layer, v, w)
		}
	}
	// Non-layer tensors are evaluated at t = 0.
	if v, _ := s.Eval("model.norm.weight", 0); v.(float64) != 0 {
		t.Errorf("t=0: got %v", v)
	}
}

func TestFiltersFirstMatchWins(t *testing.T) {
	s := &Setting{Conds: []Cond{
		{Filter: "self_attn", Value: Setting{Gradient: []any{0.0, 1.0}}},
		{Filter: "mlp", Value: Setting{Gradient: []any{1.0, 0.0}}},
		{Value: Setting{Scalar: 0.5}},
	}}
	cases := []struct {
		name string
		t    float64
		want float64
	}{
		{"model.layers.3.self_attn.q_proj.weight", 0.25, 0.25},
		{"model.layers.3.mlp.down_proj.weight", 0.25, 0.75},
		{"model.layers.3.input_layernorm.weight", 0.25, 0.5},
	}
	for _, c := range cases {
		v, ok := s.Eval(c.name, c.t)
		if !ok || math.Abs(v.(float64)-c.want) > 1e-12 {
			t.Errorf("%s: got %v, want %v", c.name, v, c.want)
		}
	}
	noCatchAll := &Setting{Conds: []Cond{{Filter: "mlp", Value: Setting{Scalar: 1.0}}}}
	if _, ok := noCatchAll.Eval("model.norm.weight", 0); ok {
		t.Error("a non-matching condition list must fall through")
	}
}

// testMethod records nothing; planning tests only need specs.
type testMethod struct{}

func (testMethod) Merge(ctx context.Context, t *merge.Task) error { return nil }

func testRegistry() *merge.Registry {
	newM := func(merge.Params) (merge.Method, error) { return testMethod{}, nil }
	return merge.NewRegistry(
		&merge.MethodSpec{Name: "linear", MinModels: 1, New: newM, Params: []merge.ParamSpec{
			{Name: "weight", PerModel: true, Required: true}, {Name: "normalize", Kind: merge.Bool, Default: true}}},
		&merge.MethodSpec{Name: "ties", Base: merge.BaseRequired, MinModels: 1, New: newM, Params: []merge.ParamSpec{
			{Name: "weight", PerModel: true, Required: true}, {Name: "density", PerModel: true, Default: 1.0},
			{Name: "normalize", Kind: merge.Bool, Default: true}, {Name: "lambda", Default: 1.0}}},
		&merge.MethodSpec{Name: "slerp", Base: merge.BaseRequired, MinModels: 1, MaxModels: 1, New: newM, Params: []merge.ParamSpec{
			{Name: "t", Required: true}}},
		&merge.MethodSpec{Name: "passthrough", MinModels: 1, MaxModels: 1, New: newM, Params: []merge.ParamSpec{
			{Name: "scale"}}},
	)
}

// writeLlama writes a tiny Llama-named checkpoint directory with n layers.
func writeLlama(t *testing.T, dir string, layers int, fill float32) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
	for l := 0; l < layers; l++ {
		names = append(names, fmt.Sprintf("model.layers.%d.self_attn.q_proj.weight", l), fmt.Sprintf("model.layers.%d.mlp.up_proj.weight", l))
	}
	var specs []formats.TensorSpec
	for _, n := range names {
		specs = append(specs, formats.TensorSpec{Name: n, DType: formats.F32, Shape: []int64{2, 2}})
	}
	w, err := formats.Create(filepath.Join(dir, "model.safetensors"), specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		v := fill + float32(i)
		if _, err := w.WriteFloat32(n, 0, []float32{v, v, v, v}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`{"architectures": ["LlamaForCausalLM"], "num_hidden_layers": %d, "torch_dtype": "float32"}`, layers)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o644)
}

func planText(t *testing.T, dir, text string) (*Job, error) {
	t.Helper()
	docs, err := Parse([]byte(text), "r.yaml")
	if err != nil {
		return nil, err
	}
	return Plan(docs[0], Env{Registry: testRegistry(), RecipeDir: dir})
}

func TestValidationErrors(t *testing.T) {
	dir := t.TempDir()
	writeLlama(t, filepath.Join(dir, "a"), 4, 1)
	writeLlama(t, filepath.Join(dir, "b"), 4, 2)
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown method", "merge_method: tiez\nbase_model: a\nmodels:\n  - model: b\n", `r.yaml:1: unknown merge method "tiez" (did you mean "ties"?)`},
		{"misspelt parameter", "merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n    parameters:\n      weight: 1\n      densty: 0.5\n", `r.yaml:7: unknown parameter "densty" for method ties (did you mean "density"?)`},
		{"unknown key", "merge_method: ties\nbase_modle: a\nmodels:\n  - model: b\n", `r.yaml:2: unknown key "base_modle" (did you mean "base_model"?)`},
		{"missing weight", "merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n", `r.yaml:4: method ties: missing required parameter "weight" for model "b"`},
		{"missing t", "merge_method: slerp\nbase_model: a\nmodels:\n  - model: b\n", `r.yaml:1: method slerp: missing required parameter "t"`},
		{"missing base", "merge_method: ties\nmodels:\n  - model: b\n    parameters: {weight: 1}\n", `r.yaml:1: method ties needs base_model`},
		{"layer range", "merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 6]\n", `r.yaml:4: layer_range [0, 6] is out of bounds: model "a" has 4 layers`},
		{"unequal slices", "merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n      - model: b\n        layer_range: [0, 3]\nparameters:\n  weight: 1\n", `r.yaml:6: slice 1: sources have different lengths (2 and 3 layers)`},
		{"missing model", "merge_method: ties\nbase_model: a\nmodels:\n  - model: nowhere/model\n    parameters: {weight: 1}\n", `r.yaml:4: model "nowhere/model" is not a local path and is not in the Hugging Face cache`},
		{"lora", "merge_method: ties\nbase_model: a\nmodels:\n  - model: b+lora\n    parameters: {weight: 1}\n", `r.yaml:4: model "b+lora": LoRA references (model+lora) are not supported yet`},
		{"union tokenizer", "merge_method: ties\nbase_model: a\ntokenizer_source: union\nmodels:\n  - model: b\n    parameters: {weight: 1}\n", `r.yaml:3: tokenizer_source: union (a merged vocabulary) is not supported yet`},
		{"bad type", "merge_method: ties\nbase_model: a\nmodels:\n  - model: b\n    parameters: {weight: heavy}\n", `r.yaml:5: parameter "weight": want a number, got heavy`},
		{"models and slices", "merge_method: linear\nmodels:\n  - model: a\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 1]\n", `r.yaml:4: give either models: or slices:, not both`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("HF_HOME", t.TempDir())
			job, err := planText(t, dir, c.yaml)
			if err == nil {
				job.Close()
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\n  want %q", err, c.want)
			}
		})
	}
}

func TestParamsPrecedenceAndGradients(t *testing.T) {
	dir := t.TempDir()
	writeLlama(t, filepath.Join(dir, "a"), 5, 1)
	writeLlama(t, filepath.Join(dir, "b"), 5, 2)
	writeLlama(t, filepath.Join(dir, "c"), 5, 3)
	job, err := planText(t, dir, `
merge_method: ties
base_model: a
parameters:
  density: 0.3
  lambda: [0, 1]
  weight: 0.1
models:
  - model: b
    parameters:
      weight: [{filter: mlp, value: [1, 0]}, {value: 0.7}]
      density: 0.9
  - model: c
`)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	cases := []struct {
		tensor                 string
		layer                  int
		lambda, wB, dB, wC, dC float64
	}{
		{"model.layers.1.mlp.up_proj.weight", 1, 0.25, 0.75, 0.9, 0.1, 0.3},
		{"model.layers.4.self_attn.q_proj.weight", 4, 1, 0.7, 0.9, 0.1, 0.3},
		{"model.norm.weight", -1, 0, 0.7, 0.9, 0.1, 0.3},
		{"model.embed_tokens.weight", -1, 0, 0.7, 0.9, 0.1, 0.3},
	}
	for _, c := range cases {
		g, pm, err := job.Config.Params.Resolve(c.tensor, c.layer)
		if err != nil {
			t.Fatal(err)
		}
		got := []float64{g.Float("lambda", -1), pm[0].Float("weight", -1), pm[0].Float("density", -1), pm[1].Float("weight", -1), pm[1].Float("density", -1)}
		want := []float64{c.lambda, c.wB, c.dB, c.wC, c.dC}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("%s: got %v, want %v", c.tensor, got, want)
				break
			}
		}
	}
}

func TestSlicesRenumberLayers(t *testing.T) {
	dir := t.TempDir()
	writeLlama(t, filepath.Join(dir, "a"), 4, 1)
	writeLlama(t, filepath.Join(dir, "b"), 4, 100)
	job, err := planText(t, dir, `
merge_method: passthrough
slices:
  - sources:
      - model: a
        layer_range: [0, 3]
  - sources:
      - model: b
        layer_range: [1, 4]
`)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	if job.OutLayers != 6 {
		t.Fatalf("OutLayers = %d, want 6", job.OutLayers)
	}
	got := map[string][]string{}
	for _, tm := range job.Config.Tensors {
		got[tm.Out] = tm.In
	}
	checks := map[string][]string{
		"model.layers.0.mlp.up_proj.weight":      {"model.layers.0.mlp.up_proj.weight", ""},
		"model.layers.2.self_attn.q_proj.weight": {"model.layers.2.self_attn.q_proj.weight", ""},
		"model.layers.3.mlp.up_proj.weight":      {"", "model.layers.1.mlp.up_proj.weight"},
		"model.layers.5.mlp.up_proj.weight":      {"", "model.layers.3.mlp.up_proj.weight"},
		"model.embed_tokens.weight":              {"model.embed_tokens.weight", ""},
		"lm_head.weight":                         {"", "lm_head.weight"},
		"model.norm.weight":                      {"", "model.norm.weight"},
	}
	for out, in := range checks {
		if fmt.Sprint(got[out]) != fmt.Sprint(in) {
			t.Errorf("%s ← %q, want %q", out, got[out], in)
		}
	}
	if len(job.Config.Tensors) != 6*2+3 {
		t.Errorf("%d output tensors, want 15", len(job.Config.Tensors))
	}
}

func TestMultiDocumentNeedsNames(t *testing.T) {
	_, err := Parse([]byte("merge_method: linear\nmodels: [a]\n---\nmerge_method: linear\nmodels: [b]\n"), "m.yaml")
	if err == nil || !strings.Contains(err.Error(), "needs a name") {
		t.Fatalf("got %v", err)
	}
	docs, err := Parse([]byte("name: one\nmerge_method: linear\nmodels: [a]\n---\nname: two\nmerge_method: linear\nmodels: [one]\n"), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || !strings.Contains(docs[1].Text, "name: two") || strings.Contains(docs[1].Text, "name: one") {
		t.Fatalf("documents split wrongly: %q", docs[1].Text)
	}
}

func TestHubIDFromLocalCache(t *testing.T) {
	hf := t.TempDir()
	t.Setenv("HF_HOME", hf)
	t.Setenv("HF_HUB_CACHE", "")
	repo := filepath.Join(hf, "hub", "models--acme--tiny-llama")
	snap := filepath.Join(repo, "snapshots", "abc123")
	writeLlama(t, snap, 2, 1)
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte("abc123\n"), 0o644)
	p, err := ResolveRef("acme/tiny-llama", nil, t.TempDir())
	if err != nil || p != snap {
		t.Fatalf("ResolveRef = %q, %v; want %q", p, err, snap)
	}
	if p, err := ResolveRef("acme/tiny-llama@abc123", nil, t.TempDir()); err != nil || p != snap {
		t.Fatalf("revision: %q, %v", p, err)
	}
	if _, err := ResolveRef("acme/other", nil, t.TempDir()); err == nil || !strings.Contains(err.Error(), "gomerge does not download") {
		t.Fatalf("missing repo: %v", err)
	}
}
