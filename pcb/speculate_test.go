package pcb

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// mergeInMemory runs a model-scope merge of flat values cut into tensors of
// the given sizes and returns the merged values, flattened.
func mergeInMemory(t *testing.T, m *method, base []float32, models [][]float32, sizes []int) []float32 {
	t.Helper()
	var tasks []*merge.Task
	off := 0
	for i, sz := range sizes {
		var parts [][]float32
		for _, mv := range models {
			parts = append(parts, mv[off:off+sz])
		}
		tk := sliceTask(fmt.Sprint("t", i), base[off:off+sz], parts...)
		tasks = append(tasks, tk)
		off += sz
	}
	ctx := context.Background()
	if err := m.Prepare(ctx, tasks); err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, tk := range tasks {
		if err := m.Merge(ctx, tk); err != nil {
			t.Fatal(err)
		}
		out = append(out, tk.Out.(*merge.SliceSink).Data...)
	}
	return out
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestSpeculativeThresholdMatchesReference: the one-pass threshold from the
// sample's band gives the reference merge bit for bit, and the selection
// passes give the same bytes.
func TestSpeculativeThresholdMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	sizes := []int{30000, 777, 50000}
	d := 30000 + 777 + 50000
	for _, n := range []int{1, 3} {
		base, models := randomFamily(r, d, n)
		w := make([]float32, n)
		for k := range w {
			w[k] = 1
		}
		for _, ratio := range []float64{0.1, 0.5, 0.97} {
			for _, inter := range []string{"sum", "pairwise"} {
				p := merge.Params{"ratio": ratio, "inter": inter, "lambda": 1.25}
				mi, err := newMethod(p)
				if err != nil {
					t.Fatal(err)
				}
				spec := mi.(*method)
				got := mergeInMemory(t, spec, base, models, sizes)
				if spec.clipSpeculated.Load() != 1 {
					t.Errorf("n=%d ratio %g %s: clip bounds not from the sample's bands", n, ratio, inter)
				}
				if spec.speculated.Load() != 1 || spec.fellBack.Load() != 0 {
					t.Errorf("n=%d ratio %g %s: speculated %d, fell back %d; want the one-pass threshold", n, ratio, inter, spec.speculated.Load(), spec.fellBack.Load())
				}
				want := refPCB(base, models, w, ratio, 1.25, 0.01, inter == "pairwise")
				if i := sameBits(got, want); i >= 0 {
					t.Fatalf("n=%d ratio %g %s: merged[%d] = %g, reference %g", n, ratio, inter, i, got[i], want[i])
				}
				mi, _ = newMethod(p)
				sel := mi.(*method)
				sel.noSpeculate = true
				if i := sameBits(mergeInMemory(t, sel, base, models, sizes), got); i >= 0 {
					t.Fatalf("n=%d ratio %g %s: selection passes differ at %d", n, ratio, inter, i)
				}
			}
		}
	}
}

// TestSpeculationFallsBack: a sample that misrepresents the model (the
// sampled runs hold tiny task-vector entries, the rest large ones) puts the
// band away from the drop position; the selection passes then give the same
// result as without speculation.
func TestSpeculationFallsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("merges 4M-element task vectors")
	}
	const d = 4 << 20
	r := rand.New(rand.NewPCG(23, 24))
	base := make([]float32, d)
	models := [][]float32{make([]float32, d), make([]float32, d)}
	g := &group{d: d}
	stride := newSampler(g).stride
	if stride <= sampleSpan {
		t.Fatalf("stride %d: the sample would hold everything", stride)
	}
	for i := range base {
		base[i] = float32(r.NormFloat64() * 0.02)
		sc := 0.01
		if int64(i)%stride < sampleSpan {
			sc = 1e-4
		}
		for _, m := range models {
			m[i] = base[i] + float32(r.NormFloat64()*sc)
		}
	}
	sizes := []int{d / 2, d / 2}
	p := merge.Params{"ratio": 0.1}
	mi, _ := newMethod(p)
	spec := mi.(*method)
	got := mergeInMemory(t, spec, base, models, sizes)
	if spec.clipSpeculated.Load() != 0 {
		t.Errorf("clip bounds from the sample's bands, want the selection passes")
	}
	if spec.fellBack.Load() != 1 {
		t.Errorf("fell back %d times, want 1 (speculated %d)", spec.fellBack.Load(), spec.speculated.Load())
	}
	mi, _ = newMethod(p)
	sel := mi.(*method)
	sel.noSpeculate = true
	if i := sameBits(mergeInMemory(t, sel, base, models, sizes), got); i >= 0 {
		t.Fatalf("selection passes differ at %d", i)
	}
}

// TestBandKeysMatchesGeneric: the vectorised band count (clipTally, two
// bands at a time) equals the generic one, including a band whose low end
// is 0 (zeros counted as equal), an empty band, a NaN and an infinity.
func TestBandKeysMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 1e-2)
		switch r.IntN(6) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		case 2:
			x[i] = 0.0078125
		}
	}
	x[7] = float32(math.NaN())
	x[8] = float32(math.Inf(-1))
	key := func(v float32) uint32 { return math.Float32bits(v) &^ signBit }
	bands := []keyBand{{0, key(1e-3)}, {key(1e-3), key(0.0078125)}, {key(0.0078125), key(0.0078125)}, {0, 0}, {key(1e-2), 0x7fffffff}}
	for i, bd := range bands {
		other := bands[(i+1)%len(bands)]
		gm, wm := make([]uint8, len(x)/8), make([]uint8, len(x)/8)
		om := make([]uint8, len(x)/8)
		got := clipTally(gm, om, x, x, bd, other)
		wb, we, wa := bandKeysGeneric(wm, x, bd)
		if got[0] != wb || got[1] != we || got[2] != wa {
			t.Errorf("band %x: counts %v, generic %d %d %d", bd, got[:3], wb, we, wa)
		}
		inside := 0
		for j := range gm {
			if gm[j] != wm[j] {
				t.Fatalf("band %x: mask[%d] = %08b, generic %08b", bd, j, gm[j], wm[j])
			}
			inside += bits.OnesCount8(wm[j])
		}
		if wb+we+wa+inside != len(x) {
			t.Errorf("band %x: %d+%d+%d+%d entries, want %d", bd, wb, we, wa, inside, len(x))
		}
	}
}
