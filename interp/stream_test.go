package interp

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

func randomVec(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(scale * rng.NormFloat64())
	}
	return out
}

func plus(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range out {
		out[i] = a[i] + b[i]
	}
	return out
}

func assertRelClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	var maxAbs float64
	for _, v := range want {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= tol*math.Max(maxAbs, 1e-30)) {
			t.Fatalf("%s: element %d: got %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}

// withTile returns a copy of a method with its tile size set, for the
// methods that have one.
func withTile(m merge.Method, tile int64) merge.Method {
	switch m := m.(type) {
	case *slerpMethod:
		c := *m
		c.tile = tile
		return &c
	case *nuslerpMethod:
		c := *m
		c.tile = tile
		return &c
	case *multislerpMethod:
		c := *m
		c.tile = tile
		return &c
	case *karcherMethod:
		c := *m
		c.tile = tile
		return &c
	case *modelStockMethod:
		c := *m
		c.tile = tile
		return &c
	}
	return m
}

type streamCase struct {
	method string
	global merge.Params
	per    []merge.Params
	base   bool
	models int
}

var streamCases = []streamCase{
	{"linear", nil, weights(0.5, 0.25, 0.25), false, 3},
	{"slerp", merge.Params{"t": 0.35}, nil, true, 1},
	{"nuslerp", nil, weights(0.7, 0.3), false, 2},
	{"nuslerp", nil, weights(0.7, 0.3), true, 2},
	{"nuslerp", merge.Params{"nuslerp_flatten": false}, weights(1, 2), true, 2},
	{"nuslerp", merge.Params{"nuslerp_flatten": false, "nuslerp_row_wise": true}, weights(1, 2), true, 2},
	{"multislerp", nil, weights(0.2, 0.3, 0.5), false, 3},
	{"multislerp", nil, weights(0.2, 0.3, 0.5), true, 3},
	{"karcher", nil, nil, false, 3},
	{"model_stock", nil, nil, true, 3},
	{"model_stock", merge.Params{"filter_wise": true}, nil, true, 3},
	{"nearswap", merge.Params{"t": 0.05}, nil, true, 1},
	{"passthrough", nil, []merge.Params{{"scale": 1.5}}, false, 1},
}

func (c streamCase) name() string {
	s := c.method
	if c.base {
		s += "+base"
	}
	if c.global != nil {
		s += " " + c.global.Format()
	}
	return s
}

// TestMultiChunk merges tensors larger than one chunk (and, with small
// tiles, rows split into pieces) and checks that the streamed result is the
// single in-memory computation (one tile holding the whole tensor).
func TestMultiChunk(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shape := []int64{1031, 1030} // 1,061,930 elements > ChunkElems
	n := int(shape[0] * shape[1])
	base := randomVec(rng, n, 0.02)
	var models [][]float32
	for range 3 {
		models = append(models, plus(base, randomVec(rng, n, 0.01)))
	}
	for _, c := range streamCases {
		t.Run(c.name(), func(t *testing.T) {
			s := spec(t, c.method)
			m, err := newMethod(t, s, c.global)
			if err != nil {
				t.Fatal(err)
			}
			var b []float32
			if c.base {
				b = base
			}
			inputs := models[:c.models]
			whole, err := runTask(t, withTile(m, int64(n)), s, c.global, c.per, shape, b, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			streamed, err := runTask(t, m, s, c.global, c.per, shape, b, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			assertRelClose(t, "default chunks", streamed, whole, 1e-6)
			pieces, err := runTask(t, withTile(m, 777), s, c.global, c.per, shape, b, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			assertRelClose(t, "row pieces", pieces, whole, 1e-6)
		})
	}
}

// Direct vector-space implementations of mergekit's algorithms in float64,
// to check the Gram-matrix derivations on random data.

func norm(x []float64) float64 { return math.Sqrt(dot(x, x)) }

func dot(x, y []float64) float64 {
	var s float64
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

func to64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func directKarcher(xs [][]float64, maxIter int, tol float64) []float64 {
	n, d := len(xs), len(xs[0])
	var units [][]float64
	var norms []float64
	for _, x := range xs {
		nr := norm(x)
		norms = append(norms, nr)
		u := make([]float64, d)
		if nr > 0 {
			for i := range u {
				u[i] = x[i] / nr
			}
		}
		units = append(units, u)
	}
	var valid []int
	for k, nr := range norms {
		if nr > tol {
			valid = append(valid, k)
		}
	}
	a := 1 / float64(len(valid))
	mean := make([]float64, d)
	for _, k := range valid {
		for i := range mean {
			mean[i] += a * units[k][i]
		}
	}
	mn := norm(mean)
	for i := range mean {
		mean[i] /= mn
	}
	for range maxIter {
		tan := make([]float64, d)
		for _, k := range valid {
			c := math.Max(-1, math.Min(1, dot(mean, units[k])))
			th := math.Acos(c)
			if th < tol {
				continue
			}
			for i := range tan {
				tan[i] += a * th / math.Sin(th) * (units[k][i] - c*mean[i])
			}
		}
		tn := norm(tan)
		if tn < tol {
			break
		}
		for i := range mean {
			mean[i] = math.Cos(tn)*mean[i] + math.Sin(tn)*tan[i]/tn
		}
		un := norm(mean)
		for i := range mean {
			mean[i] /= un
		}
	}
	var scale float64
	for _, nr := range norms {
		scale += nr / float64(n)
	}
	for i := range mean {
		mean[i] *= scale
	}
	return mean
}

func directMultislerp(xs [][]float64, w []float64, eps float64) []float64 {
	d := len(xs[0])
	var sw float64
	for _, v := range w {
		sw += v
	}
	var units [][]float64
	var norms []float64
	for _, x := range xs {
		nr := norm(x)
		norms = append(norms, nr)
		u := make([]float64, d)
		for i := range u {
			u[i] = x[i] / (nr + eps)
		}
		units = append(units, u)
	}
	mean := make([]float64, d)
	for k, u := range units {
		for i := range mean {
			mean[i] += w[k] / sw * u[i]
		}
	}
	mn := norm(mean)
	for i := range mean {
		mean[i] /= mn
	}
	tan := make([]float64, d)
	for k, u := range units {
		c := dot(u, mean)
		for i := range tan {
			tan[i] += w[k] / sw * (u[i] - c*mean[i])
		}
	}
	tn := norm(tan) + eps
	var avg float64
	for k, nr := range norms {
		avg += nr * w[k] / sw
	}
	out := make([]float64, d)
	for i := range out {
		out[i] = avg * (mean[i]*math.Cos(tn) + tan[i]*math.Sin(tn)/tn)
	}
	return out
}

func TestGramDerivationsMatchDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const d = 5000
	for trial := range 5 {
		n := 2 + trial%3
		var xs [][]float32
		var xs64 [][]float64
		common := randomVec(rng, d, 1)
		for range n {
			x := plus(common, randomVec(rng, d, 0.3+0.4*float64(trial)))
			xs = append(xs, x)
			xs64 = append(xs64, to64(x))
		}
		w := make([]float64, n)
		var per []merge.Params
		for k := range w {
			w[k] = 0.2 + rng.Float64()
			per = append(per, merge.Params{"weight": w[k]})
		}
		got, err := mergeSlices(t, "karcher", nil, nil, []int64{d}, nil, xs...)
		if err != nil {
			t.Fatal(err)
		}
		want := directKarcher(xs64, 10, 1e-5)
		assertRelClose(t, "karcher", got, toF32(want), 1e-5)

		got, err = mergeSlices(t, "multislerp", nil, per, []int64{d}, nil, xs...)
		if err != nil {
			t.Fatal(err)
		}
		want = directMultislerp(xs64, w, 1e-8)
		assertRelClose(t, "multislerp", got, toF32(want), 1e-5)
	}
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// writeCheckpoint writes a checkpoint of the given tensors (name → values,
// shapes) in dtype dt.
func writeCheckpoint(t *testing.T, path string, dt formats.DType, names []string, shapes [][]int64, vals [][]float32) {
	t.Helper()
	var specs []formats.TensorSpec
	for i, n := range names {
		specs = append(specs, formats.TensorSpec{Name: n, DType: dt, Shape: shapes[i]})
	}
	w, err := formats.Create(path, specs, formats.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		if _, err := w.WriteFloat32(n, 0, vals[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestEngineThreadIndependent runs every method through merge.PlanMerge and
// merge.Write on checkpoints with a multi-chunk tensor, with -j 1 and -j 2,
// and checks that the outputs are byte-identical and that the float32
// output equals the in-memory merge of the same tensors.
func TestEngineThreadIndependent(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(21, 22))
	names := []string{"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "model.norm.weight"}
	shapes := [][]int64{{64, 300}, {1100, 1000}, {300}}
	var paths []string
	var values [][][]float32
	var baseVals [][]float32
	for m := range 4 {
		var vals [][]float32
		for i, s := range shapes {
			n := int(s[0])
			if len(s) > 1 {
				n *= int(s[1])
			}
			if m == 0 {
				vals = append(vals, randomVec(rng, n, 0.02))
			} else {
				vals = append(vals, plus(baseVals[i], randomVec(rng, n, 0.01)))
			}
		}
		if m == 0 {
			baseVals = vals
		}
		values = append(values, vals)
		p := filepath.Join(dir, string(rune('a'+m))+".safetensors")
		writeCheckpoint(t, p, formats.F32, names, shapes, vals)
		paths = append(paths, p)
	}
	for _, c := range streamCases {
		t.Run(c.name(), func(t *testing.T) {
			s := spec(t, c.method)
			var outs [][]byte
			for _, j := range []int{1, 2} {
				var models []*formats.Model
				for _, p := range paths[:1+c.models] {
					m, err := formats.Open(p)
					if err != nil {
						t.Fatal(err)
					}
					defer m.Close()
					models = append(models, m)
				}
				cfg := &merge.Config{Spec: s, Params: merge.ConstParams{Global: c.global, PerModel: c.per}, Threads: j}
				if c.base {
					cfg.Base, cfg.Models = models[0], models[1:]
				} else {
					cfg.Models = models[1:]
				}
				plan, err := merge.PlanMerge(cfg)
				if err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out.safetensors")
				if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: j}); err != nil {
					t.Fatal(err)
				}
				data, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, data)
			}
			if !bytes.Equal(outs[0], outs[1]) {
				t.Fatal("-j 1 and -j 2 outputs differ")
			}
			// The big tensor equals the in-memory merge.
			m, err := newMethod(t, s, c.global)
			if err != nil {
				t.Fatal(err)
			}
			var b []float32
			first := 1
			if c.base {
				b = values[0][1]
			}
			var inputs [][]float32
			for k := first; k < first+c.models; k++ {
				inputs = append(inputs, values[k][1])
			}
			want, err := runTask(t, m, s, c.global, c.per, shapes[1], b, inputs...)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "check.safetensors")
			if err := os.WriteFile(out, outs[0], 0o644); err != nil {
				t.Fatal(err)
			}
			om, err := formats.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer om.Close()
			ot, ok := om.Tensor(names[1])
			if !ok {
				t.Fatalf("output lacks %s", names[1])
			}
			got := make([]float32, len(want))
			if _, err := ot.ReadFloat32(got, 0, nil); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("element %d: engine %v, in-memory %v", i, got[i], want[i])
				}
			}
		})
	}
}

// directNuslerp follows mergekit's nuslerp on float64 copies: vectors along
// the last dimension (rows), along the first (columns) or the whole tensor.
func directNuslerp(t float64, shape []int64, v0, v1 []float32, kind vectorKind) []float32 {
	n := len(v0)
	var vecs [][]int // element indices of each vector
	switch kind {
	case wholeTensor:
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		vecs = [][]int{idx}
	case rowVectors:
		c := int(shape[len(shape)-1])
		for r := 0; r < n/c; r++ {
			var idx []int
			for j := range c {
				idx = append(idx, r*c+j)
			}
			vecs = append(vecs, idx)
		}
	case columnVectors:
		a := int(shape[0])
		rest := n / a
		for j := range rest {
			var idx []int
			for i := range a {
				idx = append(idx, i*rest+j)
			}
			vecs = append(vecs, idx)
		}
	}
	out := make([]float32, n)
	for _, idx := range vecs {
		var d00, d01, d11 float64
		for _, e := range idx {
			a, b := float64(v0[e]), float64(v1[e])
			d00 += a * a
			d01 += a * b
			d11 += b * b
		}
		n0, n1 := math.Max(math.Sqrt(d00), 1e-7), math.Max(math.Sqrt(d11), 1e-7)
		th := math.Acos(math.Max(-1, math.Min(1, d01/(n0*n1))))
		s := math.Sin(th)
		for _, e := range idx {
			a, b := float64(v0[e]), float64(v1[e])
			if math.Abs(s) < 1e-8 {
				out[e] = float32((1-t)*a + t*b)
			} else {
				out[e] = float32((math.Sin((1-t)*th)*a + math.Sin(t*th)*b) / s)
			}
		}
	}
	return out
}

func TestNuslerpMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, shape := range [][]int64{{4, 5, 6}, {7, 3}, {9}, {2, 3, 4, 5}} {
		n := 1
		for _, d := range shape {
			n *= int(d)
		}
		v0, v1 := randomVec(rng, n, 1), randomVec(rng, n, 1)
		for _, c := range []struct {
			global merge.Params
			kind   vectorKind
		}{
			{nil, wholeTensor},
			{merge.Params{"nuslerp_flatten": false}, rowVectors},
			{merge.Params{"nuslerp_flatten": false, "nuslerp_row_wise": true}, columnVectors},
		} {
			want := directNuslerp(0.3, shape, v0, v1, c.kind)
			s := spec(t, "nuslerp")
			m, err := newMethod(t, s, c.global)
			if err != nil {
				t.Fatal(err)
			}
			for _, tile := range []int64{0, 4, 1} {
				got, err := runTask(t, withTile(m, tile), s, c.global, weights(0.7, 0.3), shape, nil, v0, v1)
				if err != nil {
					t.Fatal(err)
				}
				for i := range got {
					if math.Abs(float64(got[i]-want[i])) > 1e-5 {
						t.Fatalf("shape %v kind %d tile %d: element %d: got %v, want %v", shape, c.kind, tile, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// directModelStock follows mergekit's model_stock on float64 copies; rows
// when filterWise, else the whole tensor.
func directModelStock(cols int, base []float32, xs [][]float32, filterWise bool) []float32 {
	n := len(base)
	if !filterWise {
		cols = n
	}
	out := make([]float32, n)
	N := len(xs)
	for r := 0; r < n/cols; r++ {
		off := func(k, e int) float64 { return float64(xs[k][e]) - float64(base[e]) }
		var sum float64
		for i := range N {
			for j := i + 1; j < N; j++ {
				var dij, dii, djj float64
				for e := r * cols; e < (r+1)*cols; e++ {
					dij += off(i, e) * off(j, e)
					dii += off(i, e) * off(i, e)
					djj += off(j, e) * off(j, e)
				}
				sum += math.Max(-1, math.Min(1, dij/math.Max(math.Sqrt(dii)*math.Sqrt(djj), 1e-6)))
			}
		}
		cos := sum / float64(N*(N-1)/2)
		tt := float64(N) * cos / (1 + float64(N-1)*cos)
		for e := r * cols; e < (r+1)*cols; e++ {
			var avg float64
			for k := range N {
				avg += float64(xs[k][e])
			}
			avg /= float64(N)
			out[e] = float32(tt*avg + (1-tt)*float64(base[e]))
		}
	}
	return out
}

func TestModelStockMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	shape := []int64{6, 50}
	base := randomVec(rng, 300, 1)
	common := randomVec(rng, 300, 0.5)
	var xs [][]float32
	for range 4 {
		xs = append(xs, plus(plus(base, common), randomVec(rng, 300, 0.5)))
	}
	for _, fw := range []bool{false, true} {
		want := directModelStock(50, base, xs, fw)
		s := spec(t, "model_stock")
		g := merge.Params{"filter_wise": fw}
		m, err := newMethod(t, s, g)
		if err != nil {
			t.Fatal(err)
		}
		for _, tile := range []int64{0, 7} {
			got, err := runTask(t, withTile(m, tile), s, g, nil, shape, base, xs...)
			if err != nil {
				t.Fatal(err)
			}
			assertRelClose(t, "model_stock", got, want, 1e-6)
		}
	}
}

// directSlerp follows mergekit's slerp on float64 copies.
func directSlerp(t float64, v0, v1 []float32) []float32 {
	a, b := to64(v0), to64(v1)
	na, nb := norm(a), norm(b)
	if na <= 1e-8 {
		na = 1
	}
	if nb <= 1e-8 {
		nb = 1
	}
	d := dot(a, b) / (na * nb)
	out := make([]float32, len(a))
	for i := range out {
		if math.Abs(d) > 0.9995 {
			out[i] = float32((1-t)*a[i] + t*b[i])
			continue
		}
		th := math.Acos(d)
		out[i] = float32(math.Sin((1-t)*th)/math.Sin(th)*a[i] + math.Sin(t*th)/math.Sin(th)*b[i])
	}
	return out
}

func TestSlerpMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, tt := range []float64{0.1, 0.5, 0.9, -0.2, 1.3} {
		v0 := randomVec(rng, 1000, 1)
		v1 := plus(v0, randomVec(rng, 1000, 0.8))
		want := directSlerp(tt, v0, v1)
		got, err := mergeSlices(t, "slerp", merge.Params{"t": tt}, nil, []int64{10, 100}, v0, v1)
		if err != nil {
			t.Fatal(err)
		}
		assertRelClose(t, "slerp", got, want, 1e-6)
	}
}

// TestEngineIdenticalBF16 merges identical bfloat16 checkpoints through the
// engine with every method: the output equals the input byte for byte.
func TestEngineIdenticalBF16(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(61, 62))
	names := []string{"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight", "model.norm.weight"}
	shapes := [][]int64{{64, 300}, {1100, 1000}, {300}}
	var vals [][]float32
	for _, s := range shapes {
		n := int(s[0])
		if len(s) > 1 {
			n *= int(s[1])
		}
		vals = append(vals, randomVec(rng, n, 0.02))
	}
	in := filepath.Join(dir, "in.safetensors")
	writeCheckpoint(t, in, formats.BF16, names, shapes, vals)
	src, err := formats.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, c := range streamCases {
		if c.method == "passthrough" {
			c.per = nil // no scale: a plain copy
		}
		t.Run(c.name(), func(t *testing.T) {
			cfg := &merge.Config{Spec: spec(t, c.method), Params: merge.ConstParams{Global: c.global, PerModel: c.per}, Threads: 2}
			for range c.models {
				cfg.Models = append(cfg.Models, src)
			}
			if c.base {
				cfg.Base = src
			}
			plan, err := merge.PlanMerge(cfg)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.safetensors")
			if err := merge.Write(context.Background(), plan, merge.Output{Path: out}, merge.ExecOptions{Threads: 2}); err != nil {
				t.Fatal(err)
			}
			om, err := formats.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer om.Close()
			for _, n := range names {
				a, _ := src.Tensor(n)
				b, ok := om.Tensor(n)
				if !ok || b.DType != formats.BF16 {
					t.Fatalf("%s: missing or not bf16 in the output", n)
				}
				ba, bb := make([]byte, a.Size), make([]byte, b.Size)
				if err := a.ReadAt(ba, 0); err != nil {
					t.Fatal(err)
				}
				if err := b.ReadAt(bb, 0); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ba, bb) {
					diff := 0
					for i := range ba {
						if ba[i] != bb[i] {
							diff++
						}
					}
					t.Fatalf("%s: %d of %d bytes differ from the input", n, diff, len(ba))
				}
			}
		})
	}
}
