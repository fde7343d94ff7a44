//go:build !purego

package analyze

import "golang.org/x/sys/cpu"

// haveDeltaAsm selects the AVX2 kernels of the bf16 fast path.
var haveDeltaAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// baseSquaresAsm implements, with AVX2, for n a positive multiple of 16:
//
//	for i := range n { v := float64(bf16(b[i])); acc[i%16] += v * v }
//
//go:noescape
func baseSquaresAsm(acc *lanes, b *uint16, n int)

// expertDeltasAsm implements expertDeltasRef with AVX2 for n a positive
// multiple of 16 below 2³¹ (the products are exact, so fused multiply-adds
// give the same sums).
//
//go:noescape
func expertDeltasAsm(st *deltaLanes, d *float32, b, x *uint16, thr float32, n int) (ge int)

// pairDeltasAsm implements pairDeltasRef with AVX2 for n a positive
// multiple of 16 below 2³¹.
//
//go:noescape
func pairDeltasAsm(dot *lanes, x, y *float32, n int) (zeros, neg int)
