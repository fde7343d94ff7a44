package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Config is the architecture of a decoder-only model, read from a Hugging
// Face config.json.
type Config struct {
	// ModelType is config.json's model_type: llama, mistral, qwen2 or qwen3.
	ModelType     string
	Hidden        int // hidden_size
	Intermediate  int // intermediate_size
	Layers        int // num_hidden_layers
	Heads         int // num_attention_heads
	KVHeads       int // num_key_value_heads (Heads when absent)
	HeadDim       int // head_dim (Hidden/Heads when absent)
	Vocab         int // vocab_size
	RMSNormEps    float64
	RopeTheta     float64
	RopeScaling   *RopeScaling
	MaxPositions  int // max_position_embeddings: the context length
	TieEmbeddings bool
	SlidingWindow int   // 0: full attention
	BOS           int   // bos_token_id, -1 when absent
	EOS           []int // eos_token_id (one or several)
	PAD           int   // pad_token_id, -1 when absent
}

// RopeScaling is config.json's rope_scaling: "linear" (positions divided by
// Factor) or "llama3" (frequency-dependent scaling of Llama 3.1).
type RopeScaling struct {
	Type                string  `json:"rope_type"`
	LegacyType          string  `json:"type"`
	Factor              float64 `json:"factor"`
	LowFreqFactor       float64 `json:"low_freq_factor"`
	HighFreqFactor      float64 `json:"high_freq_factor"`
	OriginalMaxPosition int     `json:"original_max_position_embeddings"`
}

type rawConfig struct {
	ModelType         string          `json:"model_type"`
	Architectures     []string        `json:"architectures"`
	HiddenSize        int             `json:"hidden_size"`
	IntermediateSize  int             `json:"intermediate_size"`
	NumHiddenLayers   int             `json:"num_hidden_layers"`
	NumAttentionHeads int             `json:"num_attention_heads"`
	NumKeyValueHeads  int             `json:"num_key_value_heads"`
	HeadDim           int             `json:"head_dim"`
	VocabSize         int             `json:"vocab_size"`
	RMSNormEps        float64         `json:"rms_norm_eps"`
	RopeTheta         float64         `json:"rope_theta"`
	RopeScaling       *RopeScaling    `json:"rope_scaling"`
	MaxPositions      int             `json:"max_position_embeddings"`
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	HiddenAct         string          `json:"hidden_act"`
	SlidingWindow     *int            `json:"sliding_window"`
	UseSlidingWindow  *bool           `json:"use_sliding_window"`
	BOS               json.RawMessage `json:"bos_token_id"`
	EOS               json.RawMessage `json:"eos_token_id"`
	PAD               json.RawMessage `json:"pad_token_id"`
	PartialRotary     *float64        `json:"partial_rotary_factor"`
}

// ParseConfig parses and checks a config.json document.
func ParseConfig(data []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("config.json: %w", err)
	}
	switch r.ModelType {
	case "llama", "mistral", "qwen2", "qwen3":
	case "":
		return nil, errors.New("config.json: no model_type")
	default:
		return nil, fmt.Errorf("config.json: model_type %q is not supported yet (llama, mistral, qwen2 and qwen3 are)", r.ModelType)
	}
	if r.HiddenAct != "" && r.HiddenAct != "silu" {
		return nil, fmt.Errorf("config.json: hidden_act %q is not supported yet (silu is)", r.HiddenAct)
	}
	if r.PartialRotary != nil && *r.PartialRotary != 1 {
		return nil, fmt.Errorf("config.json: partial_rotary_factor %g is not supported yet", *r.PartialRotary)
	}
	c := &Config{
		ModelType:    r.ModelType,
		Hidden:       r.HiddenSize,
		Intermediate: r.IntermediateSize,
		Layers:       r.NumHiddenLayers,
		Heads:        r.NumAttentionHeads,
		KVHeads:      r.NumKeyValueHeads,
		HeadDim:      r.HeadDim,
		Vocab:        r.VocabSize,
		RMSNormEps:   r.RMSNormEps,
		RopeTheta:    r.RopeTheta,
		RopeScaling:  r.RopeScaling,
		MaxPositions: r.MaxPositions,
	}
	// transformers' defaults: Llama and Mistral tie nothing unless asked,
	// Qwen2/3 configs always state it.
	if r.TieWordEmbeddings != nil {
		c.TieEmbeddings = *r.TieWordEmbeddings
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.MaxPositions == 0 {
		c.MaxPositions = 2048
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"hidden_size", c.Hidden}, {"intermediate_size", c.Intermediate}, {"num_hidden_layers", c.Layers},
		{"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads}, {"vocab_size", c.Vocab}} {
		if f.v <= 0 || f.v > 1<<24 {
			return nil, fmt.Errorf("config.json: %s %d is not a positive size", f.name, f.v)
		}
	}
	if c.HeadDim == 0 {
		if c.Hidden%c.Heads != 0 {
			return nil, fmt.Errorf("config.json: hidden_size %d is not a multiple of num_attention_heads %d", c.Hidden, c.Heads)
		}
		c.HeadDim = c.Hidden / c.Heads
	}
	if c.HeadDim <= 0 || c.HeadDim%2 != 0 || c.HeadDim > 1<<16 {
		return nil, fmt.Errorf("config.json: head_dim %d is not a positive even size", c.HeadDim)
	}
	if c.Heads%c.KVHeads != 0 {
		return nil, fmt.Errorf("config.json: num_attention_heads %d is not a multiple of num_key_value_heads %d", c.Heads, c.KVHeads)
	}
	if c.RMSNormEps < 0 || math.IsNaN(c.RMSNormEps) || c.RopeTheta <= 0 || math.IsNaN(c.RopeTheta) {
		return nil, errors.New("config.json: rms_norm_eps and rope_theta must be positive")
	}
	if c.MaxPositions < 0 {
		return nil, fmt.Errorf("config.json: max_position_embeddings %d is negative", c.MaxPositions)
	}
	if r.SlidingWindow != nil && *r.SlidingWindow > 0 && (r.UseSlidingWindow == nil || *r.UseSlidingWindow) {
		c.SlidingWindow = *r.SlidingWindow
	}
	if s := c.RopeScaling; s != nil {
		if s.Type == "" {
			s.Type = s.LegacyType
		}
		switch s.Type {
		case "default", "":
			c.RopeScaling = nil
		case "linear":
			if !(s.Factor > 0) {
				return nil, fmt.Errorf("config.json: rope_scaling factor %g is not positive", s.Factor)
			}
		case "llama3":
			if !(s.Factor > 0) || !(s.LowFreqFactor > 0) || !(s.HighFreqFactor > s.LowFreqFactor) || s.OriginalMaxPosition <= 0 {
				return nil, errors.New("config.json: llama3 rope_scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0")
			}
		default:
			return nil, fmt.Errorf("config.json: rope_scaling type %q is not supported yet (linear and llama3 are)", s.Type)
		}
	}
	var err error
	if c.BOS, err = optionalID(r.BOS, "bos_token_id"); err != nil {
		return nil, err
	}
	if c.PAD, err = optionalID(r.PAD, "pad_token_id"); err != nil {
		return nil, err
	}
	if len(r.EOS) > 0 && string(r.EOS) != "null" {
		var one int
		if json.Unmarshal(r.EOS, &one) == nil {
			c.EOS = []int{one}
		} else if err := json.Unmarshal(r.EOS, &c.EOS); err != nil {
			return nil, fmt.Errorf("config.json: eos_token_id: %w", err)
		}
	}
	return c, nil
}

func optionalID(raw json.RawMessage, name string) (int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return -1, nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("config.json: %s: %w", name, err)
	}
	return v, nil
}

// IsEOS reports whether id is one of the end-of-sequence ids.
func (c *Config) IsEOS(id int) bool {
	for _, e := range c.EOS {
		if e == id {
			return true
		}
	}
	return false
}

// invFreq returns the rotary inverse frequencies θ^(−2i/d), i < d/2, with
// rope scaling applied.
func (c *Config) invFreq() []float64 {
	half := c.HeadDim / 2
	f := make([]float64, half)
	for i := range f {
		f[i] = 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(c.HeadDim))
	}
	s := c.RopeScaling
	if s == nil {
		return f
	}
	switch s.Type {
	case "linear":
		for i := range f {
			f[i] /= s.Factor
		}
	case "llama3":
		old := float64(s.OriginalMaxPosition)
		lowWave := old / s.LowFreqFactor
		highWave := old / s.HighFreqFactor
		for i, v := range f {
			wave := 2 * math.Pi / v
			switch {
			case wave < highWave:
			case wave > lowWave:
				f[i] = v / s.Factor
			default:
				smooth := (old/wave - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
				f[i] = (1-smooth)*v/s.Factor + smooth*v
			}
		}
	}
	return f
}
