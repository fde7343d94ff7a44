package evaluate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/model"
)

// Tokenizer turns text into token ids and ids back into bytes.
type Tokenizer interface {
	// Encode returns the ids of text, without special tokens.
	Encode(text string) ([]int, error)
	// TokenBytes returns the bytes a token stands for (nil for special tokens).
	TokenBytes(id int) []byte
	// Prefix returns the ids put before every sequence (usually BOS).
	Prefix() []int
}

// Options control an evaluation.
type Options struct {
	// Threads is the number of goroutines of the forward pass.
	Threads int
	// Generate adds exact-match accuracy of greedy decoding for
	// prompt/answer records.
	Generate bool
	// MaxTokens, if positive, stops after scoring that many tokens.
	MaxTokens int
	// Context is the window length for text (default: the model's
	// max_position_embeddings, at most 4096); Stride is the step between
	// windows (default: half the context).
	Context, Stride int
	// BatchTokens is the number of tokens per forward pass (default 4096).
	BatchTokens int
	// Progress, if set, receives the number of tokens scored so far.
	Progress func(tokens int64)
}

// Result is the outcome of one evaluation.
type Result struct {
	// Tokens is the number of scored tokens; Loss their mean cross-entropy
	// (nats) and Perplexity e^Loss.
	Tokens     int64   `json:"tokens"`
	Loss       float64 `json:"loss"`
	Perplexity float64 `json:"perplexity"`
	// Records is the number of JSONL records evaluated (0 for text).
	Records int `json:"records,omitempty"`
	// Generated records (prompt/answer with Options.Generate), Correct of
	// them exactly right; Accuracy = Correct/Generated.
	Generated int      `json:"generated,omitempty"`
	Correct   int      `json:"correct,omitempty"`
	Accuracy  *float64 `json:"accuracy,omitempty"`
}

// scorer accumulates token losses in a fixed order.
type scorer struct {
	sum    float64
	tokens int64
}

func (s *scorer) result() Result {
	r := Result{Tokens: s.tokens}
	if s.tokens > 0 {
		r.Loss = s.sum / float64(s.tokens)
		r.Perplexity = math.Exp(r.Loss)
	}
	return r
}

// crossEntropy returns −log softmax(logits)[target], computed in float64.
func crossEntropy(logits []float32, target int) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v))
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s) - float64(logits[target])
}

// argmax returns the index of the largest logit (the first one on ties).
func argmax(logits []float32) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return best
}

// item is one sequence to score: tokens, the first position whose
// prediction counts (targets are tokens[from:]), and for prompt/answer
// records the record index.
type item struct {
	tokens []int
	from   int
	rec    int // index into records, −1 for text windows
}

// scoreItems runs the items in batches of about opts.BatchTokens tokens and
// calls visit with each item's logits rows for positions from−1 … len−2
// (the predictions of tokens[from:]).
func scoreItems(ctx context.Context, r *model.Runner, items []item, opts Options, visit func(it item, logits []float32) error) error {
	vocab := r.Model().Vocab
	batch := opts.BatchTokens
	if batch <= 0 {
		batch = 4096
	}
	const chunk = 256 // rows of logits computed at once
	logits := make([]float32, chunk*vocab)
	for i := 0; i < len(items); {
		if err := ctx.Err(); err != nil {
			return err
		}
		j, n := i, 0
		for j < len(items) && (j == i || n+len(items[j].tokens) <= batch) {
			n += len(items[j].tokens)
			j++
		}
		seqs := make([]model.Seq, j-i)
		for k := range seqs {
			seqs[k].Tokens = items[i+k].tokens
		}
		h, err := r.Forward(ctx, seqs)
		if err != nil {
			return err
		}
		H := r.Model().Hidden
		row := 0
		for _, it := range items[i:j] {
			// Rows predicting tokens[from:] are from−1 … len−2.
			lo, hi := row+it.from-1, row+len(it.tokens)-1
			out := make([]float32, 0, (hi-lo)*vocab)
			for a := lo; a < hi; a += chunk {
				b := min(a+chunk, hi)
				if err := r.Logits(ctx, logits, h[a*H:b*H], b-a); err != nil {
					return err
				}
				out = append(out, logits[:(b-a)*vocab]...)
			}
			if err := visit(it, out); err != nil {
				return err
			}
			row += len(it.tokens)
		}
		i = j
	}
	return nil
}

// contextLen returns the window length for a model.
func contextLen(m *model.Model, opts Options) int {
	c := opts.Context
	if c <= 0 {
		c = m.MaxPositions
		if c <= 0 || c > 4096 {
			c = 4096
		}
	}
	return c
}

// Text evaluates language-model loss over a token sequence (typically a
// whole text file, tokenised with the prefix first) in sliding windows: each
// window is Context tokens long and starts Stride tokens after the previous
// one; it scores only the tokens no earlier window scored, so every token
// after the first is scored once, with up to Context−Stride tokens of
// preceding context.
func Text(ctx context.Context, m *model.Model, tokens []int, opts Options) (Result, error) {
	if opts.MaxTokens > 0 && len(tokens) > opts.MaxTokens+1 {
		tokens = tokens[:opts.MaxTokens+1]
	}
	if len(tokens) < 2 {
		return Result{}, errors.New("the text has fewer than 2 tokens: nothing to score")
	}
	c := contextLen(m, opts)
	if c < 2 {
		return Result{}, fmt.Errorf("context %d is too short", c)
	}
	stride := opts.Stride
	if stride <= 0 {
		stride = max(c/2, 1)
	}
	stride = min(stride, c-1)
	var items []item
	scored := 1 // tokens[0] is never predicted
	for begin := 0; scored < len(tokens); begin += stride {
		end := min(begin+c, len(tokens))
		items = append(items, item{tokens: tokens[begin:end], from: scored - begin, rec: -1})
		scored = end
	}
	var s scorer
	r := m.NewRunner(opts.Threads)
	err := scoreItems(ctx, r, items, opts, func(it item, logits []float32) error {
		V := m.Vocab
		for k, tgt := range it.tokens[it.from:] {
			s.sum += crossEntropy(logits[k*V:(k+1)*V], tgt)
			s.tokens++
		}
		if opts.Progress != nil {
			opts.Progress(s.tokens)
		}
		return nil
	})
	return s.result(), err
}

// Records evaluates JSONL records. Prompt/answer records score the
// cross-entropy of the answer tokens given the prompt (teacher forcing),
// averaged over all answer tokens of all records; with Options.Generate a
// record is correct when greedy decoding from the prompt, for at most
// len(answer ids)+1 new tokens, produces exactly the answer's bytes followed
// by an end-of-sequence token. "ids" records score every token after the
// first. Text fields are tokenised with tok (the prompt after tok.Prefix(),
// the answer followed by the model's first EOS id); token-id fields are used
// as given.
func Records(ctx context.Context, m *model.Model, tok Tokenizer, recs []Record, name string, opts Options) (Result, error) {
	var items []item
	answers := make([][]int, len(recs))
	for i := range recs {
		rec := &recs[i]
		if rec.IDs != nil {
			items = append(items, item{tokens: rec.IDs, from: 1, rec: i})
			continue
		}
		prompt, answer := rec.PromptIDs, rec.AnswerIDs
		if prompt == nil {
			if tok == nil {
				return Result{}, fmt.Errorf("%s:%d: text prompt but the model has no tokenizer: give prompt_ids and answer_ids", name, rec.Line)
			}
			ids, err := tok.Encode(*rec.Prompt)
			if err != nil {
				return Result{}, fmt.Errorf("%s:%d: prompt: %w", name, rec.Line, err)
			}
			prompt = append(append([]int(nil), tok.Prefix()...), ids...)
		}
		if answer == nil {
			if tok == nil {
				return Result{}, fmt.Errorf("%s:%d: text answer but the model has no tokenizer: give answer_ids", name, rec.Line)
			}
			ids, err := tok.Encode(*rec.Answer)
			if err != nil {
				return Result{}, fmt.Errorf("%s:%d: answer: %w", name, rec.Line, err)
			}
			if len(m.EOS) == 0 {
				return Result{}, fmt.Errorf("%s:%d: the model's config.json has no eos_token_id to end the answer", name, rec.Line)
			}
			answer = append(ids, m.EOS[0])
		}
		if len(prompt) == 0 || len(answer) == 0 {
			return Result{}, fmt.Errorf("%s:%d: empty prompt or answer", name, rec.Line)
		}
		answers[i] = answer
		items = append(items, item{tokens: append(append([]int(nil), prompt...), answer...), from: len(prompt), rec: i})
	}
	c := contextLen(m, opts)
	for _, it := range items {
		if len(it.tokens) > c {
			return Result{}, fmt.Errorf("%s:%d: %d tokens exceed the context of %d", name, recs[it.rec].Line, len(it.tokens), c)
		}
		for _, t := range it.tokens {
			if t < 0 || t >= m.Vocab {
				return Result{}, fmt.Errorf("%s:%d: token id %d is outside the vocabulary [0, %d)", name, recs[it.rec].Line, t, m.Vocab)
			}
		}
	}
	if opts.MaxTokens > 0 {
		n := 0
		for k, it := range items {
			n += len(it.tokens) - it.from
			if n > opts.MaxTokens && k > 0 {
				items = items[:k]
				break
			}
		}
	}
	var s scorer
	res := Result{}
	r := m.NewRunner(opts.Threads)
	gen := &generator{m: m, r: m.NewRunner(opts.Threads), tok: tok}
	err := scoreItems(ctx, r, items, opts, func(it item, logits []float32) error {
		V := m.Vocab
		for k, tgt := range it.tokens[it.from:] {
			s.sum += crossEntropy(logits[k*V:(k+1)*V], tgt)
			s.tokens++
		}
		res.Records++
		if opts.Generate && answers[it.rec] != nil {
			ok, err := gen.correct(ctx, it.tokens[:it.from], answers[it.rec], logits)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", name, recs[it.rec].Line, err)
			}
			res.Generated++
			if ok {
				res.Correct++
			}
		}
		if opts.Progress != nil {
			opts.Progress(s.tokens)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	out := s.result()
	out.Records, out.Generated, out.Correct = res.Records, res.Generated, res.Correct
	if res.Generated > 0 {
		a := float64(res.Correct) / float64(res.Generated)
		out.Accuracy = &a
	}
	return out, nil
}
