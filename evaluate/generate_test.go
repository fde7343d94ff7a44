package evaluate

import (
	"context"
	"slices"
	"testing"

	"github.com/gomerge/gomerge/model"
	"github.com/gomerge/gomerge/tokenizer"
)

// naiveGreedy decodes greedily by recomputing the whole sequence at every
// step (no cache, no teacher-forcing shortcut) and applies the testbed's
// rule: correct when the bytes before the first EOS equal the answer's and
// an EOS was produced within len(answer ids)+1 new tokens.
func naiveGreedy(t *testing.T, m *model.Model, prompt, answer []int) bool {
	r := m.NewRunner(1)
	seq := slices.Clone(prompt)
	var out []byte
	for range len(answer) + 1 {
		h, err := r.Forward(context.Background(), []model.Seq{{Tokens: seq}})
		if err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, m.Vocab)
		last := len(seq) - 1
		if err := r.Logits(context.Background(), logits, h[last*m.Hidden:], 1); err != nil {
			t.Fatal(err)
		}
		next := argmax(logits)
		if m.IsEOS(next) {
			var want []byte
			for _, id := range answer {
				if m.IsEOS(id) {
					break
				}
				want = append(want, byte(id))
			}
			return string(out) == string(want)
		}
		out = append(out, byte(next))
		seq = append(seq, next)
	}
	return false
}

// TestGreedyMatchesNaive compares the per-record verdict of Records'
// generation with naive greedy decoding, on records the model gets right
// and wrong, and with the answers' EOS removed (which forces real decoding
// with the cache after the teacher-forced tokens).
func TestGreedyMatchesNaive(t *testing.T) {
	for _, name := range []string{"base", "expert_add"} {
		m := loadModel(t, name)
		recs := readRecords(t, "add")[:24]
		for _, stripEOS := range []bool{false, true} {
			correct := 0
			for _, rec := range recs {
				rec := rec
				if stripEOS {
					rec.AnswerIDs = rec.AnswerIDs[:len(rec.AnswerIDs)-1]
				}
				res, err := Records(context.Background(), m, tokenizer.Bytes{BOS: 256}, []Record{rec}, "add", Options{Threads: 1, Generate: true})
				if err != nil {
					t.Fatal(err)
				}
				full := readRecords(t, "add")[rec.Line-1]
				want := naiveGreedy(t, m, full.PromptIDs, full.AnswerIDs)
				if got := res.Correct == 1; got != want {
					t.Errorf("%s line %d (EOS stripped %v): correct %v, naive greedy %v", name, rec.Line, stripEOS, got, want)
				}
				correct += res.Correct
			}
			t.Logf("%s: %d/%d correct (EOS stripped %v)", name, correct, len(recs), stripEOS)
			if name == "expert_add" && correct < 18 {
				t.Errorf("expert_add: only %d/%d correct", correct, len(recs))
			}
		}
	}
}

// TestTextWindows checks that sliding windows score every token after the
// first exactly once, and that a single window equals an "ids" record.
func TestTextWindows(t *testing.T) {
	m := loadModel(t, "base")
	tok := tokenizer.Bytes{BOS: 256}
	text := "Usage: gomerge eval MODEL --data FILE. The quick brown fox jumps over the lazy dog; key:value=abc.\n"
	ids, _ := tok.Encode(text)
	ids = append([]int{256}, ids...)
	for _, c := range []struct{ ctx, stride int }{{64, 0}, {64, 63}, {16, 5}, {2, 1}} {
		res, err := Text(context.Background(), m, ids, Options{Threads: 2, Context: c.ctx, Stride: c.stride, BatchTokens: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tokens != int64(len(ids)-1) {
			t.Errorf("context %d stride %d: %d tokens scored, want %d", c.ctx, c.stride, res.Tokens, len(ids)-1)
		}
		if !(res.Loss > 0.5 && res.Loss < 6) {
			t.Errorf("context %d: loss %g out of range", c.ctx, res.Loss)
		}
	}
	one, _ := Text(context.Background(), m, ids[:40], Options{})
	rec, _ := Records(context.Background(), m, nil, []Record{{IDs: ids[:40]}}, "x", Options{})
	if one.Loss != rec.Loss || one.Tokens != 39 {
		t.Errorf("one window: loss %g over %d tokens, ids record %g", one.Loss, one.Tokens, rec.Loss)
	}
	// --max-tokens
	lim, _ := Text(context.Background(), m, ids, Options{MaxTokens: 10})
	if lim.Tokens != 10 {
		t.Errorf("MaxTokens 10: %d tokens", lim.Tokens)
	}
}

// TestRecordsThreadsAndTokenizer checks that results are bit-identical for
// any thread count and batch size, and that without a tokenizer the
// generation verdict compares token ids.
func TestRecordsThreadsAndTokenizer(t *testing.T) {
	m := loadModel(t, "expert_rev")
	recs := readRecords(t, "rev")[:60]
	var first Result
	for i, o := range []Options{{Threads: 1, Generate: true}, {Threads: 2, Generate: true, BatchTokens: 50}, {Threads: 3, Generate: true, BatchTokens: 1}} {
		res, err := Records(context.Background(), m, tokenizer.Bytes{BOS: 256}, recs, "rev", o)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res
		} else if res.Loss != first.Loss || res.Correct != first.Correct || res.Tokens != first.Tokens {
			t.Errorf("options %+v: %+v, want %+v", o, res, first)
		}
	}
	noTok, err := Records(context.Background(), m, nil, recs, "rev", Options{Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	if noTok.Correct != first.Correct || noTok.Loss != first.Loss {
		t.Errorf("without tokenizer: %d correct, with: %d", noTok.Correct, first.Correct)
	}
	// A wrong answer must not count, tokenizer or not.
	bad := slices.Clone(recs[:5])
	for i := range bad {
		bad[i].AnswerIDs = append([]int{'z'}, bad[i].AnswerIDs...)
	}
	for _, tok := range []Tokenizer{nil, tokenizer.Bytes{BOS: 256}} {
		res, _ := Records(context.Background(), m, tok, bad, "rev", Options{Generate: true})
		if res.Correct != 0 {
			t.Errorf("tokenizer %v: %d wrong answers counted correct", tok, res.Correct)
		}
	}
}
