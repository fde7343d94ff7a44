package recipe

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// Job is a validated recipe document ready to run: the merge configuration
// (with its explicit tensor layout for slices) and what the output
// directory gets besides the tensors.
type Job struct {
	Recipe *Recipe
	Spec   *merge.MethodSpec
	Config *merge.Config
	// Models are every opened model (close with Close).
	Models []*formats.Model
	// Paths are the resolved paths of the models, by reference.
	Paths map[string]string
	// CopyFrom supplies config.json and the tokenizer.
	CopyFrom *formats.Model
	// OutLayers is the output's layer count (0: unchanged).
	OutLayers int
	// Files are written into the output directory (model card, recipe, …).
	Files map[string][]byte
}

// Close closes the job's models.
func (j *Job) Close() {
	for _, m := range j.Models {
		m.Close()
	}
}

// Env is what planning needs from outside the recipe.
type Env struct {
	Registry *merge.Registry
	// Named maps earlier documents' names to their output paths.
	Named map[string]string
	// RecipeDir resolves relative model paths.
	RecipeDir string
	// DType overrides dtype/out_dtype when set.
	DType formats.DType
	Seed  uint64
	// Open opens a model path (formats.Open by default).
	Open func(path string) (*formats.Model, error)
}

// refsOf lists every model reference of the recipe with the line naming it.
func (r *Recipe) refsOf() (refs []string, lines map[string]int) {
	lines = map[string]int{}
	add := func(ref string, line int) {
		if ref == "" {
			return
		}
		if _, ok := lines[ref]; !ok {
			refs = append(refs, ref)
			lines[ref] = line
		}
	}
	add(r.BaseModel, r.Lines["base_model"])
	for _, m := range r.Models {
		add(m.Model, m.Line)
	}
	for _, s := range r.Slices {
		add(s.BaseModel, s.Line)
		for _, src := range s.Sources {
			add(src.Model, src.Line)
		}
	}
	return refs, lines
}

// Plan validates the recipe completely — method, parameters, model
// references, layer ranges, slice lengths, required parameters — reading
// only the models' headers, and builds the job.
func Plan(r *Recipe, env Env) (*Job, error) {
	spec, ok := env.Registry.Lookup(r.MergeMethod)
	if !ok {
		return nil, &Error{File: r.File, Line: r.Lines["merge_method"], Msg: fmt.Sprintf("unknown merge method %q%s", r.MergeMethod, didYouMean(r.MergeMethod, env.Registry.Names()))}
	}
	if err := r.checkParamNames(spec); err != nil {
		return nil, err
	}
	if r.TokenizerSource == "union" {
		return nil, &Error{File: r.File, Line: r.Lines["tokenizer_source"], Msg: "tokenizer_source: union (a merged vocabulary) is not supported yet; use base or a model"}
	}
	outDT := env.DType
	if outDT == "" {
		for _, key := range []string{"out_dtype", "dtype"} {
			v := r.OutDType
			if key == "dtype" {
				v = r.DType
			}
			if v == "" {
				continue
			}
			d, err := formats.ParseDType(v)
			if err != nil || !d.Writable() {
				return nil, &Error{File: r.File, Line: r.Lines[key], Msg: fmt.Sprintf("%s: unsupported dtype %q (bfloat16, float16, float32)", key, v)}
			}
			outDT = d
			break
		}
	}
	open := env.Open
	if open == nil {
		open = formats.Open
	}
	job := &Job{Recipe: r, Spec: spec, Paths: map[string]string{}, Files: map[string][]byte{}}
	refs, lines := r.refsOf()
	models := map[string]*formats.Model{}
	for _, ref := range refs {
		p, err := ResolveRef(ref, env.Named, env.RecipeDir)
		if err != nil {
			job.Close()
			return nil, &Error{File: r.File, Line: lines[ref], Msg: err.Error()}
		}
		m, err := open(p)
		if err != nil {
			job.Close()
			return nil, &Error{File: r.File, Line: lines[ref], Msg: err.Error()}
		}
		job.Paths[ref] = p
		job.Models = append(job.Models, m)
		models[ref] = m
	}
	cfg := &merge.Config{Spec: spec, OutDType: outDT, Seed: env.Seed}
	job.Config = cfg
	var err error
	if r.Slices != nil {
		err = planSlices(r, spec, job, models)
	} else {
		err = planModels(r, spec, job, models)
	}
	if err != nil {
		job.Close()
		return nil, err
	}
	if err := r.checkRequired(spec, job); err != nil {
		job.Close()
		return nil, err
	}
	// Tokenizer and config source.
	donor := r.TokenizerSource
	switch donor {
	case "", "base":
		if cfg.Base != nil {
			job.CopyFrom = cfg.Base
		} else if len(cfg.Models) > 0 {
			job.CopyFrom = cfg.Models[0]
		}
	default:
		m, ok := models[donor]
		if !ok {
			job.Close()
			return nil, &Error{File: r.File, Line: r.Lines["tokenizer_source"], Msg: fmt.Sprintf("tokenizer_source %q is not one of the recipe's models", donor)}
		}
		job.CopyFrom = m
	}
	if err := job.chatTemplate(); err != nil {
		job.Close()
		return nil, err
	}
	job.Files["mergekit_config.yml"] = []byte(r.Text)
	job.Files["README.md"] = modelCard(r, spec)
	return job, nil
}

func (r *Recipe) allParamMaps() []map[string]*Setting {
	out := []map[string]*Setting{r.Parameters}
	for _, m := range r.Models {
		out = append(out, m.Parameters)
	}
	for _, s := range r.Slices {
		out = append(out, s.Parameters)
		for _, src := range s.Sources {
			out = append(out, src.Parameters)
		}
	}
	return out
}

func (r *Recipe) checkParamNames(spec *merge.MethodSpec) error {
	var names []string
	for _, p := range spec.Params {
		names = append(names, p.Name)
		names = append(names, p.Aliases...)
	}
	for _, pm := range r.allParamMaps() {
		keys := make([]string, 0, len(pm))
		for k := range pm {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ps, ok := spec.Param(k)
			if !ok {
				return &Error{File: r.File, Line: pm[k].Line, Msg: fmt.Sprintf("unknown parameter %q for method %s%s", k, spec.Name, didYouMean(k, names))}
			}
			if err := checkKind(ps, pm[k]); err != nil {
				return &Error{File: r.File, Line: pm[k].Line, Msg: fmt.Sprintf("parameter %q: %v", k, err)}
			}
		}
	}
	return nil
}

// checkKind checks the values of a setting against the parameter's type.
func checkKind(ps *merge.ParamSpec, s *Setting) error {
	var vals []any
	switch {
	case s.Conds != nil:
		for _, c := range s.Conds {
			if err := checkKind(ps, &c.Value); err != nil {
				return err
			}
		}
		return nil
	case s.Gradient != nil:
		vals = s.Gradient
	default:
		vals = []any{s.Scalar}
	}
	for _, v := range vals {
		if _, err := convertValue(ps, v); err != nil {
			return err
		}
	}
	return nil
}

// convertValue converts a YAML scalar to the parameter's kind.
func convertValue(ps *merge.ParamSpec, v any) (any, error) {
	switch ps.Kind {
	case merge.Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case float64:
			return x != 0, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("want true or false, got %v", v)
	case merge.String:
		s := fmt.Sprint(v)
		if len(ps.Choices) > 0 {
			for _, c := range ps.Choices {
				if c == s {
					return s, nil
				}
			}
			return nil, fmt.Errorf("want one of %s, got %q", strings.Join(ps.Choices, ", "), s)
		}
		return s, nil
	default:
		switch x := v.(type) {
		case float64:
			return x, nil
		case bool:
			if x {
				return 1.0, nil
			}
			return 0.0, nil
		}
		return nil, fmt.Errorf("want a number, got %v", v)
	}
}

// isPreWeight tells embeddings (before the layer stack) from post weights
// (final norm, lm_head).
func isPreWeight(name string) bool {
	return strings.Contains(name, "embed_tokens") || strings.Contains(name, "wte") || strings.Contains(name, "wpe") ||
		strings.Contains(name, "word_embeddings") || strings.Contains(name, "embed_in")
}
