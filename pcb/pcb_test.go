package pcb

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// tensor is one tensor of a test checkpoint.
type tensor struct {
	name  string
	shape []int64
	data  []float32
}

// writeCheckpoint writes float32 tensors to dir/name.safetensors.
func writeCheckpoint(t testing.TB, dir, name string, ts []tensor) string {
	t.Helper()
	path := filepath.Join(dir, name+".safetensors")
	specs := make([]formats.TensorSpec, len(ts))
	for i, x := range ts {
		specs[i] = formats.TensorSpec{Name: x.name, DType: formats.F32, Shape: x.shape}
	}
	w, err := formats.Create(path, specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	for _, x := range ts {
		if _, err := w.WriteFloat32(x.name, 0, x.data, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

// split cuts flat values into tensors of the given names and shapes.
func split(flat []float32, names []string, shapes [][]int64) []tensor {
	var out []tensor
	off := int64(0)
	for i, s := range shapes {
		n := int64(1)
		for _, d := range s {
			n *= d
		}
		out = append(out, tensor{names[i], s, flat[off : off+n]})
		off += n
	}
	return out
}

// run merges with pcb through the engine and returns the output file's
// bytes and its tensors as float32.
type runOpts struct {
	global   merge.Params
	perModel []merge.Params
	threads  int
	exclude  string
	missing  merge.MissingPolicy
	noRead   bool              // do not read the output back
	spec     *merge.MethodSpec // instead of Spec
}

func cmpOr(a, b *merge.MethodSpec) *merge.MethodSpec {
	if a != nil {
		return a
	}
	return b
}

func runPCB(t testing.TB, base string, models []string, o runOpts) ([]byte, map[string][]float32, error) {
	t.Helper()
	open := func(p string) *formats.Model {
		m, err := formats.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	cfg := &merge.Config{
		Spec:    cmpOr(o.spec, Spec),
		Params:  merge.ConstParams{Global: o.global, PerModel: o.perModel},
		Base:    open(base),
		Threads: max(o.threads, 1),
		Missing: o.missing,
	}
	for _, p := range models {
		cfg.Models = append(cfg.Models, open(p))
	}
	if o.exclude != "" {
		cfg.Exclude = []*regexp.Regexp{regexp.MustCompile(o.exclude)}
	}
	plan, err := merge.PlanMerge(cfg)
	if err != nil {
		return nil, nil, err
	}
	out := filepath.Join(t.TempDir(), "out.safetensors")
	err = merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: cfg.Threads})
	if err != nil || o.noRead {
		return nil, nil, err
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	m := open(out)
	vals := map[string][]float32{}
	for _, n := range m.Names() {
		x, _ := m.Tensor(n)
		v := make([]float32, x.Size/int64(x.DType.Size()))
		if _, err := x.ReadFloat32(v, 0, nil); err != nil {
			t.Fatal(err)
		}
		vals[n] = v
	}
	return raw, vals, nil
}

// The worked example of ../shared/specs/pcb.md §2.5 (official code, d = 6,
// two tasks), with the six values split across a [2,2] and a [2] tensor so
// that the statistics really span the whole model.
var (
	exTau1 = []float32{0.5, -0.2, 0.1, 0.04, -0.3, 0.02}
	exTau2 = []float32{0.3, 0.25, -0.15, 0.01, -0.1, 0.06}
)

func TestWorkedExampleModelScope(t *testing.T) {
	tests := []struct {
		ratio float64
		inter string
		want  []float32 // τ_m
	}{
		{0.5, "sum", []float32{0.275, 0.25, 0, 0, -0.3, 0}},
		{0.5, "pairwise", []float32{0.275, 0.25, 0, 0, -0.3, 0}},
		{0.8, "sum", []float32{0.275, 0.25, -0.15, 0.04, -0.2839712, 0.02}},
		{0.8, "pairwise", []float32{0.275, 0.25, -0.15, 0.04, -0.2862028, 0.02}},
	}
	names := []string{"a", "b"}
	shapes := [][]int64{{2, 2}, {2}}
	// base 0 keeps τ exactly the spec's values; base 0.5 with λ = 1.5
	// checks θ = θ0 + λ·τ_m.
	for _, base0 := range []float32{0, 0.5} {
		lambda := 1.0
		if base0 != 0 {
			lambda = 1.5
		}
		dir := t.TempDir()
		base := make([]float32, 6)
		m1, m2 := make([]float32, 6), make([]float32, 6)
		for i := range base {
			base[i] = base0
			m1[i] = base0 + exTau1[i]
			m2[i] = base0 + exTau2[i]
		}
		bp := writeCheckpoint(t, dir, "base", split(base, names, shapes))
		p1 := writeCheckpoint(t, dir, "m1", split(m1, names, shapes))
		p2 := writeCheckpoint(t, dir, "m2", split(m2, names, shapes))
		for _, tc := range tests {
			for _, clip := range []float64{0.01, 0.0001} {
				g := merge.Params{"ratio": tc.ratio, "inter": tc.inter, "clip": clip, "lambda": lambda}
				_, got, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: g})
				if err != nil {
					t.Fatal(err)
				}
				flat := append(slices.Clone(got["a"]), got["b"]...)
				for i, w := range tc.want {
					want := float64(base0) + lambda*float64(w)
					if math.Abs(float64(flat[i])-want) > 1e-6 {
						t.Errorf("base %g ratio %g inter %s clip %g: θ[%d] = %.7f, want %.7f", base0, tc.ratio, tc.inter, clip, i, flat[i], want)
					}
				}
			}
		}
	}
}

// sliceTask builds an in-memory task over flat base and model values.
func sliceTask(name string, base []float32, models ...[]float32) *merge.Task {
	t := &merge.Task{Name: name, Shape: []int64{int64(len(base))},
		Base: &merge.SliceSource{Data: base}, Out: &merge.SliceSink{Data: make([]float32, len(base))}}
	for _, m := range models {
		t.Inputs = append(t.Inputs, &merge.SliceSource{Data: m})
		t.Model = append(t.Model, merge.Params{})
	}
	return t
}

// TestWorkedExampleIntermediates checks the clip bounds, balance scores and
// scales of the spec's worked example.
func TestWorkedExampleIntermediates(t *testing.T) {
	zero := make([]float32, 6)
	task := sliceTask("x", zero, exTau1, exTau2)
	intra := [][]float64{{7.3890561, 2.2853761, 1.177349, 1.0102563, 7.3890561, 1}, {7.3890561, 7.3890561, 1.9749746, 1, 1.3247848, 1.0906846}}
	balSum := [][]float64{{2.8074642, -0.022853, -0.0058867, 0.0020205, 0.882455, 0.0016}, {1.7400913, 0.0923584, 0.014812, 0.0005, 0.0529631, 0.0052352}}
	tests := []struct {
		ratio    float64
		pairwise bool
		scale    [][]float64
	}{
		{0.5, false, [][]float64{{1, 0, 0, 0, 0.3138307, 0}, {1, 0.0233505, 0, 0, 0, 0}}},
		{0.5, true, [][]float64{{1, 0, 0, 0, 0.7351466, 0}, {1, 0.0735444, 0, 0, 0, 0}}},
		{0.8, false, [][]float64{{1, 0, 0, 0.0028106, 0.3157593, 0.0026611}, {1, 0.0502192, 0.0055202, 0, 0.0275112, 0}}},
	}
	for _, tc := range tests {
		m := &method{ratio: tc.ratio, clip: 0.01, lambda: 1, pairwise: tc.pairwise}
		g := newGroup([]*merge.Task{task}, 1)
		st, err := m.statistics(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		// Task 1 has two entries with τ_1·Στ ≤ 0: positive-only scoring
		// applies when the drop position ⌊6(1−r)⌋ is at least 2.
		if want := !tc.pairwise && tc.ratio == 0.5; st[0].positive != want {
			t.Errorf("ratio %g pairwise %v: positive-only = %v, want %v", tc.ratio, tc.pairwise, st[0].positive, want)
		}
		wantLoHi := [][2]float32{{0.02, 0.3}, {0.01, 0.25}}
		for k := range st {
			if st[k].lo != wantLoHi[k][0] || st[k].hi != wantLoHi[k][1] {
				t.Errorf("task %d: clip bounds [%g, %g], want %v", k, st[k].lo, st[k].hi, wantLoHi[k])
			}
		}
		err = g.forEach(context.Background(), func(_ item, _ int64, cd *chunkData) error {
			cd.blocks(func(_ int, b *buffers) {
				t.Logf("ratio %g pairwise %v", tc.ratio, tc.pairwise)
				checkBlock(t, b, st, tc.pairwise, tc.scale, balSum, intra)
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkBlock(t *testing.T, b *buffers, st []taskStats, pairwise bool, wantScale, balSum, intra [][]float64) {
	t.Helper()
	// intra = exp(n·MinMax²) from the clip bounds.
	for k := range b.tau {
		m := make([]float32, len(b.tau[k]))
		minMax(m, b.tau[k], st[k].lo, st[k].hi)
		for i, v := range m {
			got := math.Exp(2 * float64(v) * float64(v))
			if math.Abs(got-intra[k][i]) > 1e-6*intra[k][i] {
				t.Errorf("intra[%d][%d] = %.7f, want %.7f", k, i, got, intra[k][i])
			}
		}
	}
	full := slices.Clone(st)
	for k := range full {
		full[k].positive = false
	}
	scores(b, full, pairwise, nil, nil, func(k int, B []float32) {
		for i, v := range B {
			if !pairwise && math.Abs(float64(v)-balSum[k][i]) > 1e-6 {
				t.Errorf("balance[%d][%d] = %.7f, want %.7f", k, i, v, balSum[k][i])
			}
		}
	})
	for k, row := range weightsOf(b, st, pairwise) {
		for i, v := range row {
			if math.Abs(float64(v)-wantScale[k][i]) > 1e-6 {
				t.Errorf("pairwise %v (positive-only %v): scale[%d][%d] = %.7f, want %.7f", pairwise, st[k].positive, k, i, v, wantScale[k][i])
			}
		}
	}
}

// weightsOf returns every task's drop-and-rescale weights of a block, one
// per entry.
func weightsOf(b *buffers, st []taskStats, pairwise bool) [][]float32 {
	out := make([][]float32, len(st))
	scores(b, st, pairwise, nil, nil, func(k int, B []float32) {
		scale(B, st[k].thr, st[k].max)
		out[k] = make([]float32, len(b.base))
		if !st[k].positive {
			copy(out[k], B)
			return
		}
		for j, i := range b.idx[:len(B)] {
			out[k][i] = B[j]
		}
	})
	return out
}

// refPCB is a straightforward in-memory PCB over flattened task vectors:
// sort, index, compute. It uses simd.Exp/simd.Tanh elementwise, so its
// results are bit-for-bit those of the streamed implementation.
func refPCB(base []float32, models [][]float32, w []float32, ratio, lambda, clip float64, pairwise bool) []float32 {
	d, n := len(base), len(models)
	exp := func(x float32) float32 { r := []float32{0}; simd.Exp(r, []float32{x}); return r[0] }
	tanh := func(x float32) float32 { r := []float32{0}; simd.Tanh(r, []float32{x}); return r[0] }
	sorted := func(x []float32) []float32 {
		s := slices.Clone(x)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s
	}
	tau := make([][]float32, n)
	hat := make([][]float32, n)
	mm := make([][]float32, n)
	for k := range n {
		tau[k] = make([]float32, d)
		abs := make([]float32, d)
		for i := range d {
			tau[k][i] = models[k][i] - base[i]
			abs[i] = float32(math.Abs(float64(tau[k][i])))
		}
		s := sorted(abs)
		lo := s[int(float64(d)*clip)]
		hi := s[int(float64(float64(d)*(1-clip))-1)]
		hat[k] = make([]float32, d)
		mm[k] = make([]float32, d)
		for i := range d {
			a := min(max(abs[i], lo), hi)
			switch {
			case tau[k][i] > 0:
				hat[k][i] = a
			case tau[k][i] < 0:
				hat[k][i] = -a
			}
			if hi > lo {
				mm[k][i] = (a - lo) / (hi - lo)
			}
		}
	}
	num := make([]float32, d)
	den := make([]float32, d)
	for k := range n {
		bal := make([]float32, d)
		for i := range d {
			intra := exp(float32(n) * float32(mm[k][i]*mm[k][i]))
			var inter float32
			if pairwise {
				nk := mm[k][i]
				if tau[k][i] < 0 {
					nk = -nk
				} else if tau[k][i] == 0 {
					nk = 0
				}
				for j := range n {
					nj := mm[j][i]
					if tau[j][i] < 0 {
						nj = -nj
					} else if tau[j][i] == 0 {
						nj = 0
					}
					inter += tanh(nk * nj)
				}
			} else {
				var sum float32
				for j := range n {
					sum += tau[j][i]
				}
				inter = tanh(tau[k][i] * sum)
			}
			bal[i] = intra * inter
		}
		s := sorted(bal)
		thr := s[min(int(float64(d)*(1-ratio)), d-1)]
		mx := s[d-1]
		for i := range d {
			var sc float32
			if mx > thr {
				sc = (max(bal[i], thr) - thr) / (mx - thr)
			} else if bal[i] == mx {
				sc = 1
			}
			num[i] += float32(w[k]*hat[k][i]) * sc
			den[i] += sc
		}
	}
	out := make([]float32, d)
	for i := range d {
		out[i] = float32(float32(lambda)*(num[i]/max(den[i], 1e-12))) + base[i]
	}
	return out
}

// randomFamily returns flat base and model values with the features that
// matter: zeros in τ, repeated values, a constant model (task vector 0).
func randomFamily(r *rand.Rand, d, n int) ([]float32, [][]float32) {
	base := make([]float32, d)
	for i := range base {
		base[i] = float32(r.NormFloat64() * 0.05)
	}
	models := make([][]float32, n)
	for k := range models {
		models[k] = make([]float32, d)
		for i := range base {
			switch r.IntN(10) {
			case 0:
				models[k][i] = base[i] // τ = 0
			case 1:
				models[k][i] = base[i] + 0.0078125 // repeated |τ|
			default:
				models[k][i] = base[i] + float32(r.NormFloat64()*0.01*float64(k+1))
			}
		}
	}
	return base, models
}

func TestModelScopeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"l.0.w", "l.0.b", "l.1.w", "norm"}
	shapes := [][]int64{{7, 9}, {9}, {3, 4, 5}, {11}}
	d := 63 + 9 + 60 + 11
	for _, n := range []int{1, 2, 3} {
		dir := t.TempDir()
		base, models := randomFamily(r, d, n)
		// Tensors are stored in sorted-name order; flatten in that order.
		byName := func(flat []float32) []tensor { return split(flat, names, shapes) }
		bp := writeCheckpoint(t, dir, "base", byName(base))
		var paths []string
		for k, m := range models {
			paths = append(paths, writeCheckpoint(t, dir, fmt.Sprint("m", k), byName(m)))
		}
		w := make([]float32, n)
		var perModel []merge.Params
		for k := range w {
			w[k] = []float32{1, 0.7, 1.3}[k]
			perModel = append(perModel, merge.Params{"weight": float64(w[k])})
		}
		for _, ratio := range []float64{0.05, 0.1, 0.5, 0.8, 1, 0.001} {
			for _, clip := range []float64{0.01, 0.2, 0} {
				for _, pairwise := range []bool{false, true} {
					inter := map[bool]string{false: "sum", true: "pairwise"}[pairwise]
					g := merge.Params{"ratio": ratio, "clip": clip, "inter": inter, "lambda": 1.25}
					_, got, err := runPCB(t, bp, paths, runOpts{global: g, perModel: perModel})
					if err != nil {
						t.Fatal(err)
					}
					want := refPCB(base, models, w, ratio, 1.25, clip, pairwise)
					off := 0
					for i, name := range names {
						part := got[name]
						for j, v := range part {
							if math.Float32bits(v) != math.Float32bits(want[off+j]) {
								t.Fatalf("n=%d ratio %g clip %g %s: %s[%d] = %g, reference %g", n, ratio, clip, inter, name, j, v, want[off+j])
							}
						}
						off += len(part)
						_ = i
					}
				}
			}
		}
	}
}

func TestTensorScopeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"a", "b", "c"}
	shapes := [][]int64{{5, 6}, {17}, {2, 2}}
	dir := t.TempDir()
	base, models := randomFamily(r, 30+17+4, 2)
	bp := writeCheckpoint(t, dir, "base", split(base, names, shapes))
	p1 := writeCheckpoint(t, dir, "m1", split(models[0], names, shapes))
	p2 := writeCheckpoint(t, dir, "m2", split(models[1], names, shapes))
	for _, ratio := range []float64{0.1, 0.5, 0.9} {
		for _, pairwise := range []bool{false, true} {
			inter := map[bool]string{false: "sum", true: "pairwise"}[pairwise]
			g := merge.Params{"ratio": ratio, "scope": "tensor", "inter": inter}
			_, got, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: g})
			if err != nil {
				t.Fatal(err)
			}
			off := 0
			for i, name := range names {
				n := len(got[name])
				want := refPCB(base[off:off+n], [][]float32{models[0][off : off+n], models[1][off : off+n]}, []float32{1, 1}, ratio, 1, 0.01, pairwise)
				if !slices.Equal(got[name], want) {
					t.Errorf("ratio %g %s: tensor %s = %v, reference %v", ratio, inter, names[i], got[name], want)
				}
				off += n
			}
		}
	}
}

// TestModelScopeIgnoresTensorSplit: with --scope model the result depends on
// the values only, not on how they are split into tensors.
func TestModelScopeIgnoresTensorSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base, models := randomFamily(r, 60, 2)
	layouts := []struct {
		names  []string
		shapes [][]int64
	}{
		{[]string{"all"}, [][]int64{{60}}},
		{[]string{"a", "b", "c"}, [][]int64{{4, 5}, {30}, {2, 5}}},
	}
	var flats [][]float32
	for _, l := range layouts {
		dir := t.TempDir()
		bp := writeCheckpoint(t, dir, "base", split(base, l.names, l.shapes))
		p1 := writeCheckpoint(t, dir, "m1", split(models[0], l.names, l.shapes))
		p2 := writeCheckpoint(t, dir, "m2", split(models[1], l.names, l.shapes))
		_, got, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: merge.Params{"ratio": 0.3}})
		if err != nil {
			t.Fatal(err)
		}
		var flat []float32
		for _, n := range l.names {
			flat = append(flat, got[n]...)
		}
		flats = append(flats, flat)
	}
	if !slices.Equal(flats[0], flats[1]) {
		t.Errorf("one tensor: %v\nthree tensors: %v", flats[0], flats[1])
	}
}

// TestExcludeKeepsBaseAndLeavesD: an excluded tensor keeps the base values
// and does not count in d: the others merge as if it did not exist.
func TestExcludeKeepsBaseAndLeavesD(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	base, models := randomFamily(r, 50, 2)
	dir := t.TempDir()
	names, shapes := []string{"a", "skip"}, [][]int64{{30}, {20}}
	bp := writeCheckpoint(t, dir, "base", split(base, names, shapes))
	p1 := writeCheckpoint(t, dir, "m1", split(models[0], names, shapes))
	p2 := writeCheckpoint(t, dir, "m2", split(models[1], names, shapes))
	g := merge.Params{"ratio": 0.2}
	_, got, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: g, exclude: "^skip$"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["skip"], base[30:]) {
		t.Errorf("excluded tensor = %v, want the base %v", got["skip"], base[30:])
	}
	want := refPCB(base[:30], [][]float32{models[0][:30], models[1][:30]}, []float32{1, 1}, 0.2, 1, 0.01, false)
	if !slices.Equal(got["a"], want) {
		t.Errorf("merged tensor = %v, reference over it alone %v", got["a"], want)
	}
}

// TestThreadsByteIdentical: -j 1 and -j 2 give the same bytes, over
// tensors of several chunks.
func TestThreadsByteIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("merges 2.6M-element checkpoints")
	}
	r := rand.New(rand.NewPCG(9, 10))
	names := []string{"big", "small", "wide"}
	shapes := [][]int64{{1100, 1000}, {37}, {3, 500000}}
	d := 1100*1000 + 37 + 1500000
	base, models := randomFamily(r, d, 2)
	dir := t.TempDir()
	bp := writeCheckpoint(t, dir, "base", split(base, names, shapes))
	p1 := writeCheckpoint(t, dir, "m1", split(models[0], names, shapes))
	p2 := writeCheckpoint(t, dir, "m2", split(models[1], names, shapes))
	for _, scope := range []string{"model", "tensor"} {
		g := merge.Params{"ratio": 0.1, "scope": scope, "inter": "pairwise"}
		one, _, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: g, threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		two, _, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: g, threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one, two) {
			t.Errorf("scope %s: -j 1 and -j 2 outputs differ", scope)
		}
	}
}

func TestInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	base, models := randomFamily(r, 40, 2)
	dir := t.TempDir()
	names, shapes := []string{"a", "b"}, [][]int64{{5, 5}, {15}}
	bp := writeCheckpoint(t, dir, "base", split(base, names, shapes))
	p1 := writeCheckpoint(t, dir, "m1", split(models[0], names, shapes))
	p2 := writeCheckpoint(t, dir, "m2", split(models[1], names, shapes))
	same := writeCheckpoint(t, dir, "same", split(base, names, shapes))
	flat := func(got map[string][]float32) []float32 { return append(slices.Clone(got["a"]), got["b"]...) }
	for _, inter := range []string{"sum", "pairwise"} {
		// Models equal to the base: τ = 0 everywhere, the base comes back.
		_, got, err := runPCB(t, bp, []string{same, same}, runOpts{global: merge.Params{"inter": inter}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(flat(got), base) {
			t.Errorf("%s: merging copies of the base changed it: %v", inter, flat(got))
		}
		// Weight 0 for every model: the base.
		zero := []merge.Params{{"weight": 0.0}, {"weight": 0.0}}
		_, got, err = runPCB(t, bp, []string{p1, p2}, runOpts{global: merge.Params{"inter": inter}, perModel: zero})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(flat(got), base) {
			t.Errorf("%s: weight 0 changed the base", inter)
		}
		// λ = 0: the base.
		_, got, err = runPCB(t, bp, []string{p1, p2}, runOpts{global: merge.Params{"inter": inter, "lambda": 0.0}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(flat(got), base) {
			t.Errorf("%s: lambda 0 changed the base", inter)
		}
		// Two models commute exactly (every sum has two terms).
		_, ab, err := runPCB(t, bp, []string{p1, p2}, runOpts{global: merge.Params{"inter": inter, "ratio": 0.4}})
		if err != nil {
			t.Fatal(err)
		}
		_, ba, err := runPCB(t, bp, []string{p2, p1}, runOpts{global: merge.Params{"inter": inter, "ratio": 0.4}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(flat(ab), flat(ba)) {
			t.Errorf("%s: swapping the two models changed the result", inter)
		}
		// Every output entry lies between base + λ·min(τ̂) and base +
		// λ·max(τ̂) — a weighted average of clipped task-vector entries —
		// or is the base. Checked via the reference on the difference.
		merged := flat(ab)
		for i := range merged {
			t1, t2 := models[0][i]-base[i], models[1][i]-base[i]
			lo, hi := min(t1, t2, 0), max(t1, t2, 0)
			if d := merged[i] - base[i]; d < lo-1e-7 || d > hi+1e-7 {
				t.Errorf("%s: entry %d moved by %g, outside [%g, %g]", inter, i, d, lo, hi)
			}
		}
	}
}

func TestDegenerateCases(t *testing.T) {
	ctx := context.Background()
	// A constant task vector (every |τ| equal): MinMax = 0, intra = 1, and
	// ratio < 1/d makes thr == max: only the maximal entries survive.
	base := []float32{0, 0, 0, 0}
	m1 := []float32{0.5, -0.5, 0.5, 0.5}
	tests := []struct {
		name  string
		ratio float64
		m     []float32
		want  []float32
	}{
		// B = tanh(τ·τ) = tanh(0.25) everywhere: all tied at the maximum,
		// thr == max, every entry keeps its full value.
		{"constant, tied", 0.5, m1, []float32{0.5, -0.5, 0.5, 0.5}},
		// One entry has the largest score; ratio 0.1 < 1/d: thr == max.
		{"ratio below 1/d", 0.1, []float32{0.1, 0.3, -0.2, 0.05}, []float32{0, 0.2, 0, 0}},
	}
	for _, tc := range tests {
		task := sliceTask("x", base, tc.m)
		m, err := newMethod(merge.Params{"ratio": tc.ratio, "clip": 0.01})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.(merge.Preparer).Prepare(ctx, []*merge.Task{task}); err != nil {
			t.Fatal(err)
		}
		if err := m.Merge(ctx, task); err != nil {
			t.Fatal(err)
		}
		got := task.Out.(*merge.SliceSink).Data
		for i := range got {
			if got[i] != got[i] || math.Abs(float64(got[i]-tc.want[i])) > 1e-7 {
				t.Errorf("%s: θ = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

func TestNewRejectsBadParams(t *testing.T) {
	bad := []merge.Params{
		{"ratio": 0.0}, {"ratio": 1.5}, {"ratio": -0.1}, {"ratio": math.NaN()},
		{"clip": 0.5}, {"clip": -0.01},
		{"lambda": math.Inf(1)},
		{"scope": "layer"}, {"inter": "product"},
	}
	for _, p := range bad {
		if _, err := newMethod(p); err == nil {
			t.Errorf("params %v: no error", p.Format())
		}
	}
	if _, err := newMethod(merge.Params{"ratio": 1.0, "clip": 0.0, "inter": "pairwise-tanh"}); err != nil {
		t.Errorf("valid params: %v", err)
	}
}

func TestModelScopeErrors(t *testing.T) {
	ctx := context.Background()
	m, _ := newMethod(merge.Params{})
	// Merge of a tensor Prepare never saw.
	task := sliceTask("x", []float32{0, 1}, []float32{1, 1})
	if err := m.Merge(ctx, task); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("unprepared tensor: err = %v", err)
	}
	// A tensor missing a model (--missing union) under model scope.
	a := sliceTask("a", []float32{0, 1}, []float32{1, 1}, []float32{2, 2})
	b := sliceTask("b", []float32{0, 1}, []float32{1, 1})
	if err := m.(merge.Preparer).Prepare(ctx, []*merge.Task{a, b}); err == nil || !strings.Contains(err.Error(), `"b"`) {
		t.Errorf("tensor with fewer models: err = %v", err)
	}
	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.(merge.Preparer).Prepare(cctx, []*merge.Task{a}); err == nil {
		t.Error("cancelled Prepare: no error")
	}
}

func TestMethodsRegistered(t *testing.T) {
	ms := Methods()
	if len(ms) != 1 || ms[0].Name != "pcb" || ms[0].Base != merge.BaseRequired || ms[0].MinModels != 1 {
		t.Fatalf("Methods() = %v", ms)
	}
	if p, ok := ms[0].Param("pcb_ratio"); !ok || p.Name != "ratio" {
		t.Error("pcb_ratio is not an alias of ratio")
	}
}
