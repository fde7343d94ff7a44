package pcb

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// writeBF16 writes float32 tensors to dir/name.safetensors stored as bf16.
func writeBF16(t testing.TB, dir, name string, ts []tensor) string {
	t.Helper()
	path := filepath.Join(dir, name+".safetensors")
	specs := make([]formats.TensorSpec, len(ts))
	for i, x := range ts {
		specs[i] = formats.TensorSpec{Name: x.name, DType: formats.BF16, Shape: x.shape}
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

// referenceSpec is Spec with the reference paths forced: float32 pieces
// instead of stored bf16, and every envelope-kept entry scored.
func referenceSpec(noRaw, noBound bool, made **method) *merge.MethodSpec {
	return variantSpec(noRaw, noBound, false, made)
}

// variantSpec is Spec with the given paths turned off.
func variantSpec(noRaw, noBound, noCandidates bool, made **method) *merge.MethodSpec {
	s := *Spec
	s.New = func(g merge.Params) (merge.Method, error) {
		m, err := newMethod(g)
		if err == nil {
			m.(*method).noRaw, m.(*method).noBound, m.(*method).noCandidates = noRaw, noBound, noCandidates
			if made != nil {
				*made = m.(*method)
			}
		}
		return m, err
	}
	return &s
}

// llmFamily returns bf16-representable base and model values at LLM scale
// (base ≈ N(0, 0.02), δ ≈ N(0, 0.002)) with exact ties, zero deltas, −0,
// subnormals and, when special, infinities (τ = ±Inf and NaN = Inf − Inf
// in two blocks) and a NaN.
func llmFamily(r *rand.Rand, d, n int, special bool) ([]float32, [][]float32) {
	bf := func(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ 0xffff) }
	base := make([]float32, d)
	for i := range base {
		base[i] = bf(float32(r.NormFloat64() * 0.02))
		if r.IntN(50) == 0 {
			base[i] = float32(math.Copysign(0, -1))
		}
	}
	models := make([][]float32, n)
	for k := range models {
		models[k] = make([]float32, d)
		for i := range base {
			switch r.IntN(12) {
			case 0:
				models[k][i] = base[i]
			case 1:
				models[k][i] = bf(base[i] + 0.00390625)
			case 2:
				models[k][i] = math.Float32frombits(uint32(r.IntN(1<<7)) << 16) // subnormal or 0
			default:
				models[k][i] = bf(base[i] + float32(r.NormFloat64()*0.002*float64(k+1)))
			}
		}
	}
	if special && d > 9000 {
		models[0][9000] = float32(math.Inf(1))
		models[n-1][9001] = float32(math.Inf(-1))
		models[0][30000] = float32(math.NaN())
		base[15000] = float32(math.Inf(1))
	}
	return base, models
}

// TestFastPathsMatchReference: bf16 checkpoints merged through the stored
// bytes and bounded scoring give the bytes of the float32-piece reference
// path that scores every entry, for several ratios, task counts, thread
// counts and odd tensor sizes, with special values.
func TestFastPathsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	names := []string{"a.weight", "b.bias", "c.weight", "d.weight"}
	shapes := [][]int64{{37, 301}, {13}, {5, 4099}, {20001}}
	d := 37*301 + 13 + 5*4099 + 20001
	for _, n := range []int{1, 3} {
		for _, special := range []bool{false, true} {
			dir := t.TempDir()
			base, models := llmFamily(r, d, n, special)
			byName := func(flat []float32) []tensor { return split(flat, names, shapes) }
			bp := writeBF16(t, dir, "base", byName(base))
			var paths []string
			for k, m := range models {
				paths = append(paths, writeBF16(t, dir, fmt.Sprint("m", k), byName(m)))
			}
			for _, c := range []struct {
				ratio float64
				scope string
			}{{0.1, "model"}, {0.3, "model"}, {0.9, "model"}, {0.1, "tensor"}} {
				ratio := c.ratio
				g := merge.Params{"ratio": ratio, "lambda": 1.5, "scope": c.scope}
				want, _, err := runPCB(t, bp, paths, runOpts{global: g, spec: referenceSpec(true, true, nil), threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range []struct {
					noRaw, noBound, noCand bool
					threads                int
				}{{false, false, false, 1}, {false, false, false, 2}, {true, false, false, 2}, {false, true, false, 1}, {false, false, true, 2}} {
					var m *method
					got, _, err := runPCB(t, bp, paths, runOpts{global: g, spec: variantSpec(v.noRaw, v.noBound, v.noCand, &m), threads: v.threads})
					if err != nil {
						t.Fatal(err)
					}
					if raw := m.rawItems.Load() > 0; raw == v.noRaw {
						t.Errorf("n=%d ratio %g %+v: read as stored bf16: %v", n, ratio, v, raw)
					}
					// (Ratio 0.9 with n = 3 puts the threshold among x ≤ 0 entries: no bounds.)
					if bounded := m.boundedMerges.Load() > 0; (v.noBound && bounded) || (!v.noBound && ratio < 0.5 && !bounded) {
						t.Errorf("n=%d ratio %g %+v: bounded scoring: %v", n, ratio, v, bounded)
					}
					// A NaN score (special) makes the speculative pass fall back
					// to selection passes, which record no candidates.
					if cand := m.candidateBlocks.Load() > 0; cand != (m.boundedMerges.Load() > 0 && !v.noCand && c.scope == "model" && !special) {
						t.Errorf("n=%d ratio %g %+v: merged from candidate bits: %v", n, ratio, v, cand)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("n=%d special %v ratio %g scope %s %+v: output differs from the reference path", n, special, ratio, c.scope, v)
					}
				}
			}
		}
	}
}
