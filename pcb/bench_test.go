package pcb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// discard is a Sink that drops the values.
type discard struct{}

func (discard) Write([]float32, int64) error { return nil }

// benchTasks builds in-memory tensors (LLM-like task vectors: δ ~ N(0,
// 0.002), a fifth exactly zero) for n models.
func benchTasks(tensors, elems, n int) []*merge.Task {
	r := rand.New(rand.NewPCG(1, 1))
	var out []*merge.Task
	for ti := range tensors {
		base := make([]float32, elems)
		for i := range base {
			base[i] = float32(r.NormFloat64() * 0.02)
		}
		t := &merge.Task{Name: fmt.Sprint("t", ti), Shape: []int64{int64(elems)}, Base: &merge.SliceSource{Data: base}, Out: discard{}}
		for range n {
			m := make([]float32, elems)
			for i := range m {
				if r.IntN(5) != 0 {
					m[i] = base[i] + float32(r.NormFloat64()*0.002)
				} else {
					m[i] = base[i]
				}
			}
			t.Inputs = append(t.Inputs, &merge.SliceSource{Data: m})
			t.Model = append(t.Model, merge.Params{})
		}
		out = append(out, t)
	}
	return out
}

// BenchmarkModelScope runs the five passes of a model-scope merge over 3
// task vectors of 4M elements each; MB/s counts the input elements (base +
// models) as 2-byte (bf16) values, once.
func BenchmarkModelScope(b *testing.B) {
	const tensors, elems, n = 2, 2 << 20, 3
	tasks := benchTasks(tensors, elems, n)
	for _, inter := range []string{"sum", "pairwise"} {
		b.Run(inter, func(b *testing.B) {
			b.SetBytes(int64(tensors * elems * (n + 1) * 2))
			for b.Loop() {
				m, err := newMethod(merge.Params{"inter": inter})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				if err := m.(merge.Preparer).Prepare(ctx, tasks); err != nil {
					b.Fatal(err)
				}
				for _, t := range tasks {
					if err := m.Merge(ctx, t); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkCheckpointDir merges a genmodels family (base, expert1…3) from
// the directory in $GOMERGE_PCB_BENCH_DIR through the engine, output
// discarded into a temporary file; skipped when unset. For profiling:
//
//	go run ./scripts/genmodels -o /tmp/fam -params 1e8 -experts 3
//	GOMERGE_PCB_BENCH_DIR=/tmp/fam go test -run X -bench CheckpointDir -cpuprofile cpu.out ./pcb
func BenchmarkCheckpointDir(b *testing.B) {
	dir := os.Getenv("GOMERGE_PCB_BENCH_DIR")
	if dir == "" {
		b.Skip("GOMERGE_PCB_BENCH_DIR not set")
	}
	var models []string
	for k := 1; ; k++ {
		p := filepath.Join(dir, fmt.Sprint("expert", k))
		if _, err := os.Stat(p); err != nil {
			break
		}
		models = append(models, p)
	}
	for b.Loop() {
		if _, _, err := runPCB(b, filepath.Join(dir, "base"), models, runOpts{global: merge.Params{}, threads: runtime.NumCPU(), noRead: true}); err != nil {
			b.Fatal(err)
		}
	}
}
