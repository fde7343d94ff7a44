//go:build !purego

#include "textflag.h"

// func boundCompactAVX2(idx *int32, dx, dtau, tau, sum *float32, n int, v *boundVecs, perm *[256][8]int32, in *uint8) (count, above int, bad bool)
//
// boundMaskAVX2 with the kept entries written densely, as compressAVX2
// does: per 8 entries, the permutation of the kept lanes to the front is
// applied to x, τ and the positions (v.iota, advanced by 8), all 8 lanes
// are stored at the output count, which then advances by the number kept.
// x itself is not stored; in[j] gets the bits of the entries of group j
// with x > 0 and s ≥ tfloor (kept or certainly above). Constants not held
// in registers are read as vectors from v.
TEXT ·boundCompactAVX2(SB), NOSPLIT, $0-89
	MOVQ idx+0(FP), DI
	MOVQ dx+8(FP), SI
	MOVQ dtau+16(FP), R13
	MOVQ tau+24(FP), DX
	MOVQ sum+32(FP), R8
	MOVQ n+40(FP), CX
	MOVQ v+48(FP), AX
	MOVQ perm+56(FP), R10
	MOVQ in+64(FP), R15
	VMOVUPS 0(AX), Y9    // lo
	VMOVUPS 32(AX), Y10  // hi
	VMOVUPS 64(AX), Y11  // inv
	VMOVUPS 96(AX), Y12  // cK
	VMOVUPS 128(AX), Y13 // 1
	VMOVUPS 160(AX), Y14 // absMask
	VMOVDQU 192(AX), Y15 // tfloor
	VMOVDQU 416(AX), Y8  // positions
	VPXOR   Y7, Y7, Y7   // bad lanes
	XORQ    R9, R9       // above
	XORQ    R12, R12     // count
	SHRQ    $3, CX
	JZ      cdone

cloop:
	VMOVUPS (DX), Y0
	VMULPS  (R8), Y0, Y1

	VANDPS     Y14, Y0, Y0
	VMAXPS     Y0, Y9, Y0
	VMINPS     Y0, Y10, Y0
	VSUBPS     Y9, Y0, Y0
	VMULPS     Y11, Y0, Y0
	VMULPS     Y0, Y0, Y0
	VMULPS     Y12, Y0, Y0
	VCVTTPS2DQ Y0, Y0
	VMINPS     Y13, Y1, Y2
	VPADDD     Y2, Y0, Y0

	VPXOR    Y3, Y3, Y3
	VPCMPGTD Y3, Y1, Y3
	VPCMPGTD Y0, Y15, Y4
	VPANDN   Y3, Y4, Y3
	VMOVMSKPS Y3, BX
	MOVB     BX, (R15)
	INCQ     R15

	VPCMPGTD 224(AX), Y0, Y5
	VMOVDQU  256(AX), Y6
	VPCMPGTD Y0, Y6, Y6
	VPAND    Y6, Y5, Y5
	VPCMPGTD 288(AX), Y1, Y6
	VPAND    Y6, Y5, Y5
	VMOVDQU  320(AX), Y6
	VPCMPGTD Y1, Y6, Y6
	VPAND    Y6, Y5, Y5

	VPANDN    Y3, Y5, Y4
	VPAND     Y5, Y3, Y5
	VMOVMSKPS Y5, BX
	POPCNTL   BX, BX
	ADDQ      BX, R9

	VMOVMSKPS Y4, BX
	MOVQ      BX, R11
	SHLQ      $5, R11
	VMOVDQU   (R10)(R11*1), Y6
	VPERMPS   Y1, Y6, Y2
	VMOVUPS   Y2, (SI)(R12*4)
	VPERMD    Y8, Y6, Y3
	VMOVDQU   Y3, (DI)(R12*4)
	VPERMPS   (DX), Y6, Y2
	VMOVUPS   Y2, (R13)(R12*4)
	POPCNTL   BX, BX
	ADDQ      BX, R12
	VPADDD    384(AX), Y8, Y8

	VANDPS   Y14, Y1, Y2
	VPCMPGTD 352(AX), Y2, Y2
	VPOR     Y2, Y7, Y7

	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  cloop

cdone:
	VMOVMSKPS Y7, BX
	TESTL     BX, BX
	SETNE     bad+88(FP)
	MOVQ      R12, count+72(FP)
	MOVQ      R9, above+80(FP)
	VZEROUPPER
	RET

// func finishMergeAVX2(out, num, den, base *float32, n int, lambda float32)
//
// out = (num / max(den, 1e-12))·λ + base per 8 entries, with the operand
// order of the scalar division and of simd.Scale and simd.Add.
TEXT ·finishMergeAVX2(SB), NOSPLIT, $0-44
	MOVQ out+0(FP), DI
	MOVQ num+8(FP), SI
	MOVQ den+16(FP), DX
	MOVQ base+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS lambda+40(FP), Y15
	MOVL $0x2b8cbccc, BX // float32(1e-12)
	VMOVD BX, X14
	VPBROADCASTD X14, Y14
	SHRQ $3, CX
	JZ   fdone

floop:
	VMOVUPS (DX), Y0
	VMAXPS  Y0, Y14, Y0
	VMOVUPS (SI), Y1
	VDIVPS  Y0, Y1, Y1
	VMULPS  Y15, Y1, Y1
	VADDPS  (R8), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  floop

fdone:
	VZEROUPPER
	RET

// func minMaxDenseAVX2(dst, tau *float32, n int, lo, hi, span float32)
//
// dst = (min(max(|τ|, lo), hi) − lo)/span per 8 entries (VMAXPS/VMINPS with
// the data as second source, as envMaskAVX2).
TEXT ·minMaxDenseAVX2(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ tau+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS lo+24(FP), Y8
	VBROADCASTSS hi+28(FP), Y9
	VBROADCASTSS span+32(FP), Y10
	MOVL $0x7fffffff, BX
	VMOVD BX, X11
	VPBROADCASTD X11, Y11
	SHRQ $3, CX
	JZ   mdone

mloop:
	VANDPS  (SI), Y11, Y0
	VMAXPS  Y0, Y8, Y0
	VMINPS  Y0, Y9, Y0
	VSUBPS  Y8, Y0, Y0
	VDIVPS  Y10, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	DECQ CX
	JNZ  mloop

mdone:
	VZEROUPPER
	RET

// func weighDenseAVX2(v, B, tau *float32, n int, thr, span, w, lo, hi float32)
//
// Per 8 entries: B = max(B − thr, 0)/span (in place; −0 becomes +0 as Go's
// max gives), c = sign(τ)·clamp(|τ|, lo, hi) with ±0 kept as it is,
// v = (w·c)·B.
TEXT ·weighDenseAVX2(SB), NOSPLIT, $0-52
	MOVQ v+0(FP), DI
	MOVQ B+8(FP), SI
	MOVQ tau+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS thr+32(FP), Y8
	VBROADCASTSS span+36(FP), Y9
	VBROADCASTSS w+40(FP), Y10
	VBROADCASTSS lo+44(FP), Y11
	VBROADCASTSS hi+48(FP), Y12
	MOVL $0x7fffffff, BX
	VMOVD BX, X13
	VPBROADCASTD X13, Y13
	VPXOR Y14, Y14, Y14
	SHRQ $3, CX
	JZ   wdone

wloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y8, Y0, Y0
	VMAXPS  Y14, Y0, Y0
	VDIVPS  Y9, Y0, Y0
	VMOVUPS Y0, (SI)

	VMOVUPS   (DX), Y1
	VANDPS    Y13, Y1, Y2
	VMAXPS    Y2, Y11, Y3
	VMINPS    Y3, Y12, Y3
	VANDNPS   Y1, Y13, Y4
	VORPS     Y4, Y3, Y3
	VPCMPEQD  Y14, Y2, Y2
	VBLENDVPS Y2, Y1, Y3, Y3
	VMULPS    Y3, Y10, Y3
	VMULPS    Y0, Y3, Y3
	VMOVUPS   Y3, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	DECQ CX
	JNZ  wloop

wdone:
	VZEROUPPER
	RET

// func clipTallyAVX2(m1, m2 *uint8, tau, sum *float32, n int, bands *[4]uint32, acc *[7][8]int32)
//
// Per 8 entries: the key |τ| (bits) counted against both bands
// (bands = lo1, hi1, lo2, hi2): below lo, equal to lo, above hi, per lane
// in acc[0..2] and acc[3..5], with bit t of m1[j]/m2[j] set when the key of
// entry 8j+t is inside (lo, hi]; acc[6] counts x = τ·sum whose bits are a
// positive int32.
TEXT ·clipTallyAVX2(SB), NOSPLIT, $0-56
	MOVQ m1+0(FP), DI
	MOVQ m2+8(FP), R9
	MOVQ tau+16(FP), DX
	MOVQ sum+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ bands+40(FP), AX
	MOVQ acc+48(FP), R10
	VPBROADCASTD 0(AX), Y14  // lo1
	VPBROADCASTD 4(AX), Y13  // hi1
	VPBROADCASTD 8(AX), Y12  // lo2
	VPBROADCASTD 12(AX), Y11 // hi2
	MOVL $0x7fffffff, BX
	VMOVD BX, X15
	VPBROADCASTD X15, Y15
	VPXOR Y10, Y10, Y10
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	SHRQ $3, CX
	JZ   tdone

tloop:
	VMOVUPS  (DX), Y1
	VMULPS   (R8), Y1, Y1
	VPCMPGTD Y10, Y1, Y1
	VPSUBD   Y1, Y9, Y9
	VANDPS   (DX), Y15, Y0

	VPCMPGTD  Y0, Y14, Y1
	VPSUBD    Y1, Y3, Y3
	VPCMPEQD  Y14, Y0, Y1
	VPSUBD    Y1, Y4, Y4
	VPCMPGTD  Y13, Y0, Y2
	VPSUBD    Y2, Y5, Y5
	VPCMPGTD  Y14, Y0, Y1
	VPANDN    Y1, Y2, Y1
	VMOVMSKPS Y1, BX
	MOVB      BX, (DI)

	VPCMPGTD  Y0, Y12, Y1
	VPSUBD    Y1, Y6, Y6
	VPCMPEQD  Y12, Y0, Y1
	VPSUBD    Y1, Y7, Y7
	VPCMPGTD  Y11, Y0, Y2
	VPSUBD    Y2, Y8, Y8
	VPCMPGTD  Y12, Y0, Y1
	VPANDN    Y1, Y2, Y1
	VMOVMSKPS Y1, BX
	MOVB      BX, (R9)

	ADDQ $32, DX
	ADDQ $32, R8
	INCQ DI
	INCQ R9
	DECQ CX
	JNZ  tloop

tdone:
	VMOVDQU Y3, 0(R10)
	VMOVDQU Y4, 32(R10)
	VMOVDQU Y5, 64(R10)
	VMOVDQU Y6, 96(R10)
	VMOVDQU Y7, 128(R10)
	VMOVDQU Y8, 160(R10)
	VMOVDQU Y9, 192(R10)
	VZEROUPPER
	RET


// func finishMergeZeroAVX2(out, num, den, base *float32, n int, lambda float32)
//
// finishMergeAVX2 that also sets num and den to zero (out must not alias
// them).
TEXT ·finishMergeZeroAVX2(SB), NOSPLIT, $0-44
	MOVQ out+0(FP), DI
	MOVQ num+8(FP), SI
	MOVQ den+16(FP), DX
	MOVQ base+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS lambda+40(FP), Y15
	MOVL $0x2b8cbccc, BX // float32(1e-12)
	VMOVD BX, X14
	VPBROADCASTD X14, Y14
	VPXOR Y13, Y13, Y13
	SHRQ $3, CX
	JZ   zdone

zloop:
	VMOVUPS (DX), Y0
	VMAXPS  Y0, Y14, Y0
	VMOVUPS (SI), Y1
	VDIVPS  Y0, Y1, Y1
	VMULPS  Y15, Y1, Y1
	VADDPS  (R8), Y1, Y1
	VMOVUPS Y1, (DI)
	VMOVUPS Y13, (SI)
	VMOVUPS Y13, (DX)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ  zloop

zdone:
	VZEROUPPER
	RET

// func deltasBF16AVX2(taus *uintptr, sum *float32, models *uintptr, base *uint16, tasks, n int)
//
// For every 8 entries: the base widened once, then per task k (in order)
// τ_k = f32(model_k) − f32(base) stored at taus[k] and added into the
// running sum (sum = τ_0, then sum + τ_k), stored once. taus and models
// hold the rows' addresses.
TEXT ·deltasBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ taus+0(FP), R9
	MOVQ sum+8(FP), DI
	MOVQ models+16(FP), R10
	MOVQ base+24(FP), R8
	MOVQ tasks+32(FP), R13
	MOVQ n+40(FP), CX
	XORQ BX, BX // entry index
	SHRQ $3, CX
	JZ   sdone

sgroup:
	VPMOVZXWD (R8)(BX*2), Y0
	VPSLLD    $16, Y0, Y0
	MOVQ      0(R10), R12
	VPMOVZXWD (R12)(BX*2), Y2
	VPSLLD    $16, Y2, Y2
	VSUBPS    Y0, Y2, Y2
	MOVQ      0(R9), R12
	VMOVUPS   Y2, (R12)(BX*4)
	MOVQ      $1, R11

stask:
	CMPQ      R11, R13
	JAE       sstore
	MOVQ      (R10)(R11*8), R12
	VPMOVZXWD (R12)(BX*2), Y1
	VPSLLD    $16, Y1, Y1
	VSUBPS    Y0, Y1, Y1
	MOVQ      (R9)(R11*8), R12
	VMOVUPS   Y1, (R12)(BX*4)
	VADDPS    Y1, Y2, Y2
	INCQ      R11
	JMP       stask

sstore:
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ    $8, BX
	DECQ    CX
	JNZ     sgroup

sdone:
	VZEROUPPER
	RET

// func tanhMaskAVX2(mask *uint8, x *float32, n int)
//
// Bit t of mask[j] is set when x[8j+t] is not in [+0, 2⁻¹⁴] on the bits:
// its bits, as an int32, are above 0x38800000 or negative.
TEXT ·tanhMaskAVX2(SB), NOSPLIT, $0-24
	MOVQ mask+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x38800000, BX
	VMOVD BX, X8
	VPBROADCASTD X8, Y8
	SHRQ $3, CX
	JZ   hdone

hloop:
	VMOVUPS   (SI), Y0
	VPCMPGTD  Y8, Y0, Y1
	VPOR      Y0, Y1, Y1
	VMOVMSKPS Y1, BX
	MOVB      BX, (DI)
	ADDQ $32, SI
	INCQ DI
	DECQ CX
	JNZ  hloop

hdone:
	VZEROUPPER
	RET

// func maskListAMD64(idx *int32, dx, dtau, tau, sum *float32, words *uint64, nwords int) int
//
// For every set bit b of words[w] (entry i = 64w + b), in order: idx = i,
// dtau = τ[i], dx = τ[i]·sum[i] (MULSS, as the vector product), stored at
// the output count, which then advances.
TEXT ·maskListAMD64(SB), NOSPLIT, $0-64
	MOVQ idx+0(FP), DI
	MOVQ dx+8(FP), SI
	MOVQ dtau+16(FP), R13
	MOVQ tau+24(FP), DX
	MOVQ sum+32(FP), R8
	MOVQ words+40(FP), R9
	MOVQ nwords+48(FP), CX
	XORQ R12, R12 // count
	XORQ R10, R10 // 64·w
	TESTQ CX, CX
	JZ   ldone

lword:
	MOVQ (R9), AX
	TESTQ AX, AX
	JZ   lnext

lbit:
	BSFQ  AX, BX
	ADDQ  R10, BX
	MOVSS (DX)(BX*4), X0
	MOVSS X0, (R13)(R12*4)
	MULSS (R8)(BX*4), X0
	MOVSS X0, (SI)(R12*4)
	MOVL  BX, (DI)(R12*4)
	INCQ  R12
	LEAQ  -1(AX), BX
	ANDQ  BX, AX
	JNZ   lbit

lnext:
	ADDQ $8, R9
	ADDQ $64, R10
	DECQ CX
	JNZ  lword

ldone:
	MOVQ R12, ret+56(FP)
	RET

// func deltas4BF16AVX2(taus *[4]*float32, sum *float32, models *[4]*uint16, base *uint16, tasks, n int)
//
// deltasBF16AVX2 for 1 ≤ tasks ≤ 4 with the rows' addresses in registers.
TEXT ·deltas4BF16AVX2(SB), NOSPLIT, $0-48
	MOVQ taus+0(FP), AX
	MOVQ 0(AX), R9
	MOVQ 8(AX), R10
	MOVQ 16(AX), R11
	MOVQ 24(AX), R12
	MOVQ models+16(FP), AX
	MOVQ 0(AX), SI
	MOVQ 8(AX), R13
	MOVQ 16(AX), R15
	MOVQ 24(AX), DX
	MOVQ sum+8(FP), DI
	MOVQ base+24(FP), R8
	MOVQ tasks+32(FP), AX
	MOVQ n+40(FP), CX
	XORQ BX, BX
	SHRQ $3, CX
	JZ   qdone

qgroup:
	VPMOVZXWD (R8)(BX*2), Y0
	VPSLLD    $16, Y0, Y0
	VPMOVZXWD (SI)(BX*2), Y2
	VPSLLD    $16, Y2, Y2
	VSUBPS    Y0, Y2, Y2
	VMOVUPS   Y2, (R9)(BX*4)
	CMPQ      AX, $2
	JB        qstore
	VPMOVZXWD (R13)(BX*2), Y1
	VPSLLD    $16, Y1, Y1
	VSUBPS    Y0, Y1, Y1
	VMOVUPS   Y1, (R10)(BX*4)
	VADDPS    Y1, Y2, Y2
	CMPQ      AX, $3
	JB        qstore
	VPMOVZXWD (R15)(BX*2), Y1
	VPSLLD    $16, Y1, Y1
	VSUBPS    Y0, Y1, Y1
	VMOVUPS   Y1, (R11)(BX*4)
	VADDPS    Y1, Y2, Y2
	CMPQ      AX, $4
	JB        qstore
	VPMOVZXWD (DX)(BX*2), Y1
	VPSLLD    $16, Y1, Y1
	VSUBPS    Y0, Y1, Y1
	VMOVUPS   Y1, (R12)(BX*4)
	VADDPS    Y1, Y2, Y2

qstore:
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ    $8, BX
	DECQ    CX
	JNZ     qgroup

qdone:
	VZEROUPPER
	RET
