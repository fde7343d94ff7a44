package formats

import (
	"encoding/json"
	"fmt"
	"os"
)

// ModelFiles are the files besides the weights that a directory output
// carries over from its reference model.
var ModelFiles = []string{
	"config.json", "generation_config.json",
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
	"chat_template.jinja", "chat_template.json",
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
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if name == "config.json" {
			var cfg map[string]any
			if err := json.Unmarshal(data, &cfg); err != nil {
				return fmt.Errorf("%s/config.json: %w", from.Dir, err)
			}
			if dtype != "" {
				cfg["torch_dtype"] = dtype.TorchName()
			}
			if edit != nil {
				edit(cfg)
			}
			data, err = json.MarshalIndent(cfg, "", "  ")
			if err != nil {
				return err
			}
			data = append(data, '\n')
		}
		w.AddFile(name, data)
	}
	return nil
}
