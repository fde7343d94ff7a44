package tasks

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// bruteBand keeps the elements of descending |v| rank in [lo, hi), ties by
// position, by sorting.
func bruteBand(v []float32, lo, hi int64) []float32 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := absBits(v[a]), absBits(v[b])
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	out := make([]float32, len(v))
	for r := lo; r < hi; r++ {
		out[idx[r]] = v[idx[r]]
	}
	return out
}

// TestBandMatchesSort checks the streaming selection (two histogram passes,
// per-chunk tie counts, branch-free and tie-by-tie chunks) against a sort,
// on data with heavy ties, ±0 and many chunk sizes.
func TestBandMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 9))
	for trial := 0; trial < 200; trial++ {
		n := 1 + r.IntN(3000)
		v := make([]float32, n)
		levels := 1 + r.IntN(8)
		for i := range v {
			v[i] = float32(r.IntN(levels)) * 0.125
			if r.IntN(2) == 0 {
				v[i] = -v[i]
			}
			if r.IntN(50) == 0 {
				v[i] = float32(r.NormFloat64())
			}
		}
		chunk := 1 + r.IntN(n)
		lo := int64(r.IntN(n))
		hi := lo + 1 + int64(r.IntN(n-int(lo)))
		if trial%3 == 0 {
			lo = 0
		}
		scan := func(ctx context.Context, visit func(int, [][]float32) error) error {
			for c, off := 0, 0; off < n; c, off = c+1, off+chunk {
				if err := visit(c, [][]float32{v[off:min(off+chunk, n)]}); err != nil {
					return err
				}
			}
			return nil
		}
		sel := &absSelector{streams: 1}
		if err := sel.countHigh(context.Background(), scan, nil); err != nil {
			t.Fatal(err)
		}
		qs := []rankQuery{{0, hi - 1}}
		if lo > 0 {
			qs = append(qs, rankQuery{0, lo})
		}
		ans, err := sel.resolve(context.Background(), scan, qs)
		if err != nil {
			t.Fatal(err)
		}
		var loAns rankAnswer
		if lo > 0 {
			loAns = ans[1]
		}
		b := newBand(lo, hi, loAns, ans[0])
		got := slices.Clone(v)
		var eqLo, eqHi int64
		for off := 0; off < n; off += chunk {
			d := got[off:min(off+chunk, n)]
			inLo, inHi := b.countEqual(d)
			b.apply(d, eqLo, eqHi, inLo, inHi)
			eqLo += inLo
			eqHi += inHi
		}
		want := bruteBand(v, lo, hi)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("trial %d (n %d, chunk %d, ranks [%d, %d)): element %d = %v, want %v", trial, n, chunk, lo, hi, i, got[i], want[i])
			}
		}
	}
}

// radixOnly makes a magnitude method skip the window selection.
func radixOnly(m merge.Method) { m.(*gta).radixOnly = true }

// The window selection (sampled, one pass) and the radix selection (two
// passes) give the same bits, on tensors small enough to be read whole and
// on multi-chunk ones with heavy ties.
func TestWindowMatchesRadix(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	for _, n := range []int{5000, 1_300_000} {
		base := make([]float32, n)
		xs := make([][]float32, 2)
		for k := range xs {
			xs[k] = make([]float32, n)
			for i := range xs[k] {
				xs[k][i] = float32(r.IntN(41)-20) / 64
				if r.IntN(10) == 0 {
					xs[k][i] = float32(r.NormFloat64())
				}
			}
		}
		for _, c := range []struct {
			method string
			model  merge.Params
		}{
			{"ties", merge.Params{"density": 0.3}},
			{"ties", merge.Params{"density": 0.97}},
			{"breadcrumbs_ties", merge.Params{"density": 0.5, "gamma": 0.05}},
		} {
			pm := perModel(c.model, 1, 0.7)
			win, err := tryMethod(c.method, merge.Params{"rescale": "true"}, pm, nil, nil, base, xs...)
			if err != nil {
				t.Fatal(err)
			}
			rad, err := tryMethod(c.method, merge.Params{"rescale": "true"}, pm, radixOnly, nil, base, xs...)
			if err != nil {
				t.Fatal(err)
			}
			for i := range win {
				if math.Float32bits(win[i]) != math.Float32bits(rad[i]) {
					t.Fatalf("%s %v n=%d: element %d: window %v, radix %v", c.method, c.model, n, i, win[i], rad[i])
				}
			}
		}
	}
}

// On a multi-chunk tensor the sampled window holds the answer (no fallback
// to the radix selection).
func TestWindowHitsOnSampledTensor(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	const n = 1_300_000
	base := make([]float32, n)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.IntN(41)-20) / 64
	}
	shape := []int64{n}
	task := &merge.Task{Name: "w", Shape: shape, Base: &merge.SliceSource{Data: base}, Inputs: []merge.Source{&merge.SliceSource{Data: x}}}
	m := &gta{v: variant{sparse: sparseOutliers}}
	for _, b := range []rankBounds{{0, n / 3}, {n / 100, n / 100 * 60}} {
		bands, _, ok, err := m.windowBands(context.Background(), task, []bool{true}, []rankBounds{b}, len(merge.Chunks(n, 1)), nil)
		if err != nil || !ok {
			t.Fatalf("ranks %v: ok %v, err %v", b, ok, err)
		}
		if !bands[0].straddle {
			t.Errorf("ranks %v: 41 distinct values must tie at the threshold", b)
		}
	}
}

func TestNthLargest(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for trial := 0; trial < 500; trial++ {
		n := 1 + r.IntN(200)
		a := make([]uint32, n)
		for i := range a {
			a[i] = uint32(r.IntN(1 + r.IntN(50)))
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		k := int64(r.IntN(n))
		if got, want := nthLargest(a, k), sorted[n-1-int(k)]; got != want {
			t.Fatalf("rank %d of %v: %d, want %d", k, sorted, got, want)
		}
	}
}

// TestSampleHist checks the sample's rank selection and window counts
// against sorting: values spread over many binades, values packed into
// one bucket, long tie runs, and the extreme ranks.
func TestSampleHist(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	gens := map[string]func() uint32{
		"spread": func() uint32 { return math.Float32bits(float32(r.NormFloat64()*1e-3)) & 0x7fffffff },
		"bucket": func() uint32 { return 0x3c000000 + uint32(r.IntN(1<<12)) },
		"ties":   func() uint32 { return 0x3a000000 + uint32(r.IntN(3))<<rankShift },
		"wide":   func() uint32 { return uint32(r.Int64N(1 << 31)) },
	}
	for name, gen := range gens {
		for trial := 0; trial < 50; trial++ {
			n := 1 + r.IntN(5000)
			a := make([]uint32, n)
			for i := range a {
				a[i] = gen()
			}
			orig := slices.Clone(a)
			desc := slices.Clone(a)
			slices.Sort(desc)
			slices.Reverse(desc)
			h := newSampleHist(a)
			for _, k := range []int64{0, int64(n - 1), int64(r.IntN(n))} {
				if got := h.rank(k); got != desc[k] {
					t.Fatalf("%s: rank %d of %d values: %#x, want %#x", name, k, n, got, desc[k])
				}
			}
			rHi := int64(r.IntN(n))
			rLo := rHi + int64(r.IntN(n-int(rHi)))
			hi, lo, inside := h.window(rHi, rLo)
			if hi != desc[rHi] || lo != desc[rLo] {
				t.Fatalf("%s: window of ranks %d, %d: %#x-%#x, want %#x-%#x", name, rHi, rLo, lo, hi, desc[rLo], desc[rHi])
			}
			var want int64
			for _, x := range orig {
				if x > lo && x < hi {
					want++
				}
			}
			if inside != want {
				t.Fatalf("%s: window %#x-%#x: %d strictly inside, want %d", name, lo, hi, inside, want)
			}
			if !slices.Equal(a, orig) {
				t.Fatalf("%s: sampleHist reordered the sample", name)
			}
		}
	}
}

// TestResolveWindow checks the window resolution against sorting, with
// windows of one bit pattern per bucket, of buckets resolved by a second
// histogram and of buckets too wide for one (selection), on values with
// long tie runs (the edges among them, counted as a pass counts them),
// with and without the pass's histograms.
func TestResolveWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct{ lo, hi uint32 }{{0x3c000000, 0x3c000fff}, {0x3b000000, 0x3d000000}, {0, 0x7f800000}} {
		for _, passHists := range []bool{false, true} {
			const nChunks = 3
			var all []uint32
			q := &windowQuery{lo: c.lo, hi: c.hi}
			q.alloc(nChunks)
			var chunkVals [nChunks][]uint32 // every value of the window, per chunk
			pool := []uint32{c.lo, c.hi, c.lo + (c.hi-c.lo)/2, c.lo + (c.hi-c.lo)/3}
			for ch := range nChunks {
				q.above[ch] = int64(r.IntN(50))
				for range 1000 + r.IntN(500) {
					x := c.lo + uint32(r.Uint64N(uint64(c.hi-c.lo)+1))
					if r.IntN(3) == 0 {
						x = pool[r.IntN(len(pool))]
					}
					chunkVals[ch] = append(chunkVals[ch], x)
					switch x {
					case c.lo:
						q.eqLo[ch]++
					case c.hi:
						q.eqHi[ch]++
					default:
						q.inside[ch] = append(q.inside[ch], x)
					}
				}
				all = append(all, chunkVals[ch]...)
			}
			var greater int64
			for _, a := range q.above {
				greater += a
			}
			sorted := slices.Clone(all)
			slices.Sort(sorted)
			slices.Reverse(sorted)
			for _, pos := range []int{0, 1, len(all) / 3, len(all) / 2, len(all) - 1} {
				qq := *q
				qq.inside = slices.Clone(q.inside)
				qq.Rank = greater + int64(pos)
				if passHists {
					qq.hists = make([][]uint32, nChunks)
					for ch := range nChunks {
						qq.hists[ch] = make([]uint32, (c.hi-c.lo)>>qq.bucketShift()+1)
						countBuckets(qq.hists[ch], q.inside[ch], c.lo, qq.bucketShift())
					}
				}
				if !resolveWindow(&qq, nChunks) {
					t.Fatalf("window %x-%x rank %d: not resolved", c.lo, c.hi, pos)
				}
				v := sorted[pos]
				var above, equal int64
				for _, x := range all {
					if x > v {
						above++
					} else if x == v {
						equal++
					}
				}
				want := rankAnswer{Bits: v, Greater: greater + above, Equal: equal}
				if qq.answer != want {
					t.Fatalf("window %x-%x rank %d: %+v, want %+v", c.lo, c.hi, pos, qq.answer, want)
				}
				for ch := range nChunks {
					if n := int64(countOf(chunkVals[ch], v)); qq.perChunk[ch] != n {
						t.Fatalf("window %x-%x rank %d: chunk %d has %d ties, want %d", c.lo, c.hi, pos, ch, qq.perChunk[ch], n)
					}
				}
			}
		}
	}
}

func countOf(v []uint32, x uint32) (n int) {
	for _, y := range v {
		if y == x {
			n++
		}
	}
	return n
}
