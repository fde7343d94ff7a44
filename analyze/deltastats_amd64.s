//go:build !purego

#include "textflag.h"

// Lane layout: element i of a call goes to float64 lane i%16, lanes 4q..4q+3
// in one Y register of four accumulators.

// Horizontal sum of the eight 32-bit lanes of Y into R (clobbers T).
#define HSUMD(Y, X, T, R) \
	VEXTRACTI128 $1, Y, T \
	VPADDD       T, X, X \
	VPSHUFD      $0x4E, X, T \
	VPADDD       T, X, X \
	VPSHUFD      $0xB1, X, T \
	VPADDD       T, X, X \
	VMOVD        X, R

// func baseSquaresAsm(acc *lanes, b *uint16, n int)
TEXT ·baseSquaresAsm(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3

bsqloop:
	PREFETCHT0 1024(SI) // mapped inputs come from memory, not a cached buffer
	VPMOVZXWD (SI), X4
	VPMOVZXWD 8(SI), X5
	VPMOVZXWD 16(SI), X6
	VPMOVZXWD 24(SI), X7
	VPSLLD    $16, X4, X4
	VPSLLD    $16, X5, X5
	VPSLLD    $16, X6, X6
	VPSLLD    $16, X7, X7
	VCVTPS2PD X4, Y4
	VCVTPS2PD X5, Y5
	VCVTPS2PD X6, Y6
	VCVTPS2PD X7, Y7
	VFMADD231PD Y4, Y4, Y0
	VFMADD231PD Y5, Y5, Y1
	VFMADD231PD Y6, Y6, Y2
	VFMADD231PD Y7, Y7, Y3
	ADDQ      $32, SI
	SUBQ      $16, CX
	JNZ       bsqloop

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VZEROUPPER
	RET

// Statistics of eight float32 changes D (clobbered) whose low half goes to
// lanes LO and high half to lanes HI of ABS (Σ|Δ|) and SQ (ΣΔ² = Σ|Δ|², from
// the same conversion); T is a scratch register.
#define STATS8(D, DX, T, TX, ABSLO, ABSHI, SQLO, SQHI) \
	VANDPS       Y15, D, D \
	VCMPPS       $0x1D, Y14, D, T \
	VPSUBD       T, Y13, Y13 \
	VCVTPS2PD    DX, T \
	VEXTRACTF128 $1, D, DX \
	VCVTPS2PD    DX, D \
	VFMADD231PD  T, T, SQLO \
	VFMADD231PD  D, D, SQHI \
	VADDPD       T, ABSLO, ABSLO \
	VADDPD       D, ABSHI, ABSHI

// func expertDeltasAsm(st *deltaLanes, d *float32, b, x *uint16, thr float32, n int) (ge int)
//
// bf16 becomes float32 by interleaving zero low halves (VPUNPCKLWD and
// VPUNPCKHWD work within 128-bit lanes): of each 16 elements the low
// unpacking holds 0-3 | 8-11 and the high one 4-7 | 12-15, and the changes
// are stored in that order.
TEXT ·expertDeltasAsm(SB), NOSPLIT, $0-56
	MOVQ st+0(FP), R8
	MOVQ d+8(FP), DI
	MOVQ b+16(FP), SI
	MOVQ x+24(FP), DX
	MOVQ n+40(FP), CX
	VBROADCASTSS thr+32(FP), Y14
	VPCMPEQD Y15, Y15, Y15
	VPSRLD   $1, Y15, Y15   // 0x7fffffff: float32 |·|
	VPXOR    Y12, Y12, Y12  // 0
	VPXOR    Y13, Y13, Y13  // count of |Δ| ≥ thr per lane
	VMOVUPD (R8), Y0
	VMOVUPD 32(R8), Y1
	VMOVUPD 64(R8), Y2
	VMOVUPD 96(R8), Y3
	VMOVUPD 128(R8), Y4
	VMOVUPD 160(R8), Y5
	VMOVUPD 192(R8), Y6
	VMOVUPD 224(R8), Y7

edloop:
	PREFETCHT0 1024(DX) // the expert's values (the base's are cached by baseSquares)
	VMOVDQU    (SI), Y8
	VMOVDQU    (DX), Y9
	VPUNPCKLWD Y8, Y12, Y10
	VPUNPCKLWD Y9, Y12, Y11
	VSUBPS     Y10, Y11, Y11 // Δ of 0-3 | 8-11
	VPUNPCKHWD Y8, Y12, Y8
	VPUNPCKHWD Y9, Y12, Y9
	VSUBPS     Y8, Y9, Y9    // Δ of 4-7 | 12-15
	VMOVUPS    Y11, (DI)
	VMOVUPS    Y9, 32(DI)
	STATS8(Y11, X11, Y10, X10, Y0, Y2, Y4, Y6)
	STATS8(Y9, X9, Y8, X8, Y1, Y3, Y5, Y7)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JNZ  edloop

	VMOVUPD Y0, (R8)
	VMOVUPD Y1, 32(R8)
	VMOVUPD Y2, 64(R8)
	VMOVUPD Y3, 96(R8)
	VMOVUPD Y4, 128(R8)
	VMOVUPD Y5, 160(R8)
	VMOVUPD Y6, 192(R8)
	VMOVUPD Y7, 224(R8)
	HSUMD(Y13, X13, X8, AX)
	VZEROUPPER
	MOVQ AX, ge+48(FP)
	RET

// One group of 8 stored changes of pairDeltasAsm at byte offset OFF of SI
// (x) and DX (y), in the order of expertDeltasAsm: the first four go to the
// dot lanes DOT0, the next four to DOT1.
#define PAIR8(OFF, DOT0, DOT1) \
	VCVTPS2PD   OFF(SI), Y8 \
	VCVTPS2PD   OFF(DX), Y9 \
	VFMADD231PD Y9, Y8, DOT0 \
	VCVTPS2PD   OFF+16(SI), Y10 \
	VCVTPS2PD   OFF+16(DX), Y11 \
	VFMADD231PD Y11, Y10, DOT1 \
	VMOVUPS     OFF(SI), Y8 \
	VMULPS      OFF(DX), Y8, Y8 \
	VPSRAD      $31, Y8, Y9 \
	VPAND       Y15, Y8, Y8 \
	VPCMPEQD    Y14, Y8, Y8 \
	VPANDN      Y9, Y8, Y9 \
	VPSUBD      Y8, Y12, Y12 \
	VPSUBD      Y9, Y13, Y13

// func pairDeltasAsm(dot *lanes, x, y *float32, n int) (zeros, neg int)
TEXT ·pairDeltasAsm(SB), NOSPLIT, $0-48
	MOVQ dot+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VPCMPEQD Y15, Y15, Y15
	VPSRLD   $1, Y15, Y15  // 0x7fffffff
	VPXOR    Y14, Y14, Y14 // 0
	VPXOR    Y12, Y12, Y12 // zero products per lane
	VPXOR    Y13, Y13, Y13 // negative non-zero products per lane
	VMOVUPD (DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3

pdloop:
	PAIR8(0, Y0, Y2)  // elements 0-3, 8-11
	PAIR8(32, Y1, Y3) // elements 4-7, 12-15
	ADDQ $64, SI
	ADDQ $64, DX
	SUBQ $16, CX
	JNZ  pdloop

	VMOVUPD Y0, (DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	HSUMD(Y12, X12, X8, AX)
	HSUMD(Y13, X13, X8, BX)
	VZEROUPPER
	MOVQ AX, zeros+32(FP)
	MOVQ BX, neg+40(FP)
	RET
