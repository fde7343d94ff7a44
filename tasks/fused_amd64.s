//go:build !purego

#include "textflag.h"

// bitpat holds 1 << lane: a broadcast mask byte ANDed with it and compared
// with it gives the lanes whose bit is set.
DATA bitpat<>+0(SB)/4, $1
DATA bitpat<>+4(SB)/4, $2
DATA bitpat<>+8(SB)/4, $4
DATA bitpat<>+12(SB)/4, $8
DATA bitpat<>+16(SB)/4, $16
DATA bitpat<>+20(SB)/4, $32
DATA bitpat<>+24(SB)/4, $64
DATA bitpat<>+28(SB)/4, $128
GLOBL bitpat<>(SB), RODATA|NOPTR, $32

// func electBF16AVX2(out *float32, base *uint16, args *fusedArg, k, n int, scratch *float32, cfg *electCfg)
//
// Per 8 entries: b = base; for each model δ = x − b, kept where
// (|δ| − from) ≤ span (unsigned, as a signed comparison of the values XOR
// 1<<31) and the mask bit is set, v = ((δ·scale)·w) & kept, stored to
// scratch and summed; neg = !(Σ ≥ 0) (NGE_UQ); then m and dv sum v and w over
// the models whose v is non-zero, not NaN and of the elected sign; out =
// b + (m / d)·lambda, d = dv where normalize and dv ≠ 0, else 1.
TEXT ·electBF16AVX2(SB), NOSPLIT, $0-56
	MOVQ out+0(FP), DI
	MOVQ base+8(FP), SI
	MOVQ args+16(FP), R8
	MOVQ k+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ scratch+40(FP), R12
	MOVQ cfg+48(FP), DX
	VPCMPEQD     Y15, Y15, Y15
	VPSRLD       $1, Y15, Y15   // 0x7fffffff
	VPCMPEQD     Y13, Y13, Y13
	VPSLLD       $31, Y13, Y13  // 0x80000000
	VMOVDQU      bitpat<>(SB), Y14
	VPXOR        Y12, Y12, Y12  // 0
	MOVL         $0x3f800000, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11       // 1.0
	VBROADCASTSS 4(DX), Y10     // lambda
	VPBROADCASTD 0(DX), Y9      // normalize mask
	MOVL         $0x7f800000, AX
	VMOVD        AX, X8
	VPBROADCASTD X8, Y8         // +Inf bits
	XORQ         BX, BX
	TESTQ        CX, CX
	JZ           edone

eloop:
	VPMOVZXWD (SI)(BX*2), Y0
	VPSLLD    $16, Y0, Y0 // b
	VXORPS    Y1, Y1, Y1  // Σ v
	MOVQ      R8, R10
	MOVQ      R9, R11
	MOVQ      R12, R13
	MOVQ      BX, DX
	SHRQ      $3, DX      // mask byte

esum:
	MOVQ         0(R10), AX
	VPMOVZXWD    (AX)(BX*2), Y2
	VPSLLD       $16, Y2, Y2
	VSUBPS       Y0, Y2, Y2    // δ = x − b
	VPAND        Y15, Y2, Y3   // |δ|
	VPBROADCASTD 16(R10), Y4
	VPSUBD       Y4, Y3, Y3
	VPXOR        Y13, Y3, Y3
	VPBROADCASTD 20(R10), Y4
	VPCMPGTD     Y4, Y3, Y3    // outside the band
	MOVQ         8(R10), AX
	MOVBLZX      (AX)(DX*1), AX
	VMOVD        AX, X5
	VPBROADCASTD X5, Y5
	VPAND        Y14, Y5, Y5
	VPCMPEQD     Y14, Y5, Y5   // mask bit set
	VPANDN       Y5, Y3, Y3    // kept
	VBROADCASTSS 24(R10), Y4
	VMULPS       Y4, Y2, Y2    // δ·scale
	VBROADCASTSS 28(R10), Y4
	VMULPS       Y4, Y2, Y2    // ·w
	VPAND        Y3, Y2, Y2    // v
	VMOVUPS      Y2, (R13)
	VADDPS       Y2, Y1, Y1
	ADDQ         $32, R10
	ADDQ         $32, R13
	DECQ         R11
	JNZ          esum

	VCMPPS $0x19, Y12, Y1, Y6 // neg = Σ NGE_UQ 0
	VXORPS Y1, Y1, Y1         // m
	VXORPS Y7, Y7, Y7         // dv
	MOVQ   R8, R10
	MOVQ   R9, R11
	MOVQ   R12, R13

eelect:
	VMOVUPS      (R13), Y2
	VPAND        Y15, Y2, Y3
	VPCMPGTD     Y12, Y3, Y4 // |v| > 0
	VPCMPGTD     Y8, Y3, Y5  // NaN
	VPANDN       Y4, Y5, Y4  // valid
	VPSRAD       $31, Y2, Y3
	VPCMPEQD     Y6, Y3, Y3  // sign agrees
	VPAND        Y4, Y3, Y3
	VPAND        Y3, Y2, Y2
	VADDPS       Y2, Y1, Y1
	VBROADCASTSS 28(R10), Y4
	VPAND        Y3, Y4, Y4
	VADDPS       Y4, Y7, Y7
	ADDQ         $32, R10
	ADDQ         $32, R13
	DECQ         R11
	JNZ          eelect

	VCMPPS  $0, Y12, Y7, Y2 // dv == 0
	VPANDN  Y9, Y2, Y3      // divide by dv
	VPAND   Y3, Y7, Y4
	VPANDN  Y11, Y3, Y5
	VPOR    Y5, Y4, Y4      // divisor
	VDIVPS  Y4, Y1, Y1
	VMULPS  Y10, Y1, Y1
	VADDPS  Y1, Y0, Y1      // b + mixed
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ    $8, BX
	CMPQ    BX, CX
	JB      eloop

edone:
	VZEROUPPER
	RET

// func electRulesAVX2(out *float32, base *uint16, tab *electRow, k, n int, scratch *float32, cfg *electCfg, bits bool)
//
// electBF16AVX2 for models that all keep by one rule: with bits false
// every model keeps a band of |δ| bit patterns (no mask bits), with bits
// true every model keeps by its mask bits (band: everything). Each model's
// parameters are 8-lane rows of tab, read as memory operands, so nothing
// is broadcast inside the loop; the sign test of the election is one
// unsigned comparison: with u = v XOR (elected sign), v agrees, is
// non-zero and not NaN iff u − 1 < 0x7f800000 (unsigned).
TEXT ·electRulesAVX2(SB), NOSPLIT, $0-57
	MOVQ out+0(FP), DI
	MOVQ base+8(FP), SI
	MOVQ tab+16(FP), R8
	MOVQ k+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ scratch+40(FP), R12
	MOVQ cfg+48(FP), DX
	MOVBLZX bits+56(FP), R14
	VPCMPEQD     Y7, Y7, Y7     // −1
	VPSRLD       $1, Y7, Y15    // 0x7fffffff
	VPSLLD       $31, Y7, Y14   // 0x80000000
	VMOVDQU      bitpat<>(SB), Y13
	VPXOR        Y12, Y12, Y12  // 0
	MOVL         $0x3f800000, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11       // 1.0
	VBROADCASTSS 4(DX), Y10     // lambda
	VPBROADCASTD 0(DX), Y9      // normalize mask
	MOVL         $0x7f7fffff, AX
	VMOVD        AX, X8
	VPBROADCASTD X8, Y8         // largest u − 1 kept
	XORQ         BX, BX
	TESTQ        CX, CX
	JZ           rdone

rloop:
	VPMOVZXWD (SI)(BX*2), Y0
	VPSLLD    $16, Y0, Y0 // b
	VXORPS    Y1, Y1, Y1  // Σ v
	MOVQ      R8, R10
	MOVQ      R9, R11
	MOVQ      R12, R13
	MOVQ      BX, DX
	SHRQ      $3, DX      // mask byte
	TESTQ     R14, R14
	JNZ       rbits

rband:
	MOVQ      0(R10), AX
	VPMOVZXWD (AX)(BX*2), Y2
	VPSLLD    $16, Y2, Y2
	VSUBPS    Y0, Y2, Y2    // δ = x − b
	VPAND     Y15, Y2, Y3   // |δ|
	VPSUBD    32(R10), Y3, Y3
	VPXOR     Y14, Y3, Y3
	VPCMPGTD  64(R10), Y3, Y3 // outside the band
	VMULPS    96(R10), Y2, Y2  // δ·scale
	VMULPS    128(R10), Y2, Y2 // ·w
	VPANDN    Y2, Y3, Y2       // v
	VMOVUPS   Y2, (R13)
	VADDPS    Y2, Y1, Y1
	ADDQ      $160, R10
	ADDQ      $32, R13
	DECQ      R11
	JNZ       rband
	JMP       relect

rbits:
	MOVQ         0(R10), AX
	VPMOVZXWD    (AX)(BX*2), Y2
	VPSLLD       $16, Y2, Y2
	VSUBPS       Y0, Y2, Y2    // δ = x − b
	MOVQ         8(R10), AX
	MOVBLZX      (AX)(DX*1), AX
	VMOVD        AX, X3
	VPBROADCASTD X3, Y3
	VPAND        Y13, Y3, Y3
	VPCMPEQD     Y13, Y3, Y3   // mask bit set
	VMULPS       96(R10), Y2, Y2  // δ·scale
	VMULPS       128(R10), Y2, Y2 // ·w
	VPAND        Y3, Y2, Y2       // v
	VMOVUPS      Y2, (R13)
	VADDPS       Y2, Y1, Y1
	ADDQ         $160, R10
	ADDQ         $32, R13
	DECQ         R11
	JNZ          rbits

relect:
	VCMPPS $0x19, Y12, Y1, Y6 // neg = Σ NGE_UQ 0
	VPSLLD $31, Y6, Y6        // the elected sign bit
	VXORPS Y1, Y1, Y1         // m
	VXORPS Y5, Y5, Y5         // dv
	MOVQ   R8, R10
	MOVQ   R9, R11
	MOVQ   R12, R13

rsel:
	VMOVUPS  (R13), Y2
	VPXOR    Y6, Y2, Y3
	VPADDD   Y7, Y3, Y3
	VPMINUD  Y8, Y3, Y4
	VPCMPEQD Y4, Y3, Y3 // agrees, non-zero, not NaN
	VPAND    Y3, Y2, Y2
	VADDPS   Y2, Y1, Y1
	VPAND    128(R10), Y3, Y3
	VADDPS   Y3, Y5, Y5
	ADDQ     $160, R10
	ADDQ     $32, R13
	DECQ     R11
	JNZ      rsel

	VCMPPS  $0, Y12, Y5, Y2 // dv == 0
	VPANDN  Y9, Y2, Y3      // divide by dv
	VPAND   Y3, Y5, Y4
	VPANDN  Y11, Y3, Y2
	VPOR    Y2, Y4, Y4      // divisor
	VDIVPS  Y4, Y1, Y1
	VMULPS  Y10, Y1, Y1
	VADDPS  Y1, Y0, Y1      // b + mixed
	VMOVUPS Y1, (DI)(BX*4)
	ADDQ    $8, BX
	CMPQ    BX, CX
	JB      rloop

rdone:
	VZEROUPPER
	RET
