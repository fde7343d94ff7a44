package layerswap

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// Experts are the models of a layer swap.
type Experts struct {
	// Task is the task expert θ_T (the middle layers).
	Task *formats.Model
	// Lang is the language expert θ_L (the bottom and top layers).
	Lang *formats.Model
	// Base, if set, is only checked: the experts must have its layer count
	// and tensor shapes.
	Base *formats.Model
}

// PlanOptions configure Plan.
type PlanOptions struct {
	// OutDType forces the output dtype of float tensors ("" keeps each
	// copied tensor's dtype and the task expert's for blended ones).
	OutDType formats.DType
}

// Layers returns the experts' common layer count, or an error if they
// differ.
func (e Experts) Layers() (int, error) {
	lt, err := merge.NumLayers(e.Task)
	if err != nil {
		return 0, err
	}
	ll, err := merge.NumLayers(e.Lang)
	if err != nil {
		return 0, err
	}
	if lt != ll {
		return 0, fmt.Errorf("the experts have different layer counts: %d in %s (task), %d in %s (lang)", lt, e.Task.Path, ll, e.Lang.Path)
	}
	if e.Base != nil {
		lb, err := merge.NumLayers(e.Base)
		if err != nil {
			return 0, err
		}
		if lb != lt {
			return 0, fmt.Errorf("the experts have %d layers but the base %s has %d", lt, e.Base.Path, lb)
		}
	}
	return lt, nil
}

// Plan checks the experts (same tensor names and shapes, same layer count;
// cfg valid for it) and returns the merge plan: whole-source tensors are
// byte copies (Task.Copy) and transition tensors a blend. It reads no tensor
// data. cfg.Layers is filled in from the models when it is 0.
func Plan(e Experts, cfg Config, opts PlanOptions) (*merge.Plan, Config, error) {
	if err := cfg.ValidateShape(); err != nil {
		return nil, cfg, err
	}
	n, err := e.Layers()
	if err != nil {
		return nil, cfg, err
	}
	if cfg.Layers == 0 {
		cfg.Layers = n
	} else if cfg.Layers != n {
		return nil, cfg, fmt.Errorf("the experts have %d layers, not %d", n, cfg.Layers)
	}
	if err := cfg.Validate(); err != nil {
		return nil, cfg, err
	}
	var problems []string
	names := map[string]bool{}
	for _, m := range []*formats.Model{e.Task, e.Lang} {
		for _, n := range m.Names() {
			names[n] = true
		}
	}
	check := []*formats.Model{e.Task, e.Lang}
	if e.Base != nil {
		check = append(check, e.Base)
	}
	method := &blendMethod{cfg: cfg, layersFixed: true}
	plan := &merge.Plan{Method: Spec.Name, ChunkBuffers: 3}
	global := merge.Params{"bottom": float64(cfg.Bottom), "top": float64(cfg.Top),
		"transition_bottom": float64(cfg.TransBottom), "transition_top": float64(cfg.TransTop),
		"blend": cfg.Blend, "nonlayer": cfg.NonLayer, "num_layers": float64(cfg.Layers)}
	for _, name := range sortedKeys(names) {
		var ts []*formats.Tensor
		var missing []string
		for _, m := range check {
			t, ok := m.Tensor(name)
			if !ok {
				missing = append(missing, m.Path)
			}
			ts = append(ts, t)
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("tensor %q is missing from %s", name, strings.Join(missing, ", ")))
			continue
		}
		tt, lt := ts[0], ts[1]
		shapeOK := true
		for i, t := range ts[1:] {
			if !slices.Equal(t.Shape, tt.Shape) {
				problems = append(problems, fmt.Sprintf("tensor %q has shape %v in %s but %v in %s", name, tt.Shape, e.Task.Path, t.Shape, check[i+1].Path))
				shapeOK = false
			}
		}
		if !shapeOK {
			continue
		}
		layer := merge.LayerIndex(name)
		if layer >= cfg.Layers {
			problems = append(problems, fmt.Sprintf("tensor %q is in layer %d but the models have %d layers", name, layer, cfg.Layers))
			continue
		}
		w := cfg.TaskWeight(layer)
		zone := cfg.Zone(layer)
		if !tt.DType.IsFloat() || !lt.DType.IsFloat() {
			// Integer and bool tensors cannot be blended: take the side
			// with the larger weight.
			w = float64(int(w + 0.5))
		}
		var task *merge.Task
		var dt formats.DType
		switch w {
		case 1, 0:
			src, who := tt, "task"
			if w == 0 {
				src, who = lt, "lang"
			}
			task = &merge.Task{Name: name, Shape: src.Shape, Layer: layer, Copy: src,
				Source: fmt.Sprintf("%s: %s expert, copied from %s", zone, who, src.File)}
			dt = outDType(opts.OutDType, src.DType)
		default:
			ts, err := merge.NewSource(tt, nil)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			ls, err := merge.NewSource(lt, nil)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			task = &merge.Task{Name: name, Shape: tt.Shape, Layer: layer,
				Inputs: []merge.Source{ts, ls},
				Model:  []merge.Params{{"role": RoleTask}, {"role": RoleLang}},
				Global: global, Method: method,
				Source: fmt.Sprintf("%s: %g·task + %g·lang", zone, w, 1-w)}
			dt = outDType(opts.OutDType, tt.DType)
		}
		plan.Tasks = append(plan.Tasks, task)
		plan.Specs = append(plan.Specs, formats.TensorSpec{Name: name, DType: dt, Shape: task.Shape})
	}
	if len(problems) > 0 {
		if len(problems) > 50 {
			problems = append(problems[:50], fmt.Sprintf("… and %d more", len(problems)-50))
		}
		return nil, cfg, fmt.Errorf("the experts cannot be layer-swapped:\n  %s", strings.Join(problems, "\n  "))
	}
	if len(plan.Tasks) == 0 {
		return nil, cfg, fmt.Errorf("the experts %s and %s have no tensors", e.Task.Path, e.Lang.Path)
	}
	return plan, cfg, nil
}

// Describe writes the layer-by-layer assignment of cfg, one line per layer.
func Describe(w io.Writer, cfg Config) {
	for l := -1; l < cfg.Layers; l++ {
		tw := cfg.TaskWeight(l)
		what := "lang"
		switch {
		case tw == 1:
			what = "task"
		case tw > 0:
			what = fmt.Sprintf("%g·task + %g·lang", tw, 1-tw)
		}
		name := fmt.Sprintf("layer %d", l)
		if l < 0 {
			name = "non-layer"
		}
		fmt.Fprintf(w, "  %-10s %-17s %s\n", name, cfg.Zone(l), what)
	}
}

// outDType is the output dtype of a tensor stored as stored: non-float
// tensors keep their dtype, floats the forced one, else their own when
// gomerge can write it, else bf16.
func outDType(forced, stored formats.DType) formats.DType {
	switch {
	case !stored.IsFloat():
		return stored
	case forced != "":
		return forced
	case stored.Writable():
		return stored
	}
	return formats.BF16
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
