package tasks

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWindowMulti checks windowMulti and windowMultiGeneric against a
// plain count, query by query: several queries (two on one model, as
// breadcrumbs asks), windows from empty to everything and of one bit
// pattern, odd lengths, special values, and counts carried over from an
// earlier block.
func TestWindowMulti(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	windows := [][2]uint32{{0x3b000000, 0x3c000000}, {0, 0x7fffffff}, {0, 0}, {0x7f800000, 0x7fffffff}, {0x3b800000, 0x3b800000}, {1, 0x007fffff}, {0, 0x3b800000}}
	type want struct {
		vals                   []uint32
		above, eqLo, eqHi, cnt int64
	}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 24, 63, 1000, 4099} {
		base := randomBF16(r, n, nil, true)
		var xs [][]uint16
		for range 4 {
			xs = append(xs, randomBF16(r, n, base, true))
		}
		for _, K := range []int{1, 2, 3, 5} {
			args := make([]windowArg, K)
			ws := make([]want, K)
			bufs := make([][]uint32, K)
			for i := range args {
				win := windows[r.IntN(len(windows))]
				if r.IntN(3) == 0 { // a window edge on a value of the data
					j := r.IntN(n)
					win[0] = math.Float32bits(bf16Value(xs[i%len(xs)][j])-bf16Value(base[j])) & 0x7fffffff
					win[1] = max(win[1], win[0])
				}
				x := xs[i%len(xs)]
				// An earlier block left 3 values and some counts.
				bufs[i] = make([]uint32, 3+n+8)
				copy(bufs[i], []uint32{7, 8, 9})
				args[i] = newWindowArg(x, bufs[i], win[0], win[1])
				args[i].count, args[i].above, args[i].eqLo, args[i].eqHi = 3, 5, 6, 7
				w := want{vals: []uint32{7, 8, 9}, above: 5, eqLo: 6, eqHi: 7}
				for j := range n {
					a := math.Float32bits(bf16Value(x[j])-bf16Value(base[j])) & 0x7fffffff
					if a > win[1] {
						w.above++
					}
					if a > win[0] && a < win[1] {
						w.vals = append(w.vals, a)
					}
					if a == win[0] {
						w.eqLo++
					}
					if a == win[1] {
						w.eqHi++
					}
				}
				ws[i] = w
			}
			for _, impl := range []struct {
				name string
				f    func([]windowArg, []uint16)
			}{{"windowMulti", windowMulti}, {"generic", windowMultiGeneric}} {
				as := slices.Clone(args)
				for i := range bufs {
					clear(bufs[i][3:])
				}
				impl.f(as, base)
				for i, a := range as {
					got := bufs[i][:a.count]
					w := ws[i]
					if !slices.Equal(got, w.vals) || a.above != w.above || a.eqLo != w.eqLo || a.eqHi != w.eqHi {
						t.Fatalf("%s n=%d K=%d query %d (window %x-%x): %d values, %d above, %d = lo, %d = hi; want %d, %d, %d, %d",
							impl.name, n, K, i, a.lo[0], a.hi[0], len(got), a.above, a.eqLo, a.eqHi, len(w.vals), w.above, w.eqLo, w.eqHi)
					}
				}
			}
		}
	}
}

// BenchmarkWindow times the window kernel on one block in cache for three
// models, with windows holding about 2 % of the block (what a 6σ window
// around the median of a 65536-element sample holds).
func BenchmarkWindow(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	base := make([]uint16, fusedBlock)
	for i := range base {
		base[i] = uint16(math.Float32bits(float32(r.NormFloat64()*0.02)) >> 16)
	}
	const K = 3
	xs := make([][]uint16, K)
	los, his := make([]uint32, K), make([]uint32, K)
	for k := range xs {
		xs[k] = make([]uint16, fusedBlock)
		a := make([]uint32, fusedBlock)
		for i := range xs[k] {
			bv := bf16Value(base[i])
			xs[k][i] = uint16(math.Float32bits(bv+float32(r.NormFloat64()*1e-3)) >> 16)
			a[i] = math.Float32bits(bf16Value(xs[k][i])-bv) & 0x7fffffff
		}
		slices.Sort(a)
		los[k], his[k] = a[len(a)/2-len(a)/100], a[len(a)/2+len(a)/100]
	}
	dst := make([][]uint32, K)
	for k := range dst {
		dst[k] = make([]uint32, fusedBlock+8)
	}
	b.Run("multi", func(b *testing.B) {
		b.SetBytes(2 * fusedBlock * (K + 1))
		args := make([]windowArg, K)
		for b.Loop() {
			for k := range args {
				args[k] = newWindowArg(xs[k], dst[k], los[k], his[k])
			}
			windowMulti(args, base)
		}
	})
}

// TestResolveWindowEdges checks the resolution of windows (whose edges the
// pass counts instead of collecting) against sorting,
// for every rank: answers on the hi run, inside, on the lo run, and ranks
// outside the window (which must report a miss), with windows of one
// pattern, and with and without the pass's histograms.
func TestResolveWindowEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const nChunks = 4
	for trial := 0; trial < 40; trial++ {
		// Values with long tie runs over a few dozen patterns.
		var chunks [][]uint32
		var all []uint32
		for range nChunks {
			c := make([]uint32, 1+r.IntN(300))
			for i := range c {
				c[i] = 0x3b000000 + uint32(r.IntN(40))<<uint(r.IntN(2)*8)
			}
			chunks = append(chunks, c)
			all = append(all, c...)
		}
		desc := slices.Clone(all)
		slices.Sort(desc)
		slices.Reverse(desc)
		lo, hi := desc[r.IntN(len(desc))], desc[r.IntN(len(desc))]
		if lo > hi {
			lo, hi = hi, lo
		}
		if trial%5 == 0 {
			lo = hi // a window of one pattern
		}
		for rank := int64(0); rank < int64(len(all)); rank++ {
			for _, hists := range []bool{false, true} {
				q := &windowQuery{rankQuery: rankQuery{Rank: rank}, lo: lo, hi: hi}
				q.alloc(nChunks)
				if hists {
					q.hists = make([][]uint32, nChunks)
				}
				for c, vals := range chunks {
					for _, x := range vals {
						switch {
						case x > hi:
							q.above[c]++
						case x > lo && x < hi:
							q.inside[c] = append(q.inside[c], x)
						}
						if x == hi {
							q.eqHi[c]++
						}
						if x == lo {
							q.eqLo[c]++
						}
					}
					if hists {
						q.hists[c] = make([]uint32, (hi-lo)>>q.bucketShift()+1)
						countBuckets(q.hists[c], q.inside[c], lo, q.bucketShift())
					}
				}
				v := desc[rank]
				ok := resolveWindowItems(q, nChunks)
				if v < lo || v > hi {
					if ok {
						t.Fatalf("trial %d rank %d: answer %x outside window %x-%x, but resolved to %x", trial, rank, v, lo, hi, q.answer.Bits)
					}
					continue
				}
				if !ok {
					t.Fatalf("trial %d rank %d: answer %x inside window %x-%x not resolved", trial, rank, v, lo, hi)
				}
				var greater, equal int64
				for _, x := range all {
					if x > v {
						greater++
					} else if x == v {
						equal++
					}
				}
				if q.answer != (rankAnswer{Bits: v, Greater: greater, Equal: equal}) {
					t.Fatalf("trial %d rank %d (window %x-%x): %+v, want %x %d %d", trial, rank, lo, hi, q.answer, v, greater, equal)
				}
				for c, vals := range chunks {
					var n int64
					for _, x := range vals {
						if x == v {
							n++
						}
					}
					if q.perChunk[c] != n {
						t.Fatalf("trial %d rank %d: chunk %d holds %d of the answer, got %d", trial, rank, c, n, q.perChunk[c])
					}
				}
			}
		}
	}
}
