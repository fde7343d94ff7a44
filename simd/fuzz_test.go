package simd

import (
	"encoding/binary"
	"math"
	"testing"
)

// FuzzKernels decodes the input as float32 bit patterns (and the same bytes
// as 16-bit patterns) and checks every implementation of the conversions,
// the elementwise kernels, the fused sums and the reductions against the
// reference. Run with: go test -run NONE -fuzz FuzzKernels ./simd/
func FuzzKernels(f *testing.F) {
	seed := make([]byte, 0, 4*len(specialF32Bits))
	for _, b := range specialF32Bits {
		seed = binary.LittleEndian.AppendUint32(seed, b)
	}
	f.Add(seed, float32(0.5))
	f.Add([]byte{1, 2, 3}, float32(-3))
	f.Add(make([]byte, 4*67), float32(math.Inf(1)))
	f.Fuzz(func(t *testing.T, data []byte, a float32) {
		n := len(data) / 4
		x := make([]float32, n)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		h := make([]uint16, len(data)/2)
		for i := range h {
			h[i] = binary.LittleEndian.Uint16(data[2*i:])
		}
		y := make([]float32, n) // a second operand: x reversed
		for i := range y {
			y[i] = x[n-1-i]
		}
		h2 := make([]uint16, len(h))
		for i := range h2 {
			h2[i] = h[len(h)-1-i]
		}
		w := []float32{a, 0.25}
		for _, k := range registry[1:] {
			// conversions
			wantF := make([]float32, len(h))
			gotF := make([]float32, len(h))
			refBF16ToF32(wantF, h)
			k.bf16ToF32(gotF, h)
			checkF32(t, k.level+" BF16ToF32", gotF, wantF)
			refF16ToF32(wantF, h)
			k.f16ToF32(gotF, h)
			checkF32(t, k.level+" F16ToF32", gotF, wantF)
			wantH, gotH := make([]uint16, n), make([]uint16, n)
			refF32ToBF16(wantH, x)
			k.f32ToBF16(gotH, x)
			checkU16(t, k.level+" F32ToBF16", gotH, wantH, x)
			refF32ToF16(wantH, x)
			k.f32ToF16(gotH, x)
			checkU16(t, k.level+" F32ToF16", gotH, wantH, x)

			// elementwise and fused
			want, got := make([]float32, n), make([]float32, n)
			refSub(want, x, y)
			k.sub(got, x, y)
			checkArith(t, k.level+" Sub", got, want)
			copy(want, x)
			copy(got, x)
			refAddScaled(want, a, y)
			k.addScaled(got, a, y)
			checkArith(t, k.level+" AddScaled", got, want)
			refWeightedDeltaSum(want, x, [][]float32{y, x}, w)
			k.weightedDeltaSum(got, x, [][]float32{y, x}, w)
			checkArith(t, k.level+" WeightedDeltaSum", got, want)
			wantF16 := make([]float32, len(h))
			refWeightedDeltaSumBF16(wantF16, h, [][]uint16{h2}, w[:1])
			k.weightedDeltaSumBF16(gotF, h, [][]uint16{h2}, w[:1])
			checkArith(t, k.level+" WeightedDeltaSumBF16", gotF, wantF16)
			refWeightedDeltaSumF16(wantF16, h, [][]uint16{h2}, w[:1])
			k.weightedDeltaSumF16(gotF, h, [][]uint16{h2}, w[:1])
			checkArith(t, k.level+" WeightedDeltaSumF16", gotF, wantF16)
			refExp(want, x)
			k.exp(got, x)
			checkF32(t, k.level+" Exp", got, want)
			refTanh(want, x)
			k.tanh(got, x)
			checkF32(t, k.level+" Tanh", got, want)
			wantD := make([]float32, n)
			refTIESElect(want, wantD, [][]float32{x, y}, w)
			gotD := make([]float32, n)
			k.tiesElect(got, gotD, [][]float32{x, y}, w)
			checkArith(t, k.level+" TIESElect mixed", got, want)
			checkArith(t, k.level+" TIESElect div", gotD, wantD)

			// reductions
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"Sum", k.sum(x), refSum(x)},
				{"SumSquares", k.sumSquares(x), refSumSquares(x)},
				{"Dot", k.dot(x, y), refDot(x, y)},
				{"SumAbs", k.sumAbs(x), refSumAbs(x)},
				{"MaxAbs", float64(k.maxAbs(x)), float64(refMaxAbs(x))},
				{"CountAbsGE", float64(k.countAbsGE(x, a)), float64(refCountAbsGE(x, a))},
			} {
				if !sameF64(c.got, c.want) {
					t.Errorf("%s %s = %v, want %v", k.level, c.name, c.got, c.want)
				}
			}
		}
	})
}
