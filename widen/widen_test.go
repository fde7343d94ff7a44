package widen

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// runWiden merges one in-memory tensor with WIDEN.
func runWiden(t *testing.T, name string, shape []int64, base []float32, models [][]float32, alpha, calib float64) []float32 {
	t.Helper()
	out, err := tryWiden(name, shape, base, models, alpha, calib)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryWiden(name string, shape []int64, base []float32, models [][]float32, alpha, calib float64) ([]float32, error) {
	m, err := New(merge.Params{"alpha": alpha, "calibration": calib})
	if err != nil {
		return nil, err
	}
	task := &merge.Task{Name: name, Shape: shape, Layer: merge.LayerIndex(name),
		Base: &merge.SliceSource{Data: base, Dims: shape}}
	for _, x := range models {
		task.Inputs = append(task.Inputs, &merge.SliceSource{Data: x, Dims: shape})
		task.Model = append(task.Model, merge.Params{})
	}
	sink := &merge.SliceSink{Data: make([]float32, len(base))}
	task.Out = sink
	if err := m.Merge(context.Background(), task); err != nil {
		return nil, err
	}
	return sink.Data, nil
}

// addDelta returns base + delta in float32.
func addDelta(base, delta []float32) []float32 {
	out := make([]float32, len(base))
	for i := range base {
		out[i] = base[i] + delta[i]
	}
	return out
}

func assertClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Errorf("%s[%d] = %.7f, want %.7f", what, i, got[i], want[i])
		}
	}
}

// The worked example of widen.md §1.5 (official code, float32, N = 2).
var (
	exW0   = []float32{1.0, -0.5, 0.2, 0.4, 0.3, 0.8, -1.0, 0.6}
	exTauA = []float32{0.1, 0.0, -0.2, 0.05, 0.05, -0.1, 0.3, 0.0}
	exTauB = []float32{-0.3, 0.2, 0.1, 0.0, 0.2, 0.4, -0.1, 0.15}
)

func TestWorkedExampleQProj(t *testing.T) {
	a, b := addDelta(exW0, exTauA), addDelta(exW0, exTauB)
	shape := []int64{2, 4}
	for _, tc := range []struct {
		alpha, calib float64
		want         []float64
	}{
		{1, 1, []float64{0.766041, -0.3, 0.0320821, 0.4234456, 0.5330205, 1.1311231, -0.7320821, 0.6796632}},
		{1, 0.5, []float64{0.891041, -0.4, 0.1320821, 0.4234456, 0.4205205, 0.956123, -0.8820821, 0.6796632}},
		{2, 1, []float64{0.8641642, -0.3877541, 0.0962464, 0.4234456, 0.4384384, 0.9806149, -0.8283285, 0.6796632}},
	} {
		got := runWiden(t, "model.layers.0.self_attn.q_proj.weight", shape, exW0, [][]float32{a, b}, tc.alpha, tc.calib)
		assertClose(t, "q_proj", got, tc.want, 1e-6)
	}
}

// columnStatsOf computes Σ w0², Σ w², Σ w·w0 per column of row-major
// [rows, cols] matrices, the direct way.
func columnStatsOf(base, x []float32, cols int) (ss0, ss, dot []float64) {
	ss0, ss, dot = make([]float64, cols), make([]float64, cols), make([]float64, cols)
	for i := range base {
		j := i % cols
		ss0[j] += float64(base[i]) * float64(base[i])
		ss[j] += float64(x[i]) * float64(x[i])
		dot[j] += float64(x[i]) * float64(base[i])
	}
	return
}

func TestWorkedExampleIntermediates(t *testing.T) {
	models := [][]float32{addDelta(exW0, exTauA), addDelta(exW0, exTauB)}
	wantMag := [][]float64{{0.110309, 0.0831656, 0.3198039, 0.0288897}, {0.1837981, 0.2935336, 0.1203715, 0.1288897}}
	wantDir := [][]float64{{0.0001377, 0.0018998, 0.0194193, 0.0015396}, {0.0535671, 0.0487772, 0.0023697, 0.0048026}}
	wantMagRank := [][]int32{{2, 1, 3, 0}, {2, 3, 0, 1}} // rank/C = .5 .25 .75 0 and .5 .75 0 .25
	wantDirRank := [][]int32{{0, 2, 3, 1}, {3, 2, 0, 1}}
	var magPos, dirPos [][]int32
	for k, x := range models {
		ss0, ss, dot := columnStatsOf(exW0, x, 4)
		if k == 0 {
			var m0 []float32
			for _, v := range ss0 {
				m0 = append(m0, float32(math.Sqrt(v)))
			}
			assertClose(t, "m0", m0, []float64{1.0440307, 0.9433981, 1.0198039, 0.7211103}, 1e-6)
		}
		mag, dir := make([]float64, 4), make([]float64, 4)
		columnDifferences(mag, dir, ss0, ss, dot)
		for j := range mag {
			if math.Abs(mag[j]-wantMag[k][j]) > 1e-6 || math.Abs(dir[j]-wantDir[k][j]) > 1e-6 {
				t.Errorf("model %d column %d: dMag %.7f dDir %.7f, want %.7f %.7f", k, j, mag[j], dir[j], wantMag[k][j], wantDir[k][j])
			}
		}
		mp, dp, idx := make([]int32, 4), make([]int32, 4), make([]int32, 4)
		rankPositions(mp, mag, idx)
		rankPositions(dp, dir, idx)
		for j := range mp {
			if mp[j] != wantMagRank[k][j] || dp[j] != wantDirRank[k][j] {
				t.Errorf("model %d: ranks mag %v dir %v, want %v %v", k, mp, dp, wantMagRank[k], wantDirRank[k])
				break
			}
		}
		magPos, dirPos = append(magPos, mp), append(dirPos, dp)
	}
	w := columnWeights(magPos, dirPos, 4, 1, 1)
	assertClose(t, "w_A", w[0], []float64{0.6604107, 0.6887703, 1, 0.4689117}, 1e-6)
	assertClose(t, "w_B", w[1], []float64{1, 1, 0.3208213, 0.5310883}, 1e-6)
}

func TestWorkedExampleNorm(t *testing.T) {
	n0 := []float32{1, 1, 1, 1, 1, 1}
	a := addDelta(n0, []float32{0.1, -0.2, 0.0, 0.3, 0.05, -0.05})
	b := addDelta(n0, []float32{-0.1, 0.1, 0.2, 0.0, 0.4, 0.05})
	for _, tc := range []struct {
		alpha, calib float64
		want         []float64
	}{
		{1, 1, []float64{1.0, 0.8475021, 1.2, 1.3, 1.4206691, 1.0}},
		{1, 0.5, []float64{1.0, 0.9475021, 1.1, 1.15, 1.220669, 1.0}},
		{2, 1, []float64{1.0, 0.9425063, 1.1099669, 1.3, 1.4206691, 1.0}},
	} {
		got := runWiden(t, "model.layers.0.input_layernorm.weight", []int64{6}, n0, [][]float32{a, b}, tc.alpha, tc.calib)
		assertClose(t, "norm", got, tc.want, 1e-6)
	}
}

func TestWorkedExampleEmbedding(t *testing.T) {
	e0 := []float32{.5, -.5, 1, 0, .2, .3}
	a := addDelta(e0, []float32{.1, 0, 0, 0, 0, -.1})
	b := addDelta(e0, []float32{0, .2, .1, .1, 0, 0})
	want := []float64{0.541743, -0.3, 1.058257, 0.058257, 0.2, 0.2}
	got := runWiden(t, "model.embed_tokens.weight", []int64{3, 2}, e0, [][]float32{a, b}, 1, 1)
	assertClose(t, "embed_tokens", got, want, 1e-6)
	// The same values under a linear layer's name are merged per hidden
	// column instead, which gives a different result.
	lin := runWiden(t, "model.layers.0.mlp.up_proj.weight", []int64{3, 2}, e0, [][]float32{a, b}, 1, 1)
	same := true
	for i := range lin {
		same = same && math.Abs(float64(lin[i])-want[i]) < 1e-6
	}
	if same {
		t.Errorf("a linear weight was merged per token: %v", lin)
	}
}

func TestRankPositionsStableNaNLast(t *testing.T) {
	for _, tc := range []struct {
		keys []float64
		want []int32
	}{
		{[]float64{3, 1, 2}, []int32{2, 0, 1}},
		{[]float64{0, 0, 0, 0}, []int32{0, 1, 2, 3}},
		{[]float64{math.NaN(), 1, math.NaN(), 0}, []int32{2, 1, 3, 0}},
		{[]float64{math.Inf(1), math.NaN(), 5}, []int32{1, 2, 0}},
		{[]float64{2, 1, 2, 1}, []int32{2, 0, 3, 1}},
	} {
		pos, idx := make([]int32, len(tc.keys)), make([]int32, len(tc.keys))
		rankPositions(pos, tc.keys, idx)
		for j := range pos {
			if pos[j] != tc.want[j] {
				t.Errorf("rankPositions(%v) = %v, want %v", tc.keys, pos, tc.want)
				break
			}
		}
	}
}

// rankPositionsByCompare is the comparison-sort definition of the ranks:
// sort the indices by (key, index), NaN after every number, ±0 equal.
func rankPositionsByCompare(keys []float64) []int32 {
	idx := make([]int32, len(keys))
	for j := range idx {
		idx[j] = int32(j)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		x, y := keys[a], keys[b]
		xn, yn := math.IsNaN(x), math.IsNaN(y)
		switch {
		case xn && !yn:
			return 1
		case yn && !xn:
			return -1
		case !xn && !yn:
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
		}
		return cmp.Compare(a, b)
	})
	pos := make([]int32, len(keys))
	for p, j := range idx {
		pos[j] = int32(p)
	}
	return pos
}

func TestRankPositionsMatchComparisonSort(t *testing.T) {
	// Random keys with many ties, NaNs, ±0, negatives (1 − cos can round
	// below 0), infinities and subnormals, for sizes from 0 up.
	rng := rand.New(rand.NewPCG(3, 3))
	pool := []float64{0, math.Copysign(0, -1), -1e-17, 1e-17, 5e-324, -5e-324, 1, 2, math.Inf(1), math.Inf(-1), math.NaN(), 0.25}
	for _, n := range []int{0, 1, 2, 5, 64, 257, 3000} {
		for trial := range 4 {
			keys := make([]float64, n)
			for j := range keys {
				if trial%2 == 0 {
					keys[j] = pool[rng.IntN(len(pool))]
				} else {
					keys[j] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(40)-20))
				}
			}
			pos, idx := make([]int32, n), make([]int32, n)
			rankPositions(pos, keys, idx)
			if want := rankPositionsByCompare(keys); !slices.Equal(pos, want) {
				t.Fatalf("n %d trial %d: rankPositions(%v) = %v, want %v", n, trial, keys, pos, want)
			}
		}
	}
}

func TestCalibratedRank(t *testing.T) {
	// C = 4, α = 1: mean rank 3/8, marked ranks .5 and .75 (i = 2, 3).
	// C = 5, α = 1: i = 2 is exactly the mean and is not marked.
	// α = 2 with C = 4: 2i > 6 → only i = 3 (rank .75 > .75 is false in
	// the float rule too, since 2·.375 = .75).
	for _, tc := range []struct {
		c     int
		alpha float64
		want  []bool
	}{
		{4, 1, []bool{false, false, true, true}},
		{5, 1, []bool{false, false, false, true, true}},
		{4, 2, []bool{false, false, false, false}},
		{4, 0, []bool{false, true, true, true}},
		{1, 1, []bool{false}},
	} {
		for i, want := range tc.want {
			if got := calibratedRank(int32(i), tc.c, tc.alpha); got != want {
				t.Errorf("C=%d α=%v i=%d: calibrated %v, want %v", tc.c, tc.alpha, i, got, want)
			}
		}
	}
}

func TestColumnDifferencesZeroAndUnchangedColumns(t *testing.T) {
	ss0 := []float64{0, 2.25, 1.5}
	ss := []float64{4, 2.25, 0}
	dot := []float64{0, 2.25, 0}
	mag, dir := make([]float64, 3), make([]float64, 3)
	columnDifferences(mag, dir, ss0, ss, dot)
	if !math.IsNaN(dir[0]) || !math.IsNaN(dir[2]) {
		t.Errorf("zero columns: direction differences %v, want NaN", dir)
	}
	if mag[1] != 0 || dir[1] != 0 {
		t.Errorf("unchanged column: differences %v %v, want exactly 0", mag[1], dir[1])
	}
	if mag[0] != 2 || math.Abs(mag[2]-math.Sqrt(1.5)) > 1e-15 {
		t.Errorf("magnitude differences %v", mag)
	}
}

func TestOneModel(t *testing.T) {
	// With one model the softmax is 1 everywhere and calibrated columns get
	// s: with s = 1 the result is the model itself; with s = 0.5 the weights
	// are 1 (neither), 0.75 (one of magnitude/direction) or 0.5 (both).
	rng := rand.New(rand.NewPCG(1, 2))
	rows, cols := 5, 8
	base := randomMatrix(rng, rows*cols, 1)
	x := addDelta(base, randomMatrix(rng, rows*cols, 0.1))
	got := runWiden(t, "model.layers.1.mlp.down_proj.weight", []int64{int64(rows), int64(cols)}, base, [][]float32{x}, 1, 1)
	for i := range got {
		if math.Abs(float64(got[i]-x[i])) > 1e-6 {
			t.Fatalf("one model, s=1: element %d = %v, want the model's %v", i, got[i], x[i])
		}
	}
	got = runWiden(t, "model.layers.1.mlp.down_proj.weight", []int64{int64(rows), int64(cols)}, base, [][]float32{x}, 1, 0.5)
	for j := range cols {
		w := float64((got[j] - base[j]) / (x[j] - base[j]))
		if math.Abs(w-1) > 1e-4 && math.Abs(w-0.75) > 1e-4 && math.Abs(w-0.5) > 1e-4 {
			t.Errorf("one model, s=0.5: column %d weight %v, want 1, 0.75 or 0.5", j, w)
		}
	}
}

func randomMatrix(rng *rand.Rand, n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64()) * scale
	}
	return out
}

func TestModelIdenticalToBaseContributesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows, cols := 6, 10
	shape := []int64{int64(rows), int64(cols)}
	base := randomMatrix(rng, rows*cols, 1)
	same := append([]float32(nil), base...)
	for _, name := range []string{"model.layers.0.self_attn.o_proj.weight", "model.embed_tokens.weight", "model.norm.weight"} {
		sh := shape
		if strings.HasSuffix(name, "norm.weight") {
			sh = []int64{int64(rows * cols)}
		}
		got := runWiden(t, name, sh, base, [][]float32{same, same}, 1, 1)
		for i := range got {
			if got[i] != base[i] {
				t.Fatalf("%s: merging copies of the base changed element %d: %v → %v", name, i, base[i], got[i])
			}
		}
	}
	// With a real expert beside it, the copy adds no delta: out − base is
	// the expert's delta times one weight per column.
	delta := randomMatrix(rng, rows*cols, 0.05)
	x := addDelta(base, delta)
	got := runWiden(t, "model.layers.0.self_attn.o_proj.weight", shape, base, [][]float32{x, same}, 1, 1)
	for j := range cols {
		w0 := float64(got[j]-base[j]) / float64(x[j]-base[j])
		if w0 <= 0 || w0 > 1+1e-5 {
			t.Errorf("column %d: weight %v outside (0, 1]", j, w0)
		}
		for r := 1; r < rows; r++ {
			i := r*cols + j
			if d := float64(got[i]-base[i]) - w0*float64(x[i]-base[i]); math.Abs(d) > 1e-6 {
				t.Errorf("column %d row %d: out − base = %v, want %v × the expert's delta %v", j, r, got[i]-base[i], w0, x[i]-base[i])
			}
		}
	}
}

func TestPermutationInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rows, cols := 7, 12
	for _, tc := range []struct {
		name  string
		shape []int64
	}{
		{"model.layers.2.mlp.gate_proj.weight", []int64{int64(rows), int64(cols)}},
		{"model.embed_tokens.weight", []int64{int64(rows), int64(cols)}},
		{"model.layers.2.post_attention_layernorm.weight", []int64{int64(rows * cols)}},
	} {
		base := randomMatrix(rng, rows*cols, 1)
		var xs [][]float32
		for range 3 {
			xs = append(xs, addDelta(base, randomMatrix(rng, rows*cols, 0.1)))
		}
		// Two models: float32 addition is commutative, so the result is
		// bit-identical.
		ab := runWiden(t, tc.name, tc.shape, base, [][]float32{xs[0], xs[1]}, 1, 1)
		ba := runWiden(t, tc.name, tc.shape, base, [][]float32{xs[1], xs[0]}, 1, 1)
		for i := range ab {
			if ab[i] != ba[i] {
				t.Fatalf("%s: swapping two models changed element %d: %v vs %v", tc.name, i, ab[i], ba[i])
			}
		}
		// Three models: equal up to the order of the float32 sum.
		abc := runWiden(t, tc.name, tc.shape, base, xs, 1, 0.8)
		cab := runWiden(t, tc.name, tc.shape, base, [][]float32{xs[2], xs[0], xs[1]}, 1, 0.8)
		for i := range abc {
			if math.Abs(float64(abc[i]-cab[i])) > 1e-6 {
				t.Fatalf("%s: permuting three models changed element %d: %v vs %v", tc.name, i, abc[i], cab[i])
			}
		}
	}
}

// referenceWiden is a direct in-memory transcription of widen.md §1.2 (it
// materialises the direction matrices, ranks with sort.SliceStable and
// tests the calibration mask against the mean rank), for comparison with
// the streaming implementation on data without ties.
func referenceWiden(name string, shape []int64, base []float32, models [][]float32, alpha, calib float64) []float64 {
	n := len(models)
	out := make([]float64, len(base))
	if len(shape) == 1 {
		size := len(base)
		score := make([][]float64, n)
		for k, x := range models {
			var mean float64
			score[k] = make([]float64, size)
			for i := range x {
				mean += math.Abs(float64(x[i] - base[i]))
			}
			mean /= float64(size)
			for i := range x {
				var z float64
				for _, y := range models {
					z += math.Exp(math.Abs(float64(y[i] - base[i])))
				}
				d := math.Abs(float64(x[i] - base[i]))
				score[k][i] = math.Exp(d) / z
				if d > alpha*mean {
					score[k][i] = calib
				}
			}
		}
		for i := range out {
			out[i] = float64(base[i])
			for k, x := range models {
				out[i] += score[k][i] * float64(x[i]-base[i])
			}
		}
		return out
	}
	rows, cols := int(shape[0]), int(shape[1])
	stored := cols
	tokens := isTokenEmbedding(name)
	at := func(w []float32, r, j int) float64 { return float64(w[r*stored+j]) }
	if tokens {
		at = func(w []float32, r, j int) float64 { return float64(w[j*stored+r]) }
		rows, cols = cols, rows
	}
	norms := func(w []float32) []float64 {
		m := make([]float64, cols)
		for j := range cols {
			for r := range rows {
				m[j] += at(w, r, j) * at(w, r, j)
			}
			m[j] = math.Sqrt(m[j])
		}
		return m
	}
	m0 := norms(base)
	ranks := func(d []float64) []float64 {
		idx := make([]int, cols)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return d[idx[a]] < d[idx[b]] })
		r := make([]float64, cols)
		for p, j := range idx {
			r[j] = float64(p) / float64(cols)
		}
		return r
	}
	magR, dirR := make([][]float64, n), make([][]float64, n)
	for k, x := range models {
		mk := norms(x)
		dm, dd := make([]float64, cols), make([]float64, cols)
		for j := range cols {
			dm[j] = math.Abs(mk[j] - m0[j])
			var cos float64
			for r := range rows {
				cos += (at(x, r, j) / mk[j]) * (at(base, r, j) / m0[j])
			}
			dd[j] = 1 - cos
		}
		magR[k], dirR[k] = ranks(dm), ranks(dd)
	}
	scores := func(R [][]float64) [][]float64 {
		s := make([][]float64, n)
		for k := range s {
			s[k] = make([]float64, cols)
			var mean float64
			for _, v := range R[k] {
				mean += v
			}
			mean /= float64(cols)
			for j := range cols {
				var z float64
				for q := range n {
					z += math.Exp(R[q][j])
				}
				s[k][j] = math.Exp(R[k][j]) / z
				if R[k][j] > alpha*mean {
					s[k][j] = calib
				}
			}
		}
		return s
	}
	sm, sd := scores(magR), scores(dirR)
	for r := range rows {
		for j := range cols {
			v := at(base, r, j)
			for k, x := range models {
				v += 0.5 * (sm[k][j] + sd[k][j]) * (at(x, r, j) - at(base, r, j))
			}
			if tokens {
				out[j*rows+r] = v
			} else {
				out[r*cols+j] = v
			}
		}
	}
	return out
}

func TestStreamingMatchesReference(t *testing.T) {
	if testing.Short() {
		t.Skip("several chunks of data")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		name  string
		shape []int64
	}{
		// Several chunks of whole rows: the column sums cross chunks.
		{"model.layers.3.mlp.down_proj.weight", []int64{1050, 1000}},
		{"model.embed_tokens.weight", []int64{1600, 700}},
		{"model.norm.weight", []int64{merge.ChunkElems + 4321}},
		{"lm_head.weight", []int64{30, 6}},
	} {
		n := int(tc.shape[0])
		if len(tc.shape) == 2 {
			n *= int(tc.shape[1])
		}
		base := randomMatrix(rng, n, 1)
		var xs [][]float32
		for k := range 3 {
			xs = append(xs, addDelta(base, randomMatrix(rng, n, 0.02*float32(k+1))))
		}
		for _, p := range [][2]float64{{1, 1}, {1.3, 0.6}} {
			got := runWiden(t, tc.name, tc.shape, base, xs, p[0], p[1])
			want := referenceWiden(tc.name, tc.shape, base, xs, p[0], p[1])
			bad := 0
			for i := range got {
				if math.Abs(float64(got[i])-want[i]) > 2e-6*(1+math.Abs(want[i])) {
					if bad++; bad < 5 {
						t.Errorf("%s α=%v s=%v: element %d = %v, reference %v", tc.name, p[0], p[1], i, got[i], want[i])
					}
				}
			}
		}
	}
}

func TestZeroColumnRanksLast(t *testing.T) {
	// Column 1 of the base is zero: its direction difference is NaN in
	// every model, so it takes the top direction rank (calibrated).
	base := []float32{1, 0, 2, 3, 0, 1}
	a := []float32{1.1, 0.5, 2, 3, 0.2, 1}
	b := []float32{0.9, 0.1, 2.2, 3, 0.1, 1.1}
	got := runWiden(t, "model.layers.0.mlp.up_proj.weight", []int64{2, 3}, base, [][]float32{a, b}, 1, 1)
	for i, v := range got {
		if math.IsNaN(float64(v)) {
			t.Fatalf("NaN reached element %d: %v", i, got)
		}
	}
	want := referenceWidenNaN(t)
	assertClose(t, "zero column", got, want, 1e-6)
}

// referenceWidenNaN works the zero-column example by hand. Columns: C = 3,
// mean rank 1/3, α = 1 marks only rank index 2 (2i > 2; index 1
// is exactly the mean).
//
//	norms: m0 = [√10, 0, √5]
//	A: m = [√(1.21+9), √.29, √5] → ΔM = [.0305, .5385, 0]: ranks [1, 2, 0]
//	   ΔD = [~0, NaN, 0]: col 0 moved slightly, col 2 unchanged → ranks [1, 2, 0]
//	B: m = [√(0.81+9), √.02, √(4.84+1.21)] → ΔM = [.0323, .1414, .2236]: ranks [0, 1, 2]
//	   ΔD: col 0 ~ small, col 2 ~ small, col 1 NaN → rank 2 for col 1
func referenceWidenNaN(t *testing.T) []float64 {
	t.Helper()
	base := []float32{1, 0, 2, 3, 0, 1}
	a := []float32{1.1, 0.5, 2, 3, 0.2, 1}
	b := []float32{0.9, 0.1, 2.2, 3, 0.1, 1.1}
	// ΔD of B at columns 0 and 2, in float64.
	cos := func(x0, x1, y0, y1 float64) float64 {
		return (x0*y0 + x1*y1) / math.Sqrt((x0*x0+x1*x1)*(y0*y0+y1*y1))
	}
	dB0 := 1 - cos(0.9, 3, 1, 3)
	dB2 := 1 - cos(2.2, 1.1, 2, 1)
	if !(dB2 < dB0) {
		t.Fatalf("hand example assumption broken: %v %v", dB0, dB2)
	}
	// B direction ranks: col 2 → 0, col 0 → 1, col 1 → 2.
	magA, dirA := []int{1, 2, 0}, []int{1, 2, 0}
	magB, dirB := []int{0, 1, 2}, []int{1, 2, 0}
	score := func(ra, rb int) (float64, float64) {
		ea, eb := math.Exp(float64(ra)/3), math.Exp(float64(rb)/3)
		sa, sb := ea/(ea+eb), eb/(ea+eb)
		if ra == 2 {
			sa = 1
		}
		if rb == 2 {
			sb = 1
		}
		return sa, sb
	}
	out := make([]float64, 6)
	for j := range 3 {
		ma, mb := score(magA[j], magB[j])
		da, db := score(dirA[j], dirB[j])
		wa, wb := (ma+da)/2, (mb+db)/2
		for r := range 2 {
			i := r*3 + j
			out[i] = float64(base[i]) + wa*float64(a[i]-base[i]) + wb*float64(b[i]-base[i])
		}
	}
	return out
}

func TestUnsupportedTensorsAndParams(t *testing.T) {
	x := make([]float32, 8)
	if _, err := tryWiden("model.vision.conv.weight", []int64{2, 2, 2}, x, [][]float32{x}, 1, 1); err == nil || !strings.Contains(err.Error(), "model.vision.conv.weight") {
		t.Errorf("3-D tensor: error %v, want one naming the tensor", err)
	}
	if _, err := tryWiden("transformer.h.0.attn.c_attn.weight", []int64{2, 4}, x, [][]float32{x}, 1, 1); err == nil || !strings.Contains(err.Error(), "not supported yet") {
		t.Errorf("Conv1D weight: error %v, want not supported yet", err)
	}
	for _, p := range []merge.Params{{"alpha": math.NaN()}, {"calibration": math.Inf(1)}} {
		if _, err := New(p); err == nil {
			t.Errorf("New(%v) accepted", p)
		}
	}
	spec := Methods()[0]
	if p, ok := spec.Param("above_average_value_ratio"); !ok || p.Name != "alpha" || p.Default != 1.0 {
		t.Errorf("alias above_average_value_ratio: %+v %v", p, ok)
	}
	if p, ok := spec.Param("score_calibration_value"); !ok || p.Name != "calibration" || p.Default != 1.0 {
		t.Errorf("alias score_calibration_value: %+v %v", p, ok)
	}
}

func TestTokenEmbeddingNames(t *testing.T) {
	for name, want := range map[string]bool{
		"model.embed_tokens.weight":                true,
		"language_model.model.embed_tokens.weight": true,
		"transformer.wte.weight":                   true,
		"gpt_neox.embed_in.weight":                 true,
		"lm_head.weight":                           false,
		"embed_out.weight":                         false,
		"model.layers.0.self_attn.q_proj.weight":   false,
	} {
		if got := isTokenEmbedding(name); got != want {
			t.Errorf("isTokenEmbedding(%q) = %v, want %v", name, got, want)
		}
	}
}
