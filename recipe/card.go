package recipe

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// Chat templates for mergekit's named chat_template values.
var chatTemplates = map[string]string{
	"chatml": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
	"llama3": "{% set loop_messages = messages %}{% for message in loop_messages %}" +
		"{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}" +
		"{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}" +
		"{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
	"alpaca": "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}" +
		"{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}" +
		"{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] + eos_token + '\\n\\n' }}{% endif %}{% endfor %}" +
		"{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}",
	"mistral": "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
		"{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}",
}

// chatTemplate writes chat_template into the output's tokenizer_config.json.
func (j *Job) chatTemplate() error {
	ct := j.Recipe.ChatTemplate
	if ct == "" || ct == "auto" {
		// auto: keep the tokenizer source's template.
		return nil
	}
	tmpl, ok := chatTemplates[ct]
	if !ok {
		if !strings.Contains(ct, "{") || len(ct) < 20 {
			return &Error{File: j.Recipe.File, Line: j.Recipe.Lines["chat_template"], Msg: fmt.Sprintf("chat_template %q is neither a known template (auto, chatml, llama3, alpaca, mistral) nor a Jinja template", ct)}
		}
		tmpl = ct
	}
	data := []byte("{}")
	if j.CopyFrom != nil {
		d, err := j.CopyFrom.ReadFile("tokenizer_config.json")
		if err == nil {
			data = d
		} else if !os.IsNotExist(err) {
			return err
		}
	}
	out, err := formats.EditJSON(data, func(cfg map[string]any) { cfg["chat_template"] = tmpl })
	if err != nil {
		return fmt.Errorf("%s/tokenizer_config.json: %w", j.CopyFrom.Dir, err)
	}
	j.Files["tokenizer_config.json"] = out
	return nil
}

// modelCard writes mergekit's README.md model card with gomerge's tags.
func modelCard(r *Recipe, spec *merge.MethodSpec) []byte {
	refs, _ := r.refsOf()
	var b bytes.Buffer
	b.WriteString("---\nbase_model:\n")
	for _, ref := range refs {
		fmt.Fprintf(&b, "- %s\n", ref)
	}
	b.WriteString("library_name: transformers\ntags:\n- merge\n- gomerge\n---\n")
	name := r.Name
	if name == "" {
		name = "merged model"
	}
	fmt.Fprintf(&b, "# %s\n\nThis is a merge of pre-trained language models created with gomerge.\n\n", name)
	b.WriteString("## Merge Details\n### Merge Method\n\n")
	fmt.Fprintf(&b, "This model was merged using the %s merge method", spec.Name)
	if r.BaseModel != "" {
		fmt.Fprintf(&b, " using %s as a base", r.BaseModel)
	}
	b.WriteString(".\n")
	if spec.Summary != "" {
		fmt.Fprintf(&b, "\n%s\n", spec.Summary)
	}
	b.WriteString("\n### Models Merged\n\nThe following models were included in the merge:\n")
	for _, ref := range refs {
		if ref != r.BaseModel {
			fmt.Fprintf(&b, "* %s\n", ref)
		}
	}
	b.WriteString("\n### Configuration\n\nThe following YAML configuration was used to produce this model:\n\n```yaml\n")
	b.WriteString(strings.TrimRight(r.Text, "\n"))
	b.WriteString("\n```\n")
	return b.Bytes()
}
