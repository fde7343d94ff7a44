package tokenizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/tokenizer/tokenizer.json")

const fixturePath = "../testdata/tokenizer/tokenizer.json"

// fixtureMerges are the fixture's merges in rank order; merge i creates
// token 256+i.
var fixtureMerges = []string{
	"Ġ t",    // 256 Ġt
	"h e",    // 257 he
	"Ġt he",  // 258 Ġthe
	"i n",    // 259 in
	"Ġ a",    // 260 Ġa
	"e r",    // 261 er
	"in g",   // 262 ing
	"1 2",    // 263 12
	"Ċ Ċ",    // 264 ĊĊ
	"l o",    // 265 lo
	"lo w",   // 266 low
	"low er", // 267 lower
	"Ġ low",  // 268 Ġlow
}

// fixture builds the generated tokenizer.json: the 256 byte tokens (id =
// byte value), the merges above, two special tokens <|bos|> (269) and
// <|eos|> (270), a non-special added token <tool> (271), Llama 3's
// pre-tokeniser and a template that puts <|bos|> first.
func fixture() []byte {
	enc := byteEncoder()
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(enc[b])] = b
	}
	for i, m := range fixtureMerges {
		a, b, _ := bytes.Cut([]byte(m), []byte(" "))
		vocab[string(a)+string(b)] = 256 + i
	}
	doc := map[string]any{
		"version":    "1.0",
		"truncation": nil,
		"padding":    nil,
		"added_tokens": []map[string]any{
			{"id": 269, "content": "<|bos|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			{"id": 270, "content": "<|eos|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
			{"id": 271, "content": "<tool>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": false},
		},
		"normalizer": nil,
		"pre_tokenizer": map[string]any{
			"type": "Sequence",
			"pretokenizers": []map[string]any{
				{"type": "Split", "pattern": map[string]any{"Regex": patternLlama3}, "behavior": "Isolated", "invert": false},
				{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
			},
		},
		"post_processor": map[string]any{
			"type": "TemplateProcessing",
			"single": []map[string]any{
				{"SpecialToken": map[string]any{"id": "<|bos|>", "type_id": 0}},
				{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			},
			"pair": []map[string]any{},
			"special_tokens": map[string]any{
				"<|bos|>": map[string]any{"id": "<|bos|>", "ids": []int{269}, "tokens": []string{"<|bos|>"}},
			},
		},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": fixtureMerges,
		},
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(out, '\n')
}

// TestFixtureUpToDate checks the committed fixture is what fixture()
// generates (go test -update rewrites it).
func TestFixtureUpToDate(t *testing.T) {
	want := fixture()
	if *update {
		if err := os.WriteFile(fixturePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./tokenizer -run Fixture -update", fixturePath)
	}
}
