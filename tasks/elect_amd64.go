//go:build !purego

package tasks

import (
	"unsafe"

	"github.com/gomerge/gomerge/simd"
)

// electParams is the rest of electFastAVX2's arguments (offsets 0, 32):
// lambda in every lane and whether to store bf16 encodings instead of
// float32.
type electParams struct {
	lambda [8]float32
	bf16   bool
}

// The keep rules of electFastAVX2, one for all models of a call.
const (
	electGE   = iota // a band reaching 0x7fffffff: keep |δ| ≥ from
	electBand        // any band, no mask bits
	electBits        // mask bits, a band keeping everything
)

// maxElectFast is the largest number of models electFastAVX2 takes.
const maxElectFast = 3

// electFastAVX2 is electBF16Generic over n entries (n a positive multiple
// of 16) for k = variant/12 + 1 ≤ 3 models that keep by the rule
// variant/4 % 3 (electGE: the from rows hold from−1; electBits: their
// bands keep everything), with normalize when variant&2 != 0, without
// ·scale when variant is odd (every scale is 1). It stores float32 results at out, or with p.bf16 their
// simd.F32ToBF16 encodings:
//
//	electBF16Generic(res, base[:n], ms, normalize, lambda)
//	if p.bf16 { simd.F32ToBF16(out[:n], res) } else { copy(out[:n], res) }
//
//go:noescape
func electFastAVX2(out unsafe.Pointer, base *uint16, tab *[maxElectFast]electRow, n int, p *electParams, variant int)

// electRuleOf returns the rule by which electFastAVX2 handles f, and the
// value its from row holds; ok is false when none does (mask bits and a
// band together).
func electRuleOf(f *fusedModel) (rule int, from uint32, ok bool) {
	if f.bits != nil {
		return electBits, 0, f.from == 0 && f.span == 0x7fffffff
	}
	// keeps tests (a − from) mod 2³² ≤ span for a ≤ 0x7fffffff: when
	// from ≤ 1<<31 and from + span neither wraps nor stops below
	// 0x7fffffff, that is a ≥ from, which is a > from − 1 as int32 (from
	// = 0: −1 keeps everything; from = 1<<31: 0x7fffffff keeps nothing).
	end := uint64(f.from) + uint64(f.span)
	if f.from <= 1<<31 && end >= 0x7fffffff && end < 1<<32 {
		return electGE, f.from - 1, true
	}
	return electBand, f.from, true
}

// electFast runs electFastAVX2 over the first n &^ 15 entries of base and
// the generic kernel over the rest, storing float32 results in outF or,
// when outF is nil, bf16 encodings in outH. It returns false, doing
// nothing, when the kernel does not apply (no AVX2, fewer than 16 entries,
// more than maxElectFast models, models keeping by different kinds of
// rule, or bf16 encodings of a NaN lambda, whose payload the encoding
// would need to handle).
func electFast(outF []float32, outH []uint16, base []uint16, ms []fusedModel, normalize bool, lambda float32) bool {
	n := len(base)
	nv := n &^ 15
	if !useAVX2 || nv == 0 || len(ms) == 0 || len(ms) > maxElectFast || (outF == nil && lambda != lambda) {
		return false
	}
	var tab [maxElectFast]electRow
	rule, scale1 := -1, true
	for k := range ms {
		f := &ms[k]
		r, from, ok := electRuleOf(f)
		if !ok {
			return false
		}
		switch {
		case rule == -1 || rule == r:
			rule = r
		case r != electBits && rule != electBits:
			rule = electBand // GE models are bands too
		default:
			return false
		}
		_ = f.x[n-1]
		if f.bits != nil {
			_ = f.bits[(n-1)>>3]
			tab[k].bits = &f.bits[0]
		}
		t := &tab[k]
		t.x = &f.x[0]
		for j := range 8 {
			t.from[j], t.spanX[j], t.scale[j], t.w[j] = from, f.span^1<<31, f.scale, f.w
		}
		scale1 = scale1 && f.scale == 1
	}
	if rule == electBand {
		// Every model by its own band (a GE model's row holds from − 1).
		for k := range ms {
			for j := range 8 {
				tab[k].from[j] = ms[k].from
			}
		}
	}
	p := electParams{bf16: outF == nil}
	for j := range 8 {
		p.lambda[j] = lambda
	}
	variant := 12*(len(ms)-1) + 4*rule
	if normalize {
		variant += 2
	}
	if scale1 {
		variant++
	}
	var out unsafe.Pointer
	if outF != nil {
		_ = outF[n-1]
		out = unsafe.Pointer(&outF[0])
	} else {
		_ = outH[n-1]
		out = unsafe.Pointer(&outH[0])
	}
	electFastAVX2(out, &base[0], &tab, nv, &p, variant)
	if nv == n {
		return true
	}
	var tail [maxElectFast]fusedModel
	for k, f := range ms {
		f.x = f.x[nv:]
		if f.bits != nil {
			f.bits = f.bits[nv>>3:]
		}
		tail[k] = f
	}
	if outF != nil {
		electBF16Generic(outF[nv:n], base[nv:], tail[:len(ms)], normalize, lambda)
		return true
	}
	var res [16]float32
	electBF16Generic(res[:n-nv], base[nv:], tail[:len(ms)], normalize, lambda)
	simd.F32ToBF16(outH[nv:n], res[:n-nv])
	return true
}

// electBF16Encode is electBF16 followed by simd.F32ToBF16 into dst, fused
// where electFastAVX2 applies; out (len(base) values) is scratch.
func electBF16Encode(dst []uint16, out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	if electFast(nil, dst[:len(base)], base, ms, normalize, lambda) {
		return
	}
	electBF16(out[:len(base)], base, ms, normalize, lambda)
	simd.F32ToBF16(dst[:len(base)], out[:len(base)])
}
