//go:build !purego

package tasks

import (
	"math/rand/v2"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

// TestElectFastApplies checks that the wide kernel, not a fallback, is
// what TestElectMatchesGeneric compares for one to three models keeping by
// one kind of rule, and that it declines what it cannot do.
func TestElectFastApplies(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(5, 6))
	const n = 40
	base, xs := electData(r, n, 4, 5)
	out := make([]float32, n)
	for _, c := range electCases(r, base, xs[:3]) {
		for K := 1; K <= 3; K++ {
			ms := c.ms[:K]
			mixed := false
			for k := range ms {
				if (ms[k].bits != nil) != (ms[0].bits != nil) {
					mixed = true
				}
			}
			if got := electFast(out, nil, base, ms, c.normalize, c.lambda); got != !mixed {
				t.Errorf("%s K=%d: electFast applies %v, want %v", c.name, K, got, !mixed)
			}
		}
	}
	ms := []fusedModel{{x: xs[0], from: 0, span: 0x7fffffff, scale: 1, w: 1}, {x: xs[1], from: 0, span: 0x7fffffff, scale: 1, w: 1}, {x: xs[2], from: 0, span: 0x7fffffff, scale: 1, w: 1}, {x: xs[3], from: 0, span: 0x7fffffff, scale: 1, w: 1}}
	if electFast(out, nil, base, ms, true, 1) {
		t.Error("electFast applies to 4 models")
	}
	if electFast(out[:15], nil, base[:15], ms[:1], true, 1) {
		t.Error("electFast applies to 15 entries")
	}
	ms[0].bits = make([]byte, n/8)
	ms[0].from = 1
	if electFast(out, nil, base, ms[:1], true, 1) {
		t.Error("electFast applies to mask bits with a band")
	}
}

// electBench returns a block of fusedBlock entries and three models kept
// by bands reaching 0x7fffffff (ties), by narrow bands (breadcrumbs) or by
// mask bits (dare_ties).
func electBench(rule string) (base []uint16, ms []fusedModel) {
	r := rand.New(rand.NewPCG(1, 2))
	base = randomBF16(r, fusedBlock, nil, false)
	ms = make([]fusedModel, 3)
	for k := range ms {
		ms[k] = fusedModel{x: randomBF16(r, fusedBlock, base, false), from: 0, span: 0x7fffffff, scale: 1, w: 0.5}
		switch rule {
		case "ge":
			ms[k].from, ms[k].span = 0x3b000000, 0x7fffffff-0x3b000000
		case "band":
			ms[k].from, ms[k].span = 0x3b000000, 0x3d000000-0x3b000000
		case "bits":
			ms[k].scale = 1.25
			ms[k].bits = make([]byte, fusedBlock/8)
			for i := range ms[k].bits {
				ms[k].bits[i] = byte(r.Uint32())
			}
		}
	}
	return base, ms
}

// BenchmarkElect compares, on blocks of fusedBlock entries and three
// models, the model-by-model kernels (old: electBF16Rows) with the
// unrolled one (new: electFast), each writing float32 (f32) and bf16
// (bf16: old then simd.F32ToBF16, new fused), for the three rules (ge:
// ties, band: breadcrumbs_ties, bits: dare_ties); ns/element is reported.
func BenchmarkElect(b *testing.B) {
	if !useAVX2 {
		b.Skip("no AVX2")
	}
	out := make([]float32, fusedBlock)
	enc := make([]uint16, fusedBlock)
	for _, rule := range []string{"ge", "band", "bits"} {
		base, ms := electBench(rule)
		run := func(name string, f func()) {
			b.Run(rule+"/"+name, func(b *testing.B) {
				b.SetBytes(2 * 4 * fusedBlock)
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/fusedBlock, "ns/element")
			})
		}
		// The methods' defaults: ties normalizes, breadcrumbs_ties and
		// dare_ties do not.
		normalize := rule == "ge"
		run("old-f32", func() { electBF16Rows(out, base, ms, normalize, 1) })
		run("new-f32", func() { electFast(out, nil, base, ms, normalize, 1) })
		run("old-bf16", func() { electBF16Rows(out, base, ms, normalize, 1); simd.F32ToBF16(enc, out) })
		run("new-bf16", func() { electFast(nil, enc, base, ms, normalize, 1) })
	}
}
