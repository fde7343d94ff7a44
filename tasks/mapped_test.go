//go:build unix

package tasks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/formats/formatstest"
	"github.com/gomerge/gomerge/merge"
)

// mappedTensor is the tensor the mapped-input tests merge.
const mappedTensor = "model.layers.0.mlp.w"

// writeBF16Models writes base and models as bf16 checkpoints holding
// mappedTensor and returns their paths (base first).
func writeBF16Models(t *testing.T, dir string, base []uint16, models ...[]uint16) []string {
	t.Helper()
	var paths []string
	for k, v := range append([][]uint16{base}, models...) {
		f := make([]float32, len(v))
		for i, u := range v {
			f[i] = bf16Value(u)
		}
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k))
		formatstest.Write(t, p, formats.BF16, []formatstest.Tensor{{Name: mappedTensor, Data: f}}, "")
		paths = append(paths, p)
	}
	return paths
}

// mergeFiles merges the checkpoints at paths (base first) with the named
// method through the engine on two threads, after setup adjusts each
// task's method, and returns the merged float32 values (or the error of
// merge.Write, with no output written).
func mergeFiles(t *testing.T, name string, global merge.Params, perModel []merge.Params, paths []string, setup func(m *gta, task *merge.Task) merge.Method) ([]float32, error) {
	t.Helper()
	spec := methodByName(t, name)
	ms := make([]*formats.Model, len(paths))
	for k, p := range paths {
		ms[k] = formatstest.Open(t, p)
	}
	plan, err := merge.PlanMerge(&merge.Config{Spec: spec, Params: merge.ConstParams{Global: global, PerModel: perModel}, Base: ms[0], Models: ms[1:], OutDType: formats.F32, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range plan.Tasks {
		if task.Method != nil {
			task.Method = setup(task.Method.(*gta), task)
		}
	}
	out := filepath.Join(t.TempDir(), "out.safetensors")
	if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%s: a failed merge left its output", name)
		}
		return nil, err
	}
	return formatstest.Read(t, out, mappedTensor), nil
}

// TestBlockedBF16MappedMatchesRead checks that the blocked bf16 passes give
// the same bits whether they read the inputs in place from memory mappings
// or with ReadRaw into block buffers, and that both match the float32
// path, for ties (a negative weight, a model keeping everything),
// breadcrumbs_ties and dare_ties (with and without the L1 rescale, masks
// cached or drawn again in the merge pass), on a tensor of two chunks and
// an odd tail holding zeros, −0, subnormals, infinities and NaNs.
func TestBlockedBF16MappedMatchesRead(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	n := merge.ChunkElems + 3*fusedBlock + 13
	base := randomBF16(r, n, nil, false)
	paths := writeBF16Models(t, t.TempDir(), base, randomBF16(r, n, base, true), randomBF16(r, n, base, false), randomBF16(r, n, base, false))
	cases := []struct {
		name     string
		global   merge.Params
		perModel []merge.Params
		budget   int64
		dropAll  bool // every pass drops its pages (a large tensor)
	}{
		{"ties", nil, []merge.Params{{"weight": 0.5, "density": 0.5}, {"weight": 0.3, "density": 0.5}, {"weight": 0.7, "density": 0.5}}, maxMaskCache, false},
		{"ties", nil, []merge.Params{{"weight": 0.5, "density": 0.3}, {"weight": -0.4, "density": 0.6}, {"weight": 0.7, "density": 1.0}}, maxMaskCache, true},
		{"breadcrumbs_ties", nil, []merge.Params{{"weight": 0.5, "density": 0.8, "gamma": 0.03}, {"weight": 0.3, "density": 0.5, "gamma": 0.1}, {"weight": 0.7, "density": 0.9, "gamma": 0.01}}, maxMaskCache, false},
		{"dare_ties", nil, []merge.Params{{"weight": 0.5, "density": 0.5}, {"weight": 0.3, "density": 0.4}, {"weight": 0.7, "density": 0.6}}, maxMaskCache, false},
		{"dare_ties", nil, []merge.Params{{"weight": 0.5, "density": 0.5}, {"weight": 0.3, "density": 0.4}, {"weight": 0.7, "density": 0.6}}, 0, true},
		{"dare_ties", merge.Params{"rescale": "false"}, []merge.Params{{"weight": 0.5, "density": 0.4}, {"weight": -0.3, "density": 0.6}, {"weight": 0.7, "density": 0.5}}, maxMaskCache, false},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, c.name), func(t *testing.T) {
			run := func(mapped, ref bool) []float32 {
				got, err := mergeFiles(t, c.name, c.global, c.perModel, paths, func(m *gta, task *merge.Task) merge.Method {
					m.noMap, m.refOnly, m.maskBudget = !mapped, ref, c.budget
					if mapped && c.dropAll {
						m.keepMapped = 0
					}
					if in := openBF16Inputs(task, true, 0); in == nil || in.mapped == nil {
						t.Fatal("the inputs cannot be mapped")
					} else {
						in.close()
					}
					return m
				})
				if err != nil {
					t.Fatal(err)
				}
				return got
			}
			mapped, read, ref := run(true, false), run(false, false), run(false, true)
			for i := range mapped {
				if math.Float32bits(mapped[i]) != math.Float32bits(read[i]) || math.Float32bits(read[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("entry %d: mapped %x, read %x, float32 path %x", i, math.Float32bits(mapped[i]), math.Float32bits(read[i]), math.Float32bits(ref[i]))
				}
			}
		})
	}
}

// truncatingMethod truncates a file when the merge pass writes its first
// block, while the passes read the file from a mapping.
type truncatingMethod struct {
	inner merge.Method
	path  string
	once  sync.Once
	err   error
}

type sinkFunc func(src []float32, off int64) error

func (f sinkFunc) Write(src []float32, off int64) error { return f(src, off) }

func (m *truncatingMethod) Merge(ctx context.Context, t *merge.Task) error {
	out := t.Out
	t.Out = sinkFunc(func(src []float32, off int64) error {
		m.once.Do(func() { m.err = os.Truncate(m.path, 4096) })
		return out.Write(src, off)
	})
	return m.inner.Merge(ctx, t)
}

// TestBlockedBF16TruncatedInputIsAnError truncates an input file in the
// middle of the merge pass of ties and dare_ties (after the window or L1
// pass has read the whole tensor from the mapping): the merge must fail
// with an error naming the file and the tensor, not crash, and leave no
// output.
func TestBlockedBF16TruncatedInputIsAnError(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	n := 2*merge.ChunkElems + 13
	base := randomBF16(r, n, nil, false)
	models := [][]uint16{randomBF16(r, n, base, false), randomBF16(r, n, base, false)}
	perModel := []merge.Params{{"weight": 0.5, "density": 0.5}, {"weight": 0.7, "density": 0.4}}
	for _, name := range []string{"ties", "dare_ties"} {
		t.Run(name, func(t *testing.T) {
			paths := writeBF16Models(t, t.TempDir(), base, models...)
			victim := paths[2]
			var tm *truncatingMethod
			_, err := mergeFiles(t, name, nil, perModel, paths, func(m *gta, task *merge.Task) merge.Method {
				tm = &truncatingMethod{inner: m, path: victim}
				return tm
			})
			if tm.err != nil {
				t.Fatal(tm.err)
			}
			if err == nil || !strings.Contains(err.Error(), victim) || !strings.Contains(err.Error(), mappedTensor) || !strings.Contains(err.Error(), "truncated while mapped") {
				t.Fatalf("err = %v, want a mapped-truncation error naming %s and tensor %s", err, victim, mappedTensor)
			}
		})
	}
}
