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
