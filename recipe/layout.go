package recipe

import (
	"fmt"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// scope is the parameter context of one output tensor: its slice's
// parameters, the per-model source parameters and the gradient position.
type scope struct {
	slice   map[string]*Setting
	sources []map[string]*Setting // by index into Config.Models
	t       float64
}

// resolver implements merge.ParamResolver with mergekit's precedence:
// slice source > slice > per-model entry (rewritten into sources) > top
// level > method default.
type resolver struct {
	spec     *merge.MethodSpec
	top      map[string]*Setting
	byTensor map[string]scope
	nModels  int
	// fallback gives the scope of tensors not in byTensor (models form).
	fallback func(name string, layer int) scope
}

func lookup(m map[string]*Setting, ps *merge.ParamSpec, tensor string, t float64) (any, bool) {
	if m == nil {
		return nil, false
	}
	names := append([]string{ps.Name}, ps.Aliases...)
	for _, n := range names {
		if s, ok := m[n]; ok {
			if v, ok := s.Eval(tensor, t); ok && v != nil {
				return v, true
			}
		}
	}
	return nil, false
}

func (r *resolver) Resolve(tensor string, layer int) (merge.Params, []merge.Params, error) {
	sc, ok := r.byTensor[tensor]
	if !ok {
		sc = r.fallback(tensor, layer)
	}
	global := merge.Params{}
	per := make([]merge.Params, r.nModels)
	for k := range per {
		per[k] = merge.Params{}
	}
	for i := range r.spec.Params {
		ps := &r.spec.Params[i]
		if !ps.PerModel {
			for _, m := range []map[string]*Setting{sc.slice, r.top} {
				if v, ok := lookup(m, ps, tensor, sc.t); ok {
					cv, err := convertValue(ps, v)
					if err != nil {
						return nil, nil, fmt.Errorf("tensor %q: parameter %q: %w", tensor, ps.Name, err)
					}
					global[ps.Name] = cv
					break
				}
			}
			continue
		}
		for k := 0; k < r.nModels; k++ {
			var src map[string]*Setting
			if k < len(sc.sources) {
				src = sc.sources[k]
			}
			for _, m := range []map[string]*Setting{src, sc.slice, r.top} {
				if v, ok := lookup(m, ps, tensor, sc.t); ok {
					cv, err := convertValue(ps, v)
					if err != nil {
						return nil, nil, fmt.Errorf("tensor %q: parameter %q: %w", tensor, ps.Name, err)
					}
					per[k][ps.Name] = cv
					break
				}
			}
		}
	}
	return global, per, nil
}

func needsBase(spec *merge.MethodSpec) bool { return spec.Base != merge.BaseNone }

func planModels(r *Recipe, spec *merge.MethodSpec, job *Job, models map[string]*formats.Model) error {
	cfg := job.Config
	base := r.BaseModel
	if spec.Base == merge.BaseRequired && base == "" {
		return &Error{File: r.File, Line: r.Lines["merge_method"], Msg: fmt.Sprintf("method %s needs base_model", spec.Name)}
	}
	if needsBase(spec) && base != "" {
		cfg.Base = models[base]
	}
	var sources []map[string]*Setting
	seen := map[string]bool{}
	for _, e := range r.Models {
		if cfg.Base != nil && e.Model == base {
			continue // the base is never one of the merged models
		}
		if seen[e.Model] {
			return &Error{File: r.File, Line: e.Line, Msg: fmt.Sprintf("model %q is listed twice", e.Model)}
		}
		seen[e.Model] = true
		cfg.Models = append(cfg.Models, models[e.Model])
		sources = append(sources, e.Parameters)
	}
	if len(cfg.Models) == 0 {
		return &Error{File: r.File, Line: r.Lines["models"], Msg: "no models to merge besides the base"}
	}
	ref := cfg.Base
	if ref == nil {
		ref = cfg.Models[0]
	}
	nLayers, err := merge.NumLayers(ref)
	if err != nil {
		return &Error{File: r.File, Line: r.Lines["models"], Msg: err.Error()}
	}
	cfg.Params = &resolver{spec: spec, top: r.Parameters, nModels: len(cfg.Models), byTensor: map[string]scope{},
		fallback: func(name string, layer int) scope {
			t := 0.0
			if layer >= 0 {
				t = LayerT(layer, nLayers)
			}
			return scope{sources: sources, t: t}
		}}
	return nil
}

func planSlices(r *Recipe, spec *merge.MethodSpec, job *Job, models map[string]*formats.Model) error {
	cfg := job.Config
	base := r.BaseModel
	// The merged models: every non-base source model, in order of appearance.
	index := map[string]int{}
	for si, sl := range r.Slices {
		b := base
		if sl.BaseModel != "" {
			if base != "" && sl.BaseModel != base {
				return &Error{File: r.File, Line: sl.Line, Msg: "a slice base_model different from the recipe's base_model is not supported yet"}
			}
			b = sl.BaseModel
		}
		if needsBase(spec) && b != "" {
			base = b
		}
		n := -1
		inSlice := map[string]bool{}
		for _, src := range sl.Sources {
			l := src.LayerRange[1] - src.LayerRange[0]
			if n >= 0 && l != n {
				return &Error{File: r.File, Line: src.Line, Msg: fmt.Sprintf("slice %d: sources have different lengths (%d and %d layers)", si+1, n, l)}
			}
			n = l
			have, err := merge.NumLayers(models[src.Model])
			if err != nil {
				return &Error{File: r.File, Line: src.Line, Msg: err.Error()}
			}
			if src.LayerRange[1] > have {
				return &Error{File: r.File, Line: src.Line, Msg: fmt.Sprintf("layer_range [%d, %d] is out of bounds: model %q has %d layers", src.LayerRange[0], src.LayerRange[1], src.Model, have)}
			}
			if inSlice[src.Model] {
				return &Error{File: r.File, Line: src.Line, Msg: fmt.Sprintf("model %q appears twice in one slice; not supported yet", src.Model)}
			}
			inSlice[src.Model] = true
			if needsBase(spec) && src.Model == base {
				continue
			}
			if _, ok := index[src.Model]; !ok {
				index[src.Model] = len(cfg.Models)
				cfg.Models = append(cfg.Models, models[src.Model])
			}
		}
	}
	if spec.Base == merge.BaseRequired && base == "" {
		return &Error{File: r.File, Line: r.Lines["merge_method"], Msg: fmt.Sprintf("method %s needs base_model", spec.Name)}
	}
	if needsBase(spec) && base != "" {
		cfg.Base = models[base]
	}
	all := len(cfg.Models)
	off := 0
	if cfg.Base != nil {
		all++
		off = 1
	}
	res := &resolver{spec: spec, top: r.Parameters, nModels: len(cfg.Models), byTensor: map[string]scope{}}
	res.fallback = func(string, int) scope { return scope{} }
	var layout []merge.TensorMap
	sliceScope := func(sl Slice, t float64) scope {
		sc := scope{slice: sl.Parameters, sources: make([]map[string]*Setting, len(cfg.Models)), t: t}
		for _, src := range sl.Sources {
			if k, ok := index[src.Model]; ok {
				sc.sources[k] = src.Parameters
			}
		}
		return sc
	}
	// inputs gives, for a slice, the source tensor names of one template.
	inputs := func(sl Slice, name string, li int) ([]string, error) {
		in := make([]string, all)
		for _, src := range sl.Sources {
			srcName := name
			if li >= 0 {
				srcName = merge.WithLayer(name, src.LayerRange[0]+li)
			}
			if cfg.Base != nil && src.Model == base {
				in[0] = srcName
			} else {
				in[off+index[src.Model]] = srcName
			}
		}
		if cfg.Base != nil && in[0] == "" && spec.Base == merge.BaseRequired {
			return nil, &Error{File: r.File, Line: sl.Line, Msg: fmt.Sprintf("the base model %q is not a source of this slice", base)}
		}
		return in, nil
	}
	first := models[r.Slices[0].Sources[0].Model]
	// Pre-weights from the first slice, at t = 0.
	var post []string
	for _, name := range first.Names() {
		if merge.LayerIndex(name) >= 0 {
			continue
		}
		if !isPreWeight(name) {
			post = append(post, name)
			continue
		}
		in, err := inputs(r.Slices[0], name, -1)
		if err != nil {
			return err
		}
		layout = append(layout, merge.TensorMap{Out: name, Layer: -1, In: in})
		res.byTensor[name] = sliceScope(r.Slices[0], 0)
	}
	outLayer := 0
	for _, sl := range r.Slices {
		src0 := sl.Sources[0]
		m0 := models[src0.Model]
		n := src0.LayerRange[1] - src0.LayerRange[0]
		for li := 0; li < n; li++ {
			for _, name := range m0.Names() {
				if merge.LayerIndex(name) != src0.LayerRange[0]+li {
					continue
				}
				in, err := inputs(sl, name, li)
				if err != nil {
					return err
				}
				out := merge.WithLayer(name, outLayer)
				layout = append(layout, merge.TensorMap{Out: out, Layer: outLayer, In: in})
				res.byTensor[out] = sliceScope(sl, LayerT(li, n))
			}
			outLayer++
		}
	}
	last := r.Slices[len(r.Slices)-1]
	for _, name := range post {
		in, err := inputs(last, name, -1)
		if err != nil {
			return err
		}
		layout = append(layout, merge.TensorMap{Out: name, Layer: -1, In: in})
		res.byTensor[name] = sliceScope(last, 0)
	}
	cfg.Tensors = layout
	cfg.Params = res
	job.OutLayers = outLayer
	return nil
}

// checkRequired reports a required parameter that no level of the recipe
// gives, before any tensor is read.
func (r *Recipe) checkRequired(spec *merge.MethodSpec, job *Job) error {
	for i := range spec.Params {
		ps := &spec.Params[i]
		if !ps.Required {
			continue
		}
		has := func(m map[string]*Setting) bool {
			if m == nil {
				return false
			}
			for _, n := range append([]string{ps.Name}, ps.Aliases...) {
				if _, ok := m[n]; ok {
					return true
				}
			}
			return false
		}
		if has(r.Parameters) {
			continue
		}
		if !ps.PerModel {
			ok := len(r.Slices) > 0
			for _, sl := range r.Slices {
				ok = ok && has(sl.Parameters)
			}
			if !ok {
				return &Error{File: r.File, Line: r.Lines["merge_method"], Msg: fmt.Sprintf("method %s: missing required parameter %q", spec.Name, ps.Name)}
			}
			continue
		}
		for _, e := range r.Models {
			if job.Config.Base != nil && e.Model == r.BaseModel {
				continue
			}
			if !has(e.Parameters) {
				return &Error{File: r.File, Line: e.Line, Msg: fmt.Sprintf("method %s: missing required parameter %q for model %q", spec.Name, ps.Name, e.Model)}
			}
		}
		for _, sl := range r.Slices {
			if has(sl.Parameters) {
				continue
			}
			for _, src := range sl.Sources {
				if job.Config.Base != nil && (src.Model == r.BaseModel || src.Model == sl.BaseModel) {
					continue
				}
				if !has(src.Parameters) {
					return &Error{File: r.File, Line: src.Line, Msg: fmt.Sprintf("method %s: missing required parameter %q for model %q", spec.Name, ps.Name, src.Model)}
				}
			}
		}
	}
	return nil
}
