package interp

import (
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// benchMerge measures one method on an in-memory tensor of n elements.
func benchMerge(b *testing.B, name string, global merge.Params, per []merge.Params, withBase bool, models int) {
	const n = 1 << 22
	rng := rand.New(rand.NewPCG(1, 1))
	base := randomVec(rng, n, 0.02)
	var xs [][]float32
	for range models {
		xs = append(xs, plus(base, randomVec(rng, n, 0.01)))
	}
	if !withBase {
		base = nil
	}
	s := spec(b, name)
	m, err := newMethod(b, s, global)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * n * (models + 1)))
	for b.Loop() {
		if _, err := runTask(b, m, s, global, per, []int64{1024, n / 1024}, base, xs...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLinear3(b *testing.B) { benchMerge(b, "linear", nil, weights(1, 1, 1), false, 3) }
func BenchmarkSlerp(b *testing.B)   { benchMerge(b, "slerp", merge.Params{"t": 0.5}, nil, true, 1) }
func BenchmarkNuslerpRows(b *testing.B) {
	benchMerge(b, "nuslerp", merge.Params{"nuslerp_flatten": false}, weights(1, 1), true, 2)
}
func BenchmarkNuslerpColumns(b *testing.B) {
	benchMerge(b, "nuslerp", merge.Params{"nuslerp_flatten": false, "nuslerp_row_wise": true}, weights(1, 1), true, 2)
}
func BenchmarkMultislerp3(b *testing.B) { benchMerge(b, "multislerp", nil, weights(1, 1, 1), true, 3) }
func BenchmarkKarcher3(b *testing.B)    { benchMerge(b, "karcher", nil, nil, false, 3) }
func BenchmarkModelStock3(b *testing.B) { benchMerge(b, "model_stock", nil, nil, true, 3) }
func BenchmarkNearswap(b *testing.B) {
	benchMerge(b, "nearswap", merge.Params{"t": 0.01}, nil, true, 1)
}

func BenchmarkNearswapKernel(b *testing.B) {
	for _, n := range []int{100, 10000, 1 << 20} {
		rng := rand.New(rand.NewPCG(2, 2))
		base, x := randomVec(rng, n, 1), randomVec(rng, n, 1)
		dst := make([]float32, n)
		b.Run(itoa(n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				nearswapKernel(dst, base, x, 0.01)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
