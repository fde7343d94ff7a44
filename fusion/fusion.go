// Package fusion implements arcee_fusion: importance-gated task-vector
// fusion, with mergekit's semantics and exact (not sampled) quantiles.
package fusion

import (
	"context"
	"fmt"
	"math"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/orderstat"
	"github.com/gomerge/gomerge/simd"
)

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec {
	return []*merge.MethodSpec{{
		Name:    "arcee_fusion",
		Aliases: []string{"arcee-fusion"},
		Summary: "Keep only the other model's most important changes to the base",
		Long: `arcee_fusion scores every element of the task vector δ = x − base by
  importance = |δ| · KL(softmax(x_row) ‖ softmax(base_row)),
where the softmax and the KL divergence (with 1e-8 added to both
distributions) are taken over each row (the last dimension; a 1-D tensor is
one row), and keeps δ only where the importance reaches
  threshold = median + 1.5·(Q3 − Q1)
of the tensor's importances, with quantiles at sorted position ⌊q·(n−1)⌋
(no interpolation):
  result = base + δ·[importance ≥ threshold].
It takes no parameters.

Reference: Arcee AI's fusion method, as implemented in mergekit
(arcee_fusion).

Example:
  gomerge arcee-fusion base.safetensors tuned.safetensors -o out/

Differences from mergekit: for tensors of more than 10⁶ elements mergekit
estimates the quartiles from 10⁶ randomly drawn elements (from torch's
global random generator), so its threshold, and its result, vary from run
to run. gomerge always uses the exact quantiles over every element, found
by streamed radix selection (the tensors are read three times — row
statistics with the first selection pass, the second selection pass, the
write — with no sort and no copy of them), so the result is deterministic; on tensors of at most 10⁶
elements the two agree. The softmax normalisers and KL sums accumulate in
float64 (mergekit: the working dtype), and elements that are not kept are
the base's values exactly.`,
		Base:      merge.BaseRequired,
		MinModels: 1,
		MaxModels: 1,
		New:       func(merge.Params) (merge.Method, error) { return &method{}, nil },
	}}
}

// klEps is added to both distributions before the KL divergence.
const klEps = 1e-8

// method is arcee_fusion.
type method struct {
	// tile overrides the largest tile (tests); 0 means merge.ChunkElems.
	tile int64
}

// rowTiles cuts an r×c matrix into tiles of whole rows, or pieces of one
// row when a row is longer than tile elements.
func rowTiles(r, c, tile int64) []merge.Chunk {
	var out []merge.Chunk
	if c <= tile {
		rows := max(tile/max(c, 1), 1)
		for i := int64(0); i < r; i += rows {
			out = append(out, merge.Chunk{Index: len(out), Lo: i * c, Hi: min(i+rows, r) * c})
		}
		return out
	}
	for i := int64(0); i < r; i++ {
		for j := int64(0); j < c; j += tile {
			out = append(out, merge.Chunk{Index: len(out), Lo: i*c + j, Hi: i*c + min(j+tile, c)})
		}
	}
	return out
}

// pair holds one tile of the base and of the other model.
type pair struct{ base, x []float32 }

func readPair(t *merge.Task, c merge.Chunk) (pair, error) {
	p := pair{base: merge.GetFloats(c.Len()), x: merge.GetFloats(c.Len())}
	if err := t.Base.Read(p.base, c.Lo); err != nil {
		p.release()
		return pair{}, fmt.Errorf("base: %w", err)
	}
	if err := t.Inputs[0].Read(p.x, c.Lo); err != nil {
		p.release()
		return pair{}, fmt.Errorf("model: %w", err)
	}
	return p, nil
}

func (p pair) release() {
	merge.PutFloats(p.base)
	merge.PutFloats(p.x)
}

// Merge implements merge.Method.
func (m *method) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("tensor %q: arcee_fusion needs the base model's tensor", t.Name)
	}
	if len(t.Inputs) == 0 {
		return copyBase(ctx, t)
	}
	if len(t.Inputs) != 1 {
		return fmt.Errorf("tensor %q: arcee_fusion takes exactly one model besides the base, got %d", t.Name, len(t.Inputs))
	}
	n := t.Len()
	if n == 0 {
		return nil
	}
	tile := m.tile
	if tile < 1 {
		tile = merge.ChunkElems
	}
	rows, cols := t.Rows()
	if len(t.Shape) == 0 {
		rows, cols = 1, 1
	}
	tiles := rowTiles(rows, cols, tile)
	// The quartiles of the importances come from a two-pass radix
	// selection. When tiles hold whole rows, the first selection pass runs
	// in the same read as the rows' KL divergences.
	sel := orderstat.NewSelector(false, (n-1)/4, (n-1)/2, (3*(n-1))/4)
	var kl []float32
	var err error
	if tiles[0].Hi-tiles[0].Lo >= cols {
		kl = make([]float32, rows)
		err = merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
			p, err := readPair(t, c)
			if err != nil {
				return err
			}
			defer p.release()
			wholeRowsKL(kl, p, c, cols)
			importance(p.x, p.base, p.x, kl, c.Lo, cols)
			sel.Add(p.x)
			return nil
		})
	} else {
		kl, err = rowKL(ctx, t, tiles, rows, cols)
		if err == nil {
			err = addImportances(ctx, t, tiles, kl, cols, sel)
		}
	}
	if err == nil {
		err = sel.Next()
	}
	if err == nil {
		err = addImportances(ctx, t, tiles, kl, cols, sel)
	}
	if err == nil {
		err = sel.Next()
	}
	if err != nil {
		return fmt.Errorf("tensor %q: importance quantiles: %w", t.Name, err)
	}
	q := sel.Results()
	thr := threshold(q[0], q[1], q[2])
	return merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
		p, err := readPair(t, c)
		if err != nil {
			return err
		}
		defer p.release()
		imp := merge.GetFloats(c.Len())
		defer merge.PutFloats(imp)
		importance(imp, p.base, p.x, kl, c.Lo, cols)
		fuse(p.x, p.base, p.x, imp, thr)
		return t.Out.Write(p.x, c.Lo)
	})
}

// threshold is median + 1.5·IQR, in float32 as mergekit computes it.
func threshold(q1, median, q3 float32) float32 {
	iqr := q3 - q1
	return median + 1.5*iqr
}

// importance computes dst[i] = |x[i] − base[i]|·kl[row] for the elements
// starting at element lo of a tensor with cols columns. dst may be x.
func importance(dst, base, x []float32, kl []float32, lo, cols int64) {
	for i := range dst {
		row := (lo + int64(i)) / cols
		d := x[i] - base[i]
		dst[i] = float32(math.Abs(float64(d))) * kl[row]
	}
}

// fuse computes dst = base + (x − base) where imp ≥ thr, and base elsewhere.
// dst may be x.
func fuse(dst, base, x, imp []float32, thr float32) {
	for i := range dst {
		if imp[i] >= thr {
			dst[i] = base[i] + (x[i] - base[i])
		} else {
			dst[i] = base[i]
		}
	}
}

// addImportances runs one pass of the selection over the importances.
func addImportances(ctx context.Context, t *merge.Task, tiles []merge.Chunk, kl []float32, cols int64, sel *orderstat.Selector) error {
	return merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
		p, err := readPair(t, c)
		if err != nil {
			return err
		}
		defer p.release()
		importance(p.x, p.base, p.x, kl, c.Lo, cols)
		sel.Add(p.x)
		return nil
	})
}

// wholeRowsKL sets kl[r] for every row r of a tile made of whole rows.
func wholeRowsKL(kl []float32, p pair, c merge.Chunk, cols int64) {
	scratch := merge.GetFloats(2 * int(cols))
	defer merge.PutFloats(scratch)
	ex, eb := scratch[:cols], scratch[cols:]
	for lo := int64(0); lo < int64(c.Len()); lo += cols {
		x, b := p.x[lo:lo+cols], p.base[lo:lo+cols]
		s := softmaxRow{maxX: maxOf(x), maxB: maxOf(b)}
		shiftedExp(ex, x, s.maxX)
		shiftedExp(eb, b, s.maxB)
		s.sumX, s.sumB = simd.Sum(ex), simd.Sum(eb)
		kl[(c.Lo+lo)/cols] = float32(klFromExp(ex, eb, x, b, s))
	}
}

// softmaxRow holds the softmax statistics of one row of x and of base.
type softmaxRow struct {
	maxX, maxB float32
	sumX, sumB float64
}

// rowKL returns KL(softmax(x_r)+ε ‖ softmax(base_r)+ε) of every row r. Rows
// that fit in a tile are done in one pass; longer rows take three passes
// (maxima, normalisers, KL sums) whose per-tile partial sums are folded in
// tile order, so the result does not depend on the thread count.
func rowKL(ctx context.Context, t *merge.Task, tiles []merge.Chunk, rows, cols int64) ([]float32, error) {
	kl := make([]float32, rows)
	if len(tiles) == 0 {
		return kl, nil
	}
	if tiles[0].Hi-tiles[0].Lo >= cols {
		// Whole rows per tile.
		err := merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
			p, err := readPair(t, c)
			if err != nil {
				return err
			}
			defer p.release()
			wholeRowsKL(kl, p, c, cols)
			return nil
		})
		return kl, err
	}
	// Long rows: each tile is a piece of one row.
	stats := make([]softmaxRow, rows)
	part := make([]softmaxRow, len(tiles))
	err := merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
		p, err := readPair(t, c)
		if err != nil {
			return err
		}
		defer p.release()
		part[c.Index] = softmaxRow{maxX: maxOf(p.x), maxB: maxOf(p.base)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range tiles {
		r := c.Lo / cols
		if c.Lo%cols == 0 {
			stats[r] = part[i]
		} else {
			stats[r].maxX = max32(stats[r].maxX, part[i].maxX)
			stats[r].maxB = max32(stats[r].maxB, part[i].maxB)
		}
	}
	err = merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
		p, err := readPair(t, c)
		if err != nil {
			return err
		}
		defer p.release()
		scratch := merge.GetFloats(c.Len())
		defer merge.PutFloats(scratch)
		s := stats[c.Lo/cols]
		part[c.Index].sumX = sumExp(scratch, p.x, s.maxX)
		part[c.Index].sumB = sumExp(scratch, p.base, s.maxB)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range tiles {
		r := c.Lo / cols
		stats[r].sumX += part[i].sumX
		stats[r].sumB += part[i].sumB
	}
	sums := make([]float64, len(tiles))
	err = merge.Parallel(ctx, t.Threads(), tiles, func(c merge.Chunk) error {
		p, err := readPair(t, c)
		if err != nil {
			return err
		}
		defer p.release()
		scratch := merge.GetFloats(2 * c.Len())
		defer merge.PutFloats(scratch)
		sums[c.Index] = klSum(scratch, p.x, p.base, stats[c.Lo/cols])
		return nil
	})
	if err != nil {
		return nil, err
	}
	acc := make([]float64, rows)
	for i, c := range tiles {
		acc[c.Lo/cols] += sums[i]
	}
	for r := range kl {
		kl[r] = float32(acc[r])
	}
	return kl, nil
}

// max32 is max that propagates NaN like torch.
func max32(a, b float32) float32 {
	if a != a || b != b {
		return float32(math.NaN())
	}
	return max(a, b)
}

func maxOf(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max32(m, v)
	}
	return m
}

// shiftedExp computes dst[i] = exp(x[i] − m) in float32.
func shiftedExp(dst, x []float32, m float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v - m
	}
	simd.Exp(dst, dst)
}

// sumExp returns Σ exp(x[i] − m) in float64, using scratch (len ≥ len(x)).
func sumExp(scratch, x []float32, m float32) float64 {
	e := scratch[:len(x)]
	shiftedExp(e, x, m)
	return simd.Sum(e)
}

// klSum returns Σ (p+ε)·log((p+ε)/(q+ε)) over the elements of one row (or a
// piece of it), with p = exp(x−maxX)/sumX and q = exp(base−maxB)/sumB.
// scratch needs 2·len(x) elements.
func klSum(scratch, x, base []float32, s softmaxRow) float64 {
	ex, eb := scratch[:len(x)], scratch[len(x):2*len(x)]
	shiftedExp(ex, x, s.maxX)
	shiftedExp(eb, base, s.maxB)
	return klFromExp(ex, eb, x, base, s)
}

// klFromExp returns Σ (p+ε)·log((p+ε)/(q+ε)) with p = ex/sumX and
// q = eb/sumB (ex = exp(x − maxX), eb = exp(base − maxB)), accumulated in
// float64 in element order.
//
// Where p and q are well above ε the logarithms need no call of math.Log:
// log(p+ε) = log p + log1p(ε/p) with log p = (x − maxX) − log sumX, and
// log1p(u) = u − u²/2 + u³/3 to within u⁴/4 < 3e-13 for u < 1e-3.
func klFromExp(ex, eb, x, base []float32, s softmaxRow) float64 {
	const small = klEps / 1e-3 // p above this: ε/p < 1e-3
	lsx, lsb := math.Log(s.sumX), math.Log(s.sumB)
	var acc float64
	for i := range ex {
		p0 := float64(ex[i]) / s.sumX
		q0 := float64(eb[i]) / s.sumB
		p, q := p0+klEps, q0+klEps
		if p0 > small && q0 > small {
			lp := float64(x[i]-s.maxX) - lsx + log1pSmall(klEps/p0)
			lq := float64(base[i]-s.maxB) - lsb + log1pSmall(klEps/q0)
			acc += p * (lp - lq)
			continue
		}
		acc += p * math.Log(p/q)
	}
	return acc
}

// log1pSmall is log(1+u) for 0 ≤ u < 1e-3, to within u⁴/4.
func log1pSmall(u float64) float64 { return u * (1 - u*(0.5-u/3)) }

// copyBase writes the base unchanged (a tensor the other model lacks).
func copyBase(ctx context.Context, t *merge.Task) error {
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		buf := merge.GetFloats(c.Len())
		defer merge.PutFloats(buf)
		if err := t.Base.Read(buf, c.Lo); err != nil {
			return err
		}
		return t.Out.Write(buf, c.Lo)
	})
}
