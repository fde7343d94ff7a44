package evaluate

import (
	"bytes"
	"context"

	"github.com/gomerge/gomerge/model"
)

// generator checks greedy decoding against an expected answer.
type generator struct {
	m   *model.Model
	r   *model.Runner
	tok Tokenizer
}

// bytesOf returns the bytes of ids; without a tokenizer, each id stands
// for itself as 4 big-endian bytes, so outputs compare id by id.
func (g *generator) bytesOf(ids []int) []byte {
	var b []byte
	for _, id := range ids {
		if g.tok != nil {
			b = append(b, g.tok.TokenBytes(id)...)
		} else {
			b = append(b, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
		}
	}
	return b
}

// correct reports whether greedy decoding from prompt, for at most
// len(answer)+1 new tokens, yields the bytes of answer's tokens before its
// first EOS followed by an EOS. logits are the teacher-forced predictions
// of answer's tokens (len(answer) rows). While greedy decoding agrees with
// the answer's tokens those rows are exactly the decoding steps, so decoding
// runs the model only from the first disagreement on, and stops as soon as
// the output can no longer match.
func (g *generator) correct(ctx context.Context, prompt, answer []int, logits []float32) (bool, error) {
	V := g.m.Vocab
	want := answer
	for i, id := range answer {
		if g.m.IsEOS(id) {
			want = answer[:i]
			break
		}
	}
	wantBytes := g.bytesOf(want)
	limit := len(answer) + 1
	// Follow the teacher-forced rows while they agree.
	var out []int
	for k := range answer {
		next := argmax(logits[k*V : (k+1)*V])
		out = append(out, next)
		if next != answer[k] || g.m.IsEOS(next) {
			break
		}
	}
	done, ok := g.judge(out, wantBytes, limit)
	if done {
		return ok, nil
	}
	// Decode on from prompt + out with a cache.
	cache := &model.Cache{}
	seq := append(append([]int(nil), prompt...), out...)
	buf := make([]float32, V)
	for {
		h, err := g.r.Forward(ctx, []model.Seq{{Tokens: seq, Cache: cache}})
		if err != nil {
			return false, err
		}
		H := g.m.Hidden
		last := len(seq) - 1
		if err := g.r.Logits(ctx, buf, h[last*H:(last+1)*H], 1); err != nil {
			return false, err
		}
		next := argmax(buf)
		out = append(out, next)
		if done, ok := g.judge(out, wantBytes, limit); done {
			return ok, nil
		}
		seq = []int{next}
	}
}

// judge decides, if it can, whether the tokens generated so far make a
// correct answer: done is false while the output is a proper prefix of the
// answer without EOS and under the token limit.
func (g *generator) judge(out []int, want []byte, limit int) (done, ok bool) {
	n := len(out)
	if n > 0 && g.m.IsEOS(out[n-1]) {
		return true, bytes.Equal(g.bytesOf(out[:n-1]), want)
	}
	if !bytes.HasPrefix(want, g.bytesOf(out)) {
		return true, false
	}
	if n >= limit {
		return true, false
	}
	return false, false
}
