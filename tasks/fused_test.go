package tasks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// bf16Source is a Source over stored bf16 values in memory that also
// hands out the raw bytes, as a bf16 tensor of a checkpoint does.
type bf16Source struct{ v []uint16 }

func (s *bf16Source) Shape() []int64          { return []int64{int64(len(s.v))} }
func (s *bf16Source) Len() int64              { return int64(len(s.v)) }
func (s *bf16Source) RawDType() formats.DType { return formats.BF16 }
func (s *bf16Source) Read(dst []float32, off int64) error {
	for i := range dst {
		dst[i] = bf16Value(s.v[off+int64(i)])
	}
	return nil
}
func (s *bf16Source) ReadRaw(p []byte, off int64) error {
	copy(p, unsafe.Slice((*byte)(unsafe.Pointer(&s.v[off])), len(p)))
	return nil
}

// specialBF16 are stored values every kernel must treat exactly: zeros,
// subnormals, the largest finite values, infinities, quiet and signalling
// NaNs.
var specialBF16 = []uint16{0x0000, 0x8000, 0x0001, 0x8001, 0x007f, 0x7f7f, 0xff7f, 0x7f80, 0xff80, 0x7fc0, 0xffc1, 0x7f81, 0xff90}

// randomBF16 returns n stored bf16 values near base (nil: around 0): most
// are base plus a small multiple of 2⁻⁸ (so |δ| takes few values and the
// thresholds have long tie runs), some equal base, some are special.
func randomBF16(r *rand.Rand, n int, base []uint16, special bool) []uint16 {
	v := make([]uint16, n)
	for i := range v {
		var b float32
		if base != nil {
			b = bf16Value(base[i])
		} else {
			b = float32(r.NormFloat64())
		}
		switch p := r.IntN(100); {
		case special && p < 1:
			v[i] = specialBF16[r.IntN(len(specialBF16))]
			continue
		case base != nil && p < 15:
			v[i] = base[i]
			continue
		case p < 60:
			b += float32(r.IntN(9)-4) / 256
		default:
			b += float32(r.NormFloat64() * 0.02)
		}
		v[i] = uint16(math.Float32bits(b) >> 16)
	}
	return v
}

func TestKernelsMatchGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 63, 1000, 4099} {
		base := randomBF16(r, n, nil, true)
		var xs [][]uint16
		for range 5 {
			xs = append(xs, randomBF16(r, n, base, true))
		}
		bits := make([][]byte, len(xs))
		for k := range bits {
			bits[k] = make([]byte, (n+7)/8+1)
			for i := range bits[k] {
				bits[k][i] = byte(r.Uint32())
			}
		}
		// Rules: mixed (band or bits by model), every model by a band, every
		// model by mask bits (the kernels differ).
		for _, rule := range []string{"mixed", "band", "bits"} {
			for _, K := range []int{1, 2, 3, 4, 5} {
				for _, normalize := range []bool{false, true} {
					for _, lambda := range []float32{1, 0.7} {
						ms := make([]fusedModel, K)
						for k := range ms {
							ms[k] = fusedModel{x: xs[k], from: 0, span: 0x7fffffff, scale: 1, w: float32(r.NormFloat64())}
							switch rule {
							case "mixed":
								if k%2 == 1 {
									ms[k].bits = bits[k]
									ms[k].scale = 1.7
								}
								if k == 2 {
									ms[k].from, ms[k].span = 0x3b000000, 0x7f800000-0x3b000000
								}
							case "band":
								ms[k].scale = 0.9 + 0.1*float32(k)
								switch k % 3 {
								case 1:
									ms[k].from, ms[k].span = 0x3b000000, 0x7f800000-0x3b000000
								case 2:
									ms[k].from, ms[k].span = 0x3b800000, 0x00800000
								}
							case "bits":
								ms[k].bits = bits[k]
								ms[k].scale = 1 + 0.3*float32(k)
								if k == 3 {
									ms[k].bits = nil
								}
							}
						}
						got := make([]float32, n)
						want := make([]float32, n)
						electBF16(got, base, ms, normalize, lambda)
						electBF16Generic(want, base, ms, normalize, lambda)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("electBF16 %s n=%d K=%d normalize=%v lambda=%v: entry %d: %x, generic %x", rule, n, K, normalize, lambda, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
							}
						}
					}
				}
			}
		}
		var got, want [2][l1Lanes]float64
		l1BF16(&got, xs[1], base, bits[1])
		l1BF16Generic(&want, xs[1], base, bits[1])
		for h := range got {
			for j := range got[h] {
				if math.Float64bits(got[h][j]) != math.Float64bits(want[h][j]) && !(math.IsNaN(got[h][j]) && math.IsNaN(want[h][j])) {
					t.Fatalf("l1BF16 n=%d: acc[%d][%d] = %v, generic %v", n, h, j, got[h][j], want[h][j])
				}
			}
		}
	}
}

// runBF16 merges bf16 values in memory with the named method, through the
// blocked bf16 passes or (ref) the float32 path.
func runBF16(t *testing.T, name string, global merge.Params, perModel []merge.Params, ref bool, budget int64, base []uint16, models ...[]uint16) []float32 {
	t.Helper()
	spec := methodByName(t, name)
	g, err := spec.WithDefaults(global, false, "test")
	if err != nil {
		t.Fatal(err)
	}
	m, err := spec.New(g)
	if err != nil {
		t.Fatal(err)
	}
	m.(*gta).refOnly = ref
	m.(*gta).maskBudget = budget
	task := &merge.Task{Name: "model.layers.0.mlp.w", Shape: []int64{int64(len(base))}, Layer: 0, Global: g, Seed: 11,
		Base: &bf16Source{base}, Out: &merge.SliceSink{Data: make([]float32, len(base))}}
	for k, x := range models {
		task.Inputs = append(task.Inputs, &bf16Source{x})
		p, err := spec.WithDefaults(perModel[k], true, "test")
		if err != nil {
			t.Fatal(err)
		}
		task.Model = append(task.Model, p)
	}
	if !ref && (!m.(*gta).fused(task, nil) || merge.RawSources(task, formats.BF16) == nil) {
		t.Fatalf("%s: the blocked bf16 path is not taken", name)
	}
	if err := m.Merge(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	return task.Out.(*merge.SliceSink).Data
}

// TestBlockedBF16MatchesFloat32 checks that the blocked bf16 passes of
// ties, breadcrumbs_ties and dare_ties give the float32 path's bits, on
// tensors of several chunks with an odd tail, long runs of values tied at
// the thresholds, zeros, −0, subnormals, infinities and NaNs.
func TestBlockedBF16MatchesFloat32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 2*merge.ChunkElems + 3*fusedBlock + 13
	if testing.Short() {
		n = merge.ChunkElems + fusedBlock + 13
	}
	base := randomBF16(r, n, nil, false)
	clean := [][]uint16{randomBF16(r, n, base, false), randomBF16(r, n, base, false), randomBF16(r, n, base, false)}
	special := [][]uint16{randomBF16(r, n, base, true), clean[1], randomBF16(r, n, base, true)}
	cases := []struct {
		name     string
		global   merge.Params
		perModel []merge.Params
		models   [][]uint16
		budget   int64
	}{
		{"ties", nil, []merge.Params{{"weight": 0.5, "density": 0.5}, {"weight": 0.3, "density": 0.5}, {"weight": 0.7, "density": 0.5}}, clean, maxMaskCache},
		{"ties", merge.Params{"lambda": 0.7, "normalize": false}, []merge.Params{{"weight": 1.0, "density": 0.2}, {"weight": -0.5, "density": 0.9}, {"weight": 0.7, "density": 1.0}}, clean, maxMaskCache},
		{"ties", nil, []merge.Params{{"weight": 0.5, "density": 0.37}, {"weight": 0.3, "density": 0.0}, {"weight": 0.7, "density": 0.61}}, special, maxMaskCache},
		{"breadcrumbs_ties", nil, []merge.Params{{"weight": 0.5, "density": 0.8, "gamma": 0.03}, {"weight": 0.3, "density": 0.5, "gamma": 0.1}, {"weight": 0.7, "density": 0.9, "gamma": 0.01}}, clean, maxMaskCache},
		{"dare_ties", nil, []merge.Params{{"weight": 0.5, "density": 0.5}, {"weight": 0.3, "density": 0.5}, {"weight": 0.7, "density": 0.5}}, clean, maxMaskCache},
		{"dare_ties", merge.Params{"normalize": true, "lambda": 1.3}, []merge.Params{{"weight": 0.5, "density": 0.3}, {"weight": -0.3, "density": 1.0}, {"weight": 0.7, "density": 0.8}}, special, maxMaskCache},
		{"dare_ties", nil, []merge.Params{{"weight": 0.5, "density": 0.4}, {"weight": 0.3, "density": 0.6}, {"weight": 0.7, "density": 0.99}}, clean, 0},
		{"dare_ties", merge.Params{"rescale": "false"}, []merge.Params{{"weight": 0.5, "density": 0.4}, {"weight": 0.3, "density": 0.6}, {"weight": 0.7, "density": 0.5}}, special, maxMaskCache},
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d_%s", i, c.name), func(t *testing.T) {
			got := runBF16(t, c.name, c.global, c.perModel, false, c.budget, base, c.models...)
			want := runBF16(t, c.name, c.global, c.perModel, true, c.budget, base, c.models...)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("entry %d: blocked %v (%x), float32 path %v (%x)", i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
		})
	}
}

// BenchmarkElectBF16 runs the merge kernel on one block of three models,
// kept by bands (ties) or by mask bits (dare_ties).
func BenchmarkElectBF16(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	base := randomBF16(r, fusedBlock, nil, false)
	out := make([]float32, fusedBlock)
	for _, rule := range []string{"band", "bits"} {
		ms := make([]fusedModel, 3)
		for k := range ms {
			ms[k] = fusedModel{x: randomBF16(r, fusedBlock, base, false), from: 0, span: 0x7fffffff, scale: 1, w: 0.5}
			if rule == "band" {
				ms[k].from, ms[k].span = 0x3b000000, 0x7f800000-0x3b000000
			} else {
				ms[k].bits = make([]byte, fusedBlock/8)
				for i := range ms[k].bits {
					ms[k].bits[i] = byte(r.Uint32())
				}
			}
		}
		b.Run(rule, func(b *testing.B) {
			b.SetBytes(2 * 4 * fusedBlock)
			for b.Loop() {
				electBF16(out, base, ms, true, 1)
			}
		})
	}
}
