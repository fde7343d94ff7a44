//go:build !purego

#include "textflag.h"

// NEON kernels. Each routine handles n elements, n a multiple of 16; the Go
// wrappers (simd_arm64.go) run the reference loop on the tail. No FMA: each
// FMUL result is rounded before the FADD.
//
// Go's assembler has no mnemonics for the vector floating-point
// instructions used here, so they are encoded with WORD; each carries the
// instruction in a comment, checked with aarch64-linux-gnu-objdump:
//	FADD  Vd.4S, Vn.4S, Vm.4S   0x4e20d400 | m<<16 | n<<5 | d
//	FSUB  Vd.4S, Vn.4S, Vm.4S   0x4ea0d400 | m<<16 | n<<5 | d
//	FMUL  Vd.4S, Vn.4S, Vm.4S   0x6e20dc00 | m<<16 | n<<5 | d
//	FCVTL  Vd.4S, Vn.4H         0x0e217800 | n<<5 | d
//	FCVTL2 Vd.4S, Vn.8H         0x4e217800 | n<<5 | d
//	FCVTN  Vd.4H, Vn.4S         0x0e216800 | n<<5 | d
//	FCVTN2 Vd.8H, Vn.4S         0x4e216800 | n<<5 | d
//	FADD  Vd.2D, Vn.2D, Vm.2D   0x4e60d400 | m<<16 | n<<5 | d
//	FMUL  Vd.2D, Vn.2D, Vm.2D   0x6e60dc00 | m<<16 | n<<5 | d
//	FCVTL  Vd.2D, Vn.2S         0x0e617800 | n<<5 | d
//	FCVTL2 Vd.2D, Vn.4S         0x4e617800 | n<<5 | d
//	FCMGE Vd.4S, Vn.4S, Vm.4S   0x6e20e400 | m<<16 | n<<5 | d
//	FCMGE Vd.4S, Vn.4S, #0.0    0x6ea0c800 | n<<5 | d
//	FCMGT Vd.4S, Vn.4S, #0.0    0x4ea0c800 | n<<5 | d
//	FCMLT Vd.4S, Vn.4S, #0.0    0x4ea0e800 | n<<5 | d

// func bf16ToF32NEON(dst *float32, src *uint16, n int)
TEXT ·bf16ToF32NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	MOVW $0x7fff, R3
	VDUP R3, V20.H8
	MOVW $0x007f, R3
	VDUP R3, V21.H8
	MOVW $0x0040, R3
	VDUP R3, V22.H8
	VEOR V23.B16, V23.B16, V23.B16

loop:
	CBZ    R2, done
	VLD1.P 32(R1), [V0.H8, V1.H8]
	// Quiet NaNs: h |= ((h&0x7fff) + 0x7f) >> 9 & 0x40, which is 0x40
	// exactly when h&0x7fff > 0x7f80.
	VAND   V20.B16, V0.B16, V2.B16
	VAND   V20.B16, V1.B16, V3.B16
	VADD   V21.H8, V2.H8, V2.H8
	VADD   V21.H8, V3.H8, V3.H8
	VUSHR  $9, V2.H8, V2.H8
	VUSHR  $9, V3.H8, V3.H8
	VAND   V22.B16, V2.B16, V2.B16
	VAND   V22.B16, V3.B16, V3.B16
	VORR   V2.B16, V0.B16, V0.B16
	VORR   V3.B16, V1.B16, V1.B16
	// Interleave with zeros: each 32-bit lane becomes h<<16.
	VZIP1  V0.H8, V23.H8, V4.H8
	VZIP2  V0.H8, V23.H8, V5.H8
	VZIP1  V1.H8, V23.H8, V6.H8
	VZIP2  V1.H8, V23.H8, V7.H8
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func f16ToF32NEON(dst *float32, src *uint16, n int)
TEXT ·f16ToF32NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

loop:
	CBZ    R2, done
	VLD1.P 32(R1), [V0.H8, V1.H8]
	WORD   $0x0e217802 // FCVTL  V2.4S, V0.4H
	WORD   $0x4e217803 // FCVTL2 V3.4S, V0.8H
	WORD   $0x0e217824 // FCVTL  V4.4S, V1.4H
	WORD   $0x4e217825 // FCVTL2 V5.4S, V1.8H
	VST1.P [V2.S4, V3.S4, V4.S4, V5.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func f32ToF16NEON(dst *uint16, src *float32, n int)
TEXT ·f32ToF16NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD   $0x0e216804 // FCVTN  V4.4H, V0.4S
	WORD   $0x4e216824 // FCVTN2 V4.8H, V1.4S
	WORD   $0x0e216845 // FCVTN  V5.4H, V2.4S
	WORD   $0x4e216865 // FCVTN2 V5.8H, V3.4S
	VST1.P [V4.H8, V5.H8], 32(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// ROUNDBF16 rounds the float32 lanes of V to bfloat16 in the low half of
// each lane of R (T1, T2 scratch): r = (v + 0x7fff + (v>>16)&1) >> 16, or
// (v>>16) | 0x40 for a NaN (|v| + 0x7fffff has bit 31 set).
#define ROUNDBF16(V, R, T1, T2) \
	VUSHR  $16, V.S4, T1.S4 \
	VAND   V24.B16, T1.B16, R.B16 \
	VADD   V25.S4, R.S4, R.S4 \
	VADD   V.S4, R.S4, R.S4 \
	VUSHR  $16, R.S4, R.S4 \
	VORR   V26.B16, T1.B16, T1.B16 \
	VAND   V27.B16, V.B16, T2.B16 \
	VADD   V28.S4, T2.S4, T2.S4 \
	VCMTST V29.S4, T2.S4, T2.S4 \
	VEOR   R.B16, T1.B16, T1.B16 \
	VAND   T2.B16, T1.B16, T1.B16 \
	VEOR   T1.B16, R.B16, R.B16

// func f32ToBF16NEON(dst *uint16, src *float32, n int)
TEXT ·f32ToBF16NEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	MOVW $1, R3
	VDUP R3, V24.S4
	MOVW $0x7fff, R3
	VDUP R3, V25.S4
	MOVW $0x40, R3
	VDUP R3, V26.S4
	MOVW $0x7fffffff, R3
	VDUP R3, V27.S4
	MOVW $0x007fffff, R3
	VDUP R3, V28.S4
	MOVW $0x80000000, R3
	VDUP R3, V29.S4

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	ROUNDBF16(V0, V4, V16, V17)
	ROUNDBF16(V1, V5, V18, V19)
	ROUNDBF16(V2, V6, V16, V17)
	ROUNDBF16(V3, V7, V18, V19)
	VUZP1  V5.H8, V4.H8, V8.H8 // low halves of V4 then V5
	VUZP1  V7.H8, V6.H8, V9.H8
	VST1.P [V8.H8, V9.H8], 32(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// The fused sums keep 16 elements per block: base in V0-V3, the
// accumulators in V4-V7, the row in V8-V11, w[k] broadcast in V16.

// func weightedDeltaSumNEON(dst, base *float32, xs *[]float32, w *float32, k, n int)
TEXT ·weightedDeltaSumNEON(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD base+8(FP), R1
	MOVD xs+16(FP), R2
	MOVD w+24(FP), R3
	MOVD k+32(FP), R4
	MOVD n+40(FP), R5
	MOVD $0, R6 // byte offset of element i in dst
	MOVD $0, R13 // byte offset of element i in base and xs

loop:
	CBZ  R5, done
	ADD  R13, R1, R7
	VLD1 (R7), [V0.S4, V1.S4, V2.S4, V3.S4]
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	MOVD R2, R8 // &xs[0]
	MOVD R3, R9 // &w[0]
	MOVD R4, R10 // rows left

row:
	CBZ     R10, store
	MOVD    (R8), R11 // xs[k] data pointer
	ADD     R13, R11, R11
	VLD1R.P 4(R9), [V16.S4]
	VLD1    (R11), [V8.S4, V9.S4, V10.S4, V11.S4]
	WORD   $0x4ea0d508 // FSUB  V8.4S, V8.4S, V0.4S
	WORD   $0x4ea1d529 // FSUB  V9.4S, V9.4S, V1.4S
	WORD   $0x4ea2d54a // FSUB  V10.4S, V10.4S, V2.4S
	WORD   $0x4ea3d56b // FSUB  V11.4S, V11.4S, V3.4S
	WORD   $0x6e28de08 // FMUL  V8.4S, V16.4S, V8.4S
	WORD   $0x6e29de09 // FMUL  V9.4S, V16.4S, V9.4S
	WORD   $0x6e2ade0a // FMUL  V10.4S, V16.4S, V10.4S
	WORD   $0x6e2bde0b // FMUL  V11.4S, V16.4S, V11.4S
	WORD   $0x4e28d484 // FADD  V4.4S, V4.4S, V8.4S
	WORD   $0x4e29d4a5 // FADD  V5.4S, V5.4S, V9.4S
	WORD   $0x4e2ad4c6 // FADD  V6.4S, V6.4S, V10.4S
	WORD   $0x4e2bd4e7 // FADD  V7.4S, V7.4S, V11.4S
	ADD     $24, R8
	SUB     $1, R10
	B       row

store:
	WORD   $0x4e24d400 // FADD  V0.4S, V0.4S, V4.4S
	WORD   $0x4e25d421 // FADD  V1.4S, V1.4S, V5.4S
	WORD   $0x4e26d442 // FADD  V2.4S, V2.4S, V6.4S
	WORD   $0x4e27d463 // FADD  V3.4S, V3.4S, V7.4S
	ADD  R6, R0, R12
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R12)
	ADD  $64, R6
	ADD  $64, R13
	SUB  $16, R5
	B    loop

done:
	RET

// func weightedDeltaSumBF16NEON(dst *float32, base *uint16, xs *[]uint16, w *float32, k, n int)
TEXT ·weightedDeltaSumBF16NEON(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD base+8(FP), R1
	MOVD xs+16(FP), R2
	MOVD w+24(FP), R3
	MOVD k+32(FP), R4
	MOVD n+40(FP), R5
	MOVD $0, R6 // byte offset of element i in dst
	MOVD $0, R13 // byte offset of element i in base and xs
	VEOR V31.B16, V31.B16, V31.B16

loop:
	CBZ  R5, done
	ADD  R13, R1, R7
	VLD1 (R7), [V12.H8, V13.H8]
	VZIP1 V12.H8, V31.H8, V0.H8
	VZIP2 V12.H8, V31.H8, V1.H8
	VZIP1 V13.H8, V31.H8, V2.H8
	VZIP2 V13.H8, V31.H8, V3.H8
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	MOVD R2, R8 // &xs[0]
	MOVD R3, R9 // &w[0]
	MOVD R4, R10 // rows left

row:
	CBZ     R10, store
	MOVD    (R8), R11 // xs[k] data pointer
	ADD     R13, R11, R11
	VLD1R.P 4(R9), [V16.S4]
	VLD1    (R11), [V12.H8, V13.H8]
	VZIP1   V12.H8, V31.H8, V8.H8
	VZIP2   V12.H8, V31.H8, V9.H8
	VZIP1   V13.H8, V31.H8, V10.H8
	VZIP2   V13.H8, V31.H8, V11.H8
	WORD   $0x4ea0d508 // FSUB  V8.4S, V8.4S, V0.4S
	WORD   $0x4ea1d529 // FSUB  V9.4S, V9.4S, V1.4S
	WORD   $0x4ea2d54a // FSUB  V10.4S, V10.4S, V2.4S
	WORD   $0x4ea3d56b // FSUB  V11.4S, V11.4S, V3.4S
	WORD   $0x6e28de08 // FMUL  V8.4S, V16.4S, V8.4S
	WORD   $0x6e29de09 // FMUL  V9.4S, V16.4S, V9.4S
	WORD   $0x6e2ade0a // FMUL  V10.4S, V16.4S, V10.4S
	WORD   $0x6e2bde0b // FMUL  V11.4S, V16.4S, V11.4S
	WORD   $0x4e28d484 // FADD  V4.4S, V4.4S, V8.4S
	WORD   $0x4e29d4a5 // FADD  V5.4S, V5.4S, V9.4S
	WORD   $0x4e2ad4c6 // FADD  V6.4S, V6.4S, V10.4S
	WORD   $0x4e2bd4e7 // FADD  V7.4S, V7.4S, V11.4S
	ADD     $24, R8
	SUB     $1, R10
	B       row

store:
	WORD   $0x4e24d400 // FADD  V0.4S, V0.4S, V4.4S
	WORD   $0x4e25d421 // FADD  V1.4S, V1.4S, V5.4S
	WORD   $0x4e26d442 // FADD  V2.4S, V2.4S, V6.4S
	WORD   $0x4e27d463 // FADD  V3.4S, V3.4S, V7.4S
	ADD  R6, R0, R12
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R12)
	ADD  $64, R6
	ADD  $32, R13
	SUB  $16, R5
	B    loop

done:
	RET

// func weightedDeltaSumF16NEON(dst *float32, base *uint16, xs *[]uint16, w *float32, k, n int)
TEXT ·weightedDeltaSumF16NEON(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD base+8(FP), R1
	MOVD xs+16(FP), R2
	MOVD w+24(FP), R3
	MOVD k+32(FP), R4
	MOVD n+40(FP), R5
	MOVD $0, R6 // byte offset of element i in dst
	MOVD $0, R13 // byte offset of element i in base and xs

loop:
	CBZ  R5, done
	ADD  R13, R1, R7
	VLD1 (R7), [V12.H8, V13.H8]
	WORD   $0x0e217980 // FCVTL  V0.4S, V12.4H
	WORD   $0x4e217981 // FCVTL2 V1.4S, V12.8H
	WORD   $0x0e2179a2 // FCVTL  V2.4S, V13.4H
	WORD   $0x4e2179a3 // FCVTL2 V3.4S, V13.8H
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	MOVD R2, R8 // &xs[0]
	MOVD R3, R9 // &w[0]
	MOVD R4, R10 // rows left

row:
	CBZ     R10, store
	MOVD    (R8), R11 // xs[k] data pointer
	ADD     R13, R11, R11
	VLD1R.P 4(R9), [V16.S4]
	VLD1    (R11), [V12.H8, V13.H8]
	WORD   $0x0e217988 // FCVTL  V8.4S, V12.4H
	WORD   $0x4e217989 // FCVTL2 V9.4S, V12.8H
	WORD   $0x0e2179aa // FCVTL  V10.4S, V13.4H
	WORD   $0x4e2179ab // FCVTL2 V11.4S, V13.8H
	WORD   $0x4ea0d508 // FSUB  V8.4S, V8.4S, V0.4S
	WORD   $0x4ea1d529 // FSUB  V9.4S, V9.4S, V1.4S
	WORD   $0x4ea2d54a // FSUB  V10.4S, V10.4S, V2.4S
	WORD   $0x4ea3d56b // FSUB  V11.4S, V11.4S, V3.4S
	WORD   $0x6e28de08 // FMUL  V8.4S, V16.4S, V8.4S
	WORD   $0x6e29de09 // FMUL  V9.4S, V16.4S, V9.4S
	WORD   $0x6e2ade0a // FMUL  V10.4S, V16.4S, V10.4S
	WORD   $0x6e2bde0b // FMUL  V11.4S, V16.4S, V11.4S
	WORD   $0x4e28d484 // FADD  V4.4S, V4.4S, V8.4S
	WORD   $0x4e29d4a5 // FADD  V5.4S, V5.4S, V9.4S
	WORD   $0x4e2ad4c6 // FADD  V6.4S, V6.4S, V10.4S
	WORD   $0x4e2bd4e7 // FADD  V7.4S, V7.4S, V11.4S
	ADD     $24, R8
	SUB     $1, R10
	B       row

store:
	WORD   $0x4e24d400 // FADD  V0.4S, V0.4S, V4.4S
	WORD   $0x4e25d421 // FADD  V1.4S, V1.4S, V5.4S
	WORD   $0x4e26d442 // FADD  V2.4S, V2.4S, V6.4S
	WORD   $0x4e27d463 // FADD  V3.4S, V3.4S, V7.4S
	ADD  R6, R0, R12
	VST1 [V0.S4, V1.S4, V2.S4, V3.S4], (R12)
	ADD  $64, R6
	ADD  $32, R13
	SUB  $16, R5
	B    loop

done:
	RET

// The reductions keep the 16 float64 lane accumulators of the reference in
// V16..V23 (lanes 0-1, 2-3, ..., 14-15), loaded from and stored back to
// *acc. FCVTL/FCVTL2 widen elements 4j..4j+1 and 4j+2..4j+3 of a block.

// func sumNEON(acc *[16]float64, x *float32, n int)
TEXT ·sumNEON(SB), NOSPLIT, $0-24
	MOVD acc+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	ADD  $64, R0, R4
	VLD1 (R0), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1 (R4), [V20.D2, V21.D2, V22.D2, V23.D2]

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD   $0x0e617804 // FCVTL  V4.2D, V0.2S
	WORD   $0x4e617805 // FCVTL2 V5.2D, V0.4S
	WORD   $0x0e617826 // FCVTL  V6.2D, V1.2S
	WORD   $0x4e617827 // FCVTL2 V7.2D, V1.4S
	WORD   $0x0e617848 // FCVTL  V8.2D, V2.2S
	WORD   $0x4e617849 // FCVTL2 V9.2D, V2.4S
	WORD   $0x0e61786a // FCVTL  V10.2D, V3.2S
	WORD   $0x4e61786b // FCVTL2 V11.2D, V3.4S
	WORD   $0x4e64d610 // FADD V16.2D, V16.2D, V4.2D
	WORD   $0x4e65d631 // FADD V17.2D, V17.2D, V5.2D
	WORD   $0x4e66d652 // FADD V18.2D, V18.2D, V6.2D
	WORD   $0x4e67d673 // FADD V19.2D, V19.2D, V7.2D
	WORD   $0x4e68d694 // FADD V20.2D, V20.2D, V8.2D
	WORD   $0x4e69d6b5 // FADD V21.2D, V21.2D, V9.2D
	WORD   $0x4e6ad6d6 // FADD V22.2D, V22.2D, V10.2D
	WORD   $0x4e6bd6f7 // FADD V23.2D, V23.2D, V11.2D
	SUB    $16, R2
	B      loop

done:
	VST1 [V16.D2, V17.D2, V18.D2, V19.D2], (R0)
	VST1 [V20.D2, V21.D2, V22.D2, V23.D2], (R4)
	RET

// func sumSquaresNEON(acc *[16]float64, x *float32, n int)
TEXT ·sumSquaresNEON(SB), NOSPLIT, $0-24
	MOVD acc+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	ADD  $64, R0, R4
	VLD1 (R0), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1 (R4), [V20.D2, V21.D2, V22.D2, V23.D2]

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD   $0x0e617804 // FCVTL  V4.2D, V0.2S
	WORD   $0x4e617805 // FCVTL2 V5.2D, V0.4S
	WORD   $0x0e617826 // FCVTL  V6.2D, V1.2S
	WORD   $0x4e617827 // FCVTL2 V7.2D, V1.4S
	WORD   $0x0e617848 // FCVTL  V8.2D, V2.2S
	WORD   $0x4e617849 // FCVTL2 V9.2D, V2.4S
	WORD   $0x0e61786a // FCVTL  V10.2D, V3.2S
	WORD   $0x4e61786b // FCVTL2 V11.2D, V3.4S
	WORD   $0x6e64dc84 // FMUL V4.2D, V4.2D, V4.2D
	WORD   $0x6e65dca5 // FMUL V5.2D, V5.2D, V5.2D
	WORD   $0x6e66dcc6 // FMUL V6.2D, V6.2D, V6.2D
	WORD   $0x6e67dce7 // FMUL V7.2D, V7.2D, V7.2D
	WORD   $0x6e68dd08 // FMUL V8.2D, V8.2D, V8.2D
	WORD   $0x6e69dd29 // FMUL V9.2D, V9.2D, V9.2D
	WORD   $0x6e6add4a // FMUL V10.2D, V10.2D, V10.2D
	WORD   $0x6e6bdd6b // FMUL V11.2D, V11.2D, V11.2D
	WORD   $0x4e64d610 // FADD V16.2D, V16.2D, V4.2D
	WORD   $0x4e65d631 // FADD V17.2D, V17.2D, V5.2D
	WORD   $0x4e66d652 // FADD V18.2D, V18.2D, V6.2D
	WORD   $0x4e67d673 // FADD V19.2D, V19.2D, V7.2D
	WORD   $0x4e68d694 // FADD V20.2D, V20.2D, V8.2D
	WORD   $0x4e69d6b5 // FADD V21.2D, V21.2D, V9.2D
	WORD   $0x4e6ad6d6 // FADD V22.2D, V22.2D, V10.2D
	WORD   $0x4e6bd6f7 // FADD V23.2D, V23.2D, V11.2D
	SUB    $16, R2
	B      loop

done:
	VST1 [V16.D2, V17.D2, V18.D2, V19.D2], (R0)
	VST1 [V20.D2, V21.D2, V22.D2, V23.D2], (R4)
	RET

// func dotNEON(acc *[16]float64, x, y *float32, n int)
TEXT ·dotNEON(SB), NOSPLIT, $0-32
	MOVD acc+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R3
	MOVD n+24(FP), R2
	ADD  $64, R0, R4
	VLD1 (R0), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1 (R4), [V20.D2, V21.D2, V22.D2, V23.D2]

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R3), [V24.S4, V25.S4, V26.S4, V27.S4]
	WORD   $0x0e617804 // FCVTL  V4.2D, V0.2S
	WORD   $0x4e617805 // FCVTL2 V5.2D, V0.4S
	WORD   $0x0e617826 // FCVTL  V6.2D, V1.2S
	WORD   $0x4e617827 // FCVTL2 V7.2D, V1.4S
	WORD   $0x0e617848 // FCVTL  V8.2D, V2.2S
	WORD   $0x4e617849 // FCVTL2 V9.2D, V2.4S
	WORD   $0x0e61786a // FCVTL  V10.2D, V3.2S
	WORD   $0x4e61786b // FCVTL2 V11.2D, V3.4S
	WORD   $0x0e617b0c // FCVTL  V12.2D, V24.2S
	WORD   $0x4e617b0d // FCVTL2 V13.2D, V24.4S
	WORD   $0x0e617b2e // FCVTL  V14.2D, V25.2S
	WORD   $0x4e617b2f // FCVTL2 V15.2D, V25.4S
	WORD   $0x0e617b5c // FCVTL  V28.2D, V26.2S
	WORD   $0x4e617b5d // FCVTL2 V29.2D, V26.4S
	WORD   $0x0e617b7e // FCVTL  V30.2D, V27.2S
	WORD   $0x4e617b7f // FCVTL2 V31.2D, V27.4S
	WORD   $0x6e6cdc84 // FMUL V4.2D, V4.2D, V12.2D
	WORD   $0x6e6ddca5 // FMUL V5.2D, V5.2D, V13.2D
	WORD   $0x6e6edcc6 // FMUL V6.2D, V6.2D, V14.2D
	WORD   $0x6e6fdce7 // FMUL V7.2D, V7.2D, V15.2D
	WORD   $0x6e7cdd08 // FMUL V8.2D, V8.2D, V28.2D
	WORD   $0x6e7ddd29 // FMUL V9.2D, V9.2D, V29.2D
	WORD   $0x6e7edd4a // FMUL V10.2D, V10.2D, V30.2D
	WORD   $0x6e7fdd6b // FMUL V11.2D, V11.2D, V31.2D
	WORD   $0x4e64d610 // FADD V16.2D, V16.2D, V4.2D
	WORD   $0x4e65d631 // FADD V17.2D, V17.2D, V5.2D
	WORD   $0x4e66d652 // FADD V18.2D, V18.2D, V6.2D
	WORD   $0x4e67d673 // FADD V19.2D, V19.2D, V7.2D
	WORD   $0x4e68d694 // FADD V20.2D, V20.2D, V8.2D
	WORD   $0x4e69d6b5 // FADD V21.2D, V21.2D, V9.2D
	WORD   $0x4e6ad6d6 // FADD V22.2D, V22.2D, V10.2D
	WORD   $0x4e6bd6f7 // FADD V23.2D, V23.2D, V11.2D
	SUB    $16, R2
	B      loop

done:
	VST1 [V16.D2, V17.D2, V18.D2, V19.D2], (R0)
	VST1 [V20.D2, V21.D2, V22.D2, V23.D2], (R4)
	RET

// func sumAbsNEON(acc *[16]float64, x *float32, n int)
TEXT ·sumAbsNEON(SB), NOSPLIT, $0-24
	MOVD acc+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	ADD  $64, R0, R4
	VLD1 (R0), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1 (R4), [V20.D2, V21.D2, V22.D2, V23.D2]
	MOVW $0x7fffffff, R5
	VDUP R5, V31.S4

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VAND   V31.B16, V0.B16, V0.B16
	VAND   V31.B16, V1.B16, V1.B16
	VAND   V31.B16, V2.B16, V2.B16
	VAND   V31.B16, V3.B16, V3.B16
	WORD   $0x0e617804 // FCVTL  V4.2D, V0.2S
	WORD   $0x4e617805 // FCVTL2 V5.2D, V0.4S
	WORD   $0x0e617826 // FCVTL  V6.2D, V1.2S
	WORD   $0x4e617827 // FCVTL2 V7.2D, V1.4S
	WORD   $0x0e617848 // FCVTL  V8.2D, V2.2S
	WORD   $0x4e617849 // FCVTL2 V9.2D, V2.4S
	WORD   $0x0e61786a // FCVTL  V10.2D, V3.2S
	WORD   $0x4e61786b // FCVTL2 V11.2D, V3.4S
	WORD   $0x4e64d610 // FADD V16.2D, V16.2D, V4.2D
	WORD   $0x4e65d631 // FADD V17.2D, V17.2D, V5.2D
	WORD   $0x4e66d652 // FADD V18.2D, V18.2D, V6.2D
	WORD   $0x4e67d673 // FADD V19.2D, V19.2D, V7.2D
	WORD   $0x4e68d694 // FADD V20.2D, V20.2D, V8.2D
	WORD   $0x4e69d6b5 // FADD V21.2D, V21.2D, V9.2D
	WORD   $0x4e6ad6d6 // FADD V22.2D, V22.2D, V10.2D
	WORD   $0x4e6bd6f7 // FADD V23.2D, V23.2D, V11.2D
	SUB    $16, R2
	B      loop

done:
	VST1 [V16.D2, V17.D2, V18.D2, V19.D2], (R0)
	VST1 [V20.D2, V21.D2, V22.D2, V23.D2], (R4)
	RET

// Elementwise kernels over blocks of 16.

// func addScaledNEON(dst *float32, a float32, x *float32, n int)
TEXT ·addScaledNEON(SB), NOSPLIT, $0-32
	MOVD  dst+0(FP), R0
	FMOVS a+8(FP), F16
	VDUP  V16.S[0], V16.S4
	MOVD  x+16(FP), R1
	MOVD  n+24(FP), R2

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD   $0x6e20de00 // FMUL V0.4S, V16.4S, V0.4S
	WORD   $0x6e21de01 // FMUL V1.4S, V16.4S, V1.4S
	WORD   $0x6e22de02 // FMUL V2.4S, V16.4S, V2.4S
	WORD   $0x6e23de03 // FMUL V3.4S, V16.4S, V3.4S
	WORD   $0x4e20d484 // FADD V4.4S, V4.4S, V0.4S
	WORD   $0x4e21d4a5 // FADD V5.4S, V5.4S, V1.4S
	WORD   $0x4e22d4c6 // FADD V6.4S, V6.4S, V2.4S
	WORD   $0x4e23d4e7 // FADD V7.4S, V7.4S, V3.4S
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func scaleNEON(dst *float32, a float32, n int)
TEXT ·scaleNEON(SB), NOSPLIT, $0-24
	MOVD  dst+0(FP), R0
	FMOVS a+8(FP), F16
	VDUP  V16.S[0], V16.S4
	MOVD  n+16(FP), R2

loop:
	CBZ    R2, done
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	WORD   $0x6e30dc00 // FMUL V0.4S, V0.4S, V16.4S
	WORD   $0x6e30dc21 // FMUL V1.4S, V1.4S, V16.4S
	WORD   $0x6e30dc42 // FMUL V2.4S, V2.4S, V16.4S
	WORD   $0x6e30dc63 // FMUL V3.4S, V3.4S, V16.4S
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func subNEON(dst, x, y *float32, n int)
TEXT ·subNEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R3
	MOVD n+24(FP), R2

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R3), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD   $0x4ea4d400 // FSUB V0.4S, V0.4S, V4.4S
	WORD   $0x4ea5d421 // FSUB V1.4S, V1.4S, V5.4S
	WORD   $0x4ea6d442 // FSUB V2.4S, V2.4S, V6.4S
	WORD   $0x4ea7d463 // FSUB V3.4S, V3.4S, V7.4S
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func addNEON(dst, x, y *float32, n int)
TEXT ·addNEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R3
	MOVD n+24(FP), R2

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R3), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD   $0x4e24d400 // FADD V0.4S, V0.4S, V4.4S
	WORD   $0x4e25d421 // FADD V1.4S, V1.4S, V5.4S
	WORD   $0x4e26d442 // FADD V2.4S, V2.4S, V6.4S
	WORD   $0x4e27d463 // FADD V3.4S, V3.4S, V7.4S
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func mulNEON(dst, x, y *float32, n int)
TEXT ·mulNEON(SB), NOSPLIT, $0-32
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD y+16(FP), R3
	MOVD n+24(FP), R2

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R3), [V4.S4, V5.S4, V6.S4, V7.S4]
	WORD   $0x6e24dc00 // FMUL V0.4S, V0.4S, V4.4S
	WORD   $0x6e25dc21 // FMUL V1.4S, V1.4S, V5.4S
	WORD   $0x6e26dc42 // FMUL V2.4S, V2.4S, V6.4S
	WORD   $0x6e27dc63 // FMUL V3.4S, V3.4S, V7.4S
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUB    $16, R2
	B      loop

done:
	RET

// func maxAbsNEON(m *[4]uint32, x *float32, n int)
TEXT ·maxAbsNEON(SB), NOSPLIT, $0-24
	MOVD m+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	MOVW $0x7fffffff, R3
	VDUP R3, V31.S4
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VAND   V31.B16, V0.B16, V0.B16
	VAND   V31.B16, V1.B16, V1.B16
	VAND   V31.B16, V2.B16, V2.B16
	VAND   V31.B16, V3.B16, V3.B16
	VUMAX  V0.S4, V4.S4, V4.S4
	VUMAX  V1.S4, V5.S4, V5.S4
	VUMAX  V2.S4, V6.S4, V6.S4
	VUMAX  V3.S4, V7.S4, V7.S4
	SUB    $16, R2
	B      loop

done:
	VUMAX V5.S4, V4.S4, V4.S4
	VUMAX V7.S4, V6.S4, V6.S4
	VUMAX V6.S4, V4.S4, V4.S4
	VST1  [V4.S4], (R0)
	RET

// func countAbsGENEON(c *[4]uint32, x *float32, thr float32, n int)
TEXT ·countAbsGENEON(SB), NOSPLIT, $0-32
	MOVD  c+0(FP), R0
	MOVD  x+8(FP), R1
	FMOVS thr+16(FP), F30
	VDUP  V30.S[0], V30.S4
	MOVD  n+24(FP), R2
	MOVW  $0x7fffffff, R3
	VDUP  R3, V31.S4
	VEOR  V4.B16, V4.B16, V4.B16
	VEOR  V5.B16, V5.B16, V5.B16
	VEOR  V6.B16, V6.B16, V6.B16
	VEOR  V7.B16, V7.B16, V7.B16

loop:
	CBZ    R2, done
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VAND   V31.B16, V0.B16, V0.B16
	VAND   V31.B16, V1.B16, V1.B16
	VAND   V31.B16, V2.B16, V2.B16
	VAND   V31.B16, V3.B16, V3.B16
	WORD   $0x6e3ee400 // FCMGE V0.4S, V0.4S, V30.4S
	WORD   $0x6e3ee421 // FCMGE V1.4S, V1.4S, V30.4S
	WORD   $0x6e3ee442 // FCMGE V2.4S, V2.4S, V30.4S
	WORD   $0x6e3ee463 // FCMGE V3.4S, V3.4S, V30.4S
	VSUB   V0.S4, V4.S4, V4.S4 // mask lanes are -1
	VSUB   V1.S4, V5.S4, V5.S4
	VSUB   V2.S4, V6.S4, V6.S4
	VSUB   V3.S4, V7.S4, V7.S4
	SUB    $16, R2
	B      loop

done:
	VADD V5.S4, V4.S4, V4.S4
	VADD V7.S4, V6.S4, V6.S4
	VADD V6.S4, V4.S4, V4.S4
	VST1 [V4.S4], (R0)
	RET

// func tiesElectNEON(mixed, div *float32, d *[]float32, w *float32, k, n int)
TEXT ·tiesElectNEON(SB), NOSPLIT, $0-48
	MOVD mixed+0(FP), R0
	MOVD div+8(FP), R1
	MOVD d+16(FP), R2
	MOVD w+24(FP), R3
	MOVD k+32(FP), R4
	MOVD n+40(FP), R5
	MOVD $0, R6 // byte offset of the block

loop:
	CBZ  R5, done
	// Pass 1: sum = Σ_k d[k][i], in row order.
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	MOVD R2, R8
	MOVD R4, R10

sumrow:
	CBZ  R10, elect
	MOVD (R8), R11
	ADD  R6, R11, R11
	VLD1 (R11), [V8.S4, V9.S4]
	WORD   $0x4e28d400 // FADD  V0.4S, V0.4S, V8.4S
	WORD   $0x4e29d421 // FADD  V1.4S, V1.4S, V9.4S
	ADD  $24, R8
	SUB  $1, R10
	B    sumrow

elect:
	WORD   $0x6ea0c802 // FCMGE V2.4S, V0.4S, #0.0
	WORD   $0x6ea0c823 // FCMGE V3.4S, V1.4S, #0.0
	VEOR V4.B16, V4.B16, V4.B16 // mixed
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16 // div
	VEOR V7.B16, V7.B16, V7.B16
	MOVD R2, R8
	MOVD R3, R9
	MOVD R4, R10

maskrow:
	CBZ     R10, store
	MOVD    (R8), R11
	ADD     R6, R11, R11
	VLD1    (R11), [V8.S4, V9.S4]
	VLD1R.P 4(R9), [V16.S4]
	// agree = pos ? v > 0 : v < 0 (zero and NaN never agree)
	WORD   $0x4ea0c90a // FCMGT V10.4S, V8.4S, #0.0
	WORD   $0x4ea0e90c // FCMLT V12.4S, V8.4S, #0.0
	WORD   $0x4ea0c92b // FCMGT V11.4S, V9.4S, #0.0
	WORD   $0x4ea0e92d // FCMLT V13.4S, V9.4S, #0.0
	VBIT    V2.B16, V10.B16, V12.B16 // V12 = pos ? V10 : V12
	VBIT    V3.B16, V11.B16, V13.B16
	// A disagreeing term becomes +0, which leaves the sums unchanged.
	VAND    V12.B16, V8.B16, V8.B16
	VAND    V13.B16, V9.B16, V9.B16
	VAND    V12.B16, V16.B16, V10.B16
	VAND    V13.B16, V16.B16, V11.B16
	WORD   $0x4e28d484 // FADD  V4.4S, V4.4S, V8.4S
	WORD   $0x4e29d4a5 // FADD  V5.4S, V5.4S, V9.4S
	WORD   $0x4e2ad4c6 // FADD  V6.4S, V6.4S, V10.4S
	WORD   $0x4e2bd4e7 // FADD  V7.4S, V7.4S, V11.4S
	ADD     $24, R8
	SUB     $1, R10
	B       maskrow

store:
	ADD  R6, R0, R12
	VST1 [V4.S4, V5.S4], (R12)
	ADD  R6, R1, R12
	VST1 [V6.S4, V7.S4], (R12)
	ADD  $32, R6
	SUB  $8, R5
	B    loop

done:
	RET

// Exp and Tanh evaluate the reference's float64 algorithm (ref.go: reduce,
// expm1Reduced, pow2) on two float64 lanes per register, two registers per
// block of 4, with the same operations in the same order as the reference,
// so the results are bit-identical. Constants: V12 log2e, V13 0.5 (also
// the x² coefficient), V14 ln2Hi, V15 ln2Lo, V16/V17 clamp bounds, V18 1,
// V19 2, V20 1023 (int64), V21..V31 the coefficients 1/13! .. 1/3!.

// func expNEON(dst, x *float32, n int)
TEXT ·expNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	MOVD $0x3ff71547652b82fe, R3
	VDUP R3, V12.D2
	MOVD $0x3fe0000000000000, R3
	VDUP R3, V13.D2
	MOVD $0x3fe62e42fee00000, R3
	VDUP R3, V14.D2
	MOVD $0x3dea39ef35793c76, R3
	VDUP R3, V15.D2
	MOVD $0x3ff0000000000000, R3
	VDUP R3, V18.D2
	MOVD $0x4000000000000000, R3
	VDUP R3, V19.D2
	MOVD $0x00000000000003ff, R3
	VDUP R3, V20.D2
	MOVD $0xc05e000000000000, R3
	VDUP R3, V16.D2
	MOVD $0x4059000000000000, R3
	VDUP R3, V17.D2
	MOVD $0x3de6124613a86d09, R3
	VDUP R3, V21.D2
	MOVD $0x3e21eed8eff8d898, R3
	VDUP R3, V22.D2
	MOVD $0x3e5ae64567f544e4, R3
	VDUP R3, V23.D2
	MOVD $0x3e927e4fb7789f5c, R3
	VDUP R3, V24.D2
	MOVD $0x3ec71de3a556c734, R3
	VDUP R3, V25.D2
	MOVD $0x3efa01a01a01a01a, R3
	VDUP R3, V26.D2
	MOVD $0x3f2a01a01a01a01a, R3
	VDUP R3, V27.D2
	MOVD $0x3f56c16c16c16c17, R3
	VDUP R3, V28.D2
	MOVD $0x3f81111111111111, R3
	VDUP R3, V29.D2
	MOVD $0x3fa5555555555555, R3
	VDUP R3, V30.D2
	MOVD $0x3fc5555555555555, R3
	VDUP R3, V31.D2

loop:
	CBZ    R2, done
	VLD1.P 16(R1), [V0.S4]
	WORD $0x0e617802 // FCVTL  V2.2D, V0.2S
	WORD $0x4e617807 // FCVTL2 V7.2D, V0.4S
	WORD $0x4e70f442 // FMAX  V2.2D, V2.2D, V16.2D
	WORD $0x4e70f4e7 // FMAX  V7.2D, V7.2D, V16.2D
	WORD $0x4ef1f442 // FMIN  V2.2D, V2.2D, V17.2D
	WORD $0x4ef1f4e7 // FMIN  V7.2D, V7.2D, V17.2D
	WORD $0x6e6cdc43 // FMUL  V3.2D, V2.2D, V12.2D
	WORD $0x6e6cdce8 // FMUL  V8.2D, V7.2D, V12.2D
	WORD $0x4e6dd463 // FADD  V3.2D, V3.2D, V13.2D
	WORD $0x4e6dd508 // FADD  V8.2D, V8.2D, V13.2D
	WORD $0x4e619863 // FRINTM V3.2D, V3.2D
	WORD $0x4e619908 // FRINTM V8.2D, V8.2D
	WORD $0x6e6edc65 // FMUL  V5.2D, V3.2D, V14.2D
	WORD $0x6e6edd0a // FMUL  V10.2D, V8.2D, V14.2D
	WORD $0x4ee5d444 // FSUB  V4.2D, V2.2D, V5.2D
	WORD $0x4eead4e9 // FSUB  V9.2D, V7.2D, V10.2D
	WORD $0x6e6fdc65 // FMUL  V5.2D, V3.2D, V15.2D
	WORD $0x6e6fdd0a // FMUL  V10.2D, V8.2D, V15.2D
	WORD $0x4ee5d484 // FSUB  V4.2D, V4.2D, V5.2D
	WORD $0x4eead529 // FSUB  V9.2D, V9.2D, V10.2D
	WORD $0x6e75dc86 // FMUL  V6.2D, V4.2D, V21.2D
	WORD $0x6e75dd2b // FMUL  V11.2D, V9.2D, V21.2D
	WORD $0x4e76d4c6 // FADD  V6.2D, V6.2D, V22.2D
	WORD $0x4e76d56b // FADD  V11.2D, V11.2D, V22.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e77d4c6 // FADD  V6.2D, V6.2D, V23.2D
	WORD $0x4e77d56b // FADD  V11.2D, V11.2D, V23.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e78d4c6 // FADD  V6.2D, V6.2D, V24.2D
	WORD $0x4e78d56b // FADD  V11.2D, V11.2D, V24.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e79d4c6 // FADD  V6.2D, V6.2D, V25.2D
	WORD $0x4e79d56b // FADD  V11.2D, V11.2D, V25.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7ad4c6 // FADD  V6.2D, V6.2D, V26.2D
	WORD $0x4e7ad56b // FADD  V11.2D, V11.2D, V26.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7bd4c6 // FADD  V6.2D, V6.2D, V27.2D
	WORD $0x4e7bd56b // FADD  V11.2D, V11.2D, V27.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7cd4c6 // FADD  V6.2D, V6.2D, V28.2D
	WORD $0x4e7cd56b // FADD  V11.2D, V11.2D, V28.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7dd4c6 // FADD  V6.2D, V6.2D, V29.2D
	WORD $0x4e7dd56b // FADD  V11.2D, V11.2D, V29.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7ed4c6 // FADD  V6.2D, V6.2D, V30.2D
	WORD $0x4e7ed56b // FADD  V11.2D, V11.2D, V30.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7fd4c6 // FADD  V6.2D, V6.2D, V31.2D
	WORD $0x4e7fd56b // FADD  V11.2D, V11.2D, V31.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e6dd4c6 // FADD  V6.2D, V6.2D, V13.2D
	WORD $0x4e6dd56b // FADD  V11.2D, V11.2D, V13.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e72d4c6 // FADD  V6.2D, V6.2D, V18.2D
	WORD $0x4e72d56b // FADD  V11.2D, V11.2D, V18.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4ee1b865 // FCVTZS V5.2D, V3.2D
	WORD $0x4ee1b90a // FCVTZS V10.2D, V8.2D
	VADD V20.D2, V5.D2, V5.D2
	VADD V20.D2, V10.D2, V10.D2
	VSHL $52, V5.D2, V5.D2
	VSHL $52, V10.D2, V10.D2
	WORD $0x6e66dca6 // FMUL  V6.2D, V5.2D, V6.2D
	WORD $0x6e6bdd4b // FMUL  V11.2D, V10.2D, V11.2D
	WORD $0x4e66d4a6 // FADD  V6.2D, V5.2D, V6.2D
	WORD $0x4e6bd54b // FADD  V11.2D, V10.2D, V11.2D
	WORD $0x0e6168c1 // FCVTN  V1.2S, V6.2D
	WORD $0x4e616961 // FCVTN2 V1.4S, V11.2D
	WORD $0x4e20e402 // FCMEQ V2.4S, V0.4S, V0.4S
	VBIF   V2.B16, V0.B16, V1.B16 // NaN x: result x
	VST1.P [V1.S4], 16(R0)
	SUB    $4, R2
	B      loop

done:
	RET

// func tanhNEON(dst, x *float32, n int)
TEXT ·tanhNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	MOVD $0x3ff71547652b82fe, R3
	VDUP R3, V12.D2
	MOVD $0x3fe0000000000000, R3
	VDUP R3, V13.D2
	MOVD $0x3fe62e42fee00000, R3
	VDUP R3, V14.D2
	MOVD $0x3dea39ef35793c76, R3
	VDUP R3, V15.D2
	MOVD $0x3ff0000000000000, R3
	VDUP R3, V18.D2
	MOVD $0x4000000000000000, R3
	VDUP R3, V19.D2
	MOVD $0x00000000000003ff, R3
	VDUP R3, V20.D2
	MOVD $0x4024000000000000, R3
	VDUP R3, V17.D2
	MOVD $0x3de6124613a86d09, R3
	VDUP R3, V21.D2
	MOVD $0x3e21eed8eff8d898, R3
	VDUP R3, V22.D2
	MOVD $0x3e5ae64567f544e4, R3
	VDUP R3, V23.D2
	MOVD $0x3e927e4fb7789f5c, R3
	VDUP R3, V24.D2
	MOVD $0x3ec71de3a556c734, R3
	VDUP R3, V25.D2
	MOVD $0x3efa01a01a01a01a, R3
	VDUP R3, V26.D2
	MOVD $0x3f2a01a01a01a01a, R3
	VDUP R3, V27.D2
	MOVD $0x3f56c16c16c16c17, R3
	VDUP R3, V28.D2
	MOVD $0x3f81111111111111, R3
	VDUP R3, V29.D2
	MOVD $0x3fa5555555555555, R3
	VDUP R3, V30.D2
	MOVD $0x3fc5555555555555, R3
	VDUP R3, V31.D2

loop:
	CBZ    R2, done
	VLD1.P 16(R1), [V0.S4]
	WORD $0x0e617802 // FCVTL  V2.2D, V0.2S
	WORD $0x4e617807 // FCVTL2 V7.2D, V0.4S
	WORD $0x4ee0f842 // FABS V2.2D, V2.2D
	WORD $0x4ee0f8e7 // FABS V7.2D, V7.2D
	WORD $0x4ef1f442 // FMIN  V2.2D, V2.2D, V17.2D
	WORD $0x4ef1f4e7 // FMIN  V7.2D, V7.2D, V17.2D
	WORD $0x4e62d442 // FADD  V2.2D, V2.2D, V2.2D
	WORD $0x4e67d4e7 // FADD  V7.2D, V7.2D, V7.2D
	WORD $0x6e6cdc43 // FMUL  V3.2D, V2.2D, V12.2D
	WORD $0x6e6cdce8 // FMUL  V8.2D, V7.2D, V12.2D
	WORD $0x4e6dd463 // FADD  V3.2D, V3.2D, V13.2D
	WORD $0x4e6dd508 // FADD  V8.2D, V8.2D, V13.2D
	WORD $0x4e619863 // FRINTM V3.2D, V3.2D
	WORD $0x4e619908 // FRINTM V8.2D, V8.2D
	WORD $0x6e6edc65 // FMUL  V5.2D, V3.2D, V14.2D
	WORD $0x6e6edd0a // FMUL  V10.2D, V8.2D, V14.2D
	WORD $0x4ee5d444 // FSUB  V4.2D, V2.2D, V5.2D
	WORD $0x4eead4e9 // FSUB  V9.2D, V7.2D, V10.2D
	WORD $0x6e6fdc65 // FMUL  V5.2D, V3.2D, V15.2D
	WORD $0x6e6fdd0a // FMUL  V10.2D, V8.2D, V15.2D
	WORD $0x4ee5d484 // FSUB  V4.2D, V4.2D, V5.2D
	WORD $0x4eead529 // FSUB  V9.2D, V9.2D, V10.2D
	WORD $0x6e75dc86 // FMUL  V6.2D, V4.2D, V21.2D
	WORD $0x6e75dd2b // FMUL  V11.2D, V9.2D, V21.2D
	WORD $0x4e76d4c6 // FADD  V6.2D, V6.2D, V22.2D
	WORD $0x4e76d56b // FADD  V11.2D, V11.2D, V22.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e77d4c6 // FADD  V6.2D, V6.2D, V23.2D
	WORD $0x4e77d56b // FADD  V11.2D, V11.2D, V23.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e78d4c6 // FADD  V6.2D, V6.2D, V24.2D
	WORD $0x4e78d56b // FADD  V11.2D, V11.2D, V24.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e79d4c6 // FADD  V6.2D, V6.2D, V25.2D
	WORD $0x4e79d56b // FADD  V11.2D, V11.2D, V25.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7ad4c6 // FADD  V6.2D, V6.2D, V26.2D
	WORD $0x4e7ad56b // FADD  V11.2D, V11.2D, V26.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7bd4c6 // FADD  V6.2D, V6.2D, V27.2D
	WORD $0x4e7bd56b // FADD  V11.2D, V11.2D, V27.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7cd4c6 // FADD  V6.2D, V6.2D, V28.2D
	WORD $0x4e7cd56b // FADD  V11.2D, V11.2D, V28.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7dd4c6 // FADD  V6.2D, V6.2D, V29.2D
	WORD $0x4e7dd56b // FADD  V11.2D, V11.2D, V29.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7ed4c6 // FADD  V6.2D, V6.2D, V30.2D
	WORD $0x4e7ed56b // FADD  V11.2D, V11.2D, V30.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e7fd4c6 // FADD  V6.2D, V6.2D, V31.2D
	WORD $0x4e7fd56b // FADD  V11.2D, V11.2D, V31.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e6dd4c6 // FADD  V6.2D, V6.2D, V13.2D
	WORD $0x4e6dd56b // FADD  V11.2D, V11.2D, V13.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4e72d4c6 // FADD  V6.2D, V6.2D, V18.2D
	WORD $0x4e72d56b // FADD  V11.2D, V11.2D, V18.2D
	WORD $0x6e66dc86 // FMUL  V6.2D, V4.2D, V6.2D
	WORD $0x6e6bdd2b // FMUL  V11.2D, V9.2D, V11.2D
	WORD $0x4ee1b865 // FCVTZS V5.2D, V3.2D
	WORD $0x4ee1b90a // FCVTZS V10.2D, V8.2D
	VADD V20.D2, V5.D2, V5.D2
	VADD V20.D2, V10.D2, V10.D2
	VSHL $52, V5.D2, V5.D2
	VSHL $52, V10.D2, V10.D2
	WORD $0x6e66dca6 // FMUL  V6.2D, V5.2D, V6.2D
	WORD $0x6e6bdd4b // FMUL  V11.2D, V10.2D, V11.2D
	WORD $0x4ef2d4a5 // FSUB  V5.2D, V5.2D, V18.2D
	WORD $0x4ef2d54a // FSUB  V10.2D, V10.2D, V18.2D
	WORD $0x4e66d4a5 // FADD  V5.2D, V5.2D, V6.2D
	WORD $0x4e6bd54a // FADD  V10.2D, V10.2D, V11.2D
	WORD $0x4e73d4a6 // FADD  V6.2D, V5.2D, V19.2D
	WORD $0x4e73d54b // FADD  V11.2D, V10.2D, V19.2D
	WORD $0x6e66fca5 // FDIV  V5.2D, V5.2D, V6.2D
	WORD $0x6e6bfd4a // FDIV  V10.2D, V10.2D, V11.2D
	WORD $0x0e6168a1 // FCVTN  V1.2S, V5.2D
	WORD $0x4e616941 // FCVTN2 V1.4S, V10.2D
	VUSHR  $31, V0.S4, V2.S4
	VSHL   $31, V2.S4, V2.S4 // sign of x
	VORR   V2.B16, V1.B16, V1.B16
	WORD $0x4e20e402 // FCMEQ V2.4S, V0.4S, V0.4S
	VBIF   V2.B16, V0.B16, V1.B16 // NaN x: result x
	VST1.P [V1.S4], 16(R0)
	SUB    $4, R2
	B      loop

done:
	RET
