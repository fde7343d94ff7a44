// Package layerswap implements layer swapping (Bandarkar et al., ICLR 2025,
// arXiv 2410.01335): two experts fine-tuned from the same base — a task
// expert (e.g. math) and a language expert — are composed by taking the
// bottom and top transformer layers from the language expert, the middle
// layers from the task expert, and optionally blending the two in transition
// zones between the blocks.
//
// For a tensor of layer l of a model with L layers, with b bottom and u top
// language layers and transition widths t_b, t_u, the task expert's weight is
//
//	l < b                → 0   (language expert)
//	l < b + t_b          → w   (lower transition: w·θ_T + (1−w)·θ_L)
//	l < L − u − t_u      → 1   (task expert)
//	l < L − u            → w   (upper transition)
//	otherwise            → 0   (language expert)
//
// Tensors outside the layer stack (embeddings, final norm, lm_head) come
// from the language expert by default (NonLayer "lang"), or from the task
// expert ("task"), or are blended with weight w ("blend").
//
// There is no official code; the rule follows the paper's Algorithm 1 and
// ../shared/specs/layerswap.md. Whole-layer copies are byte-identical to the
// source when built with Plan (the gomerge layerswap command).
package layerswap

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// Sources of the tensors outside the layer stack.
const (
	NonLayerLang  = "lang"
	NonLayerTask  = "task"
	NonLayerBlend = "blend"
)

// Roles of the two experts in a recipe (the per-model "role" parameter).
const (
	RoleTask = "task"
	RoleLang = "lang"
)

// Config is a layer swap: how many layers come from which expert.
type Config struct {
	// Layers is L, the number of transformer layers (0: not known yet).
	Layers int
	// Bottom (b) and Top (u) are the numbers of bottom and top layers taken
	// from the language expert.
	Bottom, Top int
	// TransBottom (t_b) and TransTop (t_u) are the widths of the blended
	// transition zones after the bottom block and before the top block.
	TransBottom, TransTop int
	// Blend is the task expert's weight w in the transition zones (the
	// language expert gets 1 − w).
	Blend float64
	// NonLayer says where embeddings, the final norm and lm_head come from:
	// "lang" (default), "task" or "blend".
	NonLayer string
}

// ValidateShape checks the parameters that do not depend on the layer
// count: non-negative widths, a blend weight in [0, 1] and a known NonLayer.
func (c Config) ValidateShape() error {
	for _, p := range []struct {
		name string
		v    int
	}{{"bottom", c.Bottom}, {"top", c.Top}, {"transition-bottom", c.TransBottom}, {"transition-top", c.TransTop}} {
		if p.v < 0 {
			return fmt.Errorf("--%s is %d; layer counts cannot be negative", p.name, p.v)
		}
	}
	if math.IsNaN(c.Blend) || c.Blend < 0 || c.Blend > 1 {
		return fmt.Errorf("--blend is %g; the task expert's transition weight must be in [0, 1]", c.Blend)
	}
	switch c.NonLayer {
	case NonLayerLang, NonLayerTask, NonLayerBlend:
	case "":
		return errors.New("--nonlayer is empty; want lang, task or blend")
	default:
		return fmt.Errorf("--nonlayer %q: want lang, task or blend", c.NonLayer)
	}
	return nil
}

// Validate checks the whole configuration against the layer count:
// b + t_b ≤ L − u − t_u.
func (c Config) Validate() error {
	if err := c.ValidateShape(); err != nil {
		return err
	}
	if c.Layers <= 0 {
		return fmt.Errorf("the number of layers is %d; the models need transformer layers to swap", c.Layers)
	}
	lo, hi := c.Bottom+c.TransBottom, c.Layers-c.Top-c.TransTop
	if lo > hi {
		return fmt.Errorf("bottom + transition-bottom must not exceed L − top − transition-top: %d + %d = %d > %d − %d − %d = %d (L = %d layers)",
			c.Bottom, c.TransBottom, lo, c.Layers, c.Top, c.TransTop, hi, c.Layers)
	}
	return nil
}

// TaskWeight returns the task expert's weight for a tensor of the given
// layer (−1 for tensors outside the layer stack); the language expert's
// weight is 1 minus it. The configuration must be valid.
func (c Config) TaskWeight(layer int) float64 {
	if layer < 0 {
		switch c.NonLayer {
		case NonLayerTask:
			return 1
		case NonLayerBlend:
			return c.Blend
		}
		return 0
	}
	switch {
	case layer < c.Bottom:
		return 0
	case layer < c.Bottom+c.TransBottom:
		return c.Blend
	case layer < c.Layers-c.Top-c.TransTop:
		return 1
	case layer < c.Layers-c.Top:
		return c.Blend
	}
	return 0
}

// Zone names the part of the layer stack a layer belongs to, for plans
// and reports: "bottom", "lower transition", "middle", "upper transition",
// "top" or "non-layer".
func (c Config) Zone(layer int) string {
	switch {
	case layer < 0:
		return "non-layer"
	case layer < c.Bottom:
		return "bottom"
	case layer < c.Bottom+c.TransBottom:
		return "lower transition"
	case layer < c.Layers-c.Top-c.TransTop:
		return "middle"
	case layer < c.Layers-c.Top:
		return "upper transition"
	}
	return "top"
}

// Blend writes w·task + (1−w)·lang into dst (all the same length). The
// weights 1 and 0 copy one side exactly.
func Blend(dst, task, lang []float32, w float64) {
	switch w {
	case 1:
		copy(dst, task)
	case 0:
		copy(dst, lang)
	default:
		copy(dst, task)
		simd.Scale(dst, float32(w))
		simd.AddScaled(dst, float32(1-w), lang)
	}
}

// blendMethod computes a layer-swapped tensor from two inputs whose roles
// are given by the per-model "role" parameter, or by order (task, lang).
type blendMethod struct {
	cfg Config
	// layersFixed is set when the layer count came from the parameters.
	layersFixed bool
}

// roles returns the input indices of the task and language experts.
func roles(t *merge.Task) (task, lang int, err error) {
	if len(t.Inputs) != 2 {
		return 0, 0, fmt.Errorf("layer_swap takes exactly two experts (task and language), got %d inputs for tensor %q", len(t.Inputs), t.Name)
	}
	var r [2]string
	for k := range r {
		if k < len(t.Model) {
			r[k] = t.Model[k].String("role", "")
		}
	}
	switch {
	case r[0] == "" && r[1] == "":
		return 0, 1, nil
	case r[0] == r[1]:
		return 0, 0, fmt.Errorf("layer_swap: both models have role %q; one must be %q and the other %q", r[0], RoleTask, RoleLang)
	case r[0] == RoleLang || r[1] == RoleTask:
		return 1, 0, nil
	}
	return 0, 1, nil
}

// Prepare learns the layer count from the tasks' layer indices (unless the
// num_layers parameter gave it) and validates the swap and the experts'
// roles before any tensor data is read.
func (m *blendMethod) Prepare(_ context.Context, tasks []*merge.Task) error {
	if !m.layersFixed {
		m.cfg.Layers = 0
		for _, t := range tasks {
			m.cfg.Layers = max(m.cfg.Layers, t.Layer+1)
		}
	}
	if err := m.cfg.Validate(); err != nil {
		return fmt.Errorf("layer_swap: %w", err)
	}
	for _, t := range tasks {
		if _, _, err := roles(t); err != nil {
			return err
		}
		if t.Layer >= m.cfg.Layers {
			return fmt.Errorf("layer_swap: tensor %q is in layer %d but the model has %d layers (num_layers)", t.Name, t.Layer, m.cfg.Layers)
		}
	}
	return nil
}

// Merge implements merge.Method.
func (m *blendMethod) Merge(ctx context.Context, t *merge.Task) error {
	if m.cfg.Layers <= 0 {
		return fmt.Errorf("layer_swap: tensor %q: the number of layers is unknown (give num_layers or run through the engine)", t.Name)
	}
	ti, li, err := roles(t)
	if err != nil {
		return err
	}
	w := m.cfg.TaskWeight(t.Layer)
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		out := merge.GetFloats(c.Len())
		defer merge.PutFloats(out)
		switch w {
		case 1:
			if err := t.Inputs[ti].Read(out, c.Lo); err != nil {
				return err
			}
		case 0:
			if err := t.Inputs[li].Read(out, c.Lo); err != nil {
				return err
			}
		default:
			lang := merge.GetFloats(c.Len())
			defer merge.PutFloats(lang)
			if err := t.Inputs[ti].Read(out, c.Lo); err != nil {
				return err
			}
			if err := t.Inputs[li].Read(lang, c.Lo); err != nil {
				return err
			}
			Blend(out, out, lang, w)
		}
		return t.Out.Write(out, c.Lo)
	})
}

// configFromParams reads a Config from resolved global parameters.
func configFromParams(p merge.Params) (Config, bool, error) {
	c := Config{Blend: p.Float("blend", 0.5), NonLayer: p.String("nonlayer", NonLayerLang)}
	ints := []struct {
		name string
		dst  *int
	}{{"bottom", &c.Bottom}, {"top", &c.Top}, {"transition_bottom", &c.TransBottom}, {"transition_top", &c.TransTop}, {"num_layers", &c.Layers}}
	for _, f := range ints {
		v := p.Float(f.name, 0)
		if v != math.Trunc(v) || math.Abs(v) > 1<<30 {
			return c, false, fmt.Errorf("%s is %g; want a whole number", f.name, v)
		}
		*f.dst = int(v)
	}
	if c.Layers < 0 {
		return c, false, fmt.Errorf("num_layers is %d; want 0 (from the tensor names) or the layer count", c.Layers)
	}
	if err := c.ValidateShape(); err != nil {
		return c, false, err
	}
	fixed := c.Layers > 0
	if fixed {
		if err := c.Validate(); err != nil {
			return c, false, err
		}
	}
	return c, fixed, nil
}

// Spec is the layer_swap method for recipes and the generic per-method
// command.
var Spec = &merge.MethodSpec{
	Name:    "layer_swap",
	Summary: "Layer swapping: bottom and top layers from a language expert, the middle from a task expert",
	Long: `Layer swapping (Bandarkar et al., ICLR 2025) composes two experts fine-tuned from
the same base: the bottom b and top u transformer layers come from the
language expert, the middle layers from the task expert, and transition
zones of t_b and t_u layers between the blocks blend the two
(blend·task + (1 − blend)·lang). Embeddings, the final norm and lm_head come
from the language expert unless nonlayer is task or blend.

The two models are identified by the per-model parameter role (task or
lang); without roles the first model is the task expert and the second the
language expert. A base model is not used. The layer count is num_layers,
or one more than the largest layer index among the merged tensors.

  gomerge layerswap --task math --lang swahili --bottom 5 --top 2 -o out/

is the dedicated command: whole layers are byte copies of the source
tensors. Through this method (recipes) whole layers are
read and written as float32 values, which is bit-exact when the output dtype
is the input's bf16, f16 or f32. gomerge analyze suggests b and u from where
each expert changed the base.`,
	Base:      merge.BaseOptional,
	MinModels: 2,
	MaxModels: 2,
	Params: []merge.ParamSpec{
		{Name: "bottom", Kind: merge.Int, Required: true, Help: "b: bottom layers taken from the language expert"},
		{Name: "top", Kind: merge.Int, Required: true, Help: "u: top layers taken from the language expert"},
		{Name: "transition_bottom", Kind: merge.Int, Default: 0.0, Help: "t_b: blended layers after the bottom block"},
		{Name: "transition_top", Kind: merge.Int, Default: 0.0, Help: "t_u: blended layers before the top block"},
		{Name: "blend", Kind: merge.Float, Default: 0.5, Help: "task expert's weight in the transition layers (the language expert gets 1 − blend)"},
		{Name: "nonlayer", Kind: merge.String, Default: NonLayerLang, Choices: []string{NonLayerLang, NonLayerTask, NonLayerBlend}, Help: "source of embeddings, final norm and lm_head"},
		{Name: "num_layers", Kind: merge.Int, Default: 0.0, Help: "layer count L (0: from the tensor names)"},
		{Name: "role", Kind: merge.String, PerModel: true, Choices: []string{RoleTask, RoleLang}, Help: "which expert a model is: task or lang (default: first task, second lang)"},
	},
	New: func(g merge.Params) (merge.Method, error) {
		c, fixed, err := configFromParams(g)
		if err != nil {
			return nil, err
		}
		return &blendMethod{cfg: c, layersFixed: fixed}, nil
	},
}

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec { return []*merge.MethodSpec{Spec} }
