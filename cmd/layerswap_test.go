package cmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/cmd"
	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/merge"
)

// lsRun runs gomerge with args and returns the exit code, stdout and stderr.
func lsRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cmd.Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// lsModel writes a tiny Llama-style model directory with config.json
// (num_hidden_layers = layers) whose tensor values come from value.
func lsModel(t *testing.T, dir string, layers int, value func(name string, i int) float32) {
	t.Helper()
	specs := []formats.TensorSpec{
		{Name: "model.embed_tokens.weight", DType: formats.BF16, Shape: []int64{12, 4}},
		{Name: "model.norm.weight", DType: formats.BF16, Shape: []int64{4}},
		{Name: "lm_head.weight", DType: formats.BF16, Shape: []int64{12, 4}},
	}
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		specs = append(specs,
			formats.TensorSpec{Name: p + "self_attn.q_proj.weight", DType: formats.BF16, Shape: []int64{4, 4}},
			formats.TensorSpec{Name: p + "mlp.up_proj.weight", DType: formats.BF16, Shape: []int64{8, 4}},
			formats.TensorSpec{Name: p + "post_attention_layernorm.weight", DType: formats.BF16, Shape: []int64{4}},
		)
	}
	cfg, _ := json.Marshal(map[string]any{"architectures": []string{"LlamaForCausalLM"}, "num_hidden_layers": layers, "torch_dtype": "bfloat16"})
	formatstest.WriteFunc(t, dir, specs, value, map[string][]byte{"config.json": cfg})
}

func lsValues(t *testing.T, m *formats.Model, name string) []float32 {
	return formatstest.Values(t, m, name)
}

func lsOpen(t *testing.T, path string) *formats.Model { return formatstest.Open(t, path) }

// TestLayerswapCLIWorkedExample: the spec's example (L = 8, b = 2, u = 1,
// transitions 1/1, blend 0.5; task 1, lang 3 ⇒ [3 3 2 1 1 1 2 3], non-layer
// tensors 3) through the command line.
func TestLayerswapCLIWorkedExample(t *testing.T) {
	dir := t.TempDir()
	task, lang, out := filepath.Join(dir, "task"), filepath.Join(dir, "lang"), filepath.Join(dir, "out")
	lsModel(t, task, 8, func(string, int) float32 { return 1 })
	lsModel(t, lang, 8, func(string, int) float32 { return 3 })
	code, stdout, stderr := lsRun("layerswap", "--task", task, "--lang", lang, "--bottom", "2", "--top", "1",
		"--transition-bottom", "1", "--transition-top", "1", "--blend", "0.5", "-o", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" || stderr != "" {
		t.Errorf("unexpected output: %q %q", stdout, stderr)
	}
	m := lsOpen(t, out)
	want := []float32{3, 3, 2, 1, 1, 1, 2, 3}
	if len(m.Names()) != 3+3*8 {
		t.Fatalf("%d tensors, want %d", len(m.Names()), 3+3*8)
	}
	for _, n := range m.Names() {
		w := float32(3)
		if l := merge.LayerIndex(n); l >= 0 {
			w = want[l]
		}
		for i, v := range lsValues(t, m, n) {
			if v != w {
				t.Fatalf("%s[%d] = %g, want %g", n, i, v, w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Errorf("no config.json in the output: %v", err)
	}
	// --nonlayer task takes embeddings, final norm and lm_head from the task expert.
	out2 := filepath.Join(dir, "out2.safetensors")
	if code, _, stderr := lsRun("layerswap", "--task", task, "--lang", lang, "--bottom", "2", "--top", "1", "--nonlayer", "task", "-o", out2); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m2 := lsOpen(t, out2)
	for _, n := range []string{"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"} {
		if v := lsValues(t, m2, n)[0]; v != 1 {
			t.Errorf("--nonlayer task: %s = %g, want 1", n, v)
		}
	}
	if v := lsValues(t, m2, "model.layers.2.mlp.up_proj.weight")[0]; v != 1 {
		t.Errorf("no transitions: layer 2 = %g, want 1 (task)", v)
	}
}

func TestLayerswapCLIDryRun(t *testing.T) {
	dir := t.TempDir()
	task, lang := filepath.Join(dir, "task"), filepath.Join(dir, "lang")
	lsModel(t, task, 4, func(string, int) float32 { return 1 })
	lsModel(t, lang, 4, func(string, int) float32 { return 3 })
	code, stdout, stderr := lsRun("layerswap", "--task", task, "--lang", lang, "--bottom", "1", "--top", "1", "--transition-top", "1", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"layer 0    bottom", "layer 1    middle", "layer 2    upper transition  0.5·task + 0.5·lang", "layer 3    top", "non-layer  non-layer         lang"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, stdout)
		}
	}
}

// TestLayerswapCLIErrors: each bad invocation fails with a clear message
// and writes nothing.
func TestLayerswapCLIErrors(t *testing.T) {
	dir := t.TempDir()
	task, lang, six := filepath.Join(dir, "task"), filepath.Join(dir, "lang"), filepath.Join(dir, "six")
	lsModel(t, task, 8, func(string, int) float32 { return 1 })
	lsModel(t, lang, 8, func(string, int) float32 { return 3 })
	lsModel(t, six, 6, func(string, int) float32 { return 2 })
	base := []string{"layerswap", "--task", task, "--lang", lang}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"overlap", append(base, "--bottom", "4", "--top", "3", "--transition-bottom", "1", "--transition-top", "1"),
			"bottom + transition-bottom must not exceed L − top − transition-top: 4 + 1 = 5 > 8 − 3 − 1 = 4 (L = 8 layers)"},
		{"negative", append(base, "--bottom", "-1", "--top", "1"), "--bottom is -1; layer counts cannot be negative"},
		{"blend", append(base, "--bottom", "1", "--top", "1", "--blend", "1.5"), "--blend is 1.5; the task expert's transition weight must be in [0, 1]"},
		{"nonlayer", append(base, "--bottom", "1", "--top", "1", "--nonlayer", "base"), `--nonlayer "base": want lang, task or blend`},
		{"layer counts", []string{"layerswap", "--task", task, "--lang", six, "--bottom", "1", "--top", "1"}, "the experts have different layer counts: 8 in " + task + " (task), 6 in " + six + " (lang)"},
		{"base layer count", append(base, "--base", six, "--bottom", "1", "--top", "1"), "the experts have 8 layers but the base " + six + " has 6"},
		{"no task", []string{"layerswap", "--lang", lang, "--bottom", "1", "--top", "1"}, `required flag(s) "task" not set`},
		{"no bottom", append(base, "--top", "1"), `required flag(s) "bottom" not set`},
		{"missing model", []string{"layerswap", "--task", filepath.Join(dir, "nope"), "--lang", lang, "--bottom", "1", "--top", "1"}, "nope"},
		{"no output", append(base, "--bottom", "1", "--top", "1", "-q"), "-o/--output is required"},
		{"bad dtype", append(base, "--bottom", "1", "--top", "1", "--dtype", "int8"), "--dtype"},
		{"arguments", append(base, "--bottom", "1", "--top", "1", "extra"), "unknown command"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d", i))
			args := tc.args
			if tc.name != "no output" {
				args = append(append([]string{}, args...), "-o", out)
			}
			code, stdout, stderr := lsRun(args...)
			if code == 0 {
				t.Fatalf("exit 0, want an error containing %q", tc.want)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output %s exists after an error", out)
			}
		})
	}
}

func TestAnalyzeCLI(t *testing.T) {
	dir := t.TempDir()
	base, a, b := filepath.Join(dir, "base"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
	lsModel(t, base, 4, func(string, int) float32 { return 1 })
	// a (task) changes the middle layers, b (lang) the outer ones and the embeddings.
	lsModel(t, a, 4, func(n string, _ int) float32 {
		if l := merge.LayerIndex(n); l == 1 || l == 2 {
			return 1.5
		}
		return 1
	})
	lsModel(t, b, 4, func(n string, _ int) float32 {
		if l := merge.LayerIndex(n); l == 0 || l == 3 || l < 0 {
			return 0.75
		}
		return 1
	})
	svg := filepath.Join(dir, "p.svg")
	code, stdout, stderr := lsRun("analyze", "--base", base, a, b, "--plot", svg, "-j", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	wantCmd := fmt.Sprintf("gomerge layerswap --task %s --lang %s --bottom 1 --top 1 -o OUT", a, b)
	for _, want := range []string{"expert 1: " + a, "expert 2: " + b, "suggested: --bottom 1 --top 1", wantCmd, "│████████████████████████████████████████│"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("plot is not valid XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Errorf("plot root element %q", root)
	}
	// JSON, PNG, and --lang 1 flips the roles.
	pngPath := filepath.Join(dir, "p.png")
	code, stdout, stderr = lsRun("analyze", "--base", base, a, b, "--json", "--lang", "1", "--plot", pngPath)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Layers     int
		Suggestion struct {
			Task, Lang, Bottom, Top int
			Command                 string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if rep.Layers != 4 || rep.Suggestion.Lang != 0 || rep.Suggestion.Task != 1 || rep.Suggestion.Bottom != 0 || rep.Suggestion.Top != 0 {
		t.Errorf("report %+v", rep)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("plot is not a PNG: %v", err)
	}
}

func TestAnalyzeCLIErrors(t *testing.T) {
	dir := t.TempDir()
	base, a := filepath.Join(dir, "base"), filepath.Join(dir, "a")
	lsModel(t, base, 2, func(string, int) float32 { return 1 })
	lsModel(t, a, 2, func(string, int) float32 { return 2 })
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"analyze", a}, `required flag(s) "base" not set`},
		{[]string{"analyze", "--base", base}, "requires at least 1 arg"},
		{[]string{"analyze", "--base", base, a, "--plot", filepath.Join(dir, "x.pdf")}, "must end in .svg or .png"},
		{[]string{"analyze", "--base", base, a, "--lang", "1"}, "--lang 1: the language expert is 1 or 2 of exactly two experts"},
		{[]string{"analyze", "--base", base, a, a, "--lang", "3"}, "--lang 3"},
		{[]string{"analyze", "--base", base, a, "--zero-tol", "-1"}, "--zero-tol -1"},
		{[]string{"analyze", "--base", filepath.Join(dir, "missing"), a}, "missing"},
	}
	for _, tc := range tests {
		code, stdout, stderr := lsRun(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error containing %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.pdf")); !os.IsNotExist(err) {
		t.Error("x.pdf written")
	}
}

// TestLayerswapTestbedSmoke runs analyze and the suggested layer swap on
// the trained testbed checkpoints.
func TestLayerswapTestbedSmoke(t *testing.T) {
	models := filepath.Join("..", "testdata", "testbed", "models")
	if _, err := os.Stat(filepath.Join(models, "base", "model.safetensors")); err != nil {
		t.Skip("testbed not present")
	}
	add, rev := filepath.Join(models, "expert_add"), filepath.Join(models, "expert_rev")
	code, stdout, stderr := lsRun("analyze", "--base", filepath.Join(models, "base"), add, rev, "--json")
	if code != 0 {
		t.Fatalf("analyze: exit %d: %s", code, stderr)
	}
	var rep struct {
		Layers     int
		Suggestion struct{ Bottom, Top int }
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Layers != 6 {
		t.Fatalf("testbed has %d layers, want 6", rep.Layers)
	}
	out := filepath.Join(t.TempDir(), "swap")
	code, _, stderr = lsRun("layerswap", "--task", add, "--lang", rev, "--bottom", "2", "--top", "1",
		"--transition-bottom", "1", "-o", out, "-q")
	if code != 0 {
		t.Fatalf("layerswap: exit %d: %s", code, stderr)
	}
	m, ma, mr := lsOpen(t, out), lsOpen(t, add), lsOpen(t, rev)
	if len(m.Names()) != len(ma.Names()) {
		t.Fatalf("%d tensors, want %d", len(m.Names()), len(ma.Names()))
	}
	raw := func(m *formats.Model, n string) []byte {
		tn, _ := m.Tensor(n)
		b := make([]byte, tn.Size)
		if err := tn.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, n := range m.Names() {
		switch l := merge.LayerIndex(n); {
		case l == 2: // transition: neither source
		case l == 3 || l == 4:
			if !bytes.Equal(raw(m, n), raw(ma, n)) {
				t.Errorf("%s: not the task expert's bytes", n)
			}
		default:
			if !bytes.Equal(raw(m, n), raw(mr, n)) {
				t.Errorf("%s: not the language expert's bytes", n)
			}
		}
	}
}

// TestLayerSwapRecipe: `merge_method: layer_swap` in a recipe, experts named
// by role in either order, gives the same bytes as gomerge layerswap.
func TestLayerSwapRecipe(t *testing.T) {
	dir := t.TempDir()
	task, lang := filepath.Join(dir, "task"), filepath.Join(dir, "lang")
	lsModel(t, task, 6, func(n string, i int) float32 { return float32(i%5) * 0.25 })
	lsModel(t, lang, 6, func(n string, i int) float32 { return float32(i%3)*0.5 - 1 })
	want := filepath.Join(dir, "want")
	if code, _, stderr := lsRun("layerswap", "--task", task, "--lang", lang, "--bottom", "2", "--top", "1",
		"--transition-bottom", "1", "--transition-top", "1", "--blend", "0.25", "-o", want, "-q"); code != 0 {
		t.Fatalf("layerswap: %s", stderr)
	}
	recipes := map[string]string{
		"roles": fmt.Sprintf(`merge_method: layer_swap
models:
  - model: %s
    parameters: {role: lang}
  - model: %s
    parameters: {role: task}
parameters: {bottom: 2, top: 1, transition_bottom: 1, transition_top: 1, blend: 0.25}
`, lang, task),
		"order": fmt.Sprintf(`merge_method: layer_swap
models:
  - model: %s
  - model: %s
parameters: {bottom: 2, top: 1, transition_bottom: 1, transition_top: 1, blend: 0.25}
`, task, lang),
	}
	wm := lsOpen(t, want)
	for name, text := range recipes {
		t.Run(name, func(t *testing.T) {
			y := filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(y, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out-"+name)
			if code, _, stderr := lsRun("run", y, "-o", out, "-q"); code != 0 {
				t.Fatalf("run: %s", stderr)
			}
			gm := lsOpen(t, out)
			for _, n := range wm.Names() {
				a, _ := wm.Tensor(n)
				b, ok := gm.Tensor(n)
				if !ok {
					t.Fatalf("recipe output lacks %s", n)
				}
				ab, bb := make([]byte, a.Size), make([]byte, b.Size)
				if err := a.ReadAt(ab, 0); err != nil {
					t.Fatal(err)
				}
				if err := b.ReadAt(bb, 0); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ab, bb) {
					t.Errorf("%s differs between the recipe and gomerge layerswap", n)
				}
			}
		})
	}
}

// TestLayerswapEqualsLinearSlices: the spec's reference without official
// code — the layer swap written as a mergekit `linear` recipe whose slices
// list both experts with per-slice weights — gives the same tensors as
// gomerge layerswap, bit for bit (embeddings from the first slice, final
// norm and lm_head from the last: the language expert in both).
func TestLayerswapEqualsLinearSlices(t *testing.T) {
	dir := t.TempDir()
	task, lang := filepath.Join(dir, "task"), filepath.Join(dir, "lang")
	lsModel(t, task, 8, func(n string, i int) float32 { return float32(i%7)*0.125 - 0.25 })
	lsModel(t, lang, 8, func(n string, i int) float32 { return float32(i%5)*0.375 + 0.5 })
	want := filepath.Join(dir, "want")
	if code, _, stderr := lsRun("layerswap", "--task", task, "--lang", lang, "--bottom", "2", "--top", "1",
		"--transition-bottom", "1", "--transition-top", "1", "--blend", "0.5", "-o", want, "-q"); code != 0 {
		t.Fatalf("layerswap: %s", stderr)
	}
	slice := func(lo, hi int, wLang, wTask float64) string {
		return fmt.Sprintf(`  - sources:
      - model: %s
        layer_range: [%d, %d]
        parameters: {weight: %g}
      - model: %s
        layer_range: [%d, %d]
        parameters: {weight: %g}
`, lang, lo, hi, wLang, task, lo, hi, wTask)
	}
	recipe := "merge_method: linear\nparameters: {normalize: true}\ndtype: bfloat16\nslices:\n" +
		slice(0, 2, 1, 0) + slice(2, 3, 0.5, 0.5) + slice(3, 6, 0, 1) + slice(6, 7, 0.5, 0.5) + slice(7, 8, 1, 0)
	y := filepath.Join(dir, "linear.yaml")
	if err := os.WriteFile(y, []byte(recipe), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "linear")
	if code, _, stderr := lsRun("run", y, "-o", out, "-q"); code != 0 {
		t.Fatalf("run: %s\n%s", stderr, recipe)
	}
	wm, gm := lsOpen(t, want), lsOpen(t, out)
	if len(gm.Names()) != len(wm.Names()) {
		t.Fatalf("linear recipe: %d tensors, layerswap %d", len(gm.Names()), len(wm.Names()))
	}
	for _, n := range wm.Names() {
		a, _ := wm.Tensor(n)
		b, ok := gm.Tensor(n)
		if !ok {
			t.Fatalf("linear recipe output lacks %s", n)
		}
		ab, bb := make([]byte, a.Size), make([]byte, b.Size)
		if err := a.ReadAt(ab, 0); err != nil {
			t.Fatal(err)
		}
		if err := b.ReadAt(bb, 0); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ab, bb) {
			t.Errorf("%s differs between the linear recipe and gomerge layerswap", n)
		}
	}
}
