//go:build !purego

#include "textflag.h"

DATA absMask<>+0(SB)/8, $0x7fffffff7fffffff
DATA absMask<>+8(SB)/8, $0x7fffffff7fffffff
DATA absMask<>+16(SB)/8, $0x7fffffff7fffffff
DATA absMask<>+24(SB)/8, $0x7fffffff7fffffff
GLOBL absMask<>(SB), RODATA|NOPTR, $32

// WINDOW8 handles the 8 entries at BX+off of the query: a = |x − b| bits
// (ya); a > hi (yh) counted into Y9; a == hi into Y11, a == lo into Y15
// (VPSUBD of the all-ones compare results); inside = (a > lo) AND
// (hi > a) (yi) — signed compares, every a is below 2³¹ — packed to the
// front by VPERMD with the indices VPMOVZXBD widens from perm's entry for
// the mask (yp), stored all 8 at dst + count (R13), and count advanced by
// their number (gp: a scratch register). yb is scratch.
#define WINDOW8(off, yb, ya, yh, yi, yp, yq, gp) \
	VPMOVZXWD off(DX)(BX*2), yb \
	VPSLLD    $16, yb, yb \
	VPMOVZXWD off(SI)(BX*2), ya \
	VPSLLD    $16, ya, ya \
	VSUBPS    yb, ya, ya \
	VPAND     absMask<>(SB), ya, ya \
	VPCMPGTD  Y10, ya, yh \
	VPSUBD    yh, Y9, Y9 \
	VPCMPEQD  Y10, ya, yb \
	VPSUBD    yb, Y11, Y11 \
	VPCMPEQD  48(R8), ya, yb \
	VPSUBD    yb, Y15, Y15 \
	VPCMPGTD  48(R8), ya, yi \
	VPCMPGTD  ya, Y10, yb \
	VPAND     yb, yi, yi \
	VMOVMSKPS yi, gp \
	VPMOVZXBD (R10)(gp*8), yp \
	VPERMD    ya, yp, yq \
	VMOVDQU   yq, (DI)(R13*4) \
	POPCNTL   gp, gp \
	ADDQ      gp, R13

// ADDLANES adds the 8 lanes of y into the int64 at mem (X0, X1 scratch).
#define ADDLANES(y, x, mem) \
	VEXTRACTI128 $1, y, X0 \
	VPADDD       X0, x, X0 \
	VPSHUFD      $0x4e, X0, X1 \
	VPADDD       X1, X0, X0 \
	VPSHUFD      $0xb1, X0, X1 \
	VPADDD       X1, X0, X0 \
	VMOVD        X0, AX \
	ADDQ         AX, mem

// func windowMultiAVX2(qs *windowArg, k int, b *uint16, n int, perm *[256]uint64)
//
// Query after query (its windowArg at R8: x, dst, count, above, eqLo,
// eqHi, then lo and hi as 8-lane rows at 48 and 80), two groups of 8
// entries per iteration (WINDOW8), then one more group if n is not a
// multiple of 16. Per query Y10 holds hi, Y9/Y11/Y15 the lanes' counts
// above hi, equal to hi and equal to lo, R13 the count of stored values;
// lo is a memory operand.
TEXT ·windowMultiAVX2(SB), NOSPLIT, $0-40
	MOVQ  qs+0(FP), R8
	MOVQ  k+8(FP), R9
	MOVQ  b+16(FP), DX
	MOVQ  n+24(FP), CX
	MOVQ  perm+32(FP), R10
	TESTQ CX, CX
	JZ    mwdone
	MOVQ  CX, R12
	ANDQ  $-16, R12 // entries in pairs of groups

mwquery:
	MOVQ    0(R8), SI
	MOVQ    8(R8), DI
	MOVQ    16(R8), R13
	VMOVDQU 80(R8), Y10
	VPXOR   Y9, Y9, Y9
	VPXOR   Y11, Y11, Y11
	VPXOR   Y15, Y15, Y15
	XORQ    BX, BX
	TESTQ   R12, R12
	JZ      mwsingle

mwloop:
	WINDOW8(0, Y0, Y2, Y3, Y4, Y5, Y6, AX)
	WINDOW8(16, Y1, Y7, Y8, Y12, Y13, Y14, R11)
	ADDQ $16, BX
	CMPQ BX, R12
	JB   mwloop
	CMPQ BX, CX
	JAE  mwend

mwsingle:
	WINDOW8(0, Y0, Y2, Y3, Y4, Y5, Y6, AX)
	ADDQ $8, BX
	CMPQ BX, CX
	JB   mwsingle

mwend:
	MOVQ R13, 16(R8)
	ADDLANES(Y9, X9, 24(R8))
	ADDLANES(Y15, X15, 32(R8))
	ADDLANES(Y11, X11, 40(R8))
	ADDQ $112, R8
	DECQ R9
	JNZ  mwquery

mwdone:
	VZEROUPPER
	RET
