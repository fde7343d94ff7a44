package tasks

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// TestBernoulliMaskMatchesRNG checks bernoulliMask's draws, of one keep
// probability (in bulk) and of one per entry, against its rule spelled out
// on the task's stream: entry i keeps when 32-bit draw i (the halves of
// successive Uint64 values, low half first) is below keepThreshold of its
// probability; bits above the chunk stay clear.
func TestBernoulliMaskMatchesRNG(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, seed := range []uint64{0, 7} {
		task := &merge.Task{Name: "model.layers.3.mlp.up_proj.weight", Seed: seed}
		for _, p := range []float32{0, 1e-3, 0.3, 0.5, 0.9, 1, -1} {
			for _, n := range []int{1, 2, 7, 8, 247, 248, 249, 1000, 16<<10 + 3, 70001} {
				for _, model := range []int{0, 2} {
					ps := []float32{p}
					if p < 0 { // a probability per entry
						ps = make([]float32, n)
						for i := range ps {
							ps[i] = r.Float32()
						}
					}
					c := merge.Chunk{Index: 5, Lo: 0, Hi: int64(n)}
					bits := make([]byte, (n+7)/8)
					for i := range bits {
						bits[i] = 0xa5 // stale
					}
					bernoulliMask(task, model, c, ps, bits)
					rng := task.RNG(model, c.Index)
					var v uint64
					for i := range (n + 7) &^ 7 {
						got := bits[i>>3]>>(i&7)&1 != 0
						want := false
						if i < n {
							if i%2 == 0 {
								v = rng.Uint64()
							}
							draw := v & 0xffffffff
							if i%2 == 1 {
								draw = v >> 32
							}
							want = draw < keepThreshold(ps[min(i, len(ps)-1)])
						}
						if got != want {
							t.Fatalf("seed %d p %v n %d model %d: entry %d keeps %v, the rule says %v", seed, p, n, model, i, got, want)
						}
					}
				}
			}
		}
	}
}

// TestApplyBits checks applyBits against zeroing the entries whose bit is
// clear, on odd lengths and special values (kept entries keep their bits).
func TestApplyBits(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN()), 1e-45, -3}
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 1001} {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(r.NormFloat64())
			if r.IntN(10) == 0 {
				d[i] = special[r.IntN(len(special))]
			}
		}
		bits := make([]byte, (n+7)/8)
		keep := make([]bool, n)
		for i := range bits {
			bits[i] = byte(r.Uint32())
		}
		for i := range keep {
			keep[i] = bits[i>>3]>>(i&7)&1 != 0
		}
		got, want := slices.Clone(d), slices.Clone(d)
		applyBits(got, bits)
		for i, k := range keep {
			if !k {
				want[i] = 0
			}
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d entry %d: %x, want %x", n, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
	}
}

// TestSortByMagnitude checks the radix sort of DELLA's rows against
// sorting the keys: long tie runs, signed zeros, subnormals, infinities
// and NaNs, rows of one to thousands of entries, and a reused scratch.
func TestSortByMagnitude(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	var scratch []uint64
	for trial := 0; trial < 300; trial++ {
		n := 1 + r.IntN(3000)
		if trial%50 == 0 {
			n = 5504
		}
		row := make([]float32, n)
		for i := range row {
			switch r.IntN(4) {
			case 0:
				row[i] = float32(r.IntN(5)-2) / 256 // tie runs
			case 1:
				row[i] = special[r.IntN(len(special))]
			default:
				row[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(6)-3)))
			}
		}
		want := make([]uint64, n)
		for i, v := range row {
			want[i] = uint64(absBits(v))<<32 | uint64(i)
		}
		slices.Sort(want)
		var got []uint64
		got, scratch = sortByMagnitude(row, scratch)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (n=%d): radix order differs from sorting the keys", trial, n)
		}
	}
}

// BenchmarkSortByMagnitude times DELLA's row sort on rows of 2048 values
// spread like fine-tuning deltas, against sorting the keys.
func BenchmarkSortByMagnitude(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]float32, 2048)
	for i := range row {
		row[i] = float32(int(r.NormFloat64()*8)) / 4096
	}
	b.Run("radix", func(b *testing.B) {
		var scratch []uint64
		for b.Loop() {
			_, scratch = sortByMagnitude(row, scratch)
		}
	})
	b.Run("sort", func(b *testing.B) {
		keys := make([]uint64, len(row))
		for b.Loop() {
			for i, v := range row {
				keys[i] = uint64(absBits(v))<<32 | uint64(i)
			}
			slices.Sort(keys)
		}
	})
}
