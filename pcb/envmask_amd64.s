//go:build !purego

#include "textflag.h"

// func envMaskAVX2(mask *uint8, x, tau *float32, n int, p *envParams)
//
// Per 8 entries, as envKeep: a = clamp(|τ|, lo, hi) (VMAXPS/VMINPS with the
// data as second source return it when it is a NaN), m = (a − lo)·inv,
// y = m·m·n, q = ((y·c3 + ½)·y + 1)·y + 1, u = q·min(x, 1)·margin; keep when
// int32(x) > xmin and int32(u) ≥ fb; one mask byte per 8 entries.
TEXT ·envMaskAVX2(SB), NOSPLIT, $0-40
	MOVQ mask+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ tau+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ p+32(FP), AX
	VBROADCASTSS 40(AX), Y5  // absMask
	VBROADCASTSS 32(AX), Y6  // fb
	VBROADCASTSS 36(AX), Y7  // xmin
	VBROADCASTSS 0(AX), Y8   // lo
	VBROADCASTSS 4(AX), Y9   // hi
	VBROADCASTSS 8(AX), Y10  // inv
	VBROADCASTSS 12(AX), Y11 // n
	VBROADCASTSS 16(AX), Y12 // c3
	VBROADCASTSS 20(AX), Y13 // ½
	VBROADCASTSS 24(AX), Y14 // 1
	VBROADCASTSS 28(AX), Y15 // margin
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS  (DX), Y0
	VANDPS   Y5, Y0, Y0
	VMAXPS   Y0, Y8, Y0
	VMINPS   Y0, Y9, Y0
	VSUBPS   Y8, Y0, Y0
	VMULPS   Y10, Y0, Y0
	VMULPS   Y0, Y0, Y1
	VMULPS   Y11, Y1, Y1
	VMULPS   Y12, Y1, Y3
	VADDPS   Y13, Y3, Y3
	VMULPS   Y1, Y3, Y3
	VADDPS   Y14, Y3, Y3
	VMULPS   Y1, Y3, Y3
	VADDPS   Y14, Y3, Y3
	VMOVUPS  (SI), Y2
	VMINPS   Y2, Y14, Y4
	VMULPS   Y4, Y3, Y3
	VMULPS   Y15, Y3, Y3
	VPCMPGTD Y3, Y6, Y4
	VPCMPGTD Y7, Y2, Y2
	VPANDN   Y2, Y4, Y2
	VMOVMSKPS Y2, BX
	MOVB     BX, (DI)
	ADDQ     $32, SI
	ADDQ     $32, DX
	INCQ     DI
	DECQ     CX
	JNZ      loop

done:
	VZEROUPPER
	RET

// func countPositiveProductsAVX2(a, b *float32, n int) int
//
// Counts the products a[i]·b[i] whose bits are a positive int32.
TEXT ·countPositiveProductsAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DX
	MOVQ n+16(FP), CX
	VPXOR Y9, Y9, Y9
	XORQ R8, R8
	SHRQ $3, CX
	JZ   cdone

cloop:
	VMOVUPS   (SI), Y0
	VMULPS    (DX), Y0, Y0
	VPCMPGTD  Y9, Y0, Y0 // bits > 0
	VMOVMSKPS Y0, BX
	POPCNTL   BX, BX
	ADDQ      BX, R8
	ADDQ      $32, SI
	ADDQ      $32, DX
	DECQ      CX
	JNZ       cloop

cdone:
	VZEROUPPER
	MOVQ R8, ret+24(FP)
	RET

// func compressAVX2(idx *int32, dx, x *float32, masks *uint8, ngroups int, perm *[256][8]int32, iota *[8]int32) int
//
// Per mask byte: the permutation of its set lanes to the front, applied to
// 8 values of x and to the positions; all 8 lanes are stored at the output
// count, which then advances by the number of set bits.
TEXT ·compressAVX2(SB), NOSPLIT, $0-64
	MOVQ idx+0(FP), DI
	MOVQ dx+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ masks+24(FP), R9
	MOVQ ngroups+32(FP), CX
	MOVQ perm+40(FP), R10
	MOVQ iota+48(FP), AX
	VMOVDQU (AX), Y3
	MOVL $8, BX
	VMOVD BX, X4
	VPBROADCASTD X4, Y4
	XORQ R8, R8
	TESTQ CX, CX
	JZ   pdone

ploop:
	MOVBLZX (R9), BX
	MOVQ    BX, R11
	SHLQ    $5, R11
	VMOVDQU (R10)(R11*1), Y1
	VMOVUPS (DX), Y0
	VPERMPS Y0, Y1, Y2
	VMOVUPS Y2, (SI)(R8*4)
	VPERMD  Y3, Y1, Y2
	VMOVDQU Y2, (DI)(R8*4)
	POPCNTL BX, BX
	ADDQ    BX, R8
	VPADDD  Y4, Y3, Y3
	ADDQ    $32, DX
	INCQ    R9
	DECQ    CX
	JNZ     ploop

pdone:
	VZEROUPPER
	MOVQ R8, ret+56(FP)
	RET
