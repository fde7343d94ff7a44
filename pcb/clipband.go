package pcb

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sync/atomic"

	"github.com/gomerge/gomerge/merge"
)

// Speculative clip bounds. The clip bounds lo_k and hi_k are |τ_k| at two
// sorted positions; their exact radix selection takes two passes. Instead,
// a cheap pre-pass reads only the sampled runs of entries (see sampler),
// whose |τ| locate a narrow band around each position; the first full pass
// then counts the entries below, at the low end of and above each band and
// keeps those inside. If each position's rank falls at the band's low end or
// inside it, the bound is exact; otherwise the selection passes run as
// before. The same sample later gives the drop threshold's band
// (speculate.go).

// presample reads the sampled runs of every chunk of the group (tensor
// offsets o with o mod stride < sampleSpan) without reading the rest.
func (g *group) presample(ctx context.Context) (*sampler, error) {
	smp := newSampler(g)
	chunks := make([]merge.Chunk, len(g.items))
	for i := range chunks {
		chunks[i] = merge.Chunk{Index: i}
	}
	err := merge.Parallel(ctx, g.threads, chunks, func(c merge.Chunk) error {
		it := g.items[c.Index]
		t := it.t
		var base [sampleSpan]float32
		var model [sampleSpan]float32
		for p := it.c.Lo - it.c.Lo%smp.stride; p < it.c.Hi; p += smp.stride {
			lo, hi := max(p, it.c.Lo), min(p+sampleSpan, it.c.Hi)
			if lo >= hi {
				continue
			}
			b := base[:hi-lo]
			if err := t.Base.Read(b, lo); err != nil {
				return fmt.Errorf("tensor %q: base: %w", t.Name, err)
			}
			for k, src := range t.Inputs {
				mv := model[:hi-lo]
				if err := src.Read(mv, lo); err != nil {
					return fmt.Errorf("tensor %q: model %d: %w", t.Name, k+1, err)
				}
				for i := range mv {
					mv[i] -= b[i]
				}
				smp.rows[it.idx][k] = append(smp.rows[it.idx][k], mv...)
			}
		}
		return nil
	})
	return smp, err
}

// keyBand is a band of absolute keys (bits of |x|): low end lo, inside
// (lo, hi].
type keyBand struct {
	lo, hi uint32
}

// clipKeyBands returns the bands of |τ| keys around the sorted positions
// ranks (of d) from the sample's |τ|; ok is false when the sample is too
// small or holds a NaN.
func clipKeyBands(sample []float32, ranks []int64, d int64) (bands []keyBand, ok bool) {
	m := len(sample)
	if m < 64 {
		return nil, false
	}
	keys := make([]uint32, m)
	for i, v := range sample {
		keys[i] = math.Float32bits(v) &^ signBit
		if keys[i] > 0x7f800000 {
			return nil, false
		}
	}
	slices.Sort(keys)
	for _, k := range ranks {
		q := float64(k) / float64(d)
		at := int(q * float64(m))
		delta := int(6*math.Sqrt(float64(m)*q*(1-q))) + m/512 + 16
		bands = append(bands, keyBand{lo: keys[max(at-delta, 0)], hi: keys[min(at+delta, m-1)]})
	}
	return bands, true
}

// bandTally is one item's counts against one band.
type bandTally struct {
	below, eq, above int64
	in               []float32 // |x| inside the band
	nIn              int64
}

// clipBands computes every task's lo and hi in one pass over the group from
// the sample's bands, counting the entries with x = τ_k·Σ_j τ_j ≤ 0 into
// nonPositive on the way (--inter sum) — whatever the outcome. It returns
// false (leaving st alone) when a bound was not inside its band.
func (m *method) clipBands(ctx context.Context, g *group, st []taskStats, smp *sampler, nonPositive []atomic.Int64) (bool, error) {
	n, d := g.n, g.d
	ranks := []int64{clipLoRank(d, m.clip), clipHiRank(d, m.clip)}
	sample := smp.tasks(n)
	bands := make([][]keyBand, n)
	frac := make([][]float32, n) // the sample's fraction inside each band
	bandOK := make([]bool, n)
	_ = g.eachTask(ctx, n, func(k int) error {
		if bands[k], bandOK[k] = clipKeyBands(sample[k], ranks, d); !bandOK[k] {
			return nil
		}
		for _, bd := range bands[k] {
			in := 0
			for _, v := range sample[k] {
				if key := math.Float32bits(v) &^ signBit; key > bd.lo && key <= bd.hi {
					in++
				}
			}
			frac[k] = append(frac[k], float32(in)/float32(len(sample[k])))
		}
		return nil
	})
	usable := !slices.Contains(bandOK, false)
	tallies := make([][]bandTally, len(g.items)) // per item: task-major, band-minor
	var kept atomic.Int64
	err := g.forBlocks(ctx, false, func(it item, _ int64, b *buffers) error {
		tl := tallies[it.idx]
		if tl == nil && usable {
			tl = make([]bandTally, n*len(ranks))
			for k := range n {
				for j := range ranks {
					tl[k*len(ranks)+j].in = make([]float32, 0, bandCap(it.c.Len(), frac[k][j]))
				}
			}
			tallies[it.idx] = tl
		}
		if !m.pairwise {
			sumTau(b)
		}
		if !usable {
			for k, tau := range b.tau {
				if !m.pairwise {
					nonPositive[k].Add(int64(len(tau) - countPositiveProducts(tau, b.sum)))
				}
			}
			return nil
		}
		var masks [2][blockElems / 8]uint8
		for k, tau := range b.tau {
			nv := len(tau) &^ 7
			cnt := clipTally(masks[0][:nv/8], masks[1][:nv/8], tau[:nv], b.sum[:nv], bands[k][0], bands[k][1])
			if !m.pairwise {
				pos := cnt[6] + countPositiveProductsGeneric(tau[nv:], b.sum[nv:len(tau)])
				nonPositive[k].Add(int64(len(tau) - pos))
			}
			for j, bd := range bands[k] {
				t := &tl[k*len(ranks)+j]
				below, eq, above := cnt[3*j], cnt[3*j+1], cnt[3*j+2]
				inVec := nv - below - eq - above
				for _, v := range tau[nv:] {
					key := math.Float32bits(v) &^ signBit
					switch {
					case key < bd.lo:
						below++
					case key == bd.lo:
						eq++
					case key > bd.hi:
						above++
					}
				}
				t.below += int64(below)
				t.eq += int64(eq)
				t.above += int64(above)
				start := len(t.in)
				if inVec > 0 {
					t.in = appendMasked(t.in, masks[j][:nv/8], tau)
				}
				for _, v := range tau[nv:] {
					if key := math.Float32bits(v) &^ signBit; key > bd.lo && key <= bd.hi {
						t.in = append(t.in, absBits(v))
					}
				}
				added := int64(len(t.in) - start)
				t.nIn += added
				if kept.Add(added) > bandBudget {
					t.in = t.in[:0]
				}
			}
		}
		return nil
	}, nil)
	if kept.Load() > bandBudget {
		for _, tl := range tallies {
			for i := range tl {
				tl[i].in = nil
			}
		}
	}
	if err != nil || !usable || kept.Load() > bandBudget {
		return false, err
	}
	// Each bound from its band, the selections on up to g.threads
	// goroutines; a bound outside its band (hit false) fails the whole.
	res := make([][2]float32, n)
	hit := make([]bool, n*len(ranks))
	err = g.eachTask(ctx, n*len(ranks), func(kj int) error {
		k, j := kj/len(ranks), kj%len(ranks)
		bd := bands[k][j]
		var below, eq, above, nIn int64
		var in [][]float32
		for _, tl := range tallies {
			if tl == nil {
				continue
			}
			t := tl[k*len(ranks)+j]
			below += t.below
			eq += t.eq
			above += t.above
			nIn += t.nIn
			in = append(in, t.in)
		}
		if below+eq+above+nIn != d {
			return fmt.Errorf("pcb: clip band of task vector %d counted %d of %d entries", k+1, below+eq+above+nIn, d)
		}
		r := ranks[j] - below
		switch {
		case r < 0:
		case r < eq:
			res[k][j], hit[kj] = math.Float32frombits(bd.lo), true
		case r-eq < nIn:
			v, err := kthOf(ctx, in, r-eq)
			if err != nil {
				return err
			}
			res[k][j], hit[kj] = v, true
		}
		return nil
	})
	if err != nil || slices.Contains(hit, false) {
		return false, err
	}
	for k := range st {
		st[k].lo, st[k].hi = res[k][0], res[k][1]
	}
	return true, nil
}

// appendMasked appends |x[8j+t]| for every bit t of masks[j] that is set,
// in order, reading the masks 64 bits (entries) at a time.
func appendMasked(dst []float32, masks []uint8, x []float32) []float32 {
	w := 0
	for ; w+8 <= len(masks); w += 8 {
		for word := binary.LittleEndian.Uint64(masks[w:]); word != 0; word &= word - 1 {
			dst = append(dst, absBits(x[8*w+bits.TrailingZeros64(word)]))
		}
	}
	for j := w; j < len(masks); j++ {
		for mm := uint(masks[j]); mm != 0; mm &= mm - 1 {
			dst = append(dst, absBits(x[8*j+bits.TrailingZeros(mm)]))
		}
	}
	return dst
}

// bandKeysGeneric counts the keys (bits of |x|) of x below bd.lo, equal to
// it and above bd.hi, and sets bit t of mask[j] when the key of x[8j+t] is
// inside (bd.lo, bd.hi]; len(x) is a multiple of 8.
func bandKeysGeneric(mask []uint8, x []float32, bd keyBand) (below, eq, above int) {
	for j := range len(x) / 8 {
		var mb uint8
		for t := range 8 {
			key := math.Float32bits(x[8*j+t]) &^ signBit
			switch {
			case key < bd.lo:
				below++
			case key == bd.lo:
				eq++
			case key > bd.hi:
				above++
			default:
				mb |= 1 << t
			}
		}
		mask[j] = mb
	}
	return below, eq, above
}

// clipTallyGeneric is the clip pass's count of one task's block against
// its two bands: bandKeysGeneric for b1 (counts 0–2: below, equal to lo,
// above; mask m1) and for b2 (counts 3–5, mask m2), and in count 6 the
// products τ·sum > 0 as countPositiveProducts counts them; len(tau) is a
// multiple of 8.
func clipTallyGeneric(m1, m2 []uint8, tau, sum []float32, b1, b2 keyBand) (counts [7]int) {
	counts[0], counts[1], counts[2] = bandKeysGeneric(m1, tau, b1)
	counts[3], counts[4], counts[5] = bandKeysGeneric(m2, tau, b2)
	counts[6] = countPositiveProductsGeneric(tau, sum)
	return counts
}
