package tasks

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// sce is mergekit's SCE merge: select the positions where the task vectors
// vary most, weight each model by the mean square of its (selected) task
// vector, erase minority signs and average.
type sce struct {
	topk float64
}

func newSCE(g merge.Params) (merge.Method, error) {
	k := g.Float("select_topk", 1)
	if math.IsNaN(k) || k < 0 {
		return nil, fmt.Errorf("select_topk %v must be a number in [0, 1]", k)
	}
	return &sce{topk: k}, nil
}

// sceChunk holds one chunk's task vectors and, with select_topk < 1, the
// variance over the models of every position.
type sceChunk struct {
	base     []float32
	tv       [][]float32
	variance []float32
}

func (s *sceChunk) release() {
	merge.PutFloats(s.base)
	for _, b := range s.tv {
		merge.PutFloats(b)
	}
	if s.variance != nil {
		merge.PutFloats(s.variance)
	}
}

// load reads chunk c: task vectors T_k = x_k − base and, if withVar, their
// population variance per position (accumulated in float64).
func (m *sce) load(t *merge.Task, c merge.Chunk, withVar bool) (*sceChunk, error) {
	n := c.Len()
	s := &sceChunk{base: merge.GetFloats(n), tv: make([][]float32, len(t.Inputs))}
	if err := t.Base.Read(s.base, c.Lo); err != nil {
		s.release()
		return nil, err
	}
	for k, in := range t.Inputs {
		s.tv[k] = merge.GetFloats(n)
		if err := in.Read(s.tv[k], c.Lo); err != nil {
			s.release()
			return nil, err
		}
		simd.Sub(s.tv[k], s.tv[k], s.base)
	}
	if withVar {
		s.variance = merge.GetFloats(n)
		K := float64(len(s.tv))
		for i := range s.variance {
			var mean float64
			for _, tv := range s.tv {
				mean += float64(tv[i])
			}
			mean /= K
			var ss float64
			for _, tv := range s.tv {
				d := float64(tv[i]) - mean
				ss += d * d
			}
			s.variance[i] = float32(ss / K)
		}
	}
	return s, nil
}

// selectPositions zeroes every task vector outside the selected positions
// (the band over the variance), keeping exactly the first tied ones.
func selectPositions(ctx context.Context, s *sceChunk, b *band, chain *eqChain, c merge.Chunk) error {
	var lo, hi, inLo, inHi int64
	if chain != nil {
		counts := make([]int64, 2)
		if !chain.known[c.Index+1] {
			counts[0], counts[1] = b.countEqual(s.variance)
		}
		before, err := chain.wait(ctx, c.Index)
		if err != nil {
			return err
		}
		chain.publish(c.Index, before, counts)
		after := chain.prefix(c.Index + 1)
		lo, hi = before[0], before[1]
		inLo, inHi = after[0]-lo, after[1]-hi
	}
	b.apply(s.variance, lo, hi, inLo, inHi)
	for i, v := range s.variance {
		if v == 0 {
			for _, tv := range s.tv {
				tv[i] = 0
			}
		}
	}
	return nil
}

// Merge implements merge.Method.
func (m *sce) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("sce needs a base model")
	}
	K := len(t.Inputs)
	n := t.Len()
	chunks := merge.Chunks(n, 1)
	selecting := m.topk < 1
	var b band
	var chain *eqChain
	if selecting {
		var zeros atomic.Int64
		scan := func(ctx context.Context, visit func(int, [][]float32) error) error {
			return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
				s, err := m.load(t, c, true)
				if err != nil {
					return err
				}
				defer s.release()
				return visit(c.Index, [][]float32{s.variance})
			})
		}
		sel := &absSelector{streams: 1}
		err := sel.countHigh(ctx, scan, func(_ int, v [][]float32) {
			var z int64
			for _, x := range v[0] {
				if x == 0 {
					z++
				}
			}
			zeros.Add(z)
		})
		if err != nil {
			return err
		}
		k := int64(m.topk * float64(n-zeros.Load()))
		if k == 0 {
			b = band{none: true}
		} else {
			ans, err := sel.resolve(ctx, scan, []rankQuery{{Stream: 0, Rank: k - 1}})
			if err != nil {
				return err
			}
			b = newBand(0, k, rankAnswer{}, ans[0])
			if b.straddle {
				chain = newEqChain(len(chunks), 2)
			}
		}
	}
	// Model weights: mean square of each (selected) task vector.
	sq := make([]float64, len(chunks)*K)
	err := t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		s, err := m.load(t, c, selecting)
		if err != nil {
			return err
		}
		defer s.release()
		if selecting {
			if err := selectPositions(ctx, s, &b, chain, c); err != nil {
				return err
			}
		}
		for k, tv := range s.tv {
			sq[c.Index*K+k] = simd.SumSquares(tv)
		}
		return nil
	})
	if err != nil {
		return err
	}
	omega := sceWeights(sq, K, n)
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		s, err := m.load(t, c, selecting)
		if err != nil {
			return err
		}
		defer s.release()
		if selecting {
			if err := selectPositions(ctx, s, &b, chain, c); err != nil {
				return err
			}
		}
		out := merge.GetFloats(c.Len())
		defer merge.PutFloats(out)
		for i := range out {
			var sum float32
			for _, tv := range s.tv {
				sum += tv[i]
			}
			var mixed, div float32
			for k, tv := range s.tv {
				v := tv[i]
				if (sum >= 0 && v > 0) || (sum < 0 && v < 0) {
					mixed += v * omega[k]
					div += omega[k]
				}
			}
			out[i] = s.base[i] + mixed/max(div, 1e-6)
		}
		return t.Out.Write(out, c.Lo)
	})
}

// sceWeights turns per-chunk sums of squares into SCE's model weights:
// ω_k = Σ T_k² / n, normalised to sum 1 (uniform when the sum is below
// 1e-6).
func sceWeights(sq []float64, K int, n int64) []float32 {
	w := make([]float64, K)
	var total float64
	for k := range w {
		for c := 0; c*K+k < len(sq); c++ {
			w[k] += sq[c*K+k]
		}
		w[k] /= float64(n)
		total += w[k]
	}
	out := make([]float32, K)
	for k := range out {
		if total < 1e-6 {
			out[k] = 1 / float32(K)
		} else {
			out[k] = float32(w[k] / total)
		}
	}
	return out
}
