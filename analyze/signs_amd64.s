//go:build !purego

#include "textflag.h"

// func signCountAsm(x, y *float32, n int) (zeros, neg int)
TEXT ·signCountAsm(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ n+16(FP), CX
	VPXOR    Y0, Y0, Y0 // per-lane count of zero products
	VPXOR    Y1, Y1, Y1 // per-lane count of negative non-zero products
	VPXOR    Y7, Y7, Y7 // 0
	VPCMPEQD Y6, Y6, Y6
	VPSRLD   $1, Y6, Y6 // 0x7fffffff

loop:
	VMOVUPS  (SI), Y2
	VMULPS   (DI), Y2, Y2 // p = x·y
	VPSRAD   $31, Y2, Y3  // −1 where the sign bit is set
	VPAND    Y6, Y2, Y4   // |p|
	VPCMPEQD Y7, Y4, Y4   // −1 where p = ±0
	VPANDN   Y3, Y4, Y3   // −1 where p < 0 (non-zero)
	VPSUBD   Y4, Y0, Y0
	VPSUBD   Y3, Y1, Y1
	ADDQ     $32, SI
	ADDQ     $32, DI
	SUBQ     $8, CX
	JNZ      loop

	// Horizontal sums of the eight 32-bit lanes.
	VEXTRACTI128 $1, Y0, X2
	VPADDD       X2, X0, X0
	VPSHUFD      $0x4E, X0, X2
	VPADDD       X2, X0, X0
	VPSHUFD      $0xB1, X0, X2
	VPADDD       X2, X0, X0
	VMOVD        X0, AX
	VEXTRACTI128 $1, Y1, X3
	VPADDD       X3, X1, X1
	VPSHUFD      $0x4E, X1, X3
	VPADDD       X3, X1, X1
	VPSHUFD      $0xB1, X1, X3
	VPADDD       X3, X1, X1
	VMOVD        X1, BX
	VZEROUPPER
	MOVQ AX, zeros+24(FP)
	MOVQ BX, neg+32(FP)
	RET
