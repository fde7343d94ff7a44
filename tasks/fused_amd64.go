//go:build !purego

package tasks

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels, once, from the CPU's features.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPOPCNT

// fusedArg is fusedModel as electBF16AVX2 reads it (offsets 0, 8, 16, 20,
// 24, 28).
type fusedArg struct {
	x     *uint16
	bits  *byte
	from  uint32
	spanX uint32 // span ^ 1<<31, for a signed comparison
	scale float32
	w     float32
}

// electCfg is the rest of electBF16's arguments: normMask is all ones
// with normalize.
type electCfg struct {
	normMask uint32
	lambda   float32
}

// electBF16AVX2 is electBF16Generic over n entries (n a multiple of 8,
// k ≥ 1 models); scratch holds 8·k values.
//
//go:noescape
func electBF16AVX2(out *float32, base *uint16, args *fusedArg, k, n int, scratch *float32, cfg *electCfg)

// electBF16 is electBF16Generic, in AVX2 where the CPU has it.
func electBF16(out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	if electFast(out, nil, base[:len(out)], ms, normalize, lambda) {
		return
	}
	electBF16Rows(out, base, ms, normalize, lambda)
}

// electBF16Rows is electBF16 by the kernels that take any number of models
// and mixed rules, model by model through scratch.
func electBF16Rows(out []float32, base []uint16, ms []fusedModel, normalize bool, lambda float32) {
	nv := len(out) &^ 7
	if !useAVX2 || nv == 0 || len(ms) == 0 || len(ms) > maxFusedModels {
		electBF16Generic(out, base, ms, normalize, lambda)
		return
	}
	_ = base[len(out)-1]
	var argBuf [maxFusedModels]fusedArg
	args := argBuf[:len(ms)]
	for k := range ms {
		f := &ms[k]
		_ = f.x[len(out)-1]
		bits := f.bits
		if bits == nil {
			bits = allKeep
		}
		_ = bits[(len(out)-1)>>3]
		args[k] = fusedArg{x: &f.x[0], bits: &bits[0], from: f.from, spanX: f.span ^ 1<<31, scale: f.scale, w: f.w}
	}
	var scratch [8 * maxFusedModels]float32
	cfg := electCfg{lambda: lambda}
	if normalize {
		cfg.normMask = ^uint32(0)
	}
	if band, bits := electRules(ms); band || bits {
		var tab [maxFusedModels]electRow
		for k := range ms {
			r := &tab[k]
			r.x, r.bits = args[k].x, args[k].bits
			for j := range 8 {
				r.from[j], r.spanX[j], r.scale[j], r.w[j] = args[k].from, args[k].spanX, args[k].scale, args[k].w
			}
		}
		electRulesAVX2(&out[0], &base[0], &tab[0], len(ms), nv, &scratch[0], &cfg, bits)
	} else {
		electBF16AVX2(&out[0], &base[0], &args[0], len(ms), nv, &scratch[0], &cfg)
	}
	if nv == len(out) {
		return
	}
	tail := make([]fusedModel, len(ms))
	for k, f := range ms {
		f.x = f.x[nv:]
		if f.bits != nil {
			f.bits = f.bits[nv>>3:]
		}
		tail[k] = f
	}
	electBF16Generic(out[nv:], base[nv:], tail, normalize, lambda)
}

// electRow is one model's parameters as electRulesAVX2 reads them: the
// pointers, then 8-lane rows (offsets 0, 8, 32, 64, 96, 128; 160 bytes).
type electRow struct {
	x     *uint16
	bits  *byte
	_     [2]uint64
	from  [8]uint32
	spanX [8]uint32
	scale [8]float32
	w     [8]float32
}

// electRulesAVX2 is electBF16AVX2 for models that all keep by their band
// (bits false; their mask bits are ignored) or all by their mask bits
// (bits true; their bands are ignored), the two cases of the blocked
// passes (ties outside a tie boundary block; dare and ties' boundary
// blocks).
//
//go:noescape
func electRulesAVX2(out *float32, base *uint16, tab *electRow, k, n int, scratch *float32, cfg *electCfg, bits bool)

// electRules reports whether every model of ms keeps by its band alone
// (no mask bits) or by its mask bits alone (a band keeping everything).
func electRules(ms []fusedModel) (band, bits bool) {
	band, bits = true, true
	for k := range ms {
		f := &ms[k]
		if f.bits != nil {
			band = false
		}
		if f.from != 0 || f.span != 0x7fffffff {
			bits = false
		}
	}
	return band, bits && !band
}

// l1BF16AVX2 is l1BF16Generic over n entries, n a multiple of 16; rows
// is l1MaskRows.
//
//go:noescape
func l1BF16AVX2(acc *[2][l1Lanes]float64, x, b *uint16, bits *byte, n int, rows *[256][8]uint64)

// l1MaskRows are laneMaskRows of 64-bit lanes. Read-only.
var l1MaskRows = laneMaskRows[uint64]()

// l1BF16 is l1BF16Generic, in AVX2 where the CPU has it.
func l1BF16(acc *[2][l1Lanes]float64, x, b []uint16, bits []byte) {
	nv := 0
	if useAVX2 {
		nv = len(b) &^ (l1Lanes - 1)
	}
	if nv > 0 {
		_, _ = x[nv-1], bits[nv/8-1]
		l1BF16AVX2(acc, &x[0], &b[0], &bits[0], nv, l1MaskRows)
	}
	if nv < len(b) {
		l1BF16Generic(acc, x[nv:len(b)], b[nv:], bits[nv/8:])
	}
}
