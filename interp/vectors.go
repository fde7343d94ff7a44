package interp

import (
	"context"
	"fmt"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// vectorKind says which vectors of a tensor a method works on.
type vectorKind int

const (
	// wholeTensor: the flattened tensor is one vector.
	wholeTensor vectorKind = iota
	// rowVectors: each row of the [rows, cols] matrix view (the last
	// dimension; a 1-D tensor is one row) is a vector.
	rowVectors
	// columnVectors: vectors run along the first dimension, one per index of
	// the remaining ones (PyTorch's dim=0); a 1-D tensor is one vector.
	columnVectors
)

// vectorView lays a tensor out as an R×C row-major matrix whose vectors are
// the whole matrix, its rows or its columns, and cuts it into tiles: runs of
// contiguous elements (whole rows, or pieces of one row when a row is longer
// than a tile) that bound the memory of one worker.
type vectorView struct {
	kind vectorKind
	r, c int64
	// tile is the largest number of elements of a tile.
	tile int64
}

func newVectorView(shape []int64, kind vectorKind, tile int64) vectorView {
	if tile < 1 {
		tile = merge.ChunkElems
	}
	n := formats.NumElements(shape)
	v := vectorView{kind: kind, tile: tile}
	switch kind {
	case wholeTensor:
		v.r, v.c = 1, n
	case rowVectors:
		v.r, v.c = merge.MatrixShape(shape)
	case columnVectors:
		if len(shape) <= 1 {
			v.r, v.c = n, 1
		} else {
			v.r, v.c = shape[0], n/max(shape[0], 1)
		}
	}
	return v
}

// count is the number of vectors.
func (v vectorView) count() int64 {
	switch v.kind {
	case rowVectors:
		return v.r
	case columnVectors:
		return v.c
	}
	return 1
}

// length is the number of elements of one vector.
func (v vectorView) length() int64 {
	switch v.kind {
	case rowVectors:
		return v.c
	case columnVectors:
		return v.r
	}
	return v.r * v.c
}

// tiles returns the tiles of the tensor in element order.
func (v vectorView) tiles() []merge.Chunk {
	var out []merge.Chunk
	if v.c <= v.tile {
		rows := max(v.tile/max(v.c, 1), 1)
		for r := int64(0); r < v.r; r += rows {
			out = append(out, merge.Chunk{Index: len(out), Lo: r * v.c, Hi: min(r+rows, v.r) * v.c})
		}
		return out
	}
	for r := int64(0); r < v.r; r++ {
		for c := int64(0); c < v.c; c += v.tile {
			out = append(out, merge.Chunk{Index: len(out), Lo: r*v.c + c, Hi: r*v.c + min(c+v.tile, v.c)})
		}
	}
	return out
}

// vectors returns the range [v0, v1) of the vectors a tile touches.
func (v vectorView) vectors(c merge.Chunk) (v0, v1 int64) {
	switch v.kind {
	case rowVectors:
		return c.Lo / v.c, (c.Hi + v.c - 1) / v.c
	case columnVectors:
		if c.Len() >= int(v.c) {
			return 0, v.c
		}
		c0 := c.Lo % v.c
		return c0, c0 + int64(c.Len())
	}
	return 0, 1
}

// segments calls fn for each contiguous run [lo, hi) of the tile (offsets
// relative to the tile) that belongs to one vector of a whole-tensor or
// row-vector view.
func (v vectorView) segments(c merge.Chunk, fn func(vec int64, lo, hi int)) {
	if v.kind == wholeTensor {
		fn(0, 0, c.Len())
		return
	}
	for pos := c.Lo; pos < c.Hi; {
		r := pos / v.c
		end := min((r+1)*v.c, c.Hi)
		fn(r, int(pos-c.Lo), int(end-c.Lo))
		pos = end
	}
}

// tileData holds one tile of the base and of every input.
type tileData struct {
	base []float32
	xs   [][]float32
}

// readTile reads the tile of every input, and of the base when withBase is
// set, into pooled buffers.
func readTile(t *merge.Task, c merge.Chunk, withBase bool) (*tileData, error) {
	d := &tileData{}
	n := c.Len()
	if withBase {
		d.base = merge.GetFloats(n)
		if err := t.Base.Read(d.base, c.Lo); err != nil {
			d.release()
			return nil, fmt.Errorf("base: %w", err)
		}
	}
	for k, in := range t.Inputs {
		x := merge.GetFloats(n)
		d.xs = append(d.xs, x)
		if err := in.Read(x, c.Lo); err != nil {
			d.release()
			return nil, fmt.Errorf("model %d: %w", k, err)
		}
	}
	return d, nil
}

func (d *tileData) release() {
	if d.base != nil {
		merge.PutFloats(d.base)
	}
	for _, x := range d.xs {
		merge.PutFloats(x)
	}
}

// subtractBase turns the inputs of d into task vectors x − base, in place.
func (d *tileData) subtractBase() {
	for _, x := range d.xs {
		simd.Sub(x, x, d.base)
	}
}

// gramWidth is the number of entries of the upper triangle (diagonal
// included) of a k×k Gram matrix.
func gramWidth(k int) int { return k * (k + 1) / 2 }

// gramIndex is the position of entry (i, j), i ≤ j, in a packed upper
// triangle of a k×k matrix.
func gramIndex(k, i, j int) int {
	if i > j {
		i, j = j, i
	}
	return i*k - i*(i-1)/2 + (j - i)
}

// gramPass computes, for every vector of the view, the Gram matrix
// G_ij = ⟨a_i, a_j⟩ of the k vectors that vecs derives from a tile (packed
// upper triangles, count·gramWidth(k) float64 values). Each tile's partial
// sums are computed with float64 accumulation (simd.Dot for contiguous
// runs) and folded into the totals in tile order, so the result does not
// depend on the thread count.
func gramPass(ctx context.Context, t *merge.Task, v vectorView, k int, withBase bool, vecs func(d *tileData) [][]float32) ([]float64, error) {
	w := gramWidth(k)
	total := make([]float64, v.count()*int64(w))
	tiles := v.tiles()
	threads := t.Threads()
	// Column vectors keep one partial sum per column and tile: run them in
	// batches to bound that memory. The other views' partials are small
	// (one set per vector a tile touches), so all tiles run at once.
	batch := len(tiles)
	if v.kind == columnVectors {
		batch = max(4, 2*threads)
	}
	partials := make([][]float64, batch)
	for b0 := 0; b0 < len(tiles); b0 += batch {
		group := tiles[b0:min(b0+batch, len(tiles))]
		local := make([]merge.Chunk, len(group))
		for i, c := range group {
			local[i] = merge.Chunk{Index: i, Lo: c.Lo, Hi: c.Hi}
		}
		err := merge.Parallel(ctx, threads, local, func(c merge.Chunk) error {
			d, err := readTile(t, c, withBase)
			if err != nil {
				return err
			}
			defer d.release()
			a := vecs(d)
			v0, v1 := v.vectors(c)
			p := partials[c.Index][:0]
			for range (v1 - v0) * int64(w) {
				p = append(p, 0)
			}
			partials[c.Index] = p
			if v.kind == columnVectors {
				for pos := c.Lo; pos < c.Hi; pos += min(v.c, c.Hi-pos) {
					lo := int(pos - c.Lo)
					n := int(min(v.c, c.Hi-pos))
					for i := range k {
						for j := i; j < k; j++ {
							g := gramIndex(k, i, j)
							ai, aj := a[i][lo:lo+n], a[j][lo:lo+n]
							for e := range n {
								p[e*w+g] += float64(ai[e]) * float64(aj[e])
							}
						}
					}
				}
				return nil
			}
			v.segments(c, func(vec int64, lo, hi int) {
				gramRun(p[int(vec-v0)*w:][:w], a, lo, hi)
			})
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, c := range group {
			v0, _ := v.vectors(c)
			dst := total[v0*int64(w):]
			for e, x := range partials[i] {
				dst[e] += x
			}
		}
	}
	return total, nil
}

// gramBlock is the number of elements gramRun takes from every vector at a
// time, so that all pairs of a block are multiplied while the block is in
// cache.
const gramBlock = 8192

// gramRun adds to g (a packed upper triangle) the dot products of the
// vectors a[i][lo:hi], block by block: each block's products come from
// simd.Dot and are added in block order.
func gramRun(g []float64, a [][]float32, lo, hi int) {
	k := len(a)
	for b := lo; b < hi; b += gramBlock {
		e := min(b+gramBlock, hi)
		for i := range k {
			for j := i; j < k; j++ {
				g[gramIndex(k, i, j)] += simd.Dot(a[i][b:e], a[j][b:e])
			}
		}
	}
}

// combinePass writes out = Σ_k coef[vec][k]·term_k (+ offset) for every
// element, where terms derives the k terms and an optional offset from a
// tile and coef holds k float32 coefficients per vector. Terms with a zero
// coefficient are skipped (so a zero weight reproduces the other inputs
// exactly); the products are rounded to float32 before they are added.
func combinePass(ctx context.Context, t *merge.Task, v vectorView, k int, withBase bool, coef []float32, terms func(d *tileData) ([][]float32, []float32)) error {
	return merge.Parallel(ctx, t.Threads(), v.tiles(), func(c merge.Chunk) error {
		d, err := readTile(t, c, withBase)
		if err != nil {
			return err
		}
		defer d.release()
		ts, offset := terms(d)
		out := merge.GetFloats(c.Len())
		defer merge.PutFloats(out)
		if v.kind == columnVectors {
			for pos := c.Lo; pos < c.Hi; pos += min(v.c, c.Hi-pos) {
				lo := int(pos - c.Lo)
				n := int(min(v.c, c.Hi-pos))
				col0 := pos % v.c
				for e := range n {
					cf := coef[(col0+int64(e))*int64(k):][:k]
					out[lo+e] = combineOne(cf, ts, lo+e, offset)
				}
			}
		} else {
			v.segments(c, func(vec int64, lo, hi int) {
				combineRun(out[lo:hi], coef[vec*int64(k):][:k], ts, lo, hi, offset)
			})
		}
		return t.Out.Write(out, c.Lo)
	})
}

// combineRun computes one contiguous run with constant coefficients.
func combineRun(out []float32, cf []float32, ts [][]float32, lo, hi int, offset []float32) {
	first := true
	for k, a := range cf {
		if a == 0 {
			continue
		}
		if first {
			copy(out, ts[k][lo:hi])
			if a != 1 {
				simd.Scale(out, a)
			}
			first = false
			continue
		}
		simd.AddScaled(out, a, ts[k][lo:hi])
	}
	if first {
		clear(out)
		if offset != nil {
			copy(out, offset[lo:hi])
		}
		return
	}
	if offset != nil {
		simd.Add(out, out, offset[lo:hi])
	}
}

// combineOne computes one element with the rules of combineRun.
func combineOne(cf []float32, ts [][]float32, e int, offset []float32) float32 {
	var acc float32
	first := true
	for k, a := range cf {
		if a == 0 {
			continue
		}
		p := a * ts[k][e]
		if first {
			acc, first = p, false
		} else {
			acc += p
		}
	}
	if offset != nil {
		if first {
			return offset[e]
		}
		acc += offset[e]
	}
	return acc
}
