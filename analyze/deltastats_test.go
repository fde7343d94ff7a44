package analyze

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// Special bf16 bit patterns: ±0, the smallest and largest subnormals, the
// smallest normal, the largest finite, ±Inf, quiet and signalling NaNs of
// both signs, ±1.
var bf16Specials = []uint16{
	0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f,
	0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0xff81, 0x3f80, 0xbf80,
}

// bf16Finite are the finite specials.
var bf16Finite = []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x3f80, 0xbf80}

// randomBF16 returns n bf16 values near 0.02 in magnitude; with
// probability 1/8 an element equals the one of like (an exact tie: no
// change), with probability 1/16 it is drawn from specials.
func randomBF16(r *rand.Rand, n int, like []uint16, specials []uint16) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		switch {
		case like != nil && r.IntN(8) == 0:
			v[i] = like[i]
		case len(specials) > 0 && r.IntN(16) == 0:
			v[i] = specials[r.IntN(len(specials))]
		default:
			f := float32(r.NormFloat64() * 0.02)
			v[i] = uint16(math.Float32bits(f) >> 16)
		}
	}
	return v
}

// sameFloat reports whether a and b have the same bits or are both NaN
// (which NaN a sum ends in is not specified; the report prints any NaN the
// same way).
func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || (math.IsNaN(a) && math.IsNaN(b))
}

func sameLanes(a, b *lanes) bool {
	for i := range a {
		if !sameFloat(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestDeltaKernelsMatchReference compares the kernels (AVX2 where the CPU
// has it) with the reference loops on every length up to 70 and a few
// large odd ones, with special values, exact ties and non-zero starting
// lanes; the element after each slice holds a guard value that must not be
// read or written.
func TestDeltaKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lengths := []int{1000, 2048, 2049, 4111}
	for n := 0; n <= 70; n++ {
		lengths = append(lengths, n)
	}
	for _, n := range lengths {
		for _, specials := range [][]uint16{nil, bf16Finite, bf16Specials} {
			b := randomBF16(r, n+1, nil, specials)
			x := randomBF16(r, n+1, b, specials)
			y := randomBF16(r, n+1, b, specials)
			b[n], x[n], y[n] = 0x7f80, 0xff80, 0x7fc0 // guards: Inf, −Inf, NaN
			var start lanes
			for i := range start {
				start[i] = float64(i) * 0.5
			}

			acc, ref := start, start
			baseSquares(&acc, b[:n])
			baseSquaresRef(&ref, b[:n], 0)
			if !sameLanes(&acc, &ref) {
				t.Fatalf("n=%d: baseSquares lanes %v, reference %v", n, acc, ref)
			}

			// The threshold is often exactly some |Δ| (ties must count as ≥).
			thr := float32(0.01)
			if n%3 == 0 {
				thr = math.SmallestNonzeroFloat32
			} else if n > 0 {
				k := r.IntN(n)
				a := float32(math.Abs(float64(bf16Value(x[k]) - bf16Value(b[k]))))
				if a > 0 && !math.IsInf(float64(a), 0) && !math.IsNaN(float64(a)) {
					thr = a
				}
			}
			dx, dxRef := make([]float32, n+1), make([]float32, n+1)
			dy, dyRef := make([]float32, n+1), make([]float32, n+1)
			dx[n], dxRef[n], dy[n], dyRef[n] = 7, 7, float32(math.NaN()), float32(math.NaN())
			st, stRef := deltaLanes{start, start}, deltaLanes{start, start}
			ge := expertDeltas(&st, dx[:n], b[:n], x[:n], thr)
			geRef := expertDeltasRef(&stRef, dxRef[:n], b[:n], x[:n], thr, 0)
			if ge != geRef || !sameLanes(&st.abs, &stRef.abs) || !sameLanes(&st.sq, &stRef.sq) {
				t.Fatalf("n=%d: expertDeltas ge %d lanes %v, reference %d %v", n, ge, st, geRef, stRef)
			}
			for i := range dx {
				if s := deltaSlot(i, n); math.Float32bits(dx[s]) != math.Float32bits(dxRef[i]) {
					t.Fatalf("n=%d: Δ[%d] at %d = %x, reference %x", n, i, s, math.Float32bits(dx[s]), math.Float32bits(dxRef[i]))
				}
			}
			var sy, syRef deltaLanes
			expertDeltas(&sy, dy[:n], b[:n], y[:n], thr)
			expertDeltasRef(&syRef, dyRef[:n], b[:n], y[:n], thr, 0)

			dot, dotRef := start, start
			z, g := pairDeltas(&dot, dx[:n], dy[:n])
			zRef, gRef := pairDeltasRef(&dotRef, dxRef[:n], dyRef[:n], 0)
			if z != zRef || g != gRef || !sameLanes(&dot, &dotRef) {
				t.Fatalf("n=%d: pairDeltas (%d, %d) %v, reference (%d, %d) %v", n, z, g, dot, zRef, gRef, dotRef)
			}
			// The pair counts are those of signConflicts.
			both, conf := signConflicts(dxRef[:n], dyRef[:n])
			if both != int64(n-z) || conf != int64(g) {
				t.Fatalf("n=%d: pairDeltas gives (%d, %d), signConflicts (%d, %d)", n, n-z, g, both, conf)
			}
		}
	}
}

// TestDeltaSlotIsAPermutation: every element has its own slot, within its
// group of 16.
func TestDeltaSlotIsAPermutation(t *testing.T) {
	for _, n := range []int{0, 5, 16, 37, 64, 1000} {
		seen := make([]bool, n)
		for i := range n {
			s := deltaSlot(i, n)
			if s < 0 || s >= n || seen[s] || s/16 != i/16 {
				t.Fatalf("n=%d: element %d in slot %d", n, i, s)
			}
			seen[s] = true
		}
	}
}

// TestDeltaKernelsHandWorked checks the reference loops on values worked by
// hand: b = [1, 0.5, −0, 2], x = [1.5, 0.5, 0, −Inf].
func TestDeltaKernelsHandWorked(t *testing.T) {
	b := []uint16{0x3f80, 0x3f00, 0x8000, 0x4000}
	x := []uint16{0x3fc0, 0x3f00, 0x0000, 0xff80}
	var acc lanes
	baseSquaresRef(&acc, b, 0)
	if acc[0] != 1 || acc[1] != 0.25 || acc[2] != 0 || acc[3] != 4 {
		t.Errorf("Σθ₀² lanes %v, want 1, 0.25, 0, 4", acc[:4])
	}
	var st deltaLanes
	d := make([]float32, 4)
	ge := expertDeltasRef(&st, d, b, x, 0.25, 0)
	// Δ = [0.5, 0, +0, −Inf]; |Δ| ≥ 0.25: 0.5 and Inf.
	if ge != 2 || d[0] != 0.5 || d[1] != 0 || math.Signbit(float64(d[2])) || !math.IsInf(float64(d[3]), -1) {
		t.Errorf("Δ = %v, ge = %d; want [0.5 0 0 -Inf], 2", d, ge)
	}
	if st.abs[0] != 0.5 || st.sq[0] != 0.25 || !math.IsInf(st.abs[3], 1) || !math.IsInf(st.sq[3], 1) {
		t.Errorf("lanes abs %v sq %v", st.abs[:4], st.sq[:4])
	}
	var dot lanes
	z, g := pairDeltasRef(&dot, []float32{0.5, -2, 0, 3}, []float32{4, 1, 5, float32(math.Copysign(0, -1))}, 0)
	if z != 2 || g != 1 || dot[0] != 2 || dot[1] != -2 {
		t.Errorf("pair: zeros %d, negative %d, dot lanes %v; want 2, 1, [2 -2 0 -0]", z, g, dot[:4])
	}
}

// TestBF16PathMatchesFloat32Path runs analyzeChunkBF16 and the float32
// analyzeChunk on the same bf16 tensors (three experts, one of them
// missing on one tensor, lengths that are not multiples of a block or of
// 16, ties, subnormals, −0, and NaN/Inf in one tensor) and requires the
// same sums bit for bit, reading both from memory mappings and with ReadRaw.
func TestBF16PathMatchesFloat32Path(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	dir := t.TempDir()
	type tensor struct {
		name     string
		n        int
		specials []uint16
	}
	tensors := []tensor{
		{"a.weight", 2*readElems + 3*BlockElems + 1001, bf16Finite},
		{"b.weight", 37, bf16Specials},
		{"c.weight", BlockElems + 16, nil},
		{"d.weight", 2*BlockElems - 5, bf16Specials},
	}
	const ne = 3
	values := make([][][]uint16, len(tensors)) // [tensor][model]
	for i, tn := range tensors {
		base := randomBF16(r, tn.n, nil, tn.specials)
		values[i] = [][]uint16{base}
		for range ne {
			values[i] = append(values[i], randomBF16(r, tn.n, base, tn.specials))
		}
	}
	models := make([]*formats.Model, ne+1)
	for k := range models {
		var sp []formats.TensorSpec
		for _, tn := range tensors {
			sp = append(sp, formats.TensorSpec{Name: tn.name, DType: formats.BF16, Shape: []int64{int64(tn.n)}})
		}
		p := filepath.Join(dir, fmt.Sprintf("m%d.safetensors", k))
		w, err := formats.Create(p, sp, formats.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, tn := range tensors {
			if err := w.WriteAt(tn.name, leBytes(values[i][k]), 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if models[k], err = formats.Open(p); err != nil {
			t.Fatal(err)
		}
		defer models[k].Close()
	}
	for i, tn := range tensors {
		source := func(k int) *merge.TensorSource {
			bt, _ := models[k].Tensor(tn.name)
			s, err := merge.NewSource(bt, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		newJob := func(noMap bool) *tensorJob {
			j := &tensorJob{name: tn.name, base: source(0), chunks: merge.Chunks(int64(tn.n), 1), noMap: noMap}
			for k := 1; k <= ne; k++ {
				if i == 1 && k == 2 {
					j.experts = append(j.experts, nil) // expert 2 lacks tensor b
					continue
				}
				j.experts = append(j.experts, source(k))
			}
			if !rawBF16(j) {
				t.Fatalf("%s: not on the bf16 path", tn.name)
			}
			return j
		}
		for _, tc := range []struct {
			tol   float64
			noMap bool
		}{{0, false}, {0, true}, {DefaultZeroTol, false}, {DefaultZeroTol, true}, {0.5, false}} {
			tol := tc.tol
			j := newJob(tc.noMap)
			if !tc.noMap && j.acquire() == nil {
				t.Fatalf("%s: not mapped", tn.name)
			}
			for _, c := range j.chunks {
				got, gotPairs, err := analyzeChunkBF16(j, c, ne, tol)
				if err != nil {
					t.Fatal(err)
				}
				want, wantPairs, err := analyzeChunk(j, c, ne, tol)
				if err != nil {
					t.Fatal(err)
				}
				for k := range want {
					g, w := got[k], want[k]
					if g.N != w.N || g.NearZero != w.NearZero || !sameFloat(g.SumAbs, w.SumAbs) ||
						!sameFloat(g.SumSq, w.SumSq) || !sameFloat(g.BaseSumSq, w.BaseSumSq) {
						t.Errorf("%s tol %g noMap %v chunk %d expert %d: bf16 path %+v, float32 path %+v", tn.name, tol, tc.noMap, c.Index, k, g, w)
					}
				}
				for p := range wantPairs {
					g, w := gotPairs[p], wantPairs[p]
					if g.Both != w.Both || g.Conflicts != w.Conflicts || !sameFloat(g.Dot, w.Dot) ||
						!sameFloat(g.SqA, w.SqA) || !sameFloat(g.SqB, w.SqB) {
						t.Errorf("%s tol %g noMap %v chunk %d pair %d: bf16 path %+v, float32 path %+v", tn.name, tol, tc.noMap, c.Index, p, g, w)
					}
				}
				if tn.specials == nil && (math.IsNaN(want[0].SumSq) || want[0].NearZero == 0 || want[0].NearZero == want[0].N) {
					t.Errorf("%s: degenerate test data %+v", tn.name, want[0])
				}
			}
			j.close()
		}
	}
}

func leBytes(v []uint16) []byte {
	b := make([]byte, 0, 2*len(v))
	for _, h := range v {
		b = binary.LittleEndian.AppendUint16(b, h)
	}
	return b
}

// BenchmarkDeltaKernels runs the three kernels over one block of a base and
// two experts (bytes/s counts the three bf16 inputs).
func BenchmarkDeltaKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	base := randomBF16(r, BlockElems, nil, nil)
	x := randomBF16(r, BlockElems, base, nil)
	y := randomBF16(r, BlockElems, base, nil)
	dx, dy := make([]float32, subBlock), make([]float32, subBlock)
	b.SetBytes(3 * 2 * BlockElems)
	for b.Loop() {
		var bl lanes
		var sx, sy deltaLanes
		var dot lanes
		baseSquares(&bl, base)
		for s := 0; s < BlockElems; s += subBlock {
			expertDeltas(&sx, dx, base[s:s+subBlock], x[s:s+subBlock], 0.01)
			expertDeltas(&sy, dy, base[s:s+subBlock], y[s:s+subBlock], 0.01)
			pairDeltas(&dot, dx, dy)
		}
	}
}

func BenchmarkBaseSquares(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	base := randomBF16(r, BlockElems, nil, nil)
	b.SetBytes(2 * BlockElems)
	for b.Loop() {
		var bl lanes
		baseSquares(&bl, base)
	}
}

func BenchmarkExpertDeltas(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	base := randomBF16(r, subBlock, nil, nil)
	x := randomBF16(r, subBlock, base, nil)
	d := make([]float32, subBlock)
	b.SetBytes(2 * 2 * subBlock)
	for b.Loop() {
		var st deltaLanes
		expertDeltas(&st, d, base, x, 0.01)
	}
}

func BenchmarkPairDeltas(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	x, y := make([]float32, subBlock), make([]float32, subBlock)
	for i := range x {
		x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	b.SetBytes(2 * 4 * subBlock)
	for b.Loop() {
		var dot lanes
		pairDeltas(&dot, x, y)
	}
}
