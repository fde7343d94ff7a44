package merge

import (
	"fmt"
	"sort"
	"strings"
)

// Params holds resolved parameter values by name: float64, bool or string.
type Params map[string]any

// Float returns the named number, def when it is absent. A bool reads as 0 or 1.
func (p Params) Float(name string, def float64) float64 {
	switch v := p[name].(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case bool:
		if v {
			return 1
		}
		return 0
	}
	return def
}

// Bool returns the named flag, def when it is absent. A number reads as true
// when it is non-zero.
func (p Params) Bool(name string, def bool) bool {
	switch v := p[name].(type) {
	case bool:
		return v
	case float64:
		return v != 0
	case int:
		return v != 0
	}
	return def
}

// String returns the named string, def when it is absent.
func (p Params) String(name, def string) string {
	if v, ok := p[name].(string); ok {
		return v
	}
	return def
}

// Has reports whether the parameter is set.
func (p Params) Has(name string) bool { _, ok := p[name]; return ok }

// Clone returns a shallow copy.
func (p Params) Clone() Params {
	out := make(Params, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// Format renders the parameters as "a=1 b=true" in name order.
func (p Params) Format() string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%v", k, p[k])
	}
	return b.String()
}

// ParamKind is the type of a parameter.
type ParamKind int

// Parameter kinds.
const (
	Float ParamKind = iota
	Bool
	String
	Int
)

// ParamSpec declares one parameter of a method.
type ParamSpec struct {
	// Name as in mergekit recipes (snake_case).
	Name string
	// Aliases are other accepted names (e.g. "above_average_value_ratio").
	Aliases []string
	Kind    ParamKind
	// Default is used when the parameter is not given (nil: no default).
	Default any
	// Required parameters have no default and must be given.
	Required bool
	// PerModel parameters may differ per input model (weight, density …).
	PerModel bool
	// Choices lists the accepted values of a String parameter.
	Choices []string
	// Help is one line for --help.
	Help string
}

// BaseUse says how a method uses a base model.
type BaseUse int

// How a method uses the base model.
const (
	// BaseNone: the method combines the models only; a base is just another input.
	BaseNone BaseUse = iota
	// BaseRequired: the method needs a base (task vectors, t=0 endpoint …).
	BaseRequired
	// BaseOptional: with a base the method works on task vectors.
	BaseOptional
)

// MethodSpec describes a merge method to the engine, the CLI and recipes.
type MethodSpec struct {
	// Name is the mergekit YAML name ("task_arithmetic").
	Name string
	// Aliases are other names (kebab-case CLI names, short forms).
	Aliases []string
	// Summary is one line; Long explains the method, its paper and an example.
	Summary, Long string
	Base          BaseUse
	// MinModels and MaxModels bound the number of models besides the base
	// (MaxModels 0: no limit).
	MinModels, MaxModels int
	Params               []ParamSpec
	// TaskVector methods crop mismatched token embeddings to the base's
	// shape; the others use the common sub-matrix of all inputs.
	TaskVector bool
	// New validates the global parameters and returns the method. It is
	// called before any tensor is read.
	New func(global Params) (Method, error)
}

// Param returns the spec of a parameter by name or alias.
func (s *MethodSpec) Param(name string) (*ParamSpec, bool) {
	for i := range s.Params {
		p := &s.Params[i]
		if p.Name == name {
			return p, true
		}
		for _, a := range p.Aliases {
			if a == name {
				return p, true
			}
		}
	}
	return nil, false
}

// WithDefaults returns p completed with the defaults of the parameters of
// the given scope (per-model or global) and checks required ones; what names
// the place in error messages.
func (s *MethodSpec) WithDefaults(p Params, perModel bool, what string) (Params, error) {
	out := Params{}
	for k, v := range p {
		if ps, ok := s.Param(k); ok {
			out[ps.Name] = v
		} else {
			out[k] = v
		}
	}
	for _, ps := range s.Params {
		if ps.PerModel != perModel {
			continue
		}
		if _, ok := out[ps.Name]; ok {
			continue
		}
		if ps.Required {
			return nil, fmt.Errorf("%s: missing required parameter %q of method %s", what, ps.Name, s.Name)
		}
		if ps.Default != nil {
			out[ps.Name] = ps.Default
		}
	}
	return out, nil
}

// Registry holds the methods the program knows.
type Registry struct {
	specs []*MethodSpec
	by    map[string]*MethodSpec
}

// NewRegistry returns a registry of the given methods.
func NewRegistry(specs ...*MethodSpec) *Registry {
	r := &Registry{by: map[string]*MethodSpec{}}
	for _, s := range specs {
		r.Add(s)
	}
	return r
}

// Add registers a method under its name and aliases.
func (r *Registry) Add(s *MethodSpec) {
	r.specs = append(r.specs, s)
	r.by[s.Name] = s
	for _, a := range s.Aliases {
		r.by[a] = s
	}
}

// Lookup finds a method by name or alias; '-' and '_' are interchangeable.
func (r *Registry) Lookup(name string) (*MethodSpec, bool) {
	if s, ok := r.by[name]; ok {
		return s, true
	}
	s, ok := r.by[strings.ReplaceAll(name, "-", "_")]
	return s, ok
}

// Methods returns the registered methods in registration order.
func (r *Registry) Methods() []*MethodSpec { return r.specs }

// Names returns every accepted name, for "did you mean" suggestions.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.by))
	for n := range r.by {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
