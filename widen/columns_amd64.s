//go:build !purego

#include "textflag.h"

// Column-statistics kernels (AVX2 + FMA). Each sweeps a block of rows of a
// row-major float32 matrix and adds, column by column and in row order,
// float64 squares and products into per-column accumulators. A float32
// product is exact in float64, so VFMADD231PD rounds exactly as the
// separate multiply and add of the Go reference: the sums are bit for bit
// those of addColumnSquaresRef and addColumnSquaresDotRef.

// func columnSquaresAVX2(ss *float64, x *float32, cols, rows, stride int)
TEXT ·columnSquaresAVX2(SB), NOSPLIT, $0-40
	MOVQ ss+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ cols+16(FP), CX
	MOVQ rows+24(FP), R8
	MOVQ stride+32(FP), R9
	SHLQ $2, R9
	TESTQ R8, R8
	JZ   sqdone

sq16:
	CMPQ CX, $16
	JL   sq4
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	MOVQ SI, R10
	MOVQ R8, R12

sq16rows:
	VCVTPS2PD 0(R10), Y8
	VCVTPS2PD 16(R10), Y9
	VCVTPS2PD 32(R10), Y10
	VCVTPS2PD 48(R10), Y11
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	ADDQ R9, R10
	DECQ R12
	JNZ  sq16rows
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $64, SI
	SUBQ $16, CX
	JMP  sq16

sq4:
	CMPQ CX, $4
	JL   sqdone
	VMOVUPD 0(DI), Y0
	MOVQ SI, R10
	MOVQ R8, R12

sq4rows:
	VCVTPS2PD 0(R10), Y8
	VFMADD231PD Y8, Y8, Y0
	ADDQ R9, R10
	DECQ R12
	JNZ  sq4rows
	VMOVUPD Y0, 0(DI)
	ADDQ $32, DI
	ADDQ $16, SI
	SUBQ $4, CX
	JMP  sq4

sqdone:
	VZEROUPPER
	RET

// func columnSquaresDotAVX2(ss, dot *float64, x, b *float32, cols, rows, stride int)
TEXT ·columnSquaresDotAVX2(SB), NOSPLIT, $0-56
	MOVQ ss+0(FP), DI
	MOVQ dot+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ b+24(FP), BX
	MOVQ cols+32(FP), CX
	MOVQ rows+40(FP), R8
	MOVQ stride+48(FP), R9
	SHLQ $2, R9
	TESTQ R8, R8
	JZ   sddone

sd16:
	CMPQ CX, $16
	JL   sd4
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	VMOVUPD 0(DX), Y4
	VMOVUPD 32(DX), Y5
	VMOVUPD 64(DX), Y6
	VMOVUPD 96(DX), Y7
	MOVQ SI, R10
	MOVQ BX, R11
	MOVQ R8, R12

sd16rows:
	VCVTPS2PD 0(R10), Y8
	VCVTPS2PD 16(R10), Y9
	VCVTPS2PD 32(R10), Y10
	VCVTPS2PD 48(R10), Y11
	VCVTPS2PD 0(R11), Y12
	VCVTPS2PD 16(R11), Y13
	VCVTPS2PD 32(R11), Y14
	VCVTPS2PD 48(R11), Y15
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	VFMADD231PD Y12, Y8, Y4
	VFMADD231PD Y13, Y9, Y5
	VFMADD231PD Y14, Y10, Y6
	VFMADD231PD Y15, Y11, Y7
	ADDQ R9, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  sd16rows
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 0(DX)
	VMOVUPD Y5, 32(DX)
	VMOVUPD Y6, 64(DX)
	VMOVUPD Y7, 96(DX)
	ADDQ $128, DI
	ADDQ $128, DX
	ADDQ $64, SI
	ADDQ $64, BX
	SUBQ $16, CX
	JMP  sd16

sd4:
	CMPQ CX, $4
	JL   sddone
	VMOVUPD 0(DI), Y0
	VMOVUPD 0(DX), Y4
	MOVQ SI, R10
	MOVQ BX, R11
	MOVQ R8, R12

sd4rows:
	VCVTPS2PD 0(R10), Y8
	VCVTPS2PD 0(R11), Y12
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y12, Y8, Y4
	ADDQ R9, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  sd4rows
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y4, 0(DX)
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $16, SI
	ADDQ $16, BX
	SUBQ $4, CX
	JMP  sd4

sddone:
	VZEROUPPER
	RET

// func weightedDeltaSumAVX2(out, b *float32, xs, ws **float32, m, n int)
//
// For each group of 16 elements, the sum over the m models runs in model
// order in Y0/Y1 starting from +0, each product rounded (VMULPS, never
// fused) before its addition, then out = b + sum: the rounding of
// weightedDeltaSumRef.
TEXT ·weightedDeltaSumAVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ xs+16(FP), R8
	MOVQ ws+24(FP), R9
	MOVQ m+32(FP), R10
	MOVQ n+40(FP), CX
	XORQ BX, BX              // element offset in bytes

wd16:
	CMPQ CX, $16
	JL   wddone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VMOVUPS 0(SI)(BX*1), Y2
	VMOVUPS 32(SI)(BX*1), Y3
	XORQ R11, R11            // model index

wdmodels:
	CMPQ R11, R10
	JGE  wdstore
	MOVQ (R8)(R11*8), R12    // xs[k]
	MOVQ (R9)(R11*8), R13    // ws[k]
	VMOVUPS 0(R12)(BX*1), Y4
	VMOVUPS 32(R12)(BX*1), Y5
	VSUBPS Y2, Y4, Y4        // x − b
	VSUBPS Y3, Y5, Y5
	VMULPS 0(R13)(BX*1), Y4, Y4  // w·(x − b)
	VMULPS 32(R13)(BX*1), Y5, Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	INCQ R11
	JMP  wdmodels

wdstore:
	VADDPS Y0, Y2, Y0        // b + sum
	VADDPS Y1, Y3, Y1
	VMOVUPS Y0, 0(DI)(BX*1)
	VMOVUPS Y1, 32(DI)(BX*1)
	ADDQ $64, BX
	SUBQ $16, CX
	JMP  wd16

wddone:
	VZEROUPPER
	RET

// BF16 variants: the inputs are bfloat16 bit patterns, widened to float32
// by a 16-bit left shift (exact; a signalling NaN stays a NaN and is
// quieted by the first arithmetic on it, as after simd.BF16ToF32).

// LOADBF4 widens 4 bfloat16 values at addr to float64 in Y (via X).
#define LOADBF4(addr, X, Y) VPMOVZXWD addr, X; VPSLLD $16, X, X; VCVTPS2PD X, Y

// UNPACKBF8 widens 8 bfloat16 values at addr to float64: the first 4 in
// YL, the last 4 in YH. Interleaving zero words below the bit patterns
// (X15 must be zero) gives the float32 values, which VCVTPS2PD widens.
#define UNPACKBF8(addr, XL, YL, XH, YH) VPUNPCKLWD addr, X15, XL; VPUNPCKHWD addr, X15, XH; VCVTPS2PD XL, YL; VCVTPS2PD XH, YH

// func columnSquaresBF16AVX2(ss *float64, x *uint16, cols, rows, stride int)
TEXT ·columnSquaresBF16AVX2(SB), NOSPLIT, $0-40
	MOVQ ss+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ cols+16(FP), CX
	MOVQ rows+24(FP), R8
	MOVQ stride+32(FP), R9
	SHLQ $1, R9
	TESTQ R8, R8
	JZ   bsqdone

bsq16:
	CMPQ CX, $16
	JL   bsq4
	VPXOR X15, X15, X15
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	MOVQ SI, R10
	MOVQ R8, R12

bsq16rows:
	UNPACKBF8(0(R10), X8, Y8, X9, Y9)
	UNPACKBF8(16(R10), X10, Y10, X11, Y11)
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	ADDQ R9, R10
	DECQ R12
	JNZ  bsq16rows
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	ADDQ $128, DI
	ADDQ $32, SI
	SUBQ $16, CX
	JMP  bsq16

bsq4:
	CMPQ CX, $4
	JL   bsqdone
	VMOVUPD 0(DI), Y0
	MOVQ SI, R10
	MOVQ R8, R12

bsq4rows:
	LOADBF4(0(R10), X8, Y8)
	VFMADD231PD Y8, Y8, Y0
	ADDQ R9, R10
	DECQ R12
	JNZ  bsq4rows
	VMOVUPD Y0, 0(DI)
	ADDQ $32, DI
	ADDQ $8, SI
	SUBQ $4, CX
	JMP  bsq4

bsqdone:
	VZEROUPPER
	RET

// func columnSquaresDotBF16AVX2(ss, dot *float64, x, b *uint16, cols, rows, stride int)
TEXT ·columnSquaresDotBF16AVX2(SB), NOSPLIT, $0-56
	MOVQ ss+0(FP), DI
	MOVQ dot+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ b+24(FP), BX
	MOVQ cols+32(FP), CX
	MOVQ rows+40(FP), R8
	MOVQ stride+48(FP), R9
	SHLQ $1, R9
	TESTQ R8, R8
	JZ   bsddone

bsd16:
	CMPQ CX, $16
	JL   bsd4
	VPXOR X15, X15, X15
	VMOVUPD 0(DI), Y0
	VMOVUPD 32(DI), Y1
	VMOVUPD 64(DI), Y2
	VMOVUPD 96(DI), Y3
	VMOVUPD 0(DX), Y4
	VMOVUPD 32(DX), Y5
	VMOVUPD 64(DX), Y6
	VMOVUPD 96(DX), Y7
	MOVQ SI, R10
	MOVQ BX, R11
	MOVQ R8, R12

bsd16rows:
	UNPACKBF8(0(R10), X8, Y8, X9, Y9)
	UNPACKBF8(16(R10), X10, Y10, X11, Y11)
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	UNPACKBF8(0(R11), X12, Y12, X13, Y13)
	VFMADD231PD Y12, Y8, Y4
	VFMADD231PD Y13, Y9, Y5
	UNPACKBF8(16(R11), X14, Y14, X12, Y12)
	VFMADD231PD Y14, Y10, Y6
	VFMADD231PD Y12, Y11, Y7
	ADDQ R9, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  bsd16rows
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 0(DX)
	VMOVUPD Y5, 32(DX)
	VMOVUPD Y6, 64(DX)
	VMOVUPD Y7, 96(DX)
	ADDQ $128, DI
	ADDQ $128, DX
	ADDQ $32, SI
	ADDQ $32, BX
	SUBQ $16, CX
	JMP  bsd16

bsd4:
	CMPQ CX, $4
	JL   bsddone
	VMOVUPD 0(DI), Y0
	VMOVUPD 0(DX), Y4
	MOVQ SI, R10
	MOVQ BX, R11
	MOVQ R8, R12

bsd4rows:
	LOADBF4(0(R10), X8, Y8)
	LOADBF4(0(R11), X12, Y12)
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y12, Y8, Y4
	ADDQ R9, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  bsd4rows
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y4, 0(DX)
	ADDQ $32, DI
	ADDQ $32, DX
	ADDQ $8, SI
	ADDQ $8, BX
	SUBQ $4, CX
	JMP  bsd4

bsddone:
	VZEROUPPER
	RET

// LOADBF8 widens 8 bfloat16 values at addr to float32 in Y.
#define LOADBF8(addr, Y) VPMOVZXWD addr, Y; VPSLLD $16, Y, Y

// func weightedDeltaSumBF16AVX2(out *float32, b *uint16, xs, ws unsafe.Pointer, m, n int)
//
// weightedDeltaSumAVX2 over bfloat16 base and models (xs holds *uint16,
// ws *float32).
TEXT ·weightedDeltaSumBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ out+0(FP), DI
	MOVQ b+8(FP), SI
	MOVQ xs+16(FP), R8
	MOVQ ws+24(FP), R9
	MOVQ m+32(FP), R10
	MOVQ n+40(FP), CX
	XORQ BX, BX              // element index

bwd16:
	CMPQ CX, $16
	JL   bwddone
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	LOADBF8(0(SI)(BX*2), Y2)
	LOADBF8(16(SI)(BX*2), Y3)
	XORQ R11, R11            // model index

bwdmodels:
	CMPQ R11, R10
	JGE  bwdstore
	MOVQ (R8)(R11*8), R12    // xs[k]
	MOVQ (R9)(R11*8), R13    // ws[k]
	LOADBF8(0(R12)(BX*2), Y4)
	LOADBF8(16(R12)(BX*2), Y5)
	VSUBPS Y2, Y4, Y4        // x − b
	VSUBPS Y3, Y5, Y5
	VMULPS 0(R13)(BX*4), Y4, Y4  // w·(x − b)
	VMULPS 32(R13)(BX*4), Y5, Y5
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	INCQ R11
	JMP  bwdmodels

bwdstore:
	VADDPS Y0, Y2, Y0        // b + sum
	VADDPS Y1, Y3, Y1
	VMOVUPS Y0, 0(DI)(BX*4)
	VMOVUPS Y1, 32(DI)(BX*4)
	ADDQ $16, BX
	SUBQ $16, CX
	JMP  bwd16

bwddone:
	VZEROUPPER
	RET

// Fused column statistics of a base and one or two models (bfloat16): one
// sweep of a block of rows loads every input once and updates, per column
// and in row order, ss0 += b², ss_k += x_k², dot_k += x_k·b. Columns are
// taken 8 at a time (two float64 vectors per statistic), the accumulators
// stay in registers over the rows; each product of two float32 values is
// exact in float64, so every FMA rounds as the reference's multiply and
// add. acc points to the accumulator pointers {ss0, ss1, dot1[, ss2, dot2]}.

// func columnStats2BF16AVX2(acc **float64, b, x1, x2 *uint16, cols, rows, stride int)
TEXT ·columnStats2BF16AVX2(SB), NOSPLIT, $0-56
	MOVQ acc+0(FP), AX
	MOVQ b+8(FP), SI
	MOVQ x1+16(FP), R10
	MOVQ x2+24(FP), R11
	MOVQ cols+32(FP), CX
	MOVQ rows+40(FP), R8
	MOVQ stride+48(FP), R9
	SHLQ $1, R9              // row stride in bytes
	MOVQ R8, R13
	IMULQ R9, R13            // end of the row offsets
	XORQ BX, BX              // accumulator byte offset of the strip
	VPXOR X15, X15, X15
	TESTQ R8, R8
	JZ   s2done

s2strip:
	CMPQ CX, $8
	JL   s2done
	MOVQ 0(AX), DX
	VMOVUPD 0(DX)(BX*1), Y0
	VMOVUPD 32(DX)(BX*1), Y1
	MOVQ 8(AX), DX
	VMOVUPD 0(DX)(BX*1), Y2
	VMOVUPD 32(DX)(BX*1), Y3
	MOVQ 16(AX), DX
	VMOVUPD 0(DX)(BX*1), Y4
	VMOVUPD 32(DX)(BX*1), Y5
	MOVQ 24(AX), DX
	VMOVUPD 0(DX)(BX*1), Y6
	VMOVUPD 32(DX)(BX*1), Y7
	MOVQ 32(AX), DX
	VMOVUPD 0(DX)(BX*1), Y8
	VMOVUPD 32(DX)(BX*1), Y9
	XORQ R12, R12            // row offset in bytes

s2rows:
	UNPACKBF8(0(SI)(R12*1), X10, Y10, X11, Y11)
	VFMADD231PD Y10, Y10, Y0
	VFMADD231PD Y11, Y11, Y1
	UNPACKBF8(0(R10)(R12*1), X12, Y12, X13, Y13)
	VFMADD231PD Y12, Y12, Y2
	VFMADD231PD Y13, Y13, Y3
	VFMADD231PD Y10, Y12, Y4
	VFMADD231PD Y11, Y13, Y5
	UNPACKBF8(0(R11)(R12*1), X12, Y12, X13, Y13)
	VFMADD231PD Y12, Y12, Y6
	VFMADD231PD Y13, Y13, Y7
	VFMADD231PD Y10, Y12, Y8
	VFMADD231PD Y11, Y13, Y9
	ADDQ R9, R12
	CMPQ R12, R13
	JNE  s2rows

	MOVQ 0(AX), DX
	VMOVUPD Y0, 0(DX)(BX*1)
	VMOVUPD Y1, 32(DX)(BX*1)
	MOVQ 8(AX), DX
	VMOVUPD Y2, 0(DX)(BX*1)
	VMOVUPD Y3, 32(DX)(BX*1)
	MOVQ 16(AX), DX
	VMOVUPD Y4, 0(DX)(BX*1)
	VMOVUPD Y5, 32(DX)(BX*1)
	MOVQ 24(AX), DX
	VMOVUPD Y6, 0(DX)(BX*1)
	VMOVUPD Y7, 32(DX)(BX*1)
	MOVQ 32(AX), DX
	VMOVUPD Y8, 0(DX)(BX*1)
	VMOVUPD Y9, 32(DX)(BX*1)
	ADDQ $64, BX
	ADDQ $16, SI
	ADDQ $16, R10
	ADDQ $16, R11
	SUBQ $8, CX
	JMP  s2strip

s2done:
	VZEROUPPER
	RET

// func columnStats1BF16AVX2(acc **float64, b, x *uint16, cols, rows, stride int)
TEXT ·columnStats1BF16AVX2(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), AX
	MOVQ b+8(FP), SI
	MOVQ x+16(FP), R10
	MOVQ cols+24(FP), CX
	MOVQ rows+32(FP), R8
	MOVQ stride+40(FP), R9
	SHLQ $1, R9
	MOVQ R8, R13
	IMULQ R9, R13
	XORQ BX, BX
	VPXOR X15, X15, X15
	TESTQ R8, R8
	JZ   s1done

s1strip:
	CMPQ CX, $8
	JL   s1done
	MOVQ 0(AX), DX
	VMOVUPD 0(DX)(BX*1), Y0
	VMOVUPD 32(DX)(BX*1), Y1
	MOVQ 8(AX), DX
	VMOVUPD 0(DX)(BX*1), Y2
	VMOVUPD 32(DX)(BX*1), Y3
	MOVQ 16(AX), DX
	VMOVUPD 0(DX)(BX*1), Y4
	VMOVUPD 32(DX)(BX*1), Y5
	XORQ R12, R12

s1rows:
	UNPACKBF8(0(SI)(R12*1), X10, Y10, X11, Y11)
	VFMADD231PD Y10, Y10, Y0
	VFMADD231PD Y11, Y11, Y1
	UNPACKBF8(0(R10)(R12*1), X12, Y12, X13, Y13)
	VFMADD231PD Y12, Y12, Y2
	VFMADD231PD Y13, Y13, Y3
	VFMADD231PD Y10, Y12, Y4
	VFMADD231PD Y11, Y13, Y5
	ADDQ R9, R12
	CMPQ R12, R13
	JNE  s1rows

	MOVQ 0(AX), DX
	VMOVUPD Y0, 0(DX)(BX*1)
	VMOVUPD Y1, 32(DX)(BX*1)
	MOVQ 8(AX), DX
	VMOVUPD Y2, 0(DX)(BX*1)
	VMOVUPD Y3, 32(DX)(BX*1)
	MOVQ 16(AX), DX
	VMOVUPD Y4, 0(DX)(BX*1)
	VMOVUPD Y5, 32(DX)(BX*1)
	ADDQ $64, BX
	ADDQ $16, SI
	ADDQ $16, R10
	SUBQ $8, CX
	JMP  s1strip

s1done:
	VZEROUPPER
	RET
