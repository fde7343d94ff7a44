package model

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/gomerge/gomerge/simd"
)

// Cache holds a sequence's keys and values (after rotary embedding) for
// every layer, so that later tokens can attend to earlier ones without
// recomputing them.
type Cache struct {
	n    int
	k, v [][]float32 // per layer, n·KVHeads·HeadDim
}

// Len returns the number of cached positions.
func (c *Cache) Len() int { return c.n }

// Truncate drops every position from n on.
func (c *Cache) Truncate(n int) {
	if n < c.n {
		c.n = max(n, 0)
	}
}

// Seq is one sequence of a batch: new tokens, and the cache of the
// positions before them (nil: the tokens start at position 0 and nothing is
// kept). Forward appends the new positions to Cache.
type Seq struct {
	Tokens []int
	Cache  *Cache
}

// Tracer receives intermediate activations: name as in the reference files
// ("hidden.0", "layers.3.post_attention", "hidden.4", "final_norm",
// "logits") and the batch's rows, row-major.
type Tracer func(name string, rows int, x []float32)

// Runner runs a Model. It owns scratch buffers, so one Runner serves one
// goroutine; create one per goroutine that evaluates.
type Runner struct {
	m *Model
	// Threads is the number of goroutines of the matrix products and of
	// attention; results do not depend on it.
	Threads int
	// Trace, if set, receives every intermediate activation.
	Trace Tracer

	mm                       MatMul
	x, xn, qkv, att, gu, tmp []float32
	rope                     [][2][]float32 // per position: cos, sin (HeadDim/2 each)
	freq                     []float64
	attnWork                 []*attnScratch
	tmpCaches                []*Cache // caches of sequences given without one
}

// NewRunner returns a Runner with threads goroutines.
func (m *Model) NewRunner(threads int) *Runner {
	return &Runner{m: m, Threads: max(threads, 1), freq: m.invFreq()}
}

// Model returns the model the Runner runs.
func (r *Runner) Model() *Model { return r.m }

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// ropeAt returns cos and sin of position pos for each frequency. As in the
// Hugging Face implementation, the frequency is a float32 and the angle is
// their float32 product, so long contexts see the same angles; cos and sin
// of that angle are then rounded once from float64.
func (r *Runner) ropeAt(pos int) (cos, sin []float32) {
	for len(r.rope) <= pos {
		p := len(r.rope)
		c := make([]float32, len(r.freq))
		s := make([]float32, len(r.freq))
		for i, f := range r.freq {
			a := float64(float32(p) * float32(f))
			c[i] = float32(math.Cos(a))
			s[i] = float32(math.Sin(a))
		}
		r.rope = append(r.rope, [2][]float32{c, s})
	}
	return r.rope[pos][0], r.rope[pos][1]
}

// rmsNorm writes w ⊙ x/√(mean(x²)+eps) for each row of width len(w).
func rmsNorm(dst, x, w []float32, eps float64) {
	n := len(w)
	for r := 0; r+n <= len(x); r += n {
		xr, dr := x[r:r+n], dst[r:r+n]
		s := float32(1 / math.Sqrt(simd.SumSquares(xr)/float64(n)+eps))
		for i, v := range xr {
			dr[i] = w[i] * (v * s)
		}
	}
}

// Forward runs the decoder over a batch of sequences and returns the final
// normalised hidden states, one row of Hidden per new token, sequences one
// after another. Pass them to Logits for the next-token scores.
func (r *Runner) Forward(ctx context.Context, seqs []Seq) ([]float32, error) {
	m := r.m
	c := &m.Config
	H, d := c.Hidden, c.HeadDim
	qDim, kvDim := c.Heads*d, c.KVHeads*d
	rows := 0
	for i, s := range seqs {
		for _, t := range s.Tokens {
			if t < 0 || t >= c.Vocab {
				return nil, fmt.Errorf("sequence %d: token id %d is outside the vocabulary [0, %d)", i, t, c.Vocab)
			}
		}
		rows += len(s.Tokens)
	}
	// Sequences without a cache get a temporary one, reused across calls.
	caches := make([]*Cache, len(seqs))
	starts := make([]int, len(seqs))
	tmp := 0
	for i, s := range seqs {
		cache := s.Cache
		if cache == nil {
			if tmp == len(r.tmpCaches) {
				r.tmpCaches = append(r.tmpCaches, &Cache{})
			}
			cache = r.tmpCaches[tmp]
			cache.n = 0
			tmp++
		}
		if cache.k == nil {
			cache.k = make([][]float32, c.Layers)
			cache.v = make([][]float32, c.Layers)
		}
		caches[i] = cache
		starts[i] = cache.n
	}
	r.x = grow(r.x, rows*H)
	r.xn = grow(r.xn, rows*H)
	r.qkv = grow(r.qkv, rows*(qDim+2*kvDim))
	r.att = grow(r.att, rows*qDim)
	r.gu = grow(r.gu, rows*2*c.Intermediate)
	r.tmp = grow(r.tmp, rows*max(H, c.Intermediate))
	x := r.x
	row := 0
	for _, s := range seqs {
		for _, t := range s.Tokens {
			m.embed.Row(x[row*H:(row+1)*H], t)
			row++
		}
	}
	r.trace("hidden.0", rows, x)
	for li, ly := range m.layers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rmsNorm(r.xn, x, ly.attnNorm, c.RMSNormEps)
		if err := r.mm.Mul(ctx, r.qkv, r.xn, rows, ly.qkv, ly.qkvBias, r.Threads); err != nil {
			return nil, err
		}
		r.rotateAndCache(seqs, caches, li, ly)
		r.attention(seqs, caches, starts, li)
		if err := r.mm.Mul(ctx, r.tmp[:rows*H], r.att, rows, ly.o, ly.oBias, r.Threads); err != nil {
			return nil, err
		}
		simd.Add(x, x, r.tmp[:rows*H])
		r.trace(fmt.Sprintf("layers.%d.post_attention", li), rows, x)
		rmsNorm(r.xn, x, ly.mlpNorm, c.RMSNormEps)
		if err := r.mm.Mul(ctx, r.gu, r.xn, rows, ly.gateUp, ly.gateUpBias, r.Threads); err != nil {
			return nil, err
		}
		I := c.Intermediate
		act := r.tmp[:rows*I]
		for i := 0; i < rows; i++ {
			swiglu(act[i*I:(i+1)*I], r.gu[i*2*I:i*2*I+I], r.gu[i*2*I+I:(i+1)*2*I])
		}
		if err := r.mm.Mul(ctx, r.xn, act, rows, ly.down, ly.downBias, r.Threads); err != nil {
			return nil, err
		}
		simd.Add(x, x, r.xn)
		r.trace(fmt.Sprintf("hidden.%d", li+1), rows, x)
	}
	for i, s := range seqs {
		caches[i].n = starts[i] + len(s.Tokens)
	}
	out := make([]float32, rows*H)
	rmsNorm(out, x, m.norm, c.RMSNormEps)
	r.trace("final_norm", rows, out)
	return out, nil
}

// swiglu writes silu(g)·u = g·u/(1+e^(−g)).
func swiglu(dst, g, u []float32) {
	for i, v := range g {
		dst[i] = -v
	}
	simd.Exp(dst, dst)
	for i, v := range g {
		dst[i] = v / (1 + dst[i]) * u[i]
	}
}

func (r *Runner) trace(name string, rows int, x []float32) {
	if r.Trace != nil {
		r.Trace(name, rows, x)
	}
}

// rotateAndCache applies the per-head norms (Qwen3) and the rotary
// embedding to the new queries and keys in r.qkv, and appends keys and
// values to each sequence's cache for layer li.
func (r *Runner) rotateAndCache(seqs []Seq, caches []*Cache, li int, ly *layer) {
	c := &r.m.Config
	d := c.HeadDim
	half := d / 2
	qDim, kvDim := c.Heads*d, c.KVHeads*d
	width := qDim + 2*kvDim
	row := 0
	for si, s := range seqs {
		cache := caches[si]
		start := cache.n
		need := (start + len(s.Tokens)) * kvDim
		if cap(cache.k[li]) < need {
			nk := make([]float32, need, max(need, 2*cap(cache.k[li])))
			copy(nk, cache.k[li][:start*kvDim])
			cache.k[li] = nk
			nv := make([]float32, need, cap(nk))
			copy(nv, cache.v[li][:start*kvDim])
			cache.v[li] = nv
		}
		cache.k[li] = cache.k[li][:need]
		cache.v[li] = cache.v[li][:need]
		for t := range s.Tokens {
			pos := start + t
			cos, sin := r.ropeAt(pos)
			q := r.qkv[row*width : row*width+qDim]
			k := r.qkv[row*width+qDim : row*width+qDim+kvDim]
			v := r.qkv[row*width+qDim+kvDim : (row+1)*width]
			if ly.qNorm != nil {
				rmsNorm(q, q, ly.qNorm, c.RMSNormEps)
				rmsNorm(k, k, ly.kNorm, c.RMSNormEps)
			}
			for _, vec := range [][]float32{q, k} {
				for h := 0; h+d <= len(vec); h += d {
					a, b := vec[h:h+half], vec[h+half:h+d]
					for i := range a {
						x0, x1 := a[i], b[i]
						a[i] = x0*cos[i] - x1*sin[i]
						b[i] = x1*cos[i] + x0*sin[i]
					}
				}
			}
			copy(cache.k[li][pos*kvDim:], k)
			copy(cache.v[li][pos*kvDim:], v)
			row++
		}
	}
}

// attention computes causal grouped-query attention of the new queries over
// each sequence's cached keys and values into r.att. Work items are
// (sequence, key/value head) pairs; each runs two matrix products on the
// packed kernel: scores = Q·Kᵀ for the group's query heads, then
// P·V after a masked softmax. Queries are processed in blocks of
// attnBlock rows so the score matrix stays small.
func (r *Runner) attention(seqs []Seq, caches []*Cache, starts []int, li int) {
	c := &r.m.Config
	type item struct{ seq, row0, kv int }
	var items []item
	row := 0
	for si, s := range seqs {
		for h := 0; h < c.KVHeads; h++ {
			items = append(items, item{si, row, h})
		}
		row += len(s.Tokens)
	}
	threads := min(r.Threads, len(items))
	if rows(seqs) < 8 {
		threads = 1
	}
	for len(r.attnWork) < threads {
		r.attnWork = append(r.attnWork, &attnScratch{})
	}
	var next atomic.Int64
	work := func(ws *attnScratch) {
		for {
			i := int(next.Add(1) - 1)
			if i >= len(items) {
				return
			}
			it := items[i]
			r.attendGroup(ws, len(seqs[it.seq].Tokens), starts[it.seq], it.row0, it.kv, caches[it.seq].k[li], caches[it.seq].v[li])
		}
	}
	if threads <= 1 {
		work(r.attnWork[0])
		return
	}
	var wg sync.WaitGroup
	for t := range threads {
		ws := r.attnWork[t]
		wg.Go(func() { work(ws) })
	}
	wg.Wait()
}

// attnBlock is the number of query positions whose scores are computed at once.
const attnBlock = 128

// attnScratch is one attention worker's buffers.
type attnScratch struct {
	mm      MatMul
	keys    Matrix // [positions, HeadDim]
	vals    Matrix // Vᵀ: [HeadDim, positions]
	q, p, o []float32
}

// packF32 resizes w to a float32 matrix of n rows of k.
func (w *Matrix) packF32(n, k int) {
	w.N, w.K, w.kind = n, k, elemF32
	size := w.panels() * nr * k
	if cap(w.f32) < size {
		w.f32 = make([]float32, size)
	}
	w.f32 = w.f32[:size]
	clear(w.f32)
}

// attendGroup computes attention for the query heads sharing key/value head
// kv of one sequence: tokens new positions from start, rows from row0.
func (r *Runner) attendGroup(ws *attnScratch, tokens, start, row0, kv int, keys, vals []float32) {
	c := &r.m.Config
	d := c.HeadDim
	qDim, kvDim := c.Heads*d, c.KVHeads*d
	width := qDim + 2*kvDim
	group := c.Heads / c.KVHeads
	total := start + tokens
	scale := float32(1 / math.Sqrt(float64(d)))
	ctx := context.Background()
	// Keys as a [total, d] matrix; values transposed as [d, total].
	ws.keys.packF32(total, d)
	ws.vals.packF32(d, total)
	for j := 0; j < total; j++ {
		kj := keys[j*kvDim+kv*d : j*kvDim+(kv+1)*d]
		base := (j/nr)*nr*d + j%nr
		for e, v := range kj {
			ws.keys.f32[base+e*nr] = v
		}
		vj := vals[j*kvDim+kv*d : j*kvDim+(kv+1)*d]
		for e := 0; e < d; e += nr {
			copy(ws.vals.f32[((e/nr)*total+j)*nr:], vj[e:min(e+nr, d)])
		}
	}
	for t0 := 0; t0 < tokens; t0 += attnBlock {
		n := min(attnBlock, tokens-t0)
		m := n * group
		ws.q = grow(ws.q, m*d)
		for h := 0; h < group; h++ {
			head := kv*group + h
			for t := 0; t < n; t++ {
				rw := row0 + t0 + t
				copy(ws.q[(h*n+t)*d:(h*n+t+1)*d], r.qkv[rw*width+head*d:rw*width+(head+1)*d])
			}
		}
		ws.p = grow(ws.p, m*total)
		ws.mm.Mul(ctx, ws.p, ws.q, m, &ws.keys, nil, 1)
		for h := 0; h < group; h++ {
			for t := 0; t < n; t++ {
				pos := start + t0 + t
				lo := 0
				if c.SlidingWindow > 0 {
					lo = max(0, pos-c.SlidingWindow+1)
				}
				p := ws.p[(h*n+t)*total : (h*n+t+1)*total]
				softmaxRange(p, lo, pos+1, scale)
			}
		}
		ws.o = grow(ws.o, m*d)
		ws.mm.Mul(ctx, ws.o, ws.p, m, &ws.vals, nil, 1)
		for h := 0; h < group; h++ {
			head := kv*group + h
			for t := 0; t < n; t++ {
				rw := row0 + t0 + t
				copy(r.att[rw*qDim+head*d:rw*qDim+(head+1)*d], ws.o[(h*n+t)*d:(h*n+t+1)*d])
			}
		}
	}
}

// softmaxRange replaces p by softmax(scale·p) over [lo, hi) and zero elsewhere.
func softmaxRange(p []float32, lo, hi int, scale float32) {
	clear(p[:lo])
	clear(p[hi:])
	s := p[lo:hi]
	mx := float32(math.Inf(-1))
	for i, v := range s {
		v *= scale
		s[i] = v
		mx = max(mx, v)
	}
	for i := range s {
		s[i] -= mx
	}
	simd.Exp(s, s)
	inv := float32(1 / simd.Sum(s))
	for i := range s {
		s[i] *= inv
	}
}

func rows(seqs []Seq) int {
	n := 0
	for _, s := range seqs {
		n += len(s.Tokens)
	}
	return n
}

// Logits computes the next-token scores [rows, Vocab] of final hidden
// states [rows, Hidden] into dst.
func (r *Runner) Logits(ctx context.Context, dst, hidden []float32, rows int) error {
	err := r.mm.Mul(ctx, dst, hidden, rows, r.m.lmHead, nil, r.Threads)
	if err == nil {
		r.trace("logits", rows, dst[:rows*r.m.Vocab])
	}
	return err
}
