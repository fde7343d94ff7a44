package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

const testbed = "../testdata/testbed/models/"

// gomerge runs the CLI and fails the test on a non-zero exit.
func gomerge(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("gomerge %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String() + errb.String()
}

// tensorBytes reads every tensor of a checkpoint as raw bytes with its dtype.
func tensorBytes(t *testing.T, path string) map[string]string {
	t.Helper()
	m, err := formats.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out := map[string]string{}
	for _, n := range m.Names() {
		tn, _ := m.Tensor(n)
		b := make([]byte, tn.Size)
		if err := tn.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		out[n] = fmt.Sprintf("%s%v:", tn.DType, tn.Shape) + string(b)
	}
	return out
}

// byArgs computes the expected output tensor by tensor: args(name) gives the
// per-method command whose output holds that tensor; each distinct command
// runs once.
func byArgs(t *testing.T, names []string, args func(name string) []string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	runs := map[string]map[string]string{}
	out := map[string]string{}
	for _, n := range names {
		a := args(n)
		key := strings.Join(a, " ")
		res, ok := runs[key]
		if !ok {
			p := filepath.Join(dir, fmt.Sprintf("run%d.safetensors", len(runs)))
			gomerge(t, append(a, "-o", p, "-q")...)
			res = tensorBytes(t, p)
			runs[key] = res
		}
		out[n] = res[n]
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func sameTensors(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for _, n := range sortedKeys(want) {
		if got[n] != want[n] {
			t.Errorf("tensor %s differs from the per-method merge", n)
		}
	}
}

func layerOf(n string) int { return merge.LayerIndex(n) }

// TestRecipes runs every recipe of testdata/recipes and compares its output
// with the same merge expressed through per-method subcommands.
func TestRecipes(t *testing.T) {
	base, add, rev, sortm, shift := testbed+"base", testbed+"expert_add", testbed+"expert_rev", testbed+"expert_sort", testbed+"expert_shift"
	names := sortedKeys(tensorBytes(t, base+"/model.safetensors"))
	same := func(args ...string) func(string) []string { return func(string) []string { return args } }
	cases := []struct {
		recipe string
		want   func(string) []string
	}{
		{"linear-soup", same("linear", add, rev, sortm, "--weight", "1,1,1", "--dtype", "bf16")},
		{"ties-gradient-filters", func(n string) []string {
			l := layerOf(n)
			d1 := 0.3
			if l >= 0 {
				d1 = 0.3 + 0.4*float64(l)/5
			}
			w1 := "0.5"
			if strings.Contains(n, "self_attn") {
				w1 = "0.7"
			} else if strings.Contains(n, "mlp") {
				w1 = "0.3"
			}
			return []string{"ties", "--base", base, add, rev, "--weight", w1 + ",0.5", "--density", fmt.Sprintf("%v,0.5", d1), "--normalize", "true", "--dtype", "bf16"}
		}},
		{"dare-ties", same("dare-ties", base, add, sortm, "--weight", "0.6,0.4", "--density", "0.53", "--int8-mask", "true", "--dtype", "bf16")},
		{"slerp-gradients", func(n string) []string {
			tv := 0.5
			if l := layerOf(n); l >= 0 {
				x := float64(l) / 5 * 4 // position in the 5-point gradient
				attn := []float64{0, 0.5, 0.3, 0.7, 1}
				mlp := []float64{1, 0.5, 0.7, 0.3, 0}
				interp := func(v []float64) float64 {
					i := int(x)
					if i >= 4 {
						return v[4]
					}
					f := x - float64(i)
					return (1-f)*v[i] + f*v[i+1]
				}
				if strings.Contains(n, "self_attn") {
					tv = interp(attn)
				} else if strings.Contains(n, "mlp") {
					tv = interp(mlp)
				}
			}
			return []string{"slerp", "--base", add, rev, "--t", fmt.Sprint(tv), "--dtype", "bf16"}
		}},
		{"task-arithmetic-negation", same("ta", "--base", base, add, rev, "--weight", "1,-0.5", "--lambda", "0.9", "--dtype", "bf16")},
		{"model-stock", same("model-stock", "--base", base, add, rev, sortm, "--dtype", "bf16")},
		{"della-linear", same("della-linear", "--base", base, add, shift, "--weight", "0.5", "--density", "0.5", "--epsilon", "0.1", "--dtype", "bf16")},
		{"nuslerp", same("nuslerp", add, sortm, "--weight", "0.6,0.4", "--dtype", "bf16")},
		{"out-dtype-chat-template", same("ta", "--base", base, shift, "--weight", "0.8", "--dtype", "f16")},
	}
	for _, c := range cases {
		t.Run(c.recipe, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			gomerge(t, "run", "../testdata/recipes/"+c.recipe+".yaml", "-o", out, "-q")
			got := tensorBytes(t, out)
			sameTensors(t, got, byArgs(t, names, c.want))
			checkLayout(t, out, "../testdata/recipes/"+c.recipe+".yaml")
		})
	}
}

// checkLayout checks mergekit's output layout.
func checkLayout(t *testing.T, out, recipe string) {
	t.Helper()
	text, _ := os.ReadFile(recipe)
	cfgText, err := os.ReadFile(filepath.Join(out, "mergekit_config.yml"))
	if err != nil || string(cfgText) != string(text) {
		t.Errorf("mergekit_config.yml is not the recipe (%v)", err)
	}
	card, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil || !bytes.HasPrefix(card, []byte("---\nbase_model:\n")) || !bytes.Contains(card, []byte("tags:\n- merge\n- gomerge\n")) {
		t.Errorf("README.md model card lacks the front matter: %q", card)
	}
	if _, err := os.Stat(filepath.Join(out, "config.json")); err != nil {
		t.Errorf("config.json not copied: %v", err)
	}
}

func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRecipeOutDTypeAndChatTemplate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	gomerge(t, "run", "../testdata/recipes/out-dtype-chat-template.yaml", "-o", out, "-q")
	if got := readConfig(t, out)["torch_dtype"]; got != "float16" {
		t.Errorf("torch_dtype = %v, want float16", got)
	}
	tc, err := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if err != nil || !bytes.Contains(tc, []byte("<|im_start|>")) {
		t.Errorf("tokenizer_config.json lacks the ChatML template: %v %q", err, tc)
	}
}

// TestRecipeFrankenmerge checks layer stacking: every output tensor is the
// byte-for-byte copy of its renumbered source.
func TestRecipeFrankenmerge(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	gomerge(t, "run", "../testdata/recipes/passthrough-frankenmerge.yaml", "-o", out, "-q")
	got := tensorBytes(t, out)
	add := tensorBytes(t, testbed+"expert_add")
	rev := tensorBytes(t, testbed+"expert_rev")
	if n := readConfig(t, out)["num_hidden_layers"]; n != 8.0 {
		t.Errorf("num_hidden_layers = %v, want 8", n)
	}
	want := 0
	for name, b := range add {
		l := layerOf(name)
		switch {
		case l < 0 && strings.Contains(name, "embed"):
			if got[name] != b {
				t.Errorf("%s is not expert_add's", name)
			}
			want++
		case l >= 0 && l < 4:
			if got[name] != b {
				t.Errorf("%s is not expert_add's", name)
			}
			want++
		}
	}
	for name, b := range rev {
		l := layerOf(name)
		switch {
		case l < 0 && !strings.Contains(name, "embed"):
			if got[name] != b {
				t.Errorf("%s is not expert_rev's", name)
			}
			want++
		case l >= 2:
			outName := strings.Replace(name, fmt.Sprintf("layers.%d.", l), fmt.Sprintf("layers.%d.", l+2), 1)
			if got[outName] != b {
				t.Errorf("%s is not expert_rev's %s", outName, name)
			}
			want++
		}
	}
	if len(got) != want {
		t.Errorf("%d tensors, want %d", len(got), want)
	}
}

func TestRecipeMultiDocument(t *testing.T) {
	dir := t.TempDir()
	out, inter := filepath.Join(dir, "out"), filepath.Join(dir, "inter")
	gomerge(t, "run", "../testdata/recipes/multi-document.yaml", "-o", out, "-I", inter)
	step1 := filepath.Join(dir, "step1")
	gomerge(t, "ties", "--base", testbed+"base", testbed+"expert_add", testbed+"expert_rev", "--weight", "1", "--density", "0.6", "--dtype", "bf16", "-o", step1, "-q")
	sameTensors(t, tensorBytes(t, filepath.Join(inter, "add-rev")), tensorBytes(t, step1))
	step2 := filepath.Join(dir, "step2.safetensors")
	gomerge(t, "ta", "--base", testbed+"base", step1, testbed+"expert_sort", "--weight", "1,0.5", "--dtype", "bf16", "-o", step2, "-q")
	sameTensors(t, tensorBytes(t, out), tensorBytes(t, step2))
	// A re-run finds the intermediate up to date.
	st1, _ := os.Stat(filepath.Join(inter, "add-rev", "model.safetensors"))
	log := gomerge(t, "run", "../testdata/recipes/multi-document.yaml", "-o", out, "-I", inter)
	st2, _ := os.Stat(filepath.Join(inter, "add-rev", "model.safetensors"))
	if !strings.Contains(log, "up to date") || !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("intermediate recomputed; log: %s", log)
	}
}

func TestRecipeErrorsWriteNothing(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("merge_method: ties\nbase_model: "+mustAbs(testbed+"base")+"\nmodels:\n  - model: "+mustAbs(testbed+"expert_add")+"\n    parameters:\n      wieght: 1\n"), 0o644)
	out := filepath.Join(dir, "out")
	var o, e bytes.Buffer
	code := Run(context.Background(), []string{"run", bad, "-o", out}, strings.NewReader(""), &o, &e)
	if code == 0 || !strings.Contains(e.String(), `bad.yaml:6: unknown parameter "wieght" for method ties (did you mean "weight"?)`) {
		t.Fatalf("exit %d, stderr %q", code, e.String())
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after a failed recipe")
	}
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

func TestRecipeFromStdinWithOverrides(t *testing.T) {
	text := "merge_method: task_arithmetic\nbase_model: " + mustAbs(testbed+"base") + "\nmodels:\n  - model: " +
		mustAbs(testbed+"expert_add") + "\n    parameters: {weight: 0.5}\ndtype: bfloat16\n"
	out := filepath.Join(t.TempDir(), "out")
	var o, e bytes.Buffer
	args := []string{"run", "-", "-o", out, "--dtype", "f32", "--shard-size", "4MB", "-j", "1", "-q"}
	if code := Run(context.Background(), args, strings.NewReader(text), &o, &e); code != 0 {
		t.Fatalf("exit %d: %s", code, e.String())
	}
	if got := readConfig(t, out)["torch_dtype"]; got != "float32" {
		t.Errorf("--dtype did not override the recipe: torch_dtype %v", got)
	}
	if _, err := os.Stat(filepath.Join(out, "model.safetensors.index.json")); err != nil {
		t.Errorf("--shard-size did not shard the output: %v", err)
	}
	want := filepath.Join(t.TempDir(), "want.safetensors")
	gomerge(t, "ta", "--base", testbed+"base", testbed+"expert_add", "--weight", "0.5", "--dtype", "f32", "-o", want, "-q")
	sameTensors(t, tensorBytes(t, out), tensorBytes(t, want))
}

func TestRecipeLayerSwapMatchesCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	gomerge(t, "run", "../testdata/recipes/layer-swap.yaml", "-o", out, "-q")
	want := filepath.Join(t.TempDir(), "want.safetensors")
	gomerge(t, "layerswap", "--task", testbed+"expert_add", "--lang", testbed+"expert_rev", "--bottom", "2", "--top", "1",
		"--transition-bottom", "1", "--transition-top", "1", "--blend", "0.5", "--dtype", "bf16", "-o", want, "-q")
	sameTensors(t, tensorBytes(t, out), tensorBytes(t, want))
}
