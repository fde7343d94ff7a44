package tasks

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWindowMultiMatchesGeneric compares windowMulti with windowBF16Generic
// query by query: several queries (two on one model, as breadcrumbs asks),
// windows from empty to everything, odd lengths, special values, and
// counts carried over from an earlier block.
func TestWindowMultiMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	windows := [][2]uint32{{0x3b000000, 0x3c000000}, {0, 0x7fffffff}, {0, 0}, {0x7f800000, 0x7fffffff}, {0x3b800000, 0x3b800000}, {1, 0x007fffff}}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 63, 1000, 4099} {
		base := randomBF16(r, n, nil, true)
		var xs [][]uint16
		for range 4 {
			xs = append(xs, randomBF16(r, n, base, true))
		}
		for _, K := range []int{1, 2, 3, 5} {
			args := make([]windowArg, K)
			want := make([][]uint32, K)
			bufs := make([][]uint32, K)
			var wantAbove []int
			for i := range args {
				w := windows[r.IntN(len(windows))]
				x := xs[i%len(xs)]
				// An earlier block left 3 values.
				bufs[i] = make([]uint32, 3+n+8)
				copy(bufs[i], []uint32{7, 8, 9})
				args[i] = newWindowArg(x, bufs[i], w[0], w[1])
				args[i].count, args[i].above = 3, 5
				want[i] = make([]uint32, n+8)
				c, a := windowBF16Generic(want[i], x, base, w[0], w[1]-w[0], w[1])
				want[i] = append([]uint32{7, 8, 9}, want[i][:c]...)
				wantAbove = append(wantAbove, 5+a)
			}
			windowMulti(args, base)
			for i := range args {
				got := bufs[i][:args[i].count]
				if !slices.Equal(got, want[i]) || int(args[i].above) != wantAbove[i] {
					t.Fatalf("n=%d K=%d query %d (window %x-%x): %d values, %d above; generic %d, %d", n, K, i, args[i].loM1+1, args[i].hi, len(got), args[i].above, len(want[i]), wantAbove[i])
				}
			}
		}
	}
}

// BenchmarkWindow times the window kernels on one block in cache for three
// models, with windows holding about 2 % of the block (what a 6σ window
// around the median of a 65536-element sample holds): one windowBF16 call
// per model against one windowMulti call.
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
	b.Run("per-model", func(b *testing.B) {
		b.SetBytes(2 * fusedBlock * (K + 1))
		for b.Loop() {
			for k := range xs {
				windowBF16(dst[k], xs[k], base, los[k], his[k]-los[k], his[k])
			}
		}
	})
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
