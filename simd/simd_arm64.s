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
