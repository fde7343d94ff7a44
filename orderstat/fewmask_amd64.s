//go:build !purego

#include "textflag.h"

// func absFewMaskAVX2(mask *uint8, x *float32, n int, pre *[4]int32) int
TEXT ·absFewMaskAVX2(SB), NOSPLIT, $0-40
	MOVQ mask+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ pre+24(FP), AX
	VPBROADCASTD 0(AX), Y4
	VPBROADCASTD 4(AX), Y5
	VPBROADCASTD 8(AX), Y6
	VPBROADCASTD 12(AX), Y7
	MOVL $0x7fffffff, BX
	VMOVD BX, X8
	VPBROADCASTD X8, Y8
	VPXOR Y9, Y9, Y9
	XORQ R8, R8
	SHRQ $3, CX
	JZ   done

loop:
	VPAND     (SI), Y8, Y0 // key = bits &^ sign
	VPSRLD    $16, Y0, Y1  // high half
	VPCMPEQD  Y9, Y0, Y2   // key == 0
	VPCMPEQD  Y4, Y1, Y3
	VPCMPEQD  Y5, Y1, Y10
	VPOR      Y10, Y3, Y3
	VPCMPEQD  Y6, Y1, Y10
	VPOR      Y10, Y3, Y3
	VPCMPEQD  Y7, Y1, Y10
	VPOR      Y10, Y3, Y3
	VPANDN    Y3, Y2, Y3   // a prefix matches and the key is not 0
	VMOVMSKPS Y3, BX
	MOVB      BX, (DI)
	VMOVMSKPS Y2, BX
	POPCNTL   BX, BX
	ADDQ      BX, R8
	ADDQ      $32, SI
	INCQ      DI
	DECQ      CX
	JNZ       loop

done:
	VZEROUPPER
	MOVQ R8, ret+32(FP)
	RET
