package analyze_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/analyze"
	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/merge"
)

// specs of a tiny Llama-style model: per layer q [4,4] (16), k [2,4] (8),
// down [4,6] (24), input_layernorm [4] — 52 elements per layer.
func specs(layers int, dt formats.DType) []formats.TensorSpec {
	s := []formats.TensorSpec{
		{Name: "model.embed_tokens.weight", DType: dt, Shape: []int64{10, 4}},
		{Name: "model.norm.weight", DType: dt, Shape: []int64{4}},
		{Name: "lm_head.weight", DType: dt, Shape: []int64{10, 4}},
	}
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		s = append(s,
			formats.TensorSpec{Name: p + "self_attn.q_proj.weight", DType: dt, Shape: []int64{4, 4}},
			formats.TensorSpec{Name: p + "self_attn.k_proj.weight", DType: dt, Shape: []int64{2, 4}},
			formats.TensorSpec{Name: p + "mlp.down_proj.weight", DType: dt, Shape: []int64{4, 6}},
			formats.TensorSpec{Name: p + "input_layernorm.weight", DType: dt, Shape: []int64{4}},
		)
	}
	return s
}

const perLayer = 16 + 8 + 24 + 4

func baseValue(name string, i int) float32 {
	if strings.HasSuffix(name, "norm.weight") {
		return 1
	}
	return 0.25 + float32(i%8)*0.125 // exact in f32 and bf16
}

func write(t *testing.T, path string, sp []formats.TensorSpec, value func(name string, i int) float32) {
	t.Helper()
	formatstest.WriteFunc(t, path, sp, value, nil)
}

func open(t *testing.T, path string) *formats.Model { return formatstest.Open(t, path) }

func TestSuggestWorkedExample(t *testing.T) {
	// Spec §3.4: Ā_L, Ā_T ⇒ π = [.86 .71 .29 .2 .2 .25 .45 .71], b = 2, u = 1.
	lang := []float64{.30, .20, .05, .05, .05, .05, .10, .20}
	task := []float64{.05, .08, .12, .20, .20, .15, .12, .08}
	wantPi := []float64{.86, .71, .29, .2, .2, .25, .45, .71}
	for _, scale := range []float64{1, 3e-4} { // the curves are normalised first
		l, tk := make([]float64, len(lang)), make([]float64, len(task))
		for i := range lang {
			l[i], tk[i] = lang[i]*scale, task[i]*scale*7
		}
		pi, b, u := analyze.Suggest(l, tk)
		for i := range pi {
			if math.Abs(pi[i]-wantPi[i]) > 0.006 {
				t.Errorf("scale %g: π[%d] = %.4f, want %.2f", scale, i, pi[i], wantPi[i])
			}
		}
		if b != 2 || u != 1 {
			t.Errorf("scale %g: b, u = %d, %d; want 2, 1", scale, b, u)
		}
	}
	tests := []struct {
		name       string
		lang, task []float64
		b, u       int
	}{
		{"equal after normalising", []float64{3, 3, 3}, []float64{1, 1, 1}, 0, 0}, // π = ½, not > ½
		{"task outer", []float64{1, 5, 1}, []float64{5, 1, 5}, 0, 0},
		{"all lang", []float64{2, 2, 2, 0}, []float64{1, 1, 1, 9}, 3, 0},
		{"zero layer", []float64{1, 0, 1}, []float64{0, 0, 1}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, b, u := analyze.Suggest(tc.lang, tc.task)
			if b != tc.b || u != tc.u {
				t.Fatalf("b, u = %d, %d; want %d, %d", b, u, tc.b, tc.u)
			}
		})
	}
}

func TestModuleOf(t *testing.T) {
	tests := map[string]string{
		"model.layers.0.self_attn.q_proj.weight":         "q",
		"model.layers.0.self_attn.k_proj.bias":           "k",
		"model.layers.0.self_attn.v_proj.weight":         "v",
		"model.layers.0.self_attn.o_proj.weight":         "o",
		"model.layers.0.mlp.gate_proj.weight":            "gate",
		"model.layers.0.mlp.up_proj.weight":              "up",
		"model.layers.0.mlp.down_proj.weight":            "down",
		"model.layers.0.input_layernorm.weight":          "norm",
		"model.layers.0.post_attention_layernorm.weight": "norm",
		"model.norm.weight":                              "norm",
		"model.embed_tokens.weight":                      "embed",
		"lm_head.weight":                                 "lm_head",
		"transformer.h.0.attn.c_attn.weight":             "qkv",
		"transformer.h.0.attn.c_proj.weight":             "o",
		"transformer.h.0.mlp.c_fc.weight":                "up",
		"transformer.h.0.mlp.c_proj.weight":              "down",
		"transformer.h.0.ln_1.weight":                    "norm",
		"transformer.wte.weight":                         "embed",
		"model.layers.0.rotary_emb.inv_freq":             "other",
	}
	for name, want := range tests {
		if got := analyze.ModuleOf(name); got != want {
			t.Errorf("ModuleOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestKnownLayers: two experts that differ from the base only in known
// layers and tensors; every reported number is worked out by hand.
func TestKnownLayers(t *testing.T) {
	dir := t.TempDir()
	const L = 6
	sp := specs(L, formats.F32)
	write(t, filepath.Join(dir, "base.safetensors"), sp, baseValue)
	// Expert A: +0.5 on all of layer 1's q_proj, −0.25 on layer 4's down_proj.
	write(t, filepath.Join(dir, "a.safetensors"), sp, func(n string, i int) float32 {
		v := baseValue(n, i)
		switch n {
		case "model.layers.1.self_attn.q_proj.weight":
			return v + 0.5
		case "model.layers.4.mlp.down_proj.weight":
			return v - 0.25
		}
		return v
	})
	// Expert B: layer 1's q_proj +0.5 on the first half, −0.5 on the second
	// (cosine with A's 0, half the signs conflict); layer 2's norm +0.125.
	write(t, filepath.Join(dir, "b.safetensors"), sp, func(n string, i int) float32 {
		v := baseValue(n, i)
		switch n {
		case "model.layers.1.self_attn.q_proj.weight":
			if i < 8 {
				return v + 0.5
			}
			return v - 0.5
		case "model.layers.2.input_layernorm.weight":
			return v + 0.125
		}
		return v
	})
	base, a, b := open(t, filepath.Join(dir, "base.safetensors")), open(t, filepath.Join(dir, "a.safetensors")), open(t, filepath.Join(dir, "b.safetensors"))
	r, err := analyze.Run(context.Background(), base, []*formats.Model{a, b}, analyze.Options{Threads: 2, ZeroTol: analyze.DefaultZeroTol})
	if err != nil {
		t.Fatal(err)
	}
	if r.Layers != L {
		t.Fatalf("layers %d, want %d", r.Layers, L)
	}
	changed := func(er analyze.ExpertReport) []int {
		var out []int
		for l, g := range er.Layers {
			if g.Total.SumAbs != 0 {
				out = append(out, l)
			}
		}
		return out
	}
	if got := changed(r.Stats[0]); fmt.Sprint(got) != "[1 4]" {
		t.Errorf("expert A changed layers %v, want [1 4]", got)
	}
	if got := changed(r.Stats[1]); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("expert B changed layers %v, want [1 2]", got)
	}
	near := func(name string, got analyze.Num, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.15g, want %.15g", name, float64(got), want)
		}
	}
	// Expert A, layer 1: 16 elements changed by 0.5 of 52.
	l1 := r.Stats[0].Layers[1]
	near("A layer 1 mean|Δ|", l1.Total.MeanAbs, 16*0.5/perLayer)
	near("A layer 1 near-zero", l1.Total.ZeroFrac, float64(perLayer-16)/perLayer)
	near("A layer 1 q mean|Δ|", l1.Modules["q"].MeanAbs, 0.5)
	near("A layer 1 q near-zero", l1.Modules["q"].ZeroFrac, 0)
	near("A layer 1 k mean|Δ|", l1.Modules["k"].MeanAbs, 0)
	// ‖θ₀‖² of q: 16 elements, values 0.25 + 0.125·(i mod 8), twice over.
	var qsq, dsq, layerSq float64
	for i := range 16 {
		qsq += sq(float64(baseValue("q", i)))
	}
	for i := range 24 {
		dsq += sq(float64(baseValue("down", i)))
	}
	var ksq float64
	for i := range 8 {
		ksq += sq(float64(baseValue("k", i)))
	}
	layerSq = qsq + ksq + dsq + 4
	near("A layer 1 q ‖Δ‖/‖θ₀‖", l1.Modules["q"].Rel, math.Sqrt(16*0.25)/math.Sqrt(qsq))
	near("A layer 1 ‖Δ‖/‖θ₀‖", l1.Total.Rel, math.Sqrt(16*0.25)/math.Sqrt(layerSq))
	near("A layer 4 down mean|Δ|", r.Stats[0].Layers[4].Modules["down"].MeanAbs, 0.25)
	near("A layer 4 mean|Δ|", r.Stats[0].Layers[4].Total.MeanAbs, 24*0.25/perLayer)
	near("B layer 2 norm mean|Δ|", r.Stats[1].Layers[2].Modules["norm"].MeanAbs, 0.125)
	near("A total mean|Δ|", r.Stats[0].Total.MeanAbs, (16*0.5+24*0.25)/float64(L*perLayer+40+4+40))
	near("A non-layer mean|Δ|", r.Stats[0].NonLayer.Total.MeanAbs, 0)
	near("A non-layer near-zero", r.Stats[0].NonLayer.Total.ZeroFrac, 1)
	// Between A and B: layer 1 cosine 0, conflicts 8 of 16; other layers
	// have no element changed by both.
	p := r.Pairs[0]
	near("cos layer 1", p.Layers[1].Cos, 0)
	near("conflicts layer 1", p.Layers[1].ConflictRate, 0.5)
	if c := float64(p.Layers[2].Cos); !math.IsNaN(c) {
		t.Errorf("cos layer 2 = %g, want NaN (A did not change layer 2)", c)
	}
	if p.Layers[4].Both != 0 {
		t.Errorf("layer 4: %d elements changed by both, want 0", p.Layers[4].Both)
	}
	// Suggestion: lang = B (second), task = A. Per-layer mean|Δ|:
	// A: layer 1 8/52, layer 4 6/52 ⇒ Ā_A = [0 8/14 0 0 6/14 0];
	// B: layer 1 16·0.5/52 = 8/52, layer 2 0.5/52 ⇒ Ā_B = [0 8/8.5 .5/8.5 0 0 0].
	s := r.Suggestion
	if s == nil || s.Task != 0 || s.Lang != 1 {
		t.Fatalf("suggestion %+v, want task 0 lang 1", s)
	}
	near("π_1", s.Pi[1], (8/8.5)/(8/8.5+8.0/14))
	near("π_2", s.Pi[2], 1)
	near("π_4", s.Pi[4], 0)
	if !math.IsNaN(float64(s.Pi[0])) {
		t.Errorf("π_0 = %g, want NaN (neither changed layer 0)", s.Pi[0])
	}
	if s.Bottom != 0 || s.Top != 0 {
		t.Errorf("b, u = %d, %d; want 0, 0 (layer 0 and 5 unchanged)", s.Bottom, s.Top)
	}
	var text bytes.Buffer
	r.WriteText(&text)
	for _, want := range []string{"expert 1: " + a.Path, "gomerge layerswap --task", "50.0%"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func sq(x float64) float64 { return x * x }

// TestDeterministicAcrossThreads: a tensor of several chunks, bf16, three
// experts; the JSON is identical for 1 and 3 threads.
func TestDeterministicAcrossThreads(t *testing.T) {
	dir := t.TempDir()
	n := int64(merge.ChunkElems*2 + 12345)
	sp := []formats.TensorSpec{
		{Name: "model.layers.0.mlp.up_proj.weight", DType: formats.BF16, Shape: []int64{n}},
		{Name: "model.layers.1.self_attn.q_proj.weight", DType: formats.BF16, Shape: []int64{64, 64}},
	}
	val := func(seed int) func(string, int) float32 {
		return func(name string, i int) float32 {
			x := uint32(i)*2654435761 + uint32(seed)*97 + uint32(len(name))
			x ^= x >> 13
			return float32(int32(x%2001)-1000) * 1e-4
		}
	}
	var ms []*formats.Model
	for k := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k))
		write(t, p, sp, val(k))
		ms = append(ms, open(t, p))
	}
	var outs []string
	for _, j := range []int{1, 3} {
		r, err := analyze.Run(context.Background(), ms[0], ms[1:], analyze.Options{Threads: j, ZeroTol: 1e-3})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b.String())
		if r.Stats[0].Layers[0].Total.N != n {
			t.Fatalf("layer 0 has %d elements, want %d", r.Stats[0].Layers[0].Total.N, n)
		}
	}
	if outs[0] != outs[1] {
		t.Fatal("JSON differs between -j 1 and -j 3")
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(outs[0]), &doc); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	if _, ok := doc["suggestion"]; ok {
		t.Error("three experts: no layer-swap suggestion expected")
	}
	if len(doc["pairs"].([]any)) != 3 {
		t.Errorf("three experts: want 3 pairs")
	}
}

func TestPlotFiles(t *testing.T) {
	dir := t.TempDir()
	sp := specs(4, formats.BF16)
	write(t, filepath.Join(dir, "base.safetensors"), sp, baseValue)
	write(t, filepath.Join(dir, "a.safetensors"), sp, func(n string, i int) float32 {
		return baseValue(n, i) + float32(merge.LayerIndex(n)+2)*0.01
	})
	write(t, filepath.Join(dir, "b.safetensors"), sp, func(n string, i int) float32 {
		return baseValue(n, i) - float32(6-merge.LayerIndex(n))*0.01
	})
	base, a, b := open(t, filepath.Join(dir, "base.safetensors")), open(t, filepath.Join(dir, "a.safetensors")), open(t, filepath.Join(dir, "b.safetensors"))
	r, err := analyze.Run(context.Background(), base, []*formats.Model{a, b}, analyze.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	var pngBuf, svgBuf bytes.Buffer
	if err := r.Plot(&pngBuf, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&pngBuf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if bnd := img.Bounds(); bnd.Dx() < 500 || bnd.Dy() < 500 {
		t.Errorf("PNG is %v", bnd)
	}
	if err := r.Plot(&svgBuf, "svg"); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svgBuf.Bytes())
	if err := r.Plot(io.Discard, "pdf"); err == nil {
		t.Error("pdf accepted")
	}
}

// checkSVG parses an SVG document and checks that its root is <svg> and
// that it draws something.
func checkSVG(t *testing.T, data []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root string
	elems := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("invalid SVG: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			elems++
		}
	}
	if root != "svg" || elems < 50 {
		t.Fatalf("SVG root %q with %d elements", root, elems)
	}
}

func TestSkipsAndErrors(t *testing.T) {
	dir := t.TempDir()
	sp := specs(2, formats.F32)
	write(t, filepath.Join(dir, "base.safetensors"), sp, baseValue)
	short := append([]formats.TensorSpec{}, sp[:len(sp)-1]...)
	short = append(short, formats.TensorSpec{Name: "extra.weight", DType: formats.F32, Shape: []int64{3}})
	write(t, filepath.Join(dir, "a.safetensors"), short, baseValue)
	base, a := open(t, filepath.Join(dir, "base.safetensors")), open(t, filepath.Join(dir, "a.safetensors"))
	var warn bytes.Buffer
	r, err := analyze.Run(context.Background(), base, []*formats.Model{a}, analyze.Options{Warn: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Skipped) != 2 || !strings.Contains(warn.String(), sp[len(sp)-1].Name) || !strings.Contains(warn.String(), `"extra.weight"`) {
		t.Errorf("skipped %v, warnings %q", r.Skipped, warn.String())
	}
	if r.Suggestion != nil {
		t.Error("one expert: no suggestion expected")
	}
	if _, err := analyze.Run(context.Background(), base, nil, analyze.Options{}); err == nil {
		t.Error("no experts accepted")
	}
	if _, err := analyze.Run(context.Background(), base, []*formats.Model{a}, analyze.Options{LangExpert: 2}); err == nil {
		t.Error("--lang with one expert accepted")
	}
}

// TestNearZeroThreshold: |Δ| < tol·rms(θ₀) with the base's RMS (2 here).
func TestNearZeroThreshold(t *testing.T) {
	dir := t.TempDir()
	sp := []formats.TensorSpec{{Name: "model.layers.0.mlp.up_proj.weight", DType: formats.F32, Shape: []int64{8}}}
	deltas := []float32{0, 1e-3, 1.9e-3, 2.1e-3, 1, -1.5e-3, -2.5e-3, 0}
	write(t, filepath.Join(dir, "base.safetensors"), sp, func(string, int) float32 { return 2 })
	write(t, filepath.Join(dir, "e.safetensors"), sp, func(_ string, i int) float32 { return 2 + deltas[i] })
	base, e := open(t, filepath.Join(dir, "base.safetensors")), open(t, filepath.Join(dir, "e.safetensors"))
	for _, tc := range []struct {
		tol  float64
		want int64
	}{{1e-3, 5}, {0, 2}, {1, 8}} {
		r, err := analyze.Run(context.Background(), base, []*formats.Model{e}, analyze.Options{ZeroTol: tc.tol})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Stats[0].Total.NearZero; got != tc.want {
			t.Errorf("tol %g: %d near-zero, want %d", tc.tol, got, tc.want)
		}
	}
}

// TestGrownVocabulary: an expert whose embedding has extra rows is compared
// on the base's rows, with a warning.
func TestGrownVocabulary(t *testing.T) {
	dir := t.TempDir()
	bsp := []formats.TensorSpec{{Name: "model.embed_tokens.weight", DType: formats.F32, Shape: []int64{3, 2}}}
	esp := []formats.TensorSpec{{Name: "model.embed_tokens.weight", DType: formats.F32, Shape: []int64{4, 2}}}
	write(t, filepath.Join(dir, "base.safetensors"), bsp, func(string, int) float32 { return 1 })
	// Rows 0-2 change by +0.5 in column 0; the new row 3 holds 100.
	write(t, filepath.Join(dir, "e.safetensors"), esp, func(_ string, i int) float32 {
		switch {
		case i >= 6:
			return 100
		case i%2 == 0:
			return 1.5
		}
		return 1
	})
	var warn bytes.Buffer
	r, err := analyze.Run(context.Background(), open(t, filepath.Join(dir, "base.safetensors")),
		[]*formats.Model{open(t, filepath.Join(dir, "e.safetensors"))}, analyze.Options{Warn: &warn})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Stats[0].NonLayer.Modules["embed"]
	if s.N != 6 || float64(s.MeanAbs) != 0.25 {
		t.Errorf("embed: %d elements, mean|Δ| %g; want 6, 0.25", s.N, float64(s.MeanAbs))
	}
	if !strings.Contains(warn.String(), "sub-matrix") {
		t.Errorf("no warning: %q", warn.String())
	}
}

// BenchmarkRun analyses a base and two experts of 16M bf16 elements each
// (bytes/s counts the three inputs).
func BenchmarkRun(b *testing.B) {
	dir := b.TempDir()
	const rows, cols = 4096, 4096
	sp := []formats.TensorSpec{
		{Name: "model.layers.0.mlp.up_proj.weight", DType: formats.BF16, Shape: []int64{rows, cols}},
	}
	var ms []*formats.Model
	for k := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k))
		w, err := formats.Create(p, sp, formats.WriteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		row := make([]float32, cols)
		for r := range rows {
			for i := range row {
				row[i] = float32((r*cols+i)%1000-500)*1e-4 + float32(k*(i%3))*1e-3
			}
			if _, err := w.WriteFloat32(sp[0].Name, int64(r*cols), row, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		m, err := formats.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		ms = append(ms, m)
	}
	b.SetBytes(3 * rows * cols * 2)
	for b.Loop() {
		if _, err := analyze.Run(context.Background(), ms[0], ms[1:], analyze.Options{Threads: 2, ZeroTol: analyze.DefaultZeroTol}); err != nil {
			b.Fatal(err)
		}
	}
}
