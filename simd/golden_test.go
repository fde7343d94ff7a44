package simd

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"testing"
)

// goldenInputs returns deterministic float32 data built with integer and
// exact float operations only, so every GOARCH sees the same values: a
// spread of magnitudes, both signs, zeros, subnormals, infinities and NaNs.
func goldenInputs(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 99))
	x := make([]float32, n)
	for i := range x {
		switch v := r.Uint32(); v % 16 {
		case 0:
			x[i] = math.Float32frombits(specialF32Bits[int(v>>4)%len(specialF32Bits)])
		case 1:
			x[i] = math.Float32frombits(v)
		default:
			x[i] = float32(r.Float64()*8 - 4)
		}
	}
	return x
}

// goldenHash hashes float32 results; every NaN hashes alike, since NaN
// payloads from arithmetic may differ between architectures.
type goldenHash struct {
	h interface {
		Write([]byte) (int, error)
		Sum64() uint64
	}
}

func newGoldenHash() *goldenHash { return &goldenHash{fnv.New64a()} }

func (g *goldenHash) f32(xs ...float32) {
	for _, x := range xs {
		b := math.Float32bits(x)
		if x != x {
			b = 0x7fc00000
		}
		g.h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
	}
}

func (g *goldenHash) f64(xs ...float64) {
	for _, x := range xs {
		b := math.Float64bits(x)
		if x != x {
			b = 0x7ff8000000000000
		}
		for i := 0; i < 64; i += 8 {
			g.h.Write([]byte{byte(b >> i)})
		}
	}
}

func (g *goldenHash) u16(xs ...uint16) {
	for _, x := range xs {
		g.h.Write([]byte{byte(x), byte(x >> 8)})
	}
}

// goldenResults runs every kernel of k on fixed inputs and returns one hash
// per kernel.
func goldenResults(k *kernels) map[string]uint64 {
	const n = 4099
	x, y, z := goldenInputs(1, n), goldenInputs(2, n), goldenInputs(3, n)
	h16 := make([]uint16, n)
	for i := range h16 {
		h16[i] = uint16(math.Float32bits(x[i]) >> 13) // every class of 16-bit pattern
	}
	res := map[string]uint64{}
	run := func(name string, f func(g *goldenHash)) {
		g := newGoldenHash()
		f(g)
		res[name] = g.h.Sum64()
	}
	dst := make([]float32, n)
	d16 := make([]uint16, n)
	run("BF16ToF32", func(g *goldenHash) { k.bf16ToF32(dst, h16); g.f32(dst...) })
	run("F16ToF32", func(g *goldenHash) { k.f16ToF32(dst, h16); g.f32(dst...) })
	run("F32ToBF16", func(g *goldenHash) { k.f32ToBF16(d16, x); g.u16(d16...) })
	run("F32ToF16", func(g *goldenHash) { k.f32ToF16(d16, x); g.u16(d16...) })
	run("AddScaled", func(g *goldenHash) { copy(dst, x); k.addScaled(dst, 0.3, y); g.f32(dst...) })
	run("Scale", func(g *goldenHash) { copy(dst, x); k.scale(dst, -1.7); g.f32(dst...) })
	run("Sub", func(g *goldenHash) { k.sub(dst, x, y); g.f32(dst...) })
	run("Add", func(g *goldenHash) { k.add(dst, x, y); g.f32(dst...) })
	run("Mul", func(g *goldenHash) { k.mul(dst, x, y); g.f32(dst...) })
	w := []float32{0.3, -0.7, 1.1}
	run("WeightedDeltaSum", func(g *goldenHash) { k.weightedDeltaSum(dst, x, [][]float32{y, z, x}, w); g.f32(dst...) })
	run("WeightedDeltaSumBF16", func(g *goldenHash) {
		a, b := make([]uint16, n), make([]uint16, n)
		refF32ToBF16(a, y)
		refF32ToBF16(b, z)
		k.weightedDeltaSumBF16(dst, h16, [][]uint16{a, b, h16}, w)
		g.f32(dst...)
	})
	run("WeightedDeltaSumF16", func(g *goldenHash) {
		a, b := make([]uint16, n), make([]uint16, n)
		refF32ToF16(a, y)
		refF32ToF16(b, z)
		k.weightedDeltaSumF16(dst, h16, [][]uint16{a, b, h16}, w)
		g.f32(dst...)
	})
	fin := make([]float32, n) // finite data for the reductions
	for i := range fin {
		fin[i] = x[i]
		if !(math.Abs(float64(x[i])) < 1e30) {
			fin[i] = float32(i % 7)
		}
	}
	run("Sum", func(g *goldenHash) { g.f64(k.sum(fin)) })
	run("SumSquares", func(g *goldenHash) { g.f64(k.sumSquares(fin)) })
	run("Dot", func(g *goldenHash) { g.f64(k.dot(fin, y)) })
	run("SumAbs", func(g *goldenHash) { g.f64(k.sumAbs(fin)) })
	run("MaxAbs", func(g *goldenHash) { g.f32(k.maxAbs(fin), k.maxAbs(x)) })
	run("CountAbsGE", func(g *goldenHash) { g.f64(float64(k.countAbsGE(x, 1.5))) })
	run("Hist", func(g *goldenHash) {
		hist := make([]uint64, 65536)
		k.histAbsHigh16(hist, x)
		k.histAbsLow16(hist, x, 0x3f80)
		for _, c := range hist {
			g.f64(float64(c))
		}
	})
	run("TIESElect", func(g *goldenHash) {
		div := make([]float32, n)
		k.tiesElect(dst, div, [][]float32{x, y, z}, w)
		g.f32(dst...)
		g.f32(div...)
	})
	run("Exp", func(g *goldenHash) { k.exp(dst, x); g.f32(dst...) })
	run("Tanh", func(g *goldenHash) { k.tanh(dst, x); g.f32(dst...) })
	return res
}

// golden holds the hashes of goldenResults, recorded on amd64. Every
// implementation on every GOARCH must reproduce them: this catches an
// architecture where the compiler fuses a multiply-add or an assembly
// kernel that rounds differently.
var golden = map[string]uint64{
	"Add":                  0xf0022a5cccec9804,
	"AddScaled":            0xe26b2089da0bc59b,
	"BF16ToF32":            0xe38b8ed433abb783,
	"CountAbsGE":           0x48c9632ed71aa46,
	"Dot":                  0xaa96293229a2e940,
	"Exp":                  0xd096d6308e7ba45,
	"F16ToF32":             0x1cf3e8311bf063a4,
	"F32ToBF16":            0xfd23b1ba0c47256,
	"F32ToF16":             0x8c2be249f5f82d08,
	"Hist":                 0xf00a30e4ae80ee1e,
	"MaxAbs":               0x71616054fb3f327d,
	"Mul":                  0x98f098dc5b8f415,
	"Scale":                0x11c9de03bb040537,
	"Sub":                  0xed7dbc1e99499e97,
	"Sum":                  0x601278d509d25259,
	"SumAbs":               0x939d49c587ab5ea7,
	"SumSquares":           0xda0fd46d05380c37,
	"TIESElect":            0x1b79776b087b4fa1,
	"Tanh":                 0x60af801009af25e7,
	"WeightedDeltaSum":     0x539c441fe0a97b6b,
	"WeightedDeltaSumF16":  0x6bd1fa423546814b,
	"WeightedDeltaSumBF16": 0x1f0dff426f1bf5b8,
}

func TestGolden(t *testing.T) {
	forEachImpl(t, func(t *testing.T, k *kernels) {
		got := goldenResults(k)
		for name, h := range got {
			if want, ok := golden[name]; !ok {
				t.Errorf("no golden hash for %s: %#x", name, h)
			} else if h != want {
				t.Errorf("%s: hash %#x, want %#x", name, h, want)
			}
		}
		if t.Failed() {
			s := "var golden = map[string]uint64{\n"
			for name, h := range got {
				s += fmt.Sprintf("\t%q: %#x,\n", name, h)
			}
			t.Log(s + "}")
		}
	})
}
