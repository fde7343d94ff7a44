package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// BPE is a byte-level BPE tokenizer read from a Hugging Face tokenizer.json.
// It is safe for concurrent use.
type BPE struct {
	vocab        map[string]int // byte-level-encoded token → id
	tokens       map[int][]byte // id → bytes (vocabulary and non-special added tokens)
	special      map[int]bool   // special added tokens (decode to nothing)
	ranks        map[[2]string]int
	added        []addedToken // longest content first
	split        splitter
	nfc          bool
	prefixSpace  bool
	ignoreMerges bool
	prefix       []int

	mu    sync.Mutex
	cache map[string][]int
}

type addedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
	LStrip  bool   `json:"lstrip"`
	RStrip  bool   `json:"rstrip"`
}

type jsonFile struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    *component      `json:"normalizer"`
	PreTokenizer  *component      `json:"pre_tokenizer"`
	PostProcessor *component      `json:"post_processor"`
	Decoder       *component      `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// component is any normalizer, pre-tokenizer, post-processor or decoder.
type component struct {
	Type          string       `json:"type"`
	Normalizers   []*component `json:"normalizers"`
	Pretokenizers []*component `json:"pretokenizers"`
	Processors    []*component `json:"processors"`
	Decoders      []*component `json:"decoders"`
	Pattern       *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior       string `json:"behavior"`
	Invert         bool   `json:"invert"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
	Single         []map[string]struct {
		ID string `json:"id"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

type bpeModel struct {
	Type         string          `json:"type"`
	Vocab        map[string]int  `json:"vocab"`
	Merges       json.RawMessage `json:"merges"`
	IgnoreMerges bool            `json:"ignore_merges"`
	ByteFallback bool            `json:"byte_fallback"`
}

// ReadFile reads a tokenizer.json file.
func ReadFile(path string) (*BPE, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a tokenizer.json document. Only byte-level BPE tokenizers are
// supported: a BPE model, a ByteLevel pre-tokenizer (optionally after a
// Split with the GPT-2, Llama 3 or Qwen2 pattern, or another pattern Go's
// regexp can compile), no normalizer or NFC; anything else is reported as
// not supported yet.
func Parse(data []byte) (*BPE, error) {
	var f jsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid tokenizer.json: %w", err)
	}
	var m bpeModel
	if len(f.Model) == 0 {
		return nil, errors.New("tokenizer.json has no model")
	}
	var kind struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(f.Model, &kind); err != nil {
		return nil, fmt.Errorf("tokenizer.json model: %w", err)
	}
	if kind.Type != "BPE" && kind.Type != "" {
		return nil, fmt.Errorf("tokenizer model type %q is not supported yet (byte-level BPE is)", kind.Type)
	}
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, fmt.Errorf("tokenizer.json model: %w", err)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New("tokenizer.json: empty vocabulary")
	}
	t := &BPE{
		vocab:        m.Vocab,
		tokens:       map[int][]byte{},
		special:      map[int]bool{},
		ranks:        map[[2]string]int{},
		ignoreMerges: m.IgnoreMerges,
		cache:        map[string][]int{},
	}
	if err := t.setPreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := t.setNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if d := f.Decoder; d != nil && d.Type != "ByteLevel" {
		return nil, fmt.Errorf("tokenizer decoder %q is not supported yet (ByteLevel is)", d.Type)
	}
	dec := byteDecoder()
	for tok, id := range m.Vocab {
		b, ok := decodeByteLevel(tok, dec)
		if !ok {
			return nil, fmt.Errorf("tokenizer.json: vocabulary entry %q is not byte-level encoded", tok)
		}
		t.tokens[id] = b
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	for i, p := range merges {
		if _, ok := m.Vocab[p[0]+p[1]]; !ok {
			return nil, fmt.Errorf("tokenizer.json: merge %d (%q %q) makes %q, which is not in the vocabulary", i, p[0], p[1], p[0]+p[1])
		}
		if _, dup := t.ranks[p]; !dup {
			t.ranks[p] = i
		}
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("tokenizer.json: added token %d has no content", a.ID)
		}
		t.added = append(t.added, a)
		if a.Special {
			t.special[a.ID] = true
			delete(t.tokens, a.ID)
		} else {
			t.tokens[a.ID] = []byte(a.Content)
		}
	}
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].Content) > len(t.added[j].Content) })
	t.prefix = templatePrefix(f.PostProcessor)
	return t, nil
}

func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err == nil {
		out := make([][2]string, len(strs))
		for i, s := range strs {
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return nil, fmt.Errorf("tokenizer.json: merge %d %q is not two space-separated tokens", i, s)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("tokenizer.json: merges: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 || p[0] == "" || p[1] == "" {
			return nil, fmt.Errorf("tokenizer.json: merge %d is not a pair of tokens", i)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

func (t *BPE) setNormalizer(c *component) error {
	if c == nil {
		return nil
	}
	switch c.Type {
	case "NFC":
		t.nfc = true
		return nil
	case "Sequence":
		for _, n := range c.Normalizers {
			if err := t.setNormalizer(n); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("tokenizer normalizer %q is not supported yet (none or NFC is)", c.Type)
}

func (t *BPE) setPreTokenizer(c *component) error {
	if c == nil {
		return errors.New("tokenizer.json has no pre_tokenizer: only byte-level BPE is supported yet")
	}
	var parts []*component
	if c.Type == "Sequence" {
		parts = c.Pretokenizers
	} else {
		parts = []*component{c}
	}
	byteLevel := false
	for _, p := range parts {
		switch p.Type {
		case "Split":
			if p.Invert || (p.Behavior != "Isolated" && p.Behavior != "") {
				return fmt.Errorf("tokenizer Split pre-tokenizer with behavior %q/invert is not supported yet", p.Behavior)
			}
			if t.split != nil {
				return errors.New("tokenizer: more than one Split pre-tokenizer is not supported yet")
			}
			if p.Pattern == nil || p.Pattern.Regex == nil {
				return errors.New("tokenizer Split pre-tokenizer without a Regex pattern is not supported yet")
			}
			s, err := splitterForPattern(*p.Pattern.Regex)
			if err != nil {
				return err
			}
			t.split = s
		case "ByteLevel":
			byteLevel = true
			t.prefixSpace = p.AddPrefixSpace
			if p.UseRegex == nil || *p.UseRegex {
				if t.split != nil {
					return errors.New("tokenizer: a Split and a ByteLevel pre-tokenizer that also splits are not supported yet")
				}
				t.split = splitterFor(patternGPT2)
			}
		default:
			return fmt.Errorf("tokenizer pre-tokenizer %q is not supported yet (ByteLevel and Split are)", p.Type)
		}
	}
	if !byteLevel {
		return errors.New("tokenizer has no ByteLevel pre-tokenizer: only byte-level BPE is supported yet")
	}
	if t.split == nil {
		t.split = func(s string) []string { return []string{s} }
	}
	return nil
}

// splitterForPattern returns the hand-written splitter of a known pattern,
// or one built on Go's regexp for patterns it can compile.
func splitterForPattern(p string) (splitter, error) {
	if s := splitterFor(p); s != nil {
		return s, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("tokenizer pre-tokenizer pattern %q is not supported yet: %v", p, err)
	}
	return func(s string) []string {
		var out []string
		last := 0
		for _, loc := range re.FindAllStringIndex(s, -1) {
			if loc[0] > last {
				out = append(out, s[last:loc[0]])
			}
			if loc[1] > loc[0] {
				out = append(out, s[loc[0]:loc[1]])
			}
			last = loc[1]
		}
		if last < len(s) {
			out = append(out, s[last:])
		}
		return out
	}, nil
}

// templatePrefix returns the special-token ids a TemplateProcessing
// post-processor puts before a single sequence.
func templatePrefix(c *component) []int {
	if c == nil {
		return nil
	}
	if c.Type == "Sequence" {
		for _, p := range c.Processors {
			if ids := templatePrefix(p); ids != nil {
				return ids
			}
		}
		return nil
	}
	if c.Type != "TemplateProcessing" {
		return nil
	}
	var ids []int
	for _, item := range c.Single {
		if _, ok := item["Sequence"]; ok {
			break
		}
		if st, ok := item["SpecialToken"]; ok {
			ids = append(ids, c.SpecialTokens[st.ID].IDs...)
		}
	}
	return ids
}

// Prefix returns the ids the tokenizer's post-processor puts before a
// sequence (Llama 3's <|begin_of_text|>; none for GPT-2 and Qwen).
func (t *BPE) Prefix() []int { return t.prefix }

// VocabSize returns one more than the largest token id.
func (t *BPE) VocabSize() int {
	n := 0
	for id := range t.tokens {
		n = max(n, id+1)
	}
	for id := range t.special {
		n = max(n, id+1)
	}
	return n
}

// TokenID returns the id of a vocabulary entry (byte-level encoded) or of
// an added token's content.
func (t *BPE) TokenID(s string) (int, bool) {
	for _, a := range t.added {
		if a.Content == s {
			return a.ID, true
		}
	}
	id, ok := t.vocab[s]
	return id, ok
}

// TokenBytes returns the bytes a token stands for; nil for special tokens
// and unknown ids.
func (t *BPE) TokenBytes(id int) []byte {
	if t.special[id] {
		return nil
	}
	return t.tokens[id]
}

// Decode returns the text of ids, special tokens left out.
func (t *BPE) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		b = append(b, t.TokenBytes(id)...)
	}
	return string(b)
}

// Encode returns the ids of text. Added tokens (special or not) in the text
// are recognised first, longest first; the pieces between them are
// normalised, pre-tokenised and split by BPE. No prefix is added.
func (t *BPE) Encode(text string) ([]int, error) {
	var ids []int
	for len(text) > 0 {
		pos, a := t.nextAdded(text)
		if pos < 0 {
			return t.encodePlain(ids, text)
		}
		before := text[:pos]
		if a.LStrip {
			before = strings.TrimRightFunc(before, isWS)
		}
		var err error
		if ids, err = t.encodePlain(ids, before); err != nil {
			return nil, err
		}
		ids = append(ids, a.ID)
		text = text[pos+len(a.Content):]
		if a.RStrip {
			text = strings.TrimLeftFunc(text, isWS)
		}
	}
	return ids, nil
}

// nextAdded finds the leftmost added token in text, the longest at that position.
func (t *BPE) nextAdded(text string) (int, *addedToken) {
	best, bi := -1, -1
	for i := range t.added {
		p := strings.Index(text, t.added[i].Content)
		if p >= 0 && (best < 0 || p < best) {
			best, bi = p, i
		}
	}
	if bi < 0 {
		return -1, nil
	}
	return best, &t.added[bi] // t.added is sorted longest first, so ties keep the longest
}

func (t *BPE) encodePlain(ids []int, text string) ([]int, error) {
	if text == "" {
		return ids, nil
	}
	if t.nfc {
		text = norm.NFC.String(text)
	}
	if t.prefixSpace && !strings.HasPrefix(text, " ") {
		text = " " + text
	}
	enc := byteEncoder()
	for _, piece := range t.split(text) {
		word := encodeByteLevel(piece, enc)
		t.mu.Lock()
		cached, ok := t.cache[word]
		t.mu.Unlock()
		if !ok {
			var err error
			if cached, err = t.bpe(word); err != nil {
				return nil, err
			}
			t.mu.Lock()
			if len(t.cache) > 1<<16 {
				clear(t.cache)
			}
			t.cache[word] = cached
			t.mu.Unlock()
		}
		ids = append(ids, cached...)
	}
	return ids, nil
}

// bpe splits one byte-level-encoded word into vocabulary ids: starting from
// single characters, it repeatedly merges the adjacent pair of lowest merge
// rank (the leftmost of equal ranks).
func (t *BPE) bpe(word string) ([]int, error) {
	if t.ignoreMerges {
		if id, ok := t.vocab[word]; ok {
			return []int{id}, nil
		}
	}
	var syms []string
	for _, r := range word {
		syms = append(syms, string(r))
	}
	for len(syms) > 1 {
		best, bi := -1, -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[[2]string{syms[i], syms[i+1]}]; ok && (best < 0 || r < best) {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		syms[bi] += syms[bi+1]
		syms = append(syms[:bi+1], syms[bi+2:]...)
	}
	ids := make([]int, len(syms))
	for i, s := range syms {
		id, ok := t.vocab[s]
		if !ok {
			return nil, fmt.Errorf("tokenizer: %q is not in the vocabulary (no unknown token is supported)", s)
		}
		ids[i] = id
	}
	return ids, nil
}
