package tasks

import (
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// benchMethod merges three 2^20-element task vectors into a base in memory.
func benchMethod(b *testing.B, name string, global, model merge.Params) {
	r := rand.New(rand.NewPCG(1, 1))
	const n = 1 << 20
	base := randomVec(r, n, 1)
	xs := [][]float32{plus(base, randomVec(r, n, 0.01)), plus(base, randomVec(r, n, 0.01)), plus(base, randomVec(r, n, 0.01))}
	pm := perModel(model, 0.5, 0.3, 0.2)
	b.SetBytes(4 * n * 4)
	for b.Loop() {
		if _, err := tryMethod(name, global, pm, nil, []int64{256, 4096}, base, xs...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTaskArithmetic(b *testing.B) { benchMethod(b, "task_arithmetic", nil, merge.Params{}) }
func BenchmarkTIES(b *testing.B)           { benchMethod(b, "ties", nil, merge.Params{"density": 0.3}) }
func BenchmarkDARETIES(b *testing.B)       { benchMethod(b, "dare_ties", nil, merge.Params{"density": 0.3}) }
func BenchmarkBreadcrumbs(b *testing.B) {
	benchMethod(b, "breadcrumbs", nil, merge.Params{"density": 0.3, "gamma": 0.01})
}
func BenchmarkDELLA(b *testing.B) { benchMethod(b, "della", nil, merge.Params{"density": 0.3}) }
func BenchmarkSCE(b *testing.B)   { benchMethod(b, "sce", merge.Params{"select_topk": 0.3}, nil) }
