package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
)

// archCase is a small synthetic checkpoint of one architecture.
type archCase struct {
	name   string
	config map[string]any
	dtype  formats.DType
	bias   bool // q/k/v biases (Qwen2)
	qkNorm bool // Qwen3
}

func archCases() []archCase {
	base := func(mt string) map[string]any {
		return map[string]any{
			"model_type": mt, "hidden_size": 48, "intermediate_size": 80, "num_hidden_layers": 2,
			"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 70, "rms_norm_eps": 1e-6,
			"rope_theta": 500000.0, "max_position_embeddings": 128, "tie_word_embeddings": false,
			"hidden_act": "silu", "eos_token_id": []int{1, 2}, "bos_token_id": 0,
		}
	}
	llama3 := base("llama")
	llama3["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}
	qwen2 := base("qwen2")
	qwen2["tie_word_embeddings"] = true
	qwen2["use_sliding_window"] = false
	qwen2["sliding_window"] = 4
	qwen3 := base("qwen3")
	qwen3["head_dim"] = 16 // ≠ hidden/heads
	qwen3["tie_word_embeddings"] = true
	mistral := base("mistral")
	mistral["sliding_window"] = 5
	mistral["num_key_value_heads"] = 1
	return []archCase{
		{"llama3", llama3, formats.F32, false, false},
		{"llama3-bf16", llama3, formats.BF16, false, false},
		{"qwen2", qwen2, formats.F32, true, false},
		{"qwen3", qwen3, formats.F16, false, true},
		{"mistral-window", mistral, formats.F32, false, false},
	}
}

// writeArch writes a random checkpoint for c into dir.
func writeArch(t *testing.T, dir string, c archCase) {
	t.Helper()
	cfgJSON, _ := json.Marshal(c.config)
	cfg, err := ParseConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	H, I, V, d := int64(cfg.Hidden), int64(cfg.Intermediate), int64(cfg.Vocab), int64(cfg.HeadDim)
	q, kv := int64(cfg.Heads)*d, int64(cfg.KVHeads)*d
	specs := []formats.TensorSpec{{Name: "model.embed_tokens.weight", Shape: []int64{V, H}}, {Name: "model.norm.weight", Shape: []int64{H}}}
	if !cfg.TieEmbeddings {
		specs = append(specs, formats.TensorSpec{Name: "lm_head.weight", Shape: []int64{V, H}})
	}
	for i := 0; i < cfg.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		specs = append(specs,
			formats.TensorSpec{Name: p + "input_layernorm.weight", Shape: []int64{H}},
			formats.TensorSpec{Name: p + "post_attention_layernorm.weight", Shape: []int64{H}},
			formats.TensorSpec{Name: p + "self_attn.q_proj.weight", Shape: []int64{q, H}},
			formats.TensorSpec{Name: p + "self_attn.k_proj.weight", Shape: []int64{kv, H}},
			formats.TensorSpec{Name: p + "self_attn.v_proj.weight", Shape: []int64{kv, H}},
			formats.TensorSpec{Name: p + "self_attn.o_proj.weight", Shape: []int64{H, q}},
			formats.TensorSpec{Name: p + "mlp.gate_proj.weight", Shape: []int64{I, H}},
			formats.TensorSpec{Name: p + "mlp.up_proj.weight", Shape: []int64{I, H}},
			formats.TensorSpec{Name: p + "mlp.down_proj.weight", Shape: []int64{H, I}},
		)
		if c.bias {
			specs = append(specs,
				formats.TensorSpec{Name: p + "self_attn.q_proj.bias", Shape: []int64{q}},
				formats.TensorSpec{Name: p + "self_attn.k_proj.bias", Shape: []int64{kv}},
				formats.TensorSpec{Name: p + "self_attn.v_proj.bias", Shape: []int64{kv}})
		}
		if c.qkNorm {
			specs = append(specs,
				formats.TensorSpec{Name: p + "self_attn.q_norm.weight", Shape: []int64{d}},
				formats.TensorSpec{Name: p + "self_attn.k_norm.weight", Shape: []int64{d}})
		}
	}
	for i := range specs {
		specs[i].DType = c.dtype
	}
	w, err := formats.Create(dir, specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
	for _, s := range specs {
		n := int64(1)
		for _, v := range s.Shape {
			n *= v
		}
		v := make([]float32, n)
		for i := range v {
			if len(s.Shape) == 1 && !slices.Contains([]string{"q_proj.bias", "k_proj.bias", "v_proj.bias"}, s.Name[len(s.Name)-min(len(s.Name), 11):]) {
				v[i] = float32(1 + 0.3*r.NormFloat64()) // norm weights near 1
			} else {
				v[i] = float32(0.2 * r.NormFloat64())
			}
		}
		if _, err := w.WriteFloat32(s.Name, 0, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	w.AddFile("config.json", cfgJSON)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// refForward is a direct float64 transcription of the Hugging Face
// modelling code (LlamaForCausalLM and its Mistral/Qwen2/Qwen3 variants),
// one token at a time with full recomputation, reading weights straight from
// the checkpoint. It returns logits [T][V].
func refForward(t *testing.T, src *formats.Model, cfg *Config, toks []int) [][]float64 {
	get := func(name string) []float64 {
		ts, ok := src.Tensor(name)
		if !ok {
			return nil
		}
		v := make([]float32, ts.NumElements())
		if _, err := ts.ReadFloat32(v, 0, nil); err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	H, d, T := cfg.Hidden, cfg.HeadDim, len(toks)
	linear := func(w, b, x []float64, n int) []float64 {
		k := len(x)
		y := make([]float64, n)
		for j := 0; j < n; j++ {
			s := 0.0
			for i := 0; i < k; i++ {
				s += w[j*k+i] * x[i]
			}
			if b != nil {
				s += b[j]
			}
			y[j] = s
		}
		return y
	}
	norm := func(x, w []float64) []float64 {
		ss := 0.0
		for _, v := range x {
			ss += v * v
		}
		s := 1 / math.Sqrt(ss/float64(len(x))+cfg.RMSNormEps)
		y := make([]float64, len(x))
		for i := range x {
			y[i] = w[i] * x[i] * s
		}
		return y
	}
	inv := cfg.invFreq()
	rope := func(x []float64, pos int) {
		half := d / 2
		for i := 0; i < half; i++ {
			c, s := math.Cos(float64(pos)*inv[i]), math.Sin(float64(pos)*inv[i])
			a, b := x[i], x[i+half]
			x[i], x[i+half] = a*c-b*s, b*c+a*s
		}
	}
	emb := get("model.embed_tokens.weight")
	xs := make([][]float64, T)
	for i, tk := range toks {
		xs[i] = slices.Clone(emb[tk*H : (tk+1)*H])
	}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		qs, ks, vs := make([][]float64, T), make([][]float64, T), make([][]float64, T)
		for i := range xs {
			h := norm(xs[i], get(p+"input_layernorm.weight"))
			qs[i] = linear(get(p+"self_attn.q_proj.weight"), get(p+"self_attn.q_proj.bias"), h, cfg.Heads*d)
			ks[i] = linear(get(p+"self_attn.k_proj.weight"), get(p+"self_attn.k_proj.bias"), h, cfg.KVHeads*d)
			vs[i] = linear(get(p+"self_attn.v_proj.weight"), get(p+"self_attn.v_proj.bias"), h, cfg.KVHeads*d)
			for hd := 0; hd < cfg.Heads; hd++ {
				if qn := get(p + "self_attn.q_norm.weight"); qn != nil {
					copy(qs[i][hd*d:], norm(qs[i][hd*d:(hd+1)*d], qn))
				}
				rope(qs[i][hd*d:(hd+1)*d], i)
			}
			for hd := 0; hd < cfg.KVHeads; hd++ {
				if kn := get(p + "self_attn.k_norm.weight"); kn != nil {
					copy(ks[i][hd*d:], norm(ks[i][hd*d:(hd+1)*d], kn))
				}
				rope(ks[i][hd*d:(hd+1)*d], i)
			}
		}
		for i := range xs {
			att := make([]float64, cfg.Heads*d)
			for hd := 0; hd < cfg.Heads; hd++ {
				kvh := hd / (cfg.Heads / cfg.KVHeads)
				lo := 0
				if cfg.SlidingWindow > 0 {
					lo = max(0, i-cfg.SlidingWindow+1)
				}
				var w []float64
				mx := math.Inf(-1)
				for j := lo; j <= i; j++ {
					s := 0.0
					for e := 0; e < d; e++ {
						s += qs[i][hd*d+e] * ks[j][kvh*d+e]
					}
					s /= math.Sqrt(float64(d))
					w = append(w, s)
					mx = max(mx, s)
				}
				sum := 0.0
				for j := range w {
					w[j] = math.Exp(w[j] - mx)
					sum += w[j]
				}
				for j := lo; j <= i; j++ {
					for e := 0; e < d; e++ {
						att[hd*d+e] += w[j-lo] / sum * vs[j][kvh*d+e]
					}
				}
			}
			o := linear(get(p+"self_attn.o_proj.weight"), nil, att, H)
			for e := range o {
				xs[i][e] += o[e]
			}
			h := norm(xs[i], get(p+"post_attention_layernorm.weight"))
			g := linear(get(p+"mlp.gate_proj.weight"), nil, h, cfg.Intermediate)
			u := linear(get(p+"mlp.up_proj.weight"), nil, h, cfg.Intermediate)
			for e := range g {
				g[e] = g[e] / (1 + math.Exp(-g[e])) * u[e]
			}
			dn := linear(get(p+"mlp.down_proj.weight"), nil, g, H)
			for e := range dn {
				xs[i][e] += dn[e]
			}
		}
	}
	head := get("lm_head.weight")
	if cfg.TieEmbeddings {
		head = emb
	}
	out := make([][]float64, T)
	for i := range xs {
		out[i] = linear(head, nil, norm(xs[i], get("model.norm.weight")), cfg.Vocab)
	}
	return out
}

// TestArchitectures runs synthetic Llama 3 (rope scaling), Qwen2 (biases,
// tied embeddings), Qwen3 (q/k norms, head_dim ≠ hidden/heads) and Mistral
// (sliding window shorter than the sequence) checkpoints against refForward.
func TestArchitectures(t *testing.T) {
	for _, c := range archCases() {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			writeArch(t, dir, c)
			src, err := formats.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			m, err := Load(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			toks := []int{0, 5, 69, 12, 12, 33, 2, 40, 7, 1, 60, 3}
			want := refForward(t, src, &m.Config, toks)
			r := m.NewRunner(2)
			h, err := r.Forward(context.Background(), []Seq{{Tokens: toks}})
			if err != nil {
				t.Fatal(err)
			}
			logits := make([]float32, len(toks)*m.Vocab)
			if err := r.Logits(context.Background(), logits, h, len(toks)); err != nil {
				t.Fatal(err)
			}
			var flat []float32
			for _, row := range want {
				for _, v := range row {
					flat = append(flat, float32(v))
				}
			}
			e := relErr(logits, flat)
			t.Logf("logits relative error %.3g (max |logit| %.3g)", e, maxAbs(flat))
			if e > 1e-4 {
				t.Errorf("logits relative error %.3g > 1e-4", e)
			}
		})
	}
}

// TestCacheAndBatching checks that decoding in pieces with a Cache, and
// running sequences together in one batch, give bit-identical logits to one
// whole-sequence pass.
func TestCacheAndBatching(t *testing.T) {
	m := loadTestbed(t, "base")
	ctx := context.Background()
	a := []int{256, 97, 100, 100, 58, 49, 50, 43, 55, 61, 49, 57, 257}
	b := []int{256, 114, 101, 118, 58, 97, 98, 99, 61}
	logitsOf := func(r *Runner, seqs []Seq) []float32 {
		h, err := r.Forward(ctx, seqs)
		if err != nil {
			t.Fatal(err)
		}
		n := len(h) / m.Hidden
		out := make([]float32, n*m.Vocab)
		if err := r.Logits(ctx, out, h, n); err != nil {
			t.Fatal(err)
		}
		return out
	}
	whole := logitsOf(m.NewRunner(1), []Seq{{Tokens: a}})
	// In three pieces with a cache.
	r := m.NewRunner(2)
	cache := &Cache{}
	var pieces []float32
	for _, cut := range [][2]int{{0, 5}, {5, 6}, {6, len(a)}} {
		pieces = append(pieces, logitsOf(r, []Seq{{Tokens: a[cut[0]:cut[1]], Cache: cache}})...)
	}
	if cache.Len() != len(a) {
		t.Fatalf("cache holds %d positions, want %d", cache.Len(), len(a))
	}
	// Batched with another sequence.
	batched := logitsOf(m.NewRunner(2), []Seq{{Tokens: b}, {Tokens: a}})[len(b)*m.Vocab:]
	for i := range whole {
		if math.Float32bits(whole[i]) != math.Float32bits(pieces[i]) || math.Float32bits(whole[i]) != math.Float32bits(batched[i]) {
			t.Fatalf("logit %d: whole %g, cached pieces %g, batched %g", i, whole[i], pieces[i], batched[i])
		}
	}
	// Truncate and redo the tail.
	cache.Truncate(6)
	tail := logitsOf(r, []Seq{{Tokens: a[6:], Cache: cache}})
	if !slices.Equal(tail, whole[6*m.Vocab:]) {
		t.Fatal("logits after Truncate differ")
	}
}

func maxAbs(x []float32) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}

func TestLoadErrors(t *testing.T) {
	src, err := formats.Open(filepath.Join(testbed, "models/base"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m := loadTestbed(t, "base")
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Layers = 7 }, `tensor "model.layers.6.input_layernorm.weight" is missing`},
		{func(c *Config) { c.Intermediate = 500 }, `model.layers.0.mlp.gate_proj.weight": shape [512 192], want [500 192]`},
		{func(c *Config) { c.TieEmbeddings = true; c.Vocab = 300 }, `"model.embed_tokens.weight": shape [259 192], want [300 192]`},
	} {
		cfg := m.Config
		c.edit(&cfg)
		_, err := LoadWithConfig(context.Background(), src, &cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "model.safetensors") && !strings.Contains(err.Error(), "models/base") {
			t.Errorf("error %v, want one naming the file and %q", err, c.want)
		}
	}
	// A lone safetensors file without config.json cannot be run.
	dir := t.TempDir()
	data, _ := os.ReadFile(filepath.Join(testbed, "models/base/model.safetensors"))
	os.WriteFile(filepath.Join(dir, "m.safetensors"), data, 0o644)
	lone, err := formats.Open(filepath.Join(dir, "m.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer lone.Close()
	if _, err := Load(context.Background(), lone); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("lone file: error %v", err)
	}
}

// TestMemoryNearStoredSize checks that a loaded model keeps its matrices
// in the stored precision: the testbed (bfloat16) takes its file size, plus
// the zero padding of the last 16-row panels and float32 norm vectors.
func TestMemoryNearStoredSize(t *testing.T) {
	m := loadTestbed(t, "base")
	st, err := os.Stat(filepath.Join(testbed, "models/base/model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(m.Bytes()) / float64(st.Size())
	t.Logf("loaded %d bytes, file %d bytes (×%.3f)", m.Bytes(), st.Size(), ratio)
	if ratio < 0.95 || ratio > 1.05 {
		t.Errorf("loaded model takes %.3f× its file size", ratio)
	}
}
