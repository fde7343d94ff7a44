package model

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testbed, "models/base/config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ModelType: "llama", Hidden: 192, Intermediate: 512, Layers: 6, Heads: 6, KVHeads: 3, HeadDim: 32,
		Vocab: 259, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositions: 64, BOS: 256, EOS: []int{257}, PAD: 258}
	if c.ModelType != want.ModelType || c.Hidden != want.Hidden || c.Intermediate != want.Intermediate || c.Layers != want.Layers ||
		c.Heads != want.Heads || c.KVHeads != want.KVHeads || c.HeadDim != want.HeadDim || c.Vocab != want.Vocab ||
		c.RMSNormEps != want.RMSNormEps || c.RopeTheta != want.RopeTheta || c.MaxPositions != want.MaxPositions ||
		c.BOS != want.BOS || !slices.Equal(c.EOS, want.EOS) || c.PAD != want.PAD || c.TieEmbeddings || c.RopeScaling != nil {
		t.Errorf("got %+v", c)
	}
	if !c.IsEOS(257) || c.IsEOS(256) {
		t.Error("IsEOS")
	}

	// Defaults: head_dim from hidden/heads, KV heads = heads, window only
	// when use_sliding_window allows it.
	c, err = ParseConfig([]byte(`{"model_type":"qwen2","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,
		"num_attention_heads":4,"vocab_size":10,"sliding_window":32,"use_sliding_window":false,"eos_token_id":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadDim != 16 || c.KVHeads != 4 || c.SlidingWindow != 0 || c.EOS != nil || c.BOS != -1 {
		t.Errorf("defaults: %+v", c)
	}

	bad := map[string]string{
		`{`:                       "config.json",
		`{"model_type":"gemma2"}`: `"gemma2" is not supported yet`,
		`{"hidden_size":4}`:       "no model_type",
		`{"model_type":"llama","hidden_act":"gelu"}`: `hidden_act "gelu"`,
		`{"model_type":"llama","hidden_size":0,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10}`:                                                   "hidden_size 0",
		`{"model_type":"llama","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":3,"vocab_size":10}`:                          "not a multiple of num_key_value_heads",
		`{"model_type":"llama","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"rope_scaling":{"rope_type":"yarn","factor":4}}`:   `"yarn" is not supported yet`,
		`{"model_type":"llama","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"rope_scaling":{"rope_type":"llama3","factor":8}}`: "llama3 rope_scaling needs",
		`{"model_type":"llama","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"head_dim":7}`:                                     "head_dim 7",
	}
	for doc, msg := range bad {
		if _, err := ParseConfig([]byte(doc)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseConfig(%s): error %v, want %q", doc, err, msg)
		}
	}
}

// TestRopeFrequencies checks the Llama 3.1 frequency scaling against values
// computed by hand (θ = 500000, d = 128, factor 8, low 1, high 4, original
// context 8192): i = 0 is a high frequency (kept), i = 63 a low one
// (divided by 8), i = 32 in between (wavelength 4442.9, smoothing 0.28133).
func TestRopeFrequencies(t *testing.T) {
	c := &Config{HeadDim: 128, RopeTheta: 500000}
	plain := c.invFreq()
	c.RopeScaling = &RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPosition: 8192}
	scaled := c.invFreq()
	for _, w := range []struct {
		i           int
		plain, want float64
	}{{0, 1, 1}, {32, 0.001414213562373095, 0.0005248461609929547}, {63, 2.455140791131609e-06, 3.068925988914511e-07}} {
		if math.Abs(plain[w.i]-w.plain) > 1e-12*w.plain || math.Abs(scaled[w.i]-w.want) > 1e-12*w.want {
			t.Errorf("frequency %d: %g → %g, want %g → %g", w.i, plain[w.i], scaled[w.i], w.plain, w.want)
		}
	}
	c.RopeScaling = &RopeScaling{Type: "linear", Factor: 4}
	if f := c.invFreq(); f[32] != plain[32]/4 {
		t.Errorf("linear scaling: %g, want %g", f[32], plain[32]/4)
	}
}

func FuzzParseConfig(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(testbed, "models/base/config.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"model_type":"qwen3","hidden_size":64,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":4,"vocab_size":10,"rope_scaling":{"type":"linear","factor":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if c.Hidden <= 0 || c.HeadDim <= 0 || c.HeadDim%2 != 0 || c.Heads%c.KVHeads != 0 {
			t.Fatalf("accepted inconsistent config %+v", c)
		}
		if f := c.invFreq(); len(f) != c.HeadDim/2 {
			t.Fatal("frequencies")
		}
	})
}
