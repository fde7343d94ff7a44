//go:build !purego

#include "textflag.h"

// func boundMaskAVX2(mask *uint8, x, tau, sum *float32, n int, p *boundParams) (above int, bad bool)
//
// Per 8 entries, as boundEntry: x = τ·sum (stored); a = clamp(|τ|, lo, hi)
// (VMAXPS/VMINPS with the data as second source, as envMaskAVX2),
// s = trunc((((a − lo)·inv)²)·cK) + bits(min(x, 1)); in = x > 0 and
// s ≥ tfloor; certain = s > tceil, s < tmax, xmin < bits(x) < xmax;
// keep = in and not certain, above counts in and certain; bad when some |x|
// is not finite.
TEXT ·boundMaskAVX2(SB), NOSPLIT, $0-57
	MOVQ mask+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ tau+16(FP), DX
	MOVQ sum+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ p+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // lo
	VBROADCASTSS 4(AX), Y9   // hi
	VBROADCASTSS 8(AX), Y10  // inv
	VBROADCASTSS 12(AX), Y11 // cK
	VPBROADCASTD 28(AX), Y12 // tfloor
	VBROADCASTSS 16(AX), Y13 // 1
	VPBROADCASTD 32(AX), Y14 // tceil
	VBROADCASTSS 20(AX), Y15 // absMask
	VPXOR Y7, Y7, Y7         // bad lanes
	XORQ R9, R9              // above
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (DX), Y0
	VMOVUPS (R8), Y1
	VMULPS  Y1, Y0, Y1
	VMOVUPS Y1, (SI)

	// s = trunc((((clamp(|τ|) − lo)·inv)²)·cK) + bits(min(x, 1))
	VANDPS     Y15, Y0, Y0
	VMAXPS     Y0, Y8, Y0
	VMINPS     Y0, Y9, Y0
	VSUBPS     Y8, Y0, Y0
	VMULPS     Y10, Y0, Y0
	VMULPS     Y0, Y0, Y0
	VMULPS     Y11, Y0, Y0
	VCVTTPS2DQ Y0, Y0
	VMINPS     Y13, Y1, Y2
	VPADDD     Y2, Y0, Y0

	// in = x > 0 and not tfloor > s
	VPXOR    Y3, Y3, Y3
	VPCMPGTD Y3, Y1, Y3
	VPCMPGTD Y0, Y12, Y4
	VPANDN   Y3, Y4, Y3

	// certain = s > tceil and tmax > s and x > xmin and xmax > x
	VPCMPGTD     Y14, Y0, Y5
	VPBROADCASTD 36(AX), Y6
	VPCMPGTD     Y0, Y6, Y6
	VPAND        Y6, Y5, Y5
	VPBROADCASTD 40(AX), Y6
	VPCMPGTD     Y6, Y1, Y6
	VPAND        Y6, Y5, Y5
	VPBROADCASTD 44(AX), Y6
	VPCMPGTD     Y1, Y6, Y6
	VPAND        Y6, Y5, Y5

	VPANDN    Y3, Y5, Y4
	VPAND     Y5, Y3, Y5
	VMOVMSKPS Y4, BX
	MOVB      BX, (DI)
	VMOVMSKPS Y5, BX
	POPCNTL   BX, BX
	ADDQ      BX, R9

	// bad |= |x| > largest finite
	VANDPS       Y15, Y1, Y2
	VPBROADCASTD 24(AX), Y6
	VPCMPGTD     Y6, Y2, Y2
	VPOR         Y2, Y7, Y7

	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	INCQ DI
	DECQ CX
	JNZ  loop

done:
	VMOVMSKPS Y7, BX
	TESTL     BX, BX
	SETNE     bad+56(FP)
	MOVQ      R9, above+48(FP)
	VZEROUPPER
	RET
