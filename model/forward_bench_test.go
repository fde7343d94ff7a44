package model

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

// synthetic100M is a Llama-architecture configuration of about 100 M
// parameters (tied embeddings): 12 layers, hidden 768, 12 heads with 4
// key/value heads, SwiGLU 2048, vocabulary 32000.
func synthetic100M() Config {
	return Config{ModelType: "llama", Hidden: 768, Intermediate: 2048, Layers: 12, Heads: 12, KVHeads: 4, HeadDim: 64,
		Vocab: 32000, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositions: 2048, TieEmbeddings: true, BOS: 1, EOS: []int{2}}
}

// syntheticModel builds a model with random bfloat16 weights in memory.
func syntheticModel(cfg Config, seed uint64) *Model {
	r := rand.New(rand.NewPCG(seed, 1))
	mat := func(n, k int) *Matrix {
		w := newMatrix(n, k, elemBF16)
		f := make([]float32, k)
		u := make([]uint16, k)
		for row := 0; row < n; row++ {
			for i := range f {
				f[i] = float32(0.05 * r.NormFloat64())
			}
			simd.F32ToBF16(u, f)
			w.setRowsU16(row, u)
		}
		return w
	}
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	d := cfg.HeadDim
	m := &Model{Config: cfg, embed: mat(cfg.Vocab, cfg.Hidden), norm: ones(cfg.Hidden)}
	m.lmHead = m.embed
	for range cfg.Layers {
		m.layers = append(m.layers, &layer{
			attnNorm: ones(cfg.Hidden), mlpNorm: ones(cfg.Hidden),
			qkv:    mat((cfg.Heads+2*cfg.KVHeads)*d, cfg.Hidden),
			o:      mat(cfg.Hidden, cfg.Heads*d),
			gateUp: mat(2*cfg.Intermediate, cfg.Hidden),
			down:   mat(cfg.Hidden, cfg.Intermediate),
		})
	}
	return m
}

// matmulFLOPs returns the FLOPs of the matrix products (lm_head included)
// of a forward pass over rows tokens.
func matmulFLOPs(m *Model, rows int) float64 {
	c := &m.Config
	perTok := c.Layers*(c.Hidden*(c.Heads+2*c.KVHeads)*c.HeadDim+c.Heads*c.HeadDim*c.Hidden+3*c.Hidden*c.Intermediate) + c.Hidden*c.Vocab
	return 2 * float64(perTok) * float64(rows)
}

// benchForward measures forward throughput over seqs sequences of T tokens
// with threads goroutines (logits for every position included).
func benchForward(b *testing.B, m *Model, seqs, T, threads int, kern *microKernel) {
	r := m.NewRunner(threads)
	r.mm.kernel = kern
	batch := make([]Seq, seqs)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range batch {
		for range T {
			batch[i].Tokens = append(batch[i].Tokens, rng.IntN(m.Vocab))
		}
	}
	rows := seqs * T
	logits := make([]float32, rows*m.Vocab)
	peak := measurePeak()
	var t timer
	for b.Loop() {
		t.run(func() {
			h, err := r.Forward(context.Background(), batch)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Logits(context.Background(), logits, h, rows); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.ReportMetric(t.giga(float64(rows))*1e9, "tokens/s")
	b.ReportMetric(t.gigaCPU(float64(rows))*1e9, "tokens/cpu-s")
	gf := t.gigaCPU(matmulFLOPs(m, rows))
	b.ReportMetric(gf, "GFLOP/cpu-s")
	if peak > 0 {
		b.ReportMetric(100*gf/peak, "%peak")
	}
	b.ReportMetric(gf/naiveRate(m.Config, 4), "×naive")
}

// BenchmarkForward reports forward-pass tokens/s for the testbed model (16
// sequences of its full 64-token context) and a synthetic 100M-parameter
// Llama (one 256-token sequence), with the assembly and the pure-Go
// micro-kernels; GFLOP/s counts the matrix products only and %peak relates
// them to BenchmarkPeakFMA times the thread count.
func BenchmarkForward(b *testing.B) {
	tb := loadTestbed(b, "base")
	big := syntheticModel(synthetic100M(), 1)
	for _, kern := range kernels() {
		for _, j := range []int{1, 2} {
			b.Run("testbed/"+kern.name+"/j"+string(rune('0'+j)), func(b *testing.B) { benchForward(b, tb, 16, 64, j, kern) })
		}
		if kern == kernelGeneric {
			continue // minutes per iteration
		}
		for _, j := range []int{1, 2} {
			b.Run("llama100M/"+kern.name+"/j"+string(rune('0'+j)), func(b *testing.B) { benchForward(b, big, 1, 256, j, kern) })
		}
	}
}

// naiveRate returns the GFLOP per CPU-second of the plain-Go triple loop on
// one layer's matrix products (and the output projection) of cfg, for rows
// tokens: the baseline of the ×naive ratio.
func naiveRate(cfg Config, rows int) float64 {
	d := cfg.HeadDim
	shapes := [][2]int{{(cfg.Heads + 2*cfg.KVHeads) * d, cfg.Hidden}, {cfg.Hidden, cfg.Heads * d}, {2 * cfg.Intermediate, cfg.Hidden}, {cfg.Hidden, cfg.Intermediate}, {cfg.Vocab, cfg.Hidden}}
	r := rand.New(rand.NewPCG(5, 6))
	best := 0.0
	for range 3 { // the best of three, like the kernel's steady state
		var t timer
		var flops float64
		for _, s := range shapes {
			x, w, y := randSlice(r, rows*s[1]), randSlice(r, s[0]*s[1]), make([]float32, rows*s[0])
			t.run(func() { naiveMatMul(y, x, w, rows, s[0], s[1]) })
			flops += 2 * float64(rows*s[0]*s[1])
		}
		t.n = 1
		best = max(best, t.gigaCPU(flops))
	}
	return best
}

// BenchmarkNaiveMatMul runs the matrix products of one layer of each model
// (plus the output projection) as plain-Go triple loops, for the ratio
// against BenchmarkForward's GFLOP/s.
func BenchmarkNaiveMatMul(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
		rows int
	}{{"testbed", loadTestbed(b, "base").Config, 64}, {"llama100M", synthetic100M(), 16}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := c.cfg
			d := cfg.HeadDim
			shapes := [][2]int{{(cfg.Heads + 2*cfg.KVHeads) * d, cfg.Hidden}, {cfg.Hidden, cfg.Heads * d}, {2 * cfg.Intermediate, cfg.Hidden}, {cfg.Hidden, cfg.Intermediate}, {cfg.Vocab, cfg.Hidden}}
			r := rand.New(rand.NewPCG(5, 6))
			var flops float64
			var xs, ws, ys [][]float32
			for _, s := range shapes {
				xs = append(xs, randSlice(r, c.rows*s[1]))
				ws = append(ws, randSlice(r, s[0]*s[1]))
				ys = append(ys, make([]float32, c.rows*s[0]))
				flops += 2 * float64(c.rows*s[0]*s[1])
			}
			var t timer
			for b.Loop() {
				t.run(func() {
					for i, s := range shapes {
						naiveMatMul(ys[i], xs[i], ws[i], c.rows, s[0], s[1])
					}
				})
			}
			b.ReportMetric(t.gigaCPU(flops), "GFLOP/cpu-s")
		})
	}
}
