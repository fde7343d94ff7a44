//go:build !purego

#include "textflag.h"

// func windowMultiAVX2(qs *windowArg, k int, b *uint16, n int, perm *[256]uint64)
//
// Query after query (its windowArg at R8, 40 bytes: x, dst, count, above,
// lo − 1, hi), per 8 entries: a = |x − b| bits (Y2); a > hi (Y3) summed
// per lane into Y9; inside = (a > lo − 1) AND NOT (a > hi) — signed
// compares, every a is below 2³¹ — packed to the front by VPERMD with the
// indices VPMOVZXBD widens from perm's entry for the mask, stored all 8 at
// dst + count (R13), and count advanced by their number. Y15 holds
// 0x7fffffff, Y11 lo − 1 and Y10 hi of the query.
TEXT ·windowMultiAVX2(SB), NOSPLIT, $0-40
	MOVQ     qs+0(FP), R8
	MOVQ     k+8(FP), R9
	MOVQ     b+16(FP), DX
	MOVQ     n+24(FP), CX
	MOVQ     perm+32(FP), R10
	VPCMPEQD Y15, Y15, Y15
	VPSRLD   $1, Y15, Y15
	TESTQ    CX, CX
	JZ       mwdone

mwquery:
	MOVQ         0(R8), SI
	MOVQ         8(R8), DI
	MOVQ         16(R8), R13
	VPBROADCASTD 32(R8), Y11
	VPBROADCASTD 36(R8), Y10
	VPXOR        Y9, Y9, Y9
	XORQ         BX, BX

	MOVQ CX, R12
	ANDQ $-16, R12 // entries in pairs of groups
	JZ   mwsingle

mwloop:
	VPMOVZXWD  (DX)(BX*2), Y0
	VPSLLD     $16, Y0, Y0
	VPMOVZXWD  16(DX)(BX*2), Y1
	VPSLLD     $16, Y1, Y1
	VPMOVZXWD  (SI)(BX*2), Y2
	VPSLLD     $16, Y2, Y2
	VPMOVZXWD  16(SI)(BX*2), Y7
	VPSLLD     $16, Y7, Y7
	VSUBPS     Y0, Y2, Y2
	VSUBPS     Y1, Y7, Y7
	VPAND      Y15, Y2, Y2 // a
	VPAND      Y15, Y7, Y7 // a of the second group
	VPCMPGTD   Y10, Y2, Y3 // a > hi
	VPCMPGTD   Y10, Y7, Y8
	VPSUBD     Y3, Y9, Y9
	VPSUBD     Y8, Y9, Y9
	VPCMPGTD   Y11, Y2, Y4 // a > lo − 1
	VPCMPGTD   Y11, Y7, Y12
	VPANDN     Y4, Y3, Y4  // inside
	VPANDN     Y12, Y8, Y12
	VMOVMSKPS  Y4, AX
	VMOVMSKPS  Y12, R11
	VPMOVZXBD  (R10)(AX*8), Y5
	VPMOVZXBD  (R10)(R11*8), Y13
	VPERMD     Y2, Y5, Y6
	VPERMD     Y7, Y13, Y14
	POPCNTL    AX, AX
	POPCNTL    R11, R11
	VMOVDQU    Y6, (DI)(R13*4)
	ADDQ       AX, R13
	VMOVDQU    Y14, (DI)(R13*4)
	ADDQ       R11, R13
	ADDQ       $16, BX
	CMPQ       BX, R12
	JB         mwloop
	CMPQ       BX, CX
	JAE        mwend

mwsingle:
	VPMOVZXWD (DX)(BX*2), Y0
	VPSLLD    $16, Y0, Y0
	VPMOVZXWD (SI)(BX*2), Y2
	VPSLLD    $16, Y2, Y2
	VSUBPS    Y0, Y2, Y2
	VPAND     Y15, Y2, Y2
	VPCMPGTD  Y10, Y2, Y3
	VPSUBD    Y3, Y9, Y9
	VPCMPGTD  Y11, Y2, Y4
	VPANDN    Y4, Y3, Y4
	VMOVMSKPS Y4, AX
	VPMOVZXBD (R10)(AX*8), Y5
	VPERMD    Y2, Y5, Y6
	VMOVDQU   Y6, (DI)(R13*4)
	POPCNTL   AX, AX
	ADDQ      AX, R13
	ADDQ      $8, BX
	CMPQ      BX, CX
	JB        mwsingle

mwend:
	MOVQ         R13, 16(R8)
	VEXTRACTI128 $1, Y9, X0
	VPADDD       X0, X9, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, AX
	ADDQ         AX, 24(R8)
	ADDQ         $40, R8
	DECQ         R9
	JNZ          mwquery

mwdone:
	VZEROUPPER
	RET
