package evaluate

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/model"
)

// writeBPEModel writes a small random Llama checkpoint whose vocabulary is
// the tokenizer fixture's (272 ids; EOS 270) with the fixture as its
// tokenizer.json.
func writeBPEModel(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bpe-model")
	const H, I, V, L = 32, 48, 272, 2
	cfg := map[string]any{"model_type": "llama", "hidden_size": H, "intermediate_size": I, "num_hidden_layers": L,
		"num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": V, "max_position_embeddings": 32,
		"tie_word_embeddings": true, "bos_token_id": 269, "eos_token_id": 270}
	specs := []formats.TensorSpec{{Name: "model.embed_tokens.weight", Shape: []int64{V, H}}, {Name: "model.norm.weight", Shape: []int64{H}}}
	for i := 0; i < L; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		for _, s := range []struct {
			n     string
			shape []int64
		}{{"input_layernorm.weight", []int64{H}}, {"post_attention_layernorm.weight", []int64{H}},
			{"self_attn.q_proj.weight", []int64{H, H}}, {"self_attn.k_proj.weight", []int64{H / 2, H}},
			{"self_attn.v_proj.weight", []int64{H / 2, H}}, {"self_attn.o_proj.weight", []int64{H, H}},
			{"mlp.gate_proj.weight", []int64{I, H}}, {"mlp.up_proj.weight", []int64{I, H}}, {"mlp.down_proj.weight", []int64{H, I}}} {
			specs = append(specs, formats.TensorSpec{Name: p + s.n, Shape: s.shape})
		}
	}
	for i := range specs {
		specs[i].DType = formats.BF16
	}
	w, err := formats.Create(dir, specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range specs {
		n := s.Shape[0]
		if len(s.Shape) == 2 {
			n *= s.Shape[1]
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(0.3 * r.NormFloat64())
			if len(s.Shape) == 1 {
				v[i] = 1
			}
		}
		if _, err := w.WriteFloat32(s.Name, 0, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	cj, _ := json.Marshal(cfg)
	w.AddFile("config.json", cj)
	tj, err := os.ReadFile("../testdata/tokenizer/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	w.AddFile("tokenizer.json", tj)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTokenizedRecords checks that text records are tokenised with the
// model's tokenizer.json, the template's BOS first and EOS after the
// answer, by comparing with the same records given as ids worked out by
// hand from the fixture (see tokenizer.TestEncodeHandChecked).
func TestTokenizedRecords(t *testing.T) {
	dir := writeBPEModel(t)
	text := `{"prompt": "the lower", "answer": " the"}` + "\n" + `{"prompt": "12345", "answer": "<tool> x"}` + "\n"
	ids := `{"prompt_ids": [269, 116, 257, 32, 267], "answer_ids": [258, 270]}` + "\n" +
		`{"prompt_ids": [269, 263, 51, 52, 53], "answer_ids": [271, 32, 120, 270]}` + "\n"
	src, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m, err := model.Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := TokenizerFor(src, &m.Config)
	if err != nil {
		t.Fatal(err)
	}
	var res [2]Result
	for i, doc := range []string{text, ids} {
		recs, err := ReadJSONL(strings.NewReader(doc), "x.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		if res[i], err = Records(context.Background(), m, tok, recs, "x.jsonl", Options{Generate: true}); err != nil {
			t.Fatal(err)
		}
	}
	if res[0].Loss != res[1].Loss || res[0].Tokens != 6 || res[1].Tokens != 6 || res[0].Correct != res[1].Correct {
		t.Errorf("text records %+v, id records %+v: want identical, 6 tokens", res[0], res[1])
	}
	// Text through the same tokenizer: BOS + tokens, all scored but the first.
	rows, err := Run(context.Background(), []*formats.Model{src}, []Dataset{{Path: writeTemp(t, "the lower 12345"), Format: "text"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// [269] + "the" [116 257] + " lower" [32 267] + " " [32] + "123" [263 51]
	// + "45" [52 53]: 10 ids, all scored but the first.
	if rows[0].Tokens != 9 {
		t.Errorf("text: %d tokens scored, want 9", rows[0].Tokens)
	}
}

func writeTemp(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "doc.txt")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(`{"prompt": "add:1+2=", "answer": "3"}` + "\n" + `{"ids": [1, 2, 3]}`))
	f.Add([]byte(`{"prompt_ids": [256, 97], "answer_ids": [98, 257]}`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := ReadJSONL(strings.NewReader(string(data)), "f.jsonl")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.jsonl") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, r := range recs {
			if r.IDs == nil && !r.hasAnswer() || r.IDs != nil && len(r.IDs) < 2 || r.Line < 1 {
				t.Fatalf("accepted record %+v", r)
			}
		}
	})
}

// TestUnsupportedTokenizer checks that a tokenizer.json gomerge cannot read
// stops text evaluation with its reason but not token-id records.
func TestUnsupportedTokenizer(t *testing.T) {
	dir := writeBPEModel(t)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": {"type": "Unigram", "vocab": [["a", 0]]}}`), 0o644)
	src, err := formats.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ids := filepath.Join(t.TempDir(), "ids.jsonl")
	os.WriteFile(ids, []byte(`{"prompt_ids": [269, 116], "answer_ids": [257, 270]}`+"\n"), 0o644)
	rows, err := Run(context.Background(), []*formats.Model{src}, []Dataset{{Path: ids}}, Options{Generate: true})
	if err != nil || len(rows) != 1 || rows[0].Tokens != 2 || rows[0].Generated != 1 {
		t.Fatalf("ids records: %+v, %v", rows, err)
	}
	_, err = Run(context.Background(), []*formats.Model{src}, []Dataset{{Path: writeTemp(t, "text"), Format: "text"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "needs the tokenizer") || !strings.Contains(err.Error(), `"Unigram" is not supported yet`) {
		t.Errorf("text with an unsupported tokenizer: %v", err)
	}
}
