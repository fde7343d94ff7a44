package tasks

import "math"

// The kernels of the blocked bf16 passes (fused.go). Each works on one
// block of stored bf16 values (base and models) held in the CPU cache and
// does every step of its pass in one sweep. The ...Generic functions here
// are the definitions: the assembly versions (fused_amd64.s) must give the
// same bits, and the tests compare the whole passes with the float32 path.

// bf16Value converts one stored bfloat16 value as simd.BF16ToF32 does (a
// signalling NaN is quieted).
func bf16Value(h uint16) float32 {
	if h&0x7fff > 0x7f80 {
		h |= 0x0040
	}
	return math.Float32frombits(uint32(h) << 16)
}

// fusedModel is one model's input to electBF16 for one block.
type fusedModel struct {
	x    []uint16 // the model's stored bf16 values
	bits []byte   // keep bit i&7 of byte i>>3 (nil: no random mask)
	// keep only the |δ| bit patterns in [from, from+span] (band of the
	// magnitude methods; 0, 0x7fffffff keeps everything)
	from, span uint32
	scale, w   float32 // the kept entry enters as (δ·scale)·w
}

// keeps reports whether the model keeps entry i, whose task-vector value
// has |δ| bit pattern a.
func (f *fusedModel) keeps(i int, a uint32) bool {
	if a-f.from > f.span {
		return false
	}
	return f.bits == nil || f.bits[i>>3]>>(i&7)&1 != 0
}

// electBF16Generic computes one block of a sign-consensus merge from the
// stored bf16 values: per entry, δ_k = x_k − base, v_k = (δ_k·scale_k)·w_k
// where model k keeps the entry (else 0), the elected sign is that of
// Σ_k v_k (summed in model order from +0; not ≥ 0 elects −), m and dv sum
// v_k and w_k over the models whose non-zero, non-NaN v_k has that sign,
// and out = base + (m / d)·lambda with d = dv (1 when dv is 0 or without
// normalize). This is gta.combine's arithmetic for sparsified task
// vectors, step for step.
func electBF16Generic(out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	var vs [maxFusedModels]float32
	for i := range out {
		b := bf16Value(base[i])
		var s float32
		for k := range ms {
			f := &ms[k]
			d := bf16Value(f.x[i]) - b
			var v float32
			if f.keeps(i, math.Float32bits(d)&0x7fffffff) {
				v = float32(float32(d*f.scale) * f.w)
			}
			vs[k] = v
			s += v
		}
		neg := !(s >= 0)
		var m, dv float32
		for k := range ms {
			vb := math.Float32bits(vs[k])
			if (vb&0x7fffffff)-1 < 0x7f800000 && (vb>>31 == 1) == neg {
				m += vs[k]
				dv += ms[k].w
			}
		}
		div := float32(1)
		if normalize && dv != 0 {
			div = dv
		}
		out[i] = b + float32(float32(m/div)*lambda)
	}
}

// maxFusedModels is the largest number of models electBF16 takes at once;
// merges of more models use the float32 path.
const maxFusedModels = 64

// l1Lanes is the number of float64 accumulators of simd.SumAbs: entry i of
// a chunk goes to accumulator i % l1Lanes.
const l1Lanes = 16

// l1BF16Generic adds |δ| of δ = x − b into acc[0] and, where bit i of bits
// is set, into acc[1] too; entry i goes to lane i % l1Lanes, as
// simd.SumAbs sums a chunk whose first entry is entry 0 of this block.
func l1BF16Generic(acc *[2][l1Lanes]float64, x, b []uint16, bits []byte) {
	for i := range b {
		a := float64(math.Float32frombits(math.Float32bits(bf16Value(x[i])-bf16Value(b[i])) & 0x7fffffff))
		acc[0][i%l1Lanes] += a
		if bits[i>>3]>>(i&7)&1 != 0 {
			acc[1][i%l1Lanes] += a
		}
	}
}

// combineL1Lanes folds the lanes as simd.SumAbs does: acc[j] += acc[j+h]
// for h = 8, 4, 2, 1.
func combineL1Lanes(acc [l1Lanes]float64) float64 {
	for h := l1Lanes / 2; h >= 1; h /= 2 {
		for j := 0; j < h; j++ {
			acc[j] += acc[j+h]
		}
	}
	return acc[0]
}

// maskBitsGeneric sets bit i of bits (byte i>>3, bit i&7) when r[i] < thr
// (thr < 2³²), as bernoulliMask compares 32 random bits with its
// threshold; the bits of a last partial byte above len(r) are cleared.
func maskBitsGeneric(bits []byte, r []uint32, thr uint32) {
	for j := 0; j < len(r); j += 8 {
		var m byte
		for t := 0; t < 8 && j+t < len(r); t++ {
			if r[j+t] < thr {
				m |= 1 << t
			}
		}
		bits[j>>3] = m
	}
}
