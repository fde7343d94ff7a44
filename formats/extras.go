package formats

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// ModelFiles are the files besides the weights that a directory output
// carries over from its reference model.
var ModelFiles = []string{
	"config.json", "generation_config.json",
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
	"chat_template.jinja", "chat_template.json", "video_preprocessor_config.json",
}

// CopyModelFiles schedules the reference model's config.json (with
// torch_dtype set to dtype and then passed to edit, if non-nil),
// generation_config.json and tokenizer files for writing into w.
func CopyModelFiles(w *Writer, from *Model, dtype DType, edit func(map[string]any)) error {
	if from == nil || from.Dir == "" {
		return nil
	}
	for _, name := range ModelFiles {
		data, err := from.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if name == "config.json" {
			data, err = EditJSON(data, func(cfg map[string]any) {
				if dtype != "" {
					cfg["torch_dtype"] = dtype.TorchName()
				}
				if edit != nil {
					edit(cfg)
				}
			})
			if err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(from.Dir, name), err)
			}
		}
		w.AddFile(name, data)
	}
	return nil
}

// EditJSON applies edit to a JSON object document (config.json,
// tokenizer_config.json) and re-encodes it indented, without escaping <, >
// and &. Numbers reach edit as float64, as with json.Unmarshal, except
// integers too large for a float64 to hold exactly, which stay json.Number
// so that they are written back unchanged. Keys come out sorted.
func EditJSON(data []byte, edit func(map[string]any)) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var cfg map[string]any
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if cfg == nil {
		return nil, errors.New("not a JSON object")
	}
	for k, v := range cfg {
		cfg[k] = plainNumbers(v)
	}
	edit(cfg)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(cfg); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// plainNumbers replaces json.Number values in v by float64 where that loses
// nothing.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x
		}
		if !strings.ContainsAny(string(x), ".eE") && strconv.FormatFloat(f, 'f', -1, 64) != string(x) {
			return x // an integer beyond 2^53
		}
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plainNumbers(e)
		}
	}
	return v
}
