package cmd

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

var rewriteMethods = flag.Bool("rewrite-methods", false, "rewrite cmd/testdata/methods/*.txt with the actual output")

// The worked example of the task-arithmetic family spec (§5.4).
var (
	exBase = []float32{0.10, -0.20, 0.30, 0.00, 0.50, -0.40}
	exTaus = [][]float32{
		{0.30, -0.10, 0.05, -0.20, 0.00, 0.15},
		{-0.25, 0.22, 0.10, -0.05, 0.08, 0.12},
		{0.10, -0.05, 0.20, -0.10, 0.05, 0.02},
	}
)

// writeF32 writes a float32 checkpoint of the named tensors.
func writeF32(t testing.TB, path string, names []string, shapes [][]int64, vals [][]float32) {
	t.Helper()
	var specs []formats.TensorSpec
	for i, n := range names {
		specs = append(specs, formats.TensorSpec{Name: n, DType: formats.F32, Shape: shapes[i]})
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

// writeExampleModels writes the worked example as base.safetensors and
// m1…m3.safetensors (one tensor "x" of 6 elements, and the same values as a
// 2×3 matrix "model.layers.0.mlp.w").
func writeExampleModels(t testing.TB, dir string) {
	names := []string{"x", "model.layers.0.mlp.w"}
	shapes := [][]int64{{6}, {2, 3}}
	writeF32(t, filepath.Join(dir, "base.safetensors"), names, shapes, [][]float32{exBase, exBase})
	for k, tau := range exTaus {
		m := make([]float32, 6)
		for i := range m {
			m[i] = exBase[i] + tau[i]
		}
		writeF32(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k+1)), names, shapes, [][]float32{m, m})
	}
}

// dumpCheckpoint prints every tensor of a checkpoint with its values to six
// decimals.
func dumpCheckpoint(path string) string {
	m, err := formats.Open(path)
	if err != nil {
		return err.Error() + "\n"
	}
	defer m.Close()
	var b strings.Builder
	for _, n := range m.Names() {
		tt, _ := m.Tensor(n)
		vals := make([]float32, tt.Size/int64(tt.DType.Size()))
		if _, err := tt.ReadFloat32(vals, 0, nil); err != nil {
			return err.Error() + "\n"
		}
		fmt.Fprintf(&b, "%s %s %v:", n, tt.DType, tt.Shape)
		for _, v := range vals {
			fmt.Fprintf(&b, " %.6f", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestMethodScripts runs the data-driven CLI tests of the merge methods in
// testdata/methods/*.txt, in the format of TestFormatsScripts plus "dump
// FILE" (every tensor's values). $TMP holds the worked-example checkpoints
// base.safetensors and m1…m3.safetensors written by writeExampleModels.
// go test ./cmd -run TestMethodScripts -rewrite-methods regenerates them.
func TestMethodScripts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "methods", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			tmp := t.TempDir()
			writeExampleModels(t, tmp)
			vars := strings.NewReplacer("$TMP", tmp)
			unvars := strings.NewReplacer(tmp, "$TMP")
			cases, err := parseScript(file)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, c := range cases {
				line := vars.Replace(c.cmd)
				var got string
				if f := strings.Fields(line); f[0] == "dump" {
					got = dumpCheckpoint(f[1])
				} else {
					got = runScriptCommand(t, line)
				}
				got = unvars.Replace(got)
				if !*rewriteMethods && got != c.want {
					t.Errorf("%s:%d: %s\n--- got\n%s--- want\n%s", file, c.line, c.cmd, got, c.want)
				}
				fmt.Fprintf(&out, "%s%s\n----\n%s====\n", c.comment, c.cmd, got)
			}
			if *rewriteMethods {
				if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// methodCase is a valid command line for one merge method: its flags and
// the same parameters as Params, and which inputs it takes.
type methodCase struct {
	flags    []string
	global   merge.Params
	perModel []merge.Params
	models   int  // models besides the base
	base     bool // pass --base (methods with a required or optional base)
}

func pm(name string, vals ...any) []merge.Params {
	out := make([]merge.Params, len(vals))
	for i, v := range vals {
		out[i] = merge.Params{name: v}
	}
	return out
}

func with(ps []merge.Params, name string, vals ...any) []merge.Params {
	for i := range ps {
		ps[i][name] = vals[i%len(vals)]
	}
	return ps
}

// methodCases gives every registered method a valid command line. A method
// added to the registry without an entry here fails TestEveryMethodMatchesDirectMerge.
var methodCases = map[string]methodCase{
	"task_arithmetic":  {flags: []string{"--weight", "0.7,0.4", "--lambda", "0.9"}, global: merge.Params{"lambda": 0.9}, perModel: pm("weight", 0.7, 0.4), models: 2, base: true},
	"ties":             {flags: []string{"--weight", "1,0.5", "--density", "0.5"}, perModel: with(pm("weight", 1.0, 0.5), "density", 0.5), models: 2, base: true},
	"dare_linear":      {flags: []string{"--weight", "1,0.5", "--density", "0.4,0.6"}, perModel: with(pm("weight", 1.0, 0.5), "density", 0.4, 0.6), models: 2, base: true},
	"dare_ties":        {flags: []string{"--weight", "1,0.5", "--density", "0.5", "--rescale", "exact"}, global: merge.Params{"rescale": "exact"}, perModel: with(pm("weight", 1.0, 0.5), "density", 0.5), models: 2, base: true},
	"breadcrumbs":      {flags: []string{"--weight", "1,1", "--density", "0.5", "--gamma", "0.1"}, perModel: with(with(pm("weight", 1.0, 1.0), "density", 0.5), "gamma", 0.1), models: 2, base: true},
	"breadcrumbs_ties": {flags: []string{"--weight", "1,1", "--density", "0.5", "--gamma", "0.1", "--scope", "model"}, global: merge.Params{"scope": "model"}, perModel: with(with(pm("weight", 1.0, 1.0), "density", 0.5), "gamma", 0.1), models: 2, base: true},
	"della":            {flags: []string{"--weight", "1,0.5", "--density", "0.5", "--epsilon", "0.1"}, perModel: with(with(pm("weight", 1.0, 0.5), "density", 0.5), "epsilon", 0.1), models: 2, base: true},
	"della_linear":     {flags: []string{"--weight", "1,0.5", "--density", "0.5", "--rescale", "exact"}, global: merge.Params{"rescale": "exact"}, perModel: with(pm("weight", 1.0, 0.5), "density", 0.5), models: 2, base: true},
	"sce":              {flags: []string{"--select-topk", "0.5"}, global: merge.Params{"select_topk": 0.5}, models: 3, base: true},
	"linear":           {flags: []string{"--weight", "3,1"}, perModel: pm("weight", 3.0, 1.0), models: 2},
	"slerp":            {flags: []string{"--t", "0.3"}, global: merge.Params{"t": 0.3}, models: 1, base: true},
	"nuslerp":          {flags: []string{"--weight", "0.6,0.4"}, perModel: pm("weight", 0.6, 0.4), models: 2, base: true},
	"multislerp":       {flags: []string{"--weight", "0.6,0.4"}, perModel: pm("weight", 0.6, 0.4), models: 2},
	"karcher":          {models: 3},
	"model_stock":      {models: 3, base: true},
	"nearswap":         {flags: []string{"--t", "0.1"}, global: merge.Params{"t": 0.1}, models: 1, base: true},
	"passthrough":      {flags: []string{"--scale", "0.5"}, perModel: pm("scale", 0.5), models: 1},
	"arcee_fusion":     {models: 1, base: true},
	"widen":            {models: 2, base: true},
	"pcb":              {flags: []string{"--ratio", "0.5"}, global: merge.Params{"ratio": 0.5}, models: 2, base: true},
	"layer_swap":       {flags: []string{"--bottom", "1", "--top", "1", "--role", "task,lang"}, global: merge.Params{"bottom": 1.0, "top": 1.0}, perModel: pm("role", "task", "lang"), models: 2},
}

// randomFamily writes base.safetensors and m1…m3.safetensors in dir: a
// small Llama-like family in float32 (two layers, embeddings, norms).
func randomFamily(t testing.TB, dir string) (names []string, shapes [][]int64, vals [][][]float32) {
	names = []string{"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "model.layers.0.input_layernorm.weight",
		"model.layers.1.self_attn.q_proj.weight", "model.layers.1.input_layernorm.weight", "model.layers.2.mlp.down_proj.weight", "model.norm.weight"}
	shapes = [][]int64{{16, 8}, {12, 8}, {8}, {8, 8}, {8}, {8, 12}, {8}}
	r := rand.New(rand.NewPCG(7, 7))
	var base [][]float32
	for _, s := range shapes {
		n := s[0]
		if len(s) == 2 {
			n *= s[1]
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64()) * 0.5
		}
		base = append(base, v)
	}
	vals = append(vals, base)
	writeF32(t, filepath.Join(dir, "base.safetensors"), names, shapes, base)
	for k := 1; k <= 3; k++ {
		var m [][]float32
		for _, b := range base {
			v := make([]float32, len(b))
			for i := range v {
				v[i] = b[i] + float32(r.NormFloat64())*0.1
			}
			m = append(m, v)
		}
		vals = append(vals, m)
		writeF32(t, filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k)), names, shapes, m)
	}
	return names, shapes, vals
}

// directMerge computes what a method gives for every tensor by calling the
// method itself on in-memory values (one thread, no engine, no files).
func directMerge(t *testing.T, spec *merge.MethodSpec, c methodCase, names []string, shapes [][]int64, vals [][][]float32) map[string][]float32 {
	t.Helper()
	g, err := spec.WithDefaults(c.global, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.New(g)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	var tasks []*merge.Task
	for i, name := range names {
		task := &merge.Task{Name: name, Shape: shapes[i], Layer: merge.LayerIndex(name), Global: g,
			Out: &merge.SliceSink{Data: make([]float32, len(vals[0][i]))}, Method: m}
		first := 1
		if c.base {
			task.Base = &merge.SliceSource{Data: vals[0][i], Dims: shapes[i]}
		} else {
			first = 0
		}
		for k := first; k < first+c.models; k++ {
			task.Inputs = append(task.Inputs, &merge.SliceSource{Data: vals[k][i], Dims: shapes[i]})
			var p merge.Params
			if k-first < len(c.perModel) {
				p = c.perModel[k-first].Clone()
			}
			if p, err = spec.WithDefaults(p, true, "test"); err != nil {
				t.Fatal(err)
			}
			task.Model = append(task.Model, p)
		}
		tasks = append(tasks, task)
		out[name] = task.Out.(*merge.SliceSink).Data
	}
	if p, ok := m.(merge.Preparer); ok {
		if err := p.Prepare(context.Background(), tasks); err != nil {
			t.Fatal(err)
		}
	}
	for _, task := range tasks {
		if err := m.Merge(context.Background(), task); err != nil {
			t.Fatalf("%s: %v", task.Name, err)
		}
	}
	return out
}

// TestEveryMethodMatchesDirectMerge runs every registered merge method
// through the command line (-j 2, files in and out) and checks that each
// output tensor holds exactly the values the method computes when called
// directly on the same numbers.
func TestEveryMethodMatchesDirectMerge(t *testing.T) {
	dir := t.TempDir()
	names, shapes, vals := randomFamily(t, dir)
	root := NewRoot(&Globals{})
	for _, spec := range methodRegistry().Methods() {
		t.Run(spec.Name, func(t *testing.T) {
			if c, _, err := root.Find([]string{kebab(spec.Name)}); err != nil || c == root {
				t.Skipf("%s has no subcommand of its own (recipes only)", spec.Name)
			}
			c, ok := methodCases[spec.Name]
			if !ok {
				t.Fatalf("no command line for method %s in methodCases", spec.Name)
			}
			out := filepath.Join(t.TempDir(), "out.safetensors")
			args := []string{"-q", "-j", "2", kebab(spec.Name)}
			first := 1
			if c.base {
				args = append(args, "--base", filepath.Join(dir, "base.safetensors"))
			} else {
				first = 0
			}
			for k := first; k < first+c.models; k++ {
				name := "base.safetensors"
				if k > 0 {
					name = fmt.Sprintf("m%d.safetensors", k)
				}
				args = append(args, filepath.Join(dir, name))
			}
			args = append(append(args, c.flags...), "-o", out)
			var stdout, stderr bytes.Buffer
			if code := Run(context.Background(), args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("gomerge %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
			}
			want := directMerge(t, spec, c, names, shapes, vals)
			got, err := formats.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			for _, name := range names {
				tt, ok := got.Tensor(name)
				if !ok {
					t.Errorf("output lacks %s", name)
					continue
				}
				g := make([]float32, len(want[name]))
				if _, err := tt.ReadFloat32(g, 0, nil); err != nil {
					t.Fatal(err)
				}
				for i := range g {
					if math.Float32bits(g[i]) != math.Float32bits(want[name][i]) {
						t.Errorf("%s[%d]: command line gives %v, direct merge %v", name, i, g[i], want[name][i])
						break
					}
				}
			}
		})
	}
}

// TestMethodPipe chains two merges through an in-memory pipe
// (gomerge ta … -o - | gomerge ties --base base - m3 -o out) and checks the
// result equals the same two merges through files.
func TestMethodPipe(t *testing.T) {
	dir := t.TempDir()
	randomFamily(t, dir)
	p := func(n string) string { return filepath.Join(dir, n) }
	first := []string{"-q", "ta", "--base", p("base.safetensors"), p("m1.safetensors"), p("m2.safetensors"), "--weight", "0.5,0.5"}
	second := func(in, out string) []string {
		return []string{"-q", "ties", "--base", p("base.safetensors"), in, p("m3.safetensors"), "--weight", "1,0.7", "--density", "0.6", "-o", out}
	}
	var stderr1, stderr2 bytes.Buffer
	if code := Run(context.Background(), append(first, "-o", p("mid.safetensors")), nil, io.Discard, &stderr1); code != 0 {
		t.Fatalf("first merge: %s", stderr1.String())
	}
	if code := Run(context.Background(), second(p("mid.safetensors"), p("files.safetensors")), nil, io.Discard, &stderr2); code != 0 {
		t.Fatalf("second merge: %s", stderr2.String())
	}

	pr, pw := io.Pipe()
	done := make(chan int, 1)
	var pipeErr bytes.Buffer
	go func() {
		code := Run(context.Background(), append(first, "-o", "-"), nil, pw, &pipeErr)
		if code == 0 {
			pw.Close()
		} else {
			pw.CloseWithError(fmt.Errorf("first merge exited with %d", code))
		}
		done <- code
	}()
	var stderr bytes.Buffer
	code := Run(context.Background(), second("-", p("piped.safetensors")), pr, io.Discard, &stderr)
	pr.Close()
	if c := <-done; c != 0 {
		t.Fatalf("piped first merge: exit %d: %s", c, pipeErr.String())
	}
	if code != 0 {
		t.Fatalf("piped second merge: exit %d: %s", code, stderr.String())
	}
	a := dumpCheckpoint(p("files.safetensors"))
	b := dumpCheckpoint(p("piped.safetensors"))
	if a != b || !strings.Contains(a, "model.norm.weight") {
		t.Errorf("piped merge differs from the merge through files:\n%s\nvs\n%s", b, a)
	}
}
