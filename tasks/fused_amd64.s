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

// func windowBF16AVX2(dst *uint32, x, b *uint16, n int, q *[3]uint32, perm *[256][8]int32) (count, above int)
//
// Per 8 entries: a = |x − b| bits; count a > hi; pack the lanes with
// (a − lo) ≤ span (unsigned) to the front with VPERMD and store all 8,
// advancing by their number.
TEXT ·windowBF16AVX2(SB), NOSPLIT, $0-64
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         b+16(FP), DX
	MOVQ         n+24(FP), CX
	MOVQ         q+32(FP), AX
	MOVQ         perm+40(FP), R10
	VPCMPEQD     Y15, Y15, Y15
	VPSRLD       $1, Y15, Y15
	VPCMPEQD     Y13, Y13, Y13
	VPSLLD       $31, Y13, Y13
	VPBROADCASTD 0(AX), Y12  // lo
	VPBROADCASTD 4(AX), Y11  // span ^ 1<<31
	VPBROADCASTD 8(AX), Y10  // hi
	VPXOR        Y9, Y9, Y9  // lanes' counts above hi
	XORQ         R8, R8
	XORQ         BX, BX
	TESTQ        CX, CX
	JZ           wdone

wloop:
	VPMOVZXWD  (DX)(BX*2), Y0
	VPSLLD     $16, Y0, Y0
	VPMOVZXWD  (SI)(BX*2), Y2
	VPSLLD     $16, Y2, Y2
	VSUBPS     Y0, Y2, Y2
	VPAND      Y15, Y2, Y2 // a
	VPCMPGTD   Y10, Y2, Y3 // a > hi
	VPSUBD     Y3, Y9, Y9
	VPSUBD     Y12, Y2, Y4
	VPXOR      Y13, Y4, Y4
	VPCMPGTD   Y11, Y4, Y4 // outside the window
	VMOVMSKPS  Y4, AX
	XORL       $0xff, AX   // inside
	MOVQ       AX, R11
	SHLQ       $5, R11
	VMOVDQU    (R10)(R11*1), Y5
	VPERMD     Y2, Y5, Y6
	VMOVDQU    Y6, (DI)(R8*4)
	POPCNTL    AX, AX
	ADDQ       AX, R8
	ADDQ       $8, BX
	CMPQ       BX, CX
	JB         wloop

wdone:
	VEXTRACTI128 $1, Y9, X0
	VPADDD       X0, X9, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, AX
	VZEROUPPER
	MOVQ         R8, count+48(FP)
	MOVQ         AX, above+56(FP)
	RET

// func l1BF16AVX2(acc *[2][16]float64, x, b *uint16, bits *byte, n int)
//
// Per 16 entries: a = |x − b| as float32, widened to float64 into the 16
// lane accumulators acc[0] (4 registers), and a masked by the keep bits
// into acc[1].
TEXT ·l1BF16AVX2(SB), NOSPLIT, $0-40
	MOVQ     acc+0(FP), DI
	MOVQ     x+8(FP), SI
	MOVQ     b+16(FP), DX
	MOVQ     bits+24(FP), R8
	MOVQ     n+32(FP), CX
	VMOVUPD  0(DI), Y0
	VMOVUPD  32(DI), Y1
	VMOVUPD  64(DI), Y2
	VMOVUPD  96(DI), Y3
	VMOVUPD  128(DI), Y4
	VMOVUPD  160(DI), Y5
	VMOVUPD  192(DI), Y6
	VMOVUPD  224(DI), Y7
	VPCMPEQD Y13, Y13, Y13
	VPSRLD   $1, Y13, Y13
	VMOVDQU  bitpat<>(SB), Y14
	XORQ     BX, BX
	TESTQ    CX, CX
	JZ       ldone

lloop:
	VPMOVZXWD    (DX)(BX*2), Y8
	VPSLLD       $16, Y8, Y8
	VPMOVZXWD    (SI)(BX*2), Y9
	VPSLLD       $16, Y9, Y9
	VSUBPS       Y8, Y9, Y9
	VPAND        Y13, Y9, Y9
	MOVBLZX      (R8), AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	VPAND        Y14, Y10, Y10
	VPCMPEQD     Y14, Y10, Y10
	VPAND        Y10, Y9, Y10
	VCVTPS2PD    X9, Y11
	VADDPD       Y11, Y0, Y0
	VEXTRACTF128 $1, Y9, X9
	VCVTPS2PD    X9, Y11
	VADDPD       Y11, Y1, Y1
	VCVTPS2PD    X10, Y11
	VADDPD       Y11, Y4, Y4
	VEXTRACTF128 $1, Y10, X10
	VCVTPS2PD    X10, Y11
	VADDPD       Y11, Y5, Y5

	VPMOVZXWD    16(DX)(BX*2), Y8
	VPSLLD       $16, Y8, Y8
	VPMOVZXWD    16(SI)(BX*2), Y9
	VPSLLD       $16, Y9, Y9
	VSUBPS       Y8, Y9, Y9
	VPAND        Y13, Y9, Y9
	MOVBLZX      1(R8), AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	VPAND        Y14, Y10, Y10
	VPCMPEQD     Y14, Y10, Y10
	VPAND        Y10, Y9, Y10
	VCVTPS2PD    X9, Y11
	VADDPD       Y11, Y2, Y2
	VEXTRACTF128 $1, Y9, X9
	VCVTPS2PD    X9, Y11
	VADDPD       Y11, Y3, Y3
	VCVTPS2PD    X10, Y11
	VADDPD       Y11, Y6, Y6
	VEXTRACTF128 $1, Y10, X10
	VCVTPS2PD    X10, Y11
	VADDPD       Y11, Y7, Y7

	ADDQ $2, R8
	ADDQ $16, BX
	CMPQ BX, CX
	JB   lloop

ldone:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 128(DI)
	VMOVUPD Y5, 160(DI)
	VMOVUPD Y6, 192(DI)
	VMOVUPD Y7, 224(DI)
	VZEROUPPER
	RET

// func maskBitsAVX2(bits *byte, r *uint32, n int, thr uint32)
//
// Per 8 values: bit set where r < thr (unsigned, as a signed comparison of
// the values XOR 1<<31).
TEXT ·maskBitsAVX2(SB), NOSPLIT, $0-28
	MOVQ         bits+0(FP), DI
	MOVQ         r+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVL         thr+24(FP), AX
	XORL         $0x80000000, AX
	VMOVD        AX, X1
	VPBROADCASTD X1, Y1
	VPCMPEQD     Y13, Y13, Y13
	VPSLLD       $31, Y13, Y13
	SHRQ         $3, CX
	JZ           mdone

mloop:
	VMOVDQU   (SI), Y0
	VPXOR     Y13, Y0, Y0
	VPCMPGTD  Y0, Y1, Y0 // thr > r
	VMOVMSKPS Y0, AX
	MOVB      AX, (DI)
	ADDQ      $32, SI
	INCQ      DI
	DECQ      CX
	JNZ       mloop

mdone:
	VZEROUPPER
	RET

// rot16 and rot8 rotate each 32-bit lane left by 16 and 8 bits (VPSHUFB).
DATA rot16<>+0(SB)/8, $0x0504070601000302
DATA rot16<>+8(SB)/8, $0x0d0c0f0e09080b0a
DATA rot16<>+16(SB)/8, $0x0504070601000302
DATA rot16<>+24(SB)/8, $0x0d0c0f0e09080b0a
GLOBL rot16<>(SB), RODATA|NOPTR, $32
DATA rot8<>+0(SB)/8, $0x0605040702010003
DATA rot8<>+8(SB)/8, $0x0e0d0c0f0a09080b
DATA rot8<>+16(SB)/8, $0x0605040702010003
DATA rot8<>+24(SB)/8, $0x0e0d0c0f0a09080b
GLOBL rot8<>(SB), RODATA|NOPTR, $32
DATA iota8<>+0(SB)/4, $0
DATA iota8<>+4(SB)/4, $1
DATA iota8<>+8(SB)/4, $2
DATA iota8<>+12(SB)/4, $3
DATA iota8<>+16(SB)/4, $4
DATA iota8<>+20(SB)/4, $5
DATA iota8<>+24(SB)/4, $6
DATA iota8<>+28(SB)/4, $7
GLOBL iota8<>(SB), RODATA|NOPTR, $32

// func chachaBlocks8AVX2(state *[16][8]uint32, seed *[4]uint64, out *uint64, counter uint32)
//
// Row w of state holds word w of the 8 blocks (one per lane). Four double
// rounds, two quarter rounds at a time; words 4 to 11 get the key added
// back; lanes 0-3 of each row go to out[0:32], lanes 4-7 to out[32:64].
TEXT ·chachaBlocks8AVX2(SB), NOSPLIT, $0-28
	MOVQ state+0(FP), R8
	MOVQ seed+8(FP), SI
	MOVQ out+16(FP), DI
	MOVL $0x61707865, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VMOVDQU Y0, 0(R8)
	MOVL $0x3320646e, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VMOVDQU Y0, 32(R8)
	MOVL $0x79622d32, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VMOVDQU Y0, 64(R8)
	MOVL $0x6b206574, AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VMOVDQU Y0, 96(R8)
	VPBROADCASTD 0(SI), Y0
	VMOVDQU Y0, 128(R8)
	VPBROADCASTD 4(SI), Y0
	VMOVDQU Y0, 160(R8)
	VPBROADCASTD 8(SI), Y0
	VMOVDQU Y0, 192(R8)
	VPBROADCASTD 12(SI), Y0
	VMOVDQU Y0, 224(R8)
	VPBROADCASTD 16(SI), Y0
	VMOVDQU Y0, 256(R8)
	VPBROADCASTD 20(SI), Y0
	VMOVDQU Y0, 288(R8)
	VPBROADCASTD 24(SI), Y0
	VMOVDQU Y0, 320(R8)
	VPBROADCASTD 28(SI), Y0
	VMOVDQU Y0, 352(R8)
	MOVL counter+24(FP), AX
	VMOVD AX, X0
	VPBROADCASTD X0, Y0
	VPADDD iota8<>(SB), Y0, Y0
	VMOVDQU Y0, 384(R8)
	VPXOR Y0, Y0, Y0
	VMOVDQU Y0, 416(R8)
	VMOVDQU Y0, 448(R8)
	VMOVDQU Y0, 480(R8)
	VMOVDQU rot16<>(SB), Y14
	VMOVDQU rot8<>(SB), Y15
	MOVQ $4, CX

cround:
	// column rounds
	VMOVDQU 0(R8), Y0
	VMOVDQU 128(R8), Y1
	VMOVDQU 256(R8), Y2
	VMOVDQU 384(R8), Y3
	VMOVDQU 32(R8), Y4
	VMOVDQU 160(R8), Y5
	VMOVDQU 288(R8), Y6
	VMOVDQU 416(R8), Y7
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y14, Y3, Y3
	VPSHUFB Y14, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $12, Y1, Y8
	VPSRLD $20, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $12, Y5, Y9
	VPSRLD $20, Y5, Y5
	VPOR Y9, Y5, Y5
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y15, Y3, Y3
	VPSHUFB Y15, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $7, Y1, Y8
	VPSRLD $25, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $7, Y5, Y9
	VPSRLD $25, Y5, Y5
	VPOR Y9, Y5, Y5
	VMOVDQU Y0, 0(R8)
	VMOVDQU Y1, 128(R8)
	VMOVDQU Y2, 256(R8)
	VMOVDQU Y3, 384(R8)
	VMOVDQU Y4, 32(R8)
	VMOVDQU Y5, 160(R8)
	VMOVDQU Y6, 288(R8)
	VMOVDQU Y7, 416(R8)
	VMOVDQU 64(R8), Y0
	VMOVDQU 192(R8), Y1
	VMOVDQU 320(R8), Y2
	VMOVDQU 448(R8), Y3
	VMOVDQU 96(R8), Y4
	VMOVDQU 224(R8), Y5
	VMOVDQU 352(R8), Y6
	VMOVDQU 480(R8), Y7
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y14, Y3, Y3
	VPSHUFB Y14, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $12, Y1, Y8
	VPSRLD $20, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $12, Y5, Y9
	VPSRLD $20, Y5, Y5
	VPOR Y9, Y5, Y5
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y15, Y3, Y3
	VPSHUFB Y15, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $7, Y1, Y8
	VPSRLD $25, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $7, Y5, Y9
	VPSRLD $25, Y5, Y5
	VPOR Y9, Y5, Y5
	VMOVDQU Y0, 64(R8)
	VMOVDQU Y1, 192(R8)
	VMOVDQU Y2, 320(R8)
	VMOVDQU Y3, 448(R8)
	VMOVDQU Y4, 96(R8)
	VMOVDQU Y5, 224(R8)
	VMOVDQU Y6, 352(R8)
	VMOVDQU Y7, 480(R8)
	// diagonal rounds
	VMOVDQU 0(R8), Y0
	VMOVDQU 160(R8), Y1
	VMOVDQU 320(R8), Y2
	VMOVDQU 480(R8), Y3
	VMOVDQU 32(R8), Y4
	VMOVDQU 192(R8), Y5
	VMOVDQU 352(R8), Y6
	VMOVDQU 384(R8), Y7
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y14, Y3, Y3
	VPSHUFB Y14, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $12, Y1, Y8
	VPSRLD $20, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $12, Y5, Y9
	VPSRLD $20, Y5, Y5
	VPOR Y9, Y5, Y5
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y15, Y3, Y3
	VPSHUFB Y15, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $7, Y1, Y8
	VPSRLD $25, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $7, Y5, Y9
	VPSRLD $25, Y5, Y5
	VPOR Y9, Y5, Y5
	VMOVDQU Y0, 0(R8)
	VMOVDQU Y1, 160(R8)
	VMOVDQU Y2, 320(R8)
	VMOVDQU Y3, 480(R8)
	VMOVDQU Y4, 32(R8)
	VMOVDQU Y5, 192(R8)
	VMOVDQU Y6, 352(R8)
	VMOVDQU Y7, 384(R8)
	VMOVDQU 64(R8), Y0
	VMOVDQU 224(R8), Y1
	VMOVDQU 256(R8), Y2
	VMOVDQU 416(R8), Y3
	VMOVDQU 96(R8), Y4
	VMOVDQU 128(R8), Y5
	VMOVDQU 288(R8), Y6
	VMOVDQU 448(R8), Y7
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y14, Y3, Y3
	VPSHUFB Y14, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $12, Y1, Y8
	VPSRLD $20, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $12, Y5, Y9
	VPSRLD $20, Y5, Y5
	VPOR Y9, Y5, Y5
	VPADDD Y1, Y0, Y0
	VPADDD Y5, Y4, Y4
	VPXOR Y0, Y3, Y3
	VPXOR Y4, Y7, Y7
	VPSHUFB Y15, Y3, Y3
	VPSHUFB Y15, Y7, Y7
	VPADDD Y3, Y2, Y2
	VPADDD Y7, Y6, Y6
	VPXOR Y2, Y1, Y1
	VPXOR Y6, Y5, Y5
	VPSLLD $7, Y1, Y8
	VPSRLD $25, Y1, Y1
	VPOR Y8, Y1, Y1
	VPSLLD $7, Y5, Y9
	VPSRLD $25, Y5, Y5
	VPOR Y9, Y5, Y5
	VMOVDQU Y0, 64(R8)
	VMOVDQU Y1, 224(R8)
	VMOVDQU Y2, 256(R8)
	VMOVDQU Y3, 416(R8)
	VMOVDQU Y4, 96(R8)
	VMOVDQU Y5, 128(R8)
	VMOVDQU Y6, 288(R8)
	VMOVDQU Y7, 448(R8)
	DECQ CX
	JNZ cround
	VMOVDQU 0(R8), Y0
	VMOVDQU X0, 0(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 256(DI)
	VMOVDQU 32(R8), Y0
	VMOVDQU X0, 16(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 272(DI)
	VMOVDQU 64(R8), Y0
	VMOVDQU X0, 32(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 288(DI)
	VMOVDQU 96(R8), Y0
	VMOVDQU X0, 48(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 304(DI)
	VMOVDQU 128(R8), Y0
	VPBROADCASTD 0(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 64(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 320(DI)
	VMOVDQU 160(R8), Y0
	VPBROADCASTD 4(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 80(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 336(DI)
	VMOVDQU 192(R8), Y0
	VPBROADCASTD 8(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 96(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 352(DI)
	VMOVDQU 224(R8), Y0
	VPBROADCASTD 12(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 112(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 368(DI)
	VMOVDQU 256(R8), Y0
	VPBROADCASTD 16(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 128(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 384(DI)
	VMOVDQU 288(R8), Y0
	VPBROADCASTD 20(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 144(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 400(DI)
	VMOVDQU 320(R8), Y0
	VPBROADCASTD 24(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 160(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 416(DI)
	VMOVDQU 352(R8), Y0
	VPBROADCASTD 28(SI), Y1
	VPADDD Y1, Y0, Y0
	VMOVDQU X0, 176(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 432(DI)
	VMOVDQU 384(R8), Y0
	VMOVDQU X0, 192(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 448(DI)
	VMOVDQU 416(R8), Y0
	VMOVDQU X0, 208(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 464(DI)
	VMOVDQU 448(R8), Y0
	VMOVDQU X0, 224(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 480(DI)
	VMOVDQU 480(R8), Y0
	VMOVDQU X0, 240(DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVDQU X1, 496(DI)
	VZEROUPPER
	RET
