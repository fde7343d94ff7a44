//go:build !purego

#include "textflag.h"

// ROW multiplies the broadcast of the float32 at off(AX) by the 16 values in
// Y12:Y13 and accumulates into the row accumulators lo, hi.
#define ROW(off, lo, hi) \
	VBROADCASTSS off(AX), Y14 \
	VFMADD231PS  Y12, Y14, lo \
	VFMADD231PS  Y13, Y14, hi

// STEP is one k of the 6×16 micro-kernel: A advances 6 floats, B 16.
#define STEP(aoff, boff) \
	VMOVUPS boff(BX), Y12 \
	VMOVUPS boff+32(BX), Y13 \
	ROW(aoff, Y0, Y1) \
	ROW(aoff+4, Y2, Y3) \
	ROW(aoff+8, Y4, Y5) \
	ROW(aoff+12, Y6, Y7) \
	ROW(aoff+16, Y8, Y9) \
	ROW(aoff+20, Y10, Y11)

// ROWOUT adds (if R9) the C row at (DX) to lo, hi, stores them and moves DX
// to the next row.
#define ROWOUT(lo, hi, lbl) \
	TESTQ   R9, R9 \
	JZ      lbl \
	VADDPS  (DX), lo, lo \
	VADDPS  32(DX), hi, hi \
lbl: \
	VMOVUPS lo, (DX) \
	VMOVUPS hi, 32(DX) \
	ADDQ    R8, DX

// func kernel6x16FMA(kc int, a, b, c *float32, ldc int, acc bool)
TEXT ·kernel6x16FMA(SB), NOSPLIT, $0-41
	MOVQ   kc+0(FP), CX
	MOVQ   a+8(FP), AX
	MOVQ   b+16(FP), BX
	MOVQ   c+24(FP), DX
	MOVQ   ldc+32(FP), R8
	SHLQ   $2, R8
	MOVBQZX acc+40(FP), R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	CMPQ   CX, $4
	JLT    tail
loop4:
	STEP(0, 0)
	STEP(24, 64)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ   $96, AX
	ADDQ   $256, BX
	SUBQ   $4, CX
	CMPQ   CX, $4
	JGE    loop4
tail:
	TESTQ  CX, CX
	JZ     done
loop1:
	STEP(0, 0)
	ADDQ   $24, AX
	ADDQ   $64, BX
	DECQ   CX
	JNZ    loop1
done:
	ROWOUT(Y0, Y1, r0)
	ROWOUT(Y2, Y3, r1)
	ROWOUT(Y4, Y5, r2)
	ROWOUT(Y6, Y7, r3)
	ROWOUT(Y8, Y9, r4)
	ROWOUT(Y10, Y11, r5)
	VZEROUPPER
	RET

// ROW64 is one k of the 1×64 kernel: the broadcast of (AX) times 16 values
// of each of four panels (at BX, R8, R9, R10).
#define ROW64(aoff, boff) \
	VBROADCASTSS aoff(AX), Y14 \
	VFMADD231PS  boff(BX), Y14, Y0 \
	VFMADD231PS  boff+32(BX), Y14, Y1 \
	VFMADD231PS  boff(R8), Y14, Y2 \
	VFMADD231PS  boff+32(R8), Y14, Y3 \
	VFMADD231PS  boff(R9), Y14, Y4 \
	VFMADD231PS  boff+32(R9), Y14, Y5 \
	VFMADD231PS  boff(R10), Y14, Y6 \
	VFMADD231PS  boff+32(R10), Y14, Y7

// func kernel1x64FMA(kc int, a, b *float32, stride int, c *float32, acc bool)
TEXT ·kernel1x64FMA(SB), NOSPLIT, $0-41
	MOVQ    kc+0(FP), CX
	MOVQ    a+8(FP), AX
	MOVQ    b+16(FP), BX
	MOVQ    stride+24(FP), R11
	SHLQ    $2, R11
	MOVQ    c+32(FP), DX
	MOVBQZX acc+40(FP), R12
	LEAQ    (BX)(R11*1), R8
	LEAQ    (R8)(R11*1), R9
	LEAQ    (R9)(R11*1), R10
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	CMPQ    CX, $2
	JLT     r64tail
r64loop2:
	ROW64(0, 0)
	ROW64(4, 64)
	ADDQ    $8, AX
	ADDQ    $128, BX
	ADDQ    $128, R8
	ADDQ    $128, R9
	ADDQ    $128, R10
	SUBQ    $2, CX
	CMPQ    CX, $2
	JGE     r64loop2
r64tail:
	TESTQ   CX, CX
	JZ      r64done
	ROW64(0, 0)
r64done:
	TESTQ   R12, R12
	JZ      r64store
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  64(DX), Y2, Y2
	VADDPS  96(DX), Y3, Y3
	VADDPS  128(DX), Y4, Y4
	VADDPS  160(DX), Y5, Y5
	VADDPS  192(DX), Y6, Y6
	VADDPS  224(DX), Y7, Y7
r64store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// CVT16 loads 8 bfloat16 at addr as float32 into Y.
#define CVT16(addr, Y) \
	VPMOVZXWD addr, Y \
	VPSLLD    $16, Y, Y

// ROW64BF is ROW64 with bfloat16 panels widened in registers.
#define ROW64BF(aoff, boff) \
	VBROADCASTSS aoff(AX), Y14 \
	CVT16(boff(BX), Y8) \
	CVT16(boff+16(BX), Y9) \
	CVT16(boff(R8), Y10) \
	CVT16(boff+16(R8), Y11) \
	VFMADD231PS  Y8, Y14, Y0 \
	VFMADD231PS  Y9, Y14, Y1 \
	VFMADD231PS  Y10, Y14, Y2 \
	VFMADD231PS  Y11, Y14, Y3 \
	CVT16(boff(R9), Y8) \
	CVT16(boff+16(R9), Y9) \
	CVT16(boff(R10), Y10) \
	CVT16(boff+16(R10), Y11) \
	VFMADD231PS  Y8, Y14, Y4 \
	VFMADD231PS  Y9, Y14, Y5 \
	VFMADD231PS  Y10, Y14, Y6 \
	VFMADD231PS  Y11, Y14, Y7

// func kernel1x64BF16(kc int, a *float32, b *uint16, stride int, c *float32, acc bool)
TEXT ·kernel1x64BF16(SB), NOSPLIT, $0-41
	MOVQ    kc+0(FP), CX
	MOVQ    a+8(FP), AX
	MOVQ    b+16(FP), BX
	MOVQ    stride+24(FP), R11
	SHLQ    $1, R11
	MOVQ    c+32(FP), DX
	MOVBQZX acc+40(FP), R12
	LEAQ    (BX)(R11*1), R8
	LEAQ    (R8)(R11*1), R9
	LEAQ    (R9)(R11*1), R10
	VXORPS  Y0, Y0, Y0
	VXORPS  Y1, Y1, Y1
	VXORPS  Y2, Y2, Y2
	VXORPS  Y3, Y3, Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TESTQ   CX, CX
	JZ      bfdone
bfloop:
	ROW64BF(0, 0)
	ADDQ    $4, AX
	ADDQ    $32, BX
	ADDQ    $32, R8
	ADDQ    $32, R9
	ADDQ    $32, R10
	DECQ    CX
	JNZ     bfloop
bfdone:
	TESTQ   R12, R12
	JZ      bfstore
	VADDPS  (DX), Y0, Y0
	VADDPS  32(DX), Y1, Y1
	VADDPS  64(DX), Y2, Y2
	VADDPS  96(DX), Y3, Y3
	VADDPS  128(DX), Y4, Y4
	VADDPS  160(DX), Y5, Y5
	VADDPS  192(DX), Y6, Y6
	VADDPS  224(DX), Y7, Y7
bfstore:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VMOVUPS Y4, 128(DX)
	VMOVUPS Y5, 160(DX)
	VMOVUPS Y6, 192(DX)
	VMOVUPS Y7, 224(DX)
	VZEROUPPER
	RET

// func peakFMA(n int) runs n iterations of 12 independent 8-lane FMAs on
// registers (no memory traffic): 192·n float32 FLOPs.
TEXT ·peakFMA(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	TESTQ  CX, CX
	JZ     pdone
ploop:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ   CX
	JNZ    ploop
pdone:
	VZEROUPPER
	RET
