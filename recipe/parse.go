package recipe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Recipe is one mergekit YAML document.
type Recipe struct {
	// Name is the document's name (multi-document recipes).
	Name        string
	MergeMethod string
	// BaseModel is the base model reference ("" for none).
	BaseModel string
	Models    []ModelEntry
	Slices    []Slice
	// Parameters are the top-level parameters.
	Parameters      map[string]*Setting
	DType           string
	OutDType        string
	TokenizerSource string
	ChatTemplate    string
	// Text is the document's YAML source (written as mergekit_config.yml).
	Text string
	// File names the recipe in errors; Lines maps keys to lines.
	File  string
	Lines map[string]int
}

// ModelEntry is one entry of `models:`.
type ModelEntry struct {
	Model      string
	Parameters map[string]*Setting
	Line       int
}

// Slice is one entry of `slices:`.
type Slice struct {
	Sources    []Source
	BaseModel  string
	Parameters map[string]*Setting
	Line       int
}

// Source is one source of a slice.
type Source struct {
	Model      string
	LayerRange [2]int
	Parameters map[string]*Setting
	Line       int
}

// Error is a recipe error with its position.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func errAt(file string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

var topKeys = []string{"name", "merge_method", "base_model", "models", "slices", "modules", "parameters",
	"dtype", "out_dtype", "tokenizer_source", "tokenizer", "chat_template"}

// Parse reads every document of a (possibly multi-document) recipe.
func Parse(data []byte, file string) ([]*Recipe, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Recipe
	texts := splitDocuments(data)
	for i := 0; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not valid YAML: %w", file, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		r, err := parseDoc(doc.Content[0], file)
		if err != nil {
			return nil, err
		}
		if i < len(texts) {
			r.Text = texts[i]
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: empty recipe", file)
	}
	if len(out) > 1 {
		seen := map[string]bool{}
		for _, r := range out {
			if r.Name == "" {
				return nil, &Error{File: file, Line: r.Lines["merge_method"], Msg: "every document of a multi-document recipe needs a name:"}
			}
			if seen[r.Name] {
				return nil, &Error{File: file, Line: r.Lines["name"], Msg: fmt.Sprintf("document name %q is used twice", r.Name)}
			}
			seen[r.Name] = true
		}
	}
	return out, nil
}

// splitDocuments returns each document's text (split on "---" lines).
func splitDocuments(data []byte) []string {
	var docs []string
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if t := bytes.TrimRight(line, " \t\r\n"); bytes.Equal(t, []byte("---")) {
			if len(bytes.TrimSpace(cur.Bytes())) > 0 {
				docs = append(docs, cur.String())
			}
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	if len(bytes.TrimSpace(cur.Bytes())) > 0 {
		docs = append(docs, cur.String())
	}
	return docs
}

func parseDoc(n *yaml.Node, file string) (*Recipe, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(file, n, "a recipe is a mapping of keys (merge_method, models, …)")
	}
	r := &Recipe{File: file, Lines: map[string]int{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		r.Lines[k.Value] = k.Line
		var err error
		switch k.Value {
		case "name":
			r.Name, err = scalarString(file, v)
		case "merge_method":
			r.MergeMethod, err = scalarString(file, v)
		case "base_model":
			r.BaseModel, err = modelRef(file, v)
		case "models":
			r.Models, err = parseModels(file, v)
		case "slices":
			r.Slices, err = parseSlices(file, v)
		case "parameters":
			r.Parameters, err = parseParams(file, v)
		case "dtype":
			r.DType, err = scalarString(file, v)
		case "out_dtype":
			r.OutDType, err = scalarString(file, v)
		case "tokenizer_source":
			r.TokenizerSource, err = scalarString(file, v)
		case "chat_template":
			r.ChatTemplate, err = scalarString(file, v)
		case "modules":
			err = errAt(file, k, "modules: (multi-module recipes) is not supported yet")
		case "tokenizer":
			err = errAt(file, k, "tokenizer: (building a merged vocabulary) is not supported yet; use tokenizer_source: base or a model")
		default:
			err = errAt(file, k, "unknown key %q%s", k.Value, didYouMean(k.Value, topKeys))
		}
		if err != nil {
			return nil, err
		}
	}
	if r.MergeMethod == "" {
		return nil, errAt(file, n, "merge_method is required")
	}
	if r.Models != nil && r.Slices != nil {
		return nil, &Error{File: file, Line: r.Lines["slices"], Msg: "give either models: or slices:, not both"}
	}
	if r.Models == nil && r.Slices == nil {
		return nil, errAt(file, n, "the recipe needs models: or slices:")
	}
	return r, nil
}

func scalarString(file string, n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(file, n, "expected a single value")
	}
	return n.Value, nil
}

// modelRef accepts a string or the dict form {model: …}.
func modelRef(file string, n *yaml.Node) (string, error) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "model" {
				return scalarString(file, n.Content[i+1])
			}
		}
		return "", errAt(file, n, "model reference without model:")
	}
	return scalarString(file, n)
}

func parseModels(file string, n *yaml.Node) ([]ModelEntry, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(file, n, "models: must be a list")
	}
	var out []ModelEntry
	for _, e := range n.Content {
		me := ModelEntry{Line: e.Line}
		if e.Kind == yaml.ScalarNode {
			me.Model = e.Value
			out = append(out, me)
			continue
		}
		if e.Kind != yaml.MappingNode {
			return nil, errAt(file, e, "a models: entry is {model: …, parameters: …}")
		}
		for i := 0; i+1 < len(e.Content); i += 2 {
			k, v := e.Content[i], e.Content[i+1]
			var err error
			switch k.Value {
			case "model":
				me.Model, err = modelRef(file, v)
			case "parameters":
				me.Parameters, err = parseParams(file, v)
			default:
				err = errAt(file, k, "unknown key %q in a models: entry%s", k.Value, didYouMean(k.Value, []string{"model", "parameters"}))
			}
			if err != nil {
				return nil, err
			}
		}
		if me.Model == "" {
			return nil, errAt(file, e, "models: entry without model:")
		}
		out = append(out, me)
	}
	return out, nil
}

func parseSlices(file string, n *yaml.Node) ([]Slice, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(file, n, "slices: must be a list")
	}
	var out []Slice
	for _, e := range n.Content {
		if e.Kind != yaml.MappingNode {
			return nil, errAt(file, e, "a slice is {sources: […], parameters: …}")
		}
		sl := Slice{Line: e.Line}
		for i := 0; i+1 < len(e.Content); i += 2 {
			k, v := e.Content[i], e.Content[i+1]
			var err error
			switch k.Value {
			case "sources":
				sl.Sources, err = parseSources(file, v)
			case "base_model":
				sl.BaseModel, err = modelRef(file, v)
			case "parameters":
				sl.Parameters, err = parseParams(file, v)
			case "residual_weight":
				// Parsed but unused by mergekit too.
			default:
				err = errAt(file, k, "unknown key %q in a slice%s", k.Value, didYouMean(k.Value, []string{"sources", "base_model", "parameters", "residual_weight"}))
			}
			if err != nil {
				return nil, err
			}
		}
		if len(sl.Sources) == 0 {
			return nil, errAt(file, e, "a slice needs sources:")
		}
		out = append(out, sl)
	}
	return out, nil
}

func parseSources(file string, n *yaml.Node) ([]Source, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(file, n, "sources: must be a list")
	}
	var out []Source
	for _, e := range n.Content {
		if e.Kind != yaml.MappingNode {
			return nil, errAt(file, e, "a source is {model: …, layer_range: [start, end]}")
		}
		s := Source{Line: e.Line, LayerRange: [2]int{-1, -1}}
		for i := 0; i+1 < len(e.Content); i += 2 {
			k, v := e.Content[i], e.Content[i+1]
			var err error
			switch k.Value {
			case "model":
				s.Model, err = modelRef(file, v)
			case "layer_range":
				if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
					return nil, errAt(file, v, "layer_range is [start, end]")
				}
				for j := 0; j < 2; j++ {
					x, perr := strconv.Atoi(v.Content[j].Value)
					if perr != nil {
						return nil, errAt(file, v.Content[j], "layer_range values are whole numbers, got %q", v.Content[j].Value)
					}
					s.LayerRange[j] = x
				}
			case "parameters":
				s.Parameters, err = parseParams(file, v)
			default:
				err = errAt(file, k, "unknown key %q in a slice source%s", k.Value, didYouMean(k.Value, []string{"model", "layer_range", "parameters"}))
			}
			if err != nil {
				return nil, err
			}
		}
		if s.Model == "" {
			return nil, errAt(file, e, "slice source without model:")
		}
		if s.LayerRange[0] < 0 {
			return nil, errAt(file, e, "slice source without layer_range:")
		}
		if s.LayerRange[1] <= s.LayerRange[0] {
			return nil, errAt(file, e, "layer_range [%d, %d] is empty or reversed", s.LayerRange[0], s.LayerRange[1])
		}
		out = append(out, s)
	}
	return out, nil
}

func parseParams(file string, n *yaml.Node) (map[string]*Setting, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errAt(file, n, "parameters: must be a mapping of names to values")
	}
	out := map[string]*Setting{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, err := parseSetting(file, v)
		if err != nil {
			return nil, err
		}
		s.Line = k.Line
		out[k.Value] = s
	}
	return out, nil
}

func scalarValue(n *yaml.Node) any {
	switch n.Tag {
	case "!!bool":
		b, _ := strconv.ParseBool(n.Value)
		if n.Value == "yes" || n.Value == "on" {
			b = true
		}
		return b
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(n.Value, 64)
		if err == nil {
			return f
		}
	case "!!null":
		return nil
	}
	switch n.Value {
	case "true", "True":
		return true
	case "false", "False":
		return false
	}
	return n.Value
}

func parseSetting(file string, n *yaml.Node) (*Setting, error) {
	s := &Setting{Line: n.Line}
	switch n.Kind {
	case yaml.ScalarNode:
		s.Scalar = scalarValue(n)
		return s, nil
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, errAt(file, n, "empty list")
		}
		if n.Content[0].Kind == yaml.MappingNode {
			for _, e := range n.Content {
				if e.Kind != yaml.MappingNode {
					return nil, errAt(file, e, "mix of conditions and plain values")
				}
				var c Cond
				hasValue := false
				for i := 0; i+1 < len(e.Content); i += 2 {
					k, v := e.Content[i], e.Content[i+1]
					switch k.Value {
					case "filter":
						c.Filter = v.Value
					case "value":
						vs, err := parseSetting(file, v)
						if err != nil {
							return nil, err
						}
						if vs.Conds != nil {
							return nil, errAt(file, v, "conditions cannot nest")
						}
						c.Value = *vs
						hasValue = true
					default:
						return nil, errAt(file, k, "unknown key %q in a condition%s", k.Value, didYouMean(k.Value, []string{"filter", "value"}))
					}
				}
				if !hasValue {
					return nil, errAt(file, e, "condition without value:")
				}
				s.Conds = append(s.Conds, c)
			}
			return s, nil
		}
		for _, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return nil, errAt(file, e, "a gradient is a list of values")
			}
			s.Gradient = append(s.Gradient, scalarValue(e))
		}
		return s, nil
	}
	return nil, errAt(file, n, "a parameter is a value, a list of values (gradient) or a list of {filter, value}")
}

// didYouMean suggests the closest candidate within edit distance 2 (or 3
// for long names).
func didYouMean(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if best != "" && bestD <= limit {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
