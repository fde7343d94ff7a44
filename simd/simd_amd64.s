//go:build !purego

#include "textflag.h"

// AVX2 (+F16C) kernels. Each routine handles n elements, n a multiple of the
// block size given in its Go declaration (simd_amd64.go); the Go wrappers run
// the reference loop on the tail. None of them uses FMA: every product is
// rounded by VMULPS before the VADDPS, matching the reference bit for bit.

// BCAST32 broadcasts a 32-bit immediate into all lanes of Y.
#define BCAST32(imm, X, Y) MOVL $imm, AX; VMOVD AX, X; VPBROADCASTD X, Y

// STORE2 stores Y0, Y1 to 64 bytes at (DI)(BX*4), with non-temporal stores
// if R14 is non-zero (DI then 32-byte aligned).
#define STORE2(lbl) \
	TESTQ    R14, R14 \
	JNZ      lbl \
	VMOVDQU  Y0, (DI)(BX*4) \
	VMOVDQU  Y1, 32(DI)(BX*4) \
	ADDQ     $16, BX \
	JMP      loop \
lbl: \
	VMOVNTDQ Y0, (DI)(BX*4) \
	VMOVNTDQ Y1, 32(DI)(BX*4) \
	ADDQ     $16, BX \
	JMP      loop

// STORE4 is STORE2 for Y0..Y3 and 32 elements.
#define STORE4(lbl) \
	TESTQ    R14, R14 \
	JNZ      lbl \
	VMOVUPS  Y0, (DI)(BX*4) \
	VMOVUPS  Y1, 32(DI)(BX*4) \
	VMOVUPS  Y2, 64(DI)(BX*4) \
	VMOVUPS  Y3, 96(DI)(BX*4) \
	ADDQ     $32, BX \
	JMP      loop \
lbl: \
	VMOVNTPS Y0, (DI)(BX*4) \
	VMOVNTPS Y1, 32(DI)(BX*4) \
	VMOVNTPS Y2, 64(DI)(BX*4) \
	VMOVNTPS Y3, 96(DI)(BX*4) \
	ADDQ     $32, BX \
	JMP      loop

// func bf16ToF32AVX2(dst *float32, src *uint16, n int, nt bool)
TEXT ·bf16ToF32AVX2(SB), NOSPLIT, $0-25
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    n+16(FP), CX
	MOVBQZX nt+24(FP), R14
	BCAST32(0x7fffffff, X13, Y13) // abs mask
	BCAST32(0x7f800000, X14, Y14) // +Inf
	BCAST32(0x00400000, X15, Y15) // quiet bit
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JAE  done
	VPMOVZXWD (SI)(BX*2), Y0
	VPMOVZXWD 16(SI)(BX*2), Y1
	VPSLLD    $16, Y0, Y0
	VPSLLD    $16, Y1, Y1
	// Quiet NaNs: v |= quiet & (|v| > Inf).
	VPAND     Y13, Y0, Y2
	VPAND     Y13, Y1, Y3
	VPCMPGTD  Y14, Y2, Y2
	VPCMPGTD  Y14, Y3, Y3
	VPAND     Y15, Y2, Y2
	VPAND     Y15, Y3, Y3
	VPOR      Y2, Y0, Y0
	VPOR      Y3, Y1, Y1
	STORE2(ntstore)

done:
	SFENCE
	VZEROUPPER
	RET

// func f16ToF32AVX2(dst *float32, src *uint16, n int, nt bool)
TEXT ·f16ToF32AVX2(SB), NOSPLIT, $0-25
	MOVQ    dst+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVQ    n+16(FP), CX
	MOVBQZX nt+24(FP), R14
	XORQ    BX, BX

loop:
	CMPQ      BX, CX
	JAE       done
	VCVTPH2PS (SI)(BX*2), Y0
	VCVTPH2PS 16(SI)(BX*2), Y1
	STORE2(ntstore)

done:
	SFENCE
	VZEROUPPER
	RET

// ROUNDBF16 rounds the float32 lanes of V to bfloat16 in the low 16 bits of
// each lane of R (T1, T2 scratch): r = (v + 0x7fff + (v>>16)&1) >> 16, or
// (v>>16) | 0x40 for a NaN.
#define ROUNDBF16(V, R, T1, T2) \
	VPSRLD    $16, V, T1     \
	VPAND     Y12, T1, R     \
	VPADDD    Y11, R, R      \
	VPADDD    V, R, R        \
	VPSRLD    $16, R, R      \
	VPOR      Y15, T1, T1    \
	VPAND     Y13, V, T2     \
	VPCMPGTD  Y14, T2, T2    \
	VPBLENDVB T2, T1, R, R

// func f32ToBF16AVX2(dst *uint16, src *float32, n int)
TEXT ·f32ToBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	BCAST32(0x00007fff, X11, Y11) // rounding bias
	BCAST32(0x00000001, X12, Y12) // lsb
	BCAST32(0x7fffffff, X13, Y13) // abs mask
	BCAST32(0x7f800000, X14, Y14) // +Inf
	BCAST32(0x00000040, X15, Y15) // bf16 quiet bit
	XORQ BX, BX

tobf16loop:
	CMPQ      BX, CX
	JAE       tobf16done
	VMOVDQU   (SI)(BX*4), Y0
	VMOVDQU   32(SI)(BX*4), Y1
	ROUNDBF16(Y0, Y2, Y4, Y5)
	ROUNDBF16(Y1, Y3, Y6, Y7)
	VPACKUSDW Y3, Y2, Y2       // [Y2 0-3, Y3 0-3, Y2 4-7, Y3 4-7]
	VPERMQ    $0xd8, Y2, Y2    // in order
	VMOVDQU   Y2, (DI)(BX*2)
	ADDQ      $16, BX
	JMP       tobf16loop

tobf16done:
	VZEROUPPER
	RET

// func f32ToF16AVX2(dst *uint16, src *float32, n int)
TEXT ·f32ToF16AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX

tof16loop:
	CMPQ      BX, CX
	JAE       tof16done
	VMOVUPS   (SI)(BX*4), Y0
	VMOVUPS   32(SI)(BX*4), Y1
	VCVTPS2PH $0, Y0, (DI)(BX*2)   // imm 0: round to nearest even
	VCVTPS2PH $0, Y1, 16(DI)(BX*2)
	ADDQ      $16, BX
	JMP       tof16loop

tof16done:
	VZEROUPPER
	RET

// func addScaledAVX2(dst *float32, a float32, x *float32, n int)
TEXT ·addScaledAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y15
	MOVQ         x+16(FP), SI
	MOVQ         n+24(FP), CX
	XORQ         BX, BX

axloop:
	CMPQ    BX, CX
	JAE     axdone
	VMULPS  (SI)(BX*4), Y15, Y0
	VMULPS  32(SI)(BX*4), Y15, Y1
	VMULPS  64(SI)(BX*4), Y15, Y2
	VMULPS  96(SI)(BX*4), Y15, Y3
	VADDPS  (DI)(BX*4), Y0, Y0
	VADDPS  32(DI)(BX*4), Y1, Y1
	VADDPS  64(DI)(BX*4), Y2, Y2
	VADDPS  96(DI)(BX*4), Y3, Y3
	VMOVUPS Y0, (DI)(BX*4)
	VMOVUPS Y1, 32(DI)(BX*4)
	VMOVUPS Y2, 64(DI)(BX*4)
	VMOVUPS Y3, 96(DI)(BX*4)
	ADDQ    $32, BX
	JMP     axloop

axdone:
	VZEROUPPER
	RET

// func scaleAVX2(dst *float32, a float32, n int)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	VBROADCASTSS a+8(FP), Y15
	MOVQ         n+16(FP), CX
	XORQ         BX, BX

scloop:
	CMPQ    BX, CX
	JAE     scdone
	VMULPS  (DI)(BX*4), Y15, Y0
	VMULPS  32(DI)(BX*4), Y15, Y1
	VMULPS  64(DI)(BX*4), Y15, Y2
	VMULPS  96(DI)(BX*4), Y15, Y3
	VMOVUPS Y0, (DI)(BX*4)
	VMOVUPS Y1, 32(DI)(BX*4)
	VMOVUPS Y2, 64(DI)(BX*4)
	VMOVUPS Y3, 96(DI)(BX*4)
	ADDQ    $32, BX
	JMP     scloop

scdone:
	VZEROUPPER
	RET

// BINOP defines dst[i] = x[i] OP y[i] over blocks of 32.
#define BINOP(name, OP) \
TEXT name(SB), NOSPLIT, $0-32 \
	MOVQ dst+0(FP), DI \
	MOVQ x+8(FP), SI \
	MOVQ y+16(FP), DX \
	MOVQ n+24(FP), CX \
	XORQ BX, BX \
loop: \
	CMPQ    BX, CX \
	JAE     done \
	VMOVUPS (SI)(BX*4), Y0 \
	VMOVUPS 32(SI)(BX*4), Y1 \
	VMOVUPS 64(SI)(BX*4), Y2 \
	VMOVUPS 96(SI)(BX*4), Y3 \
	OP      (DX)(BX*4), Y0, Y0 \
	OP      32(DX)(BX*4), Y1, Y1 \
	OP      64(DX)(BX*4), Y2, Y2 \
	OP      96(DX)(BX*4), Y3, Y3 \
	VMOVUPS Y0, (DI)(BX*4) \
	VMOVUPS Y1, 32(DI)(BX*4) \
	VMOVUPS Y2, 64(DI)(BX*4) \
	VMOVUPS Y3, 96(DI)(BX*4) \
	ADDQ    $32, BX \
	JMP     loop \
done: \
	VZEROUPPER \
	RET

// func subAVX2(dst, x, y *float32, n int)
BINOP(·subAVX2, VSUBPS)

// func addAVX2(dst, x, y *float32, n int)
BINOP(·addAVX2, VADDPS)

// func mulAVX2(dst, x, y *float32, n int)
BINOP(·mulAVX2, VMULPS)

// func weightedDeltaSumAVX2(dst, base *float32, xs *[]float32, w *float32, k, lo, hi int, nt bool)
TEXT ·weightedDeltaSumAVX2(SB), NOSPLIT, $0-57
	MOVQ dst+0(FP), DI
	MOVQ base+8(FP), SI
	MOVQ xs+16(FP), DX
	MOVQ w+24(FP), R8
	MOVQ k+32(FP), R9
	MOVQ lo+40(FP), BX
	MOVQ hi+48(FP), CX
	MOVBQZX nt+56(FP), R14

loop:
	CMPQ    BX, CX
	JAE     done
	PREFETCHT0 1024(SI)(BX*4)
	PREFETCHT0 1088(SI)(BX*4)
	VMOVUPS (SI)(BX*4), Y0
	VMOVUPS 32(SI)(BX*4), Y1
	VMOVUPS 64(SI)(BX*4), Y2
	VMOVUPS 96(SI)(BX*4), Y3
	VXORPS  Y4, Y4, Y4
	VXORPS  Y5, Y5, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	MOVQ    DX, R10              // &xs[0]
	MOVQ    R8, R11              // &w[0]
	MOVQ    R9, R12              // rows left

wdsrow:
	TESTQ        R12, R12
	JZ           wdsstore
	MOVQ         (R10), R13      // xs[k] data pointer
	VBROADCASTSS (R11), Y15
	PREFETCHT0   1024(R13)(BX*4)
	PREFETCHT0   1088(R13)(BX*4)
	VMOVUPS      (R13)(BX*4), Y8
	VMOVUPS      32(R13)(BX*4), Y9
	VMOVUPS      64(R13)(BX*4), Y10
	VMOVUPS      96(R13)(BX*4), Y11
	VSUBPS       Y0, Y8, Y8      // x - b
	VSUBPS       Y1, Y9, Y9
	VSUBPS       Y2, Y10, Y10
	VSUBPS       Y3, Y11, Y11
	VMULPS       Y15, Y8, Y8     // w * (x - b), rounded
	VMULPS       Y15, Y9, Y9
	VMULPS       Y15, Y10, Y10
	VMULPS       Y15, Y11, Y11
	VADDPS       Y8, Y4, Y4      // acc += ...
	VADDPS       Y9, Y5, Y5
	VADDPS       Y10, Y6, Y6
	VADDPS       Y11, Y7, Y7
	ADDQ         $24, R10
	ADDQ         $4, R11
	DECQ         R12
	JMP          wdsrow

wdsstore:
	VADDPS  Y4, Y0, Y0           // b + acc
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	STORE4(ntstore)

done:
	SFENCE
	VZEROUPPER
	RET

// LOADBF16 loads 8 bfloat16 at M as float32 into Y. Signalling NaNs are not
// quieted here: an x86 arithmetic result from a NaN operand is the first NaN
// operand, quieted, whether it was signalling or not, so the result bits are
// those of the convert-first reference.
#define LOADBF16(M, Y) VPMOVZXWD M, Y; VPSLLD $16, Y, Y

// func weightedDeltaSumBF16AVX2(dst *float32, base *uint16, xs *[]uint16, w *float32, k, lo, hi int, nt bool)
TEXT ·weightedDeltaSumBF16AVX2(SB), NOSPLIT, $0-57
	MOVQ dst+0(FP), DI
	MOVQ base+8(FP), SI
	MOVQ xs+16(FP), DX
	MOVQ w+24(FP), R8
	MOVQ k+32(FP), R9
	MOVQ lo+40(FP), BX
	MOVQ hi+48(FP), CX
	MOVBQZX nt+56(FP), R14

loop:
	CMPQ BX, CX
	JAE  done
	PREFETCHT0 1024(SI)(BX*2)
	LOADBF16((SI)(BX*2), Y0)
	LOADBF16(16(SI)(BX*2), Y1)
	LOADBF16(32(SI)(BX*2), Y2)
	LOADBF16(48(SI)(BX*2), Y3)
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   DX, R10
	MOVQ   R8, R11
	MOVQ   R9, R12

wdshrow:
	TESTQ        R12, R12
	JZ           wdshstore
	MOVQ         (R10), R13
	VBROADCASTSS (R11), Y15
	PREFETCHT0 1024(R13)(BX*2)
	LOADBF16((R13)(BX*2), Y8)
	LOADBF16(16(R13)(BX*2), Y9)
	LOADBF16(32(R13)(BX*2), Y10)
	LOADBF16(48(R13)(BX*2), Y11)
	VSUBPS       Y0, Y8, Y8
	VSUBPS       Y1, Y9, Y9
	VSUBPS       Y2, Y10, Y10
	VSUBPS       Y3, Y11, Y11
	VMULPS       Y15, Y8, Y8
	VMULPS       Y15, Y9, Y9
	VMULPS       Y15, Y10, Y10
	VMULPS       Y15, Y11, Y11
	VADDPS       Y8, Y4, Y4
	VADDPS       Y9, Y5, Y5
	VADDPS       Y10, Y6, Y6
	VADDPS       Y11, Y7, Y7
	ADDQ         $24, R10
	ADDQ         $4, R11
	DECQ         R12
	JMP          wdshrow

wdshstore:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	STORE4(ntstore)

done:
	SFENCE
	VZEROUPPER
	RET

// func weightedDeltaSumF16AVX2(dst *float32, base *uint16, xs *[]uint16, w *float32, k, lo, hi int, nt bool)
TEXT ·weightedDeltaSumF16AVX2(SB), NOSPLIT, $0-57
	MOVQ dst+0(FP), DI
	MOVQ base+8(FP), SI
	MOVQ xs+16(FP), DX
	MOVQ w+24(FP), R8
	MOVQ k+32(FP), R9
	MOVQ lo+40(FP), BX
	MOVQ hi+48(FP), CX
	MOVBQZX nt+56(FP), R14

loop:
	CMPQ BX, CX
	JAE  done
	PREFETCHT0 1024(SI)(BX*2)
	VCVTPH2PS (SI)(BX*2), Y0
	VCVTPH2PS 16(SI)(BX*2), Y1
	VCVTPH2PS 32(SI)(BX*2), Y2
	VCVTPH2PS 48(SI)(BX*2), Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   DX, R10
	MOVQ   R8, R11
	MOVQ   R9, R12

wdshrow:
	TESTQ        R12, R12
	JZ           wdshstore
	MOVQ         (R10), R13
	VBROADCASTSS (R11), Y15
	PREFETCHT0 1024(R13)(BX*2)
	VCVTPH2PS (R13)(BX*2), Y8
	VCVTPH2PS 16(R13)(BX*2), Y9
	VCVTPH2PS 32(R13)(BX*2), Y10
	VCVTPH2PS 48(R13)(BX*2), Y11
	VSUBPS       Y0, Y8, Y8
	VSUBPS       Y1, Y9, Y9
	VSUBPS       Y2, Y10, Y10
	VSUBPS       Y3, Y11, Y11
	VMULPS       Y15, Y8, Y8
	VMULPS       Y15, Y9, Y9
	VMULPS       Y15, Y10, Y10
	VMULPS       Y15, Y11, Y11
	VADDPS       Y8, Y4, Y4
	VADDPS       Y9, Y5, Y5
	VADDPS       Y10, Y6, Y6
	VADDPS       Y11, Y7, Y7
	ADDQ         $24, R10
	ADDQ         $4, R11
	DECQ         R12
	JMP          wdshrow

wdshstore:
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	STORE4(ntstore)

done:
	SFENCE
	VZEROUPPER
	RET

// The reductions keep the 16 float64 lane accumulators of the reference in
// Y8..Y11 (lanes 0-3, 4-7, 8-11, 12-15), loaded from and stored back to *acc
// (DI). Element i of each block of 16 goes to lane i, as in the reference.
#define REDUCE_BEGIN \
	VMOVUPD (DI), Y8 \
	VMOVUPD 32(DI), Y9 \
	VMOVUPD 64(DI), Y10 \
	VMOVUPD 96(DI), Y11 \
	XORQ    BX, BX

#define REDUCE_END \
	VMOVUPD Y8, (DI) \
	VMOVUPD Y9, 32(DI) \
	VMOVUPD Y10, 64(DI) \
	VMOVUPD Y11, 96(DI) \
	VZEROUPPER \
	RET

// func sumAVX2(acc *[16]float64, x *float32, n int)
TEXT ·sumAVX2(SB), NOSPLIT, $0-24
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ acc+0(FP), DI
	REDUCE_BEGIN

sumloop:
	CMPQ      BX, CX
	JAE       sumdone
	VCVTPS2PD (SI)(BX*4), Y0
	VCVTPS2PD 16(SI)(BX*4), Y1
	VCVTPS2PD 32(SI)(BX*4), Y2
	VCVTPS2PD 48(SI)(BX*4), Y3
	VADDPD    Y0, Y8, Y8
	VADDPD    Y1, Y9, Y9
	VADDPD    Y2, Y10, Y10
	VADDPD    Y3, Y11, Y11
	ADDQ      $16, BX
	JMP       sumloop

sumdone:
	REDUCE_END

// func sumSquaresAVX2(acc *[16]float64, x *float32, n int)
TEXT ·sumSquaresAVX2(SB), NOSPLIT, $0-24
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ acc+0(FP), DI
	REDUCE_BEGIN

ssqloop:
	CMPQ      BX, CX
	JAE       ssqdone
	VCVTPS2PD (SI)(BX*4), Y0
	VCVTPS2PD 16(SI)(BX*4), Y1
	VCVTPS2PD 32(SI)(BX*4), Y2
	VCVTPS2PD 48(SI)(BX*4), Y3
	VMULPD    Y0, Y0, Y0
	VMULPD    Y1, Y1, Y1
	VMULPD    Y2, Y2, Y2
	VMULPD    Y3, Y3, Y3
	VADDPD    Y0, Y8, Y8
	VADDPD    Y1, Y9, Y9
	VADDPD    Y2, Y10, Y10
	VADDPD    Y3, Y11, Y11
	ADDQ      $16, BX
	JMP       ssqloop

ssqdone:
	REDUCE_END

// func dotAVX2(acc *[16]float64, x, y *float32, n int)
TEXT ·dotAVX2(SB), NOSPLIT, $0-32
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ acc+0(FP), DI
	REDUCE_BEGIN

dotloop:
	CMPQ      BX, CX
	JAE       dotdone
	VCVTPS2PD (SI)(BX*4), Y0
	VCVTPS2PD 16(SI)(BX*4), Y1
	VCVTPS2PD 32(SI)(BX*4), Y2
	VCVTPS2PD 48(SI)(BX*4), Y3
	VCVTPS2PD (DX)(BX*4), Y4
	VCVTPS2PD 16(DX)(BX*4), Y5
	VCVTPS2PD 32(DX)(BX*4), Y6
	VCVTPS2PD 48(DX)(BX*4), Y7
	VMULPD    Y4, Y0, Y0
	VMULPD    Y5, Y1, Y1
	VMULPD    Y6, Y2, Y2
	VMULPD    Y7, Y3, Y3
	VADDPD    Y0, Y8, Y8
	VADDPD    Y1, Y9, Y9
	VADDPD    Y2, Y10, Y10
	VADDPD    Y3, Y11, Y11
	ADDQ      $16, BX
	JMP       dotloop

dotdone:
	REDUCE_END

// func sumAbsAVX2(acc *[16]float64, x *float32, n int)
TEXT ·sumAbsAVX2(SB), NOSPLIT, $0-24
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ acc+0(FP), DI
	REDUCE_BEGIN
	BCAST32(0x7fffffff, X15, Y15) // abs mask (float32 lanes)

sabsloop:
	CMPQ      BX, CX
	JAE       sabsdone
	VANDPS    (SI)(BX*4), Y15, Y0
	VANDPS    32(SI)(BX*4), Y15, Y2
	VEXTRACTF128 $1, Y0, X1
	VEXTRACTF128 $1, Y2, X3
	VCVTPS2PD X0, Y0
	VCVTPS2PD X1, Y1
	VCVTPS2PD X2, Y2
	VCVTPS2PD X3, Y3
	VADDPD    Y0, Y8, Y8
	VADDPD    Y1, Y9, Y9
	VADDPD    Y2, Y10, Y10
	VADDPD    Y3, Y11, Y11
	ADDQ      $16, BX
	JMP       sabsloop

sabsdone:
	REDUCE_END

// func maxAbsAVX2(m *[8]uint32, x *float32, n int)
TEXT ·maxAbsAVX2(SB), NOSPLIT, $0-24
	MOVQ    m+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    n+16(FP), CX
	BCAST32(0x7fffffff, X15, Y15)
	VPXOR   Y0, Y0, Y0
	VPXOR   Y1, Y1, Y1
	XORQ    BX, BX

maxloop:
	CMPQ    BX, CX
	JAE     maxdone
	VPAND   (SI)(BX*4), Y15, Y2
	VPAND   32(SI)(BX*4), Y15, Y3
	VPMAXUD Y2, Y0, Y0
	VPMAXUD Y3, Y1, Y1
	ADDQ    $16, BX
	JMP     maxloop

maxdone:
	VPMAXUD Y1, Y0, Y0
	VMOVDQU Y0, (DI)
	VZEROUPPER
	RET

// func countAbsGEAVX2(x *float32, thr float32, n int) int
TEXT ·countAbsGEAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	VBROADCASTSS thr+8(FP), Y14
	MOVQ         n+16(FP), CX
	BCAST32(0x7fffffff, X15, Y15)
	VPXOR        Y0, Y0, Y0
	VPXOR        Y1, Y1, Y1
	XORQ         BX, BX

cntloop:
	CMPQ    BX, CX
	JAE     cntdone
	VANDPS  (SI)(BX*4), Y15, Y2
	VANDPS  32(SI)(BX*4), Y15, Y3
	VCMPPS  $0x1d, Y14, Y2, Y2    // |x| >= thr, ordered: NaN never counts
	VCMPPS  $0x1d, Y14, Y3, Y3
	VPSUBD  Y2, Y0, Y0            // mask lanes are -1
	VPSUBD  Y3, Y1, Y1
	ADDQ    $16, BX
	JMP     cntloop

cntdone:
	VPADDD       Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0x4e, X0, X1
	VPADDD       X1, X0, X0
	VPSHUFD      $0xb1, X0, X1
	VPADDD       X1, X0, X0
	VMOVD        X0, AX
	MOVQ         AX, ret+24(FP)
	VZEROUPPER
	RET

// func tiesElectAVX2(mixed, div *float32, d *[]float32, w *float32, k, n int)
TEXT ·tiesElectAVX2(SB), NOSPLIT, $0-48
	MOVQ   mixed+0(FP), DI
	MOVQ   div+8(FP), SI
	MOVQ   d+16(FP), DX
	MOVQ   w+24(FP), R8
	MOVQ   k+32(FP), R9
	MOVQ   n+40(FP), CX
	VXORPS Y15, Y15, Y15 // +0
	XORQ   BX, BX

loop:
	CMPQ   BX, CX
	JAE    done
	// Pass 1: sum = Σ_k d[k][i], in row order.
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ   DX, R10
	MOVQ   R9, R12

sumrow:
	TESTQ  R12, R12
	JZ     elect
	MOVQ   (R10), R13
	VADDPS (R13)(BX*4), Y0, Y0
	VADDPS 32(R13)(BX*4), Y1, Y1
	ADDQ   $24, R10
	DECQ   R12
	JMP    sumrow

elect:
	VCMPPS $0x1d, Y15, Y0, Y2 // pos = sum >= 0 (ordered: NaN elects -1)
	VCMPPS $0x1d, Y15, Y1, Y3
	VXORPS Y4, Y4, Y4         // mixed
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6         // div
	VXORPS Y7, Y7, Y7
	MOVQ   DX, R10
	MOVQ   R8, R11
	MOVQ   R9, R12

maskrow:
	TESTQ        R12, R12
	JZ           store
	MOVQ         (R10), R13
	VBROADCASTSS (R11), Y14
	VMOVUPS      (R13)(BX*4), Y8
	VMOVUPS      32(R13)(BX*4), Y9
	// agree = pos ? v > 0 : v < 0 (ordered: zero and NaN never agree)
	VCMPPS       $0x1e, Y15, Y8, Y10
	VCMPPS       $0x11, Y15, Y8, Y11
	VBLENDVPS    Y2, Y10, Y11, Y10
	VCMPPS       $0x1e, Y15, Y9, Y12
	VCMPPS       $0x11, Y15, Y9, Y13
	VBLENDVPS    Y3, Y12, Y13, Y12
	// A disagreeing term becomes +0, which leaves the sums unchanged.
	VANDPS       Y10, Y8, Y8
	VANDPS       Y12, Y9, Y9
	VADDPS       Y8, Y4, Y4
	VADDPS       Y9, Y5, Y5
	VANDPS       Y14, Y10, Y10
	VANDPS       Y14, Y12, Y12
	VADDPS       Y10, Y6, Y6
	VADDPS       Y12, Y7, Y7
	ADDQ         $24, R10
	ADDQ         $4, R11
	DECQ         R12
	JMP          maskrow

store:
	VMOVUPS Y4, (DI)(BX*4)
	VMOVUPS Y5, 32(DI)(BX*4)
	VMOVUPS Y6, (SI)(BX*4)
	VMOVUPS Y7, 32(SI)(BX*4)
	ADDQ    $16, BX
	JMP     loop

done:
	VZEROUPPER
	RET

// Exp and Tanh evaluate the reference's float64 algorithm (ref.go: reduce,
// expm1Reduced, pow2) four lanes at a time with the same operations in the
// same order, so the results are bit-identical. transc holds each float64
// constant four times (32 bytes) to serve as a VEX memory operand.

DATA transc<>+0(SB)/8, $0x3ff71547652b82fe
DATA transc<>+8(SB)/8, $0x3ff71547652b82fe
DATA transc<>+16(SB)/8, $0x3ff71547652b82fe
DATA transc<>+24(SB)/8, $0x3ff71547652b82fe
DATA transc<>+32(SB)/8, $0x3fe0000000000000
DATA transc<>+40(SB)/8, $0x3fe0000000000000
DATA transc<>+48(SB)/8, $0x3fe0000000000000
DATA transc<>+56(SB)/8, $0x3fe0000000000000
DATA transc<>+64(SB)/8, $0x3fe62e42fee00000
DATA transc<>+72(SB)/8, $0x3fe62e42fee00000
DATA transc<>+80(SB)/8, $0x3fe62e42fee00000
DATA transc<>+88(SB)/8, $0x3fe62e42fee00000
DATA transc<>+96(SB)/8, $0x3dea39ef35793c76
DATA transc<>+104(SB)/8, $0x3dea39ef35793c76
DATA transc<>+112(SB)/8, $0x3dea39ef35793c76
DATA transc<>+120(SB)/8, $0x3dea39ef35793c76
DATA transc<>+128(SB)/8, $0xc05e000000000000
DATA transc<>+136(SB)/8, $0xc05e000000000000
DATA transc<>+144(SB)/8, $0xc05e000000000000
DATA transc<>+152(SB)/8, $0xc05e000000000000
DATA transc<>+160(SB)/8, $0x4059000000000000
DATA transc<>+168(SB)/8, $0x4059000000000000
DATA transc<>+176(SB)/8, $0x4059000000000000
DATA transc<>+184(SB)/8, $0x4059000000000000
DATA transc<>+192(SB)/8, $0x3ff0000000000000
DATA transc<>+200(SB)/8, $0x3ff0000000000000
DATA transc<>+208(SB)/8, $0x3ff0000000000000
DATA transc<>+216(SB)/8, $0x3ff0000000000000
DATA transc<>+224(SB)/8, $0x4000000000000000
DATA transc<>+232(SB)/8, $0x4000000000000000
DATA transc<>+240(SB)/8, $0x4000000000000000
DATA transc<>+248(SB)/8, $0x4000000000000000
DATA transc<>+256(SB)/8, $0x4024000000000000
DATA transc<>+264(SB)/8, $0x4024000000000000
DATA transc<>+272(SB)/8, $0x4024000000000000
DATA transc<>+280(SB)/8, $0x4024000000000000
DATA transc<>+288(SB)/8, $0x00000000000003ff
DATA transc<>+296(SB)/8, $0x00000000000003ff
DATA transc<>+304(SB)/8, $0x00000000000003ff
DATA transc<>+312(SB)/8, $0x00000000000003ff
DATA transc<>+320(SB)/8, $0x7fffffffffffffff
DATA transc<>+328(SB)/8, $0x7fffffffffffffff
DATA transc<>+336(SB)/8, $0x7fffffffffffffff
DATA transc<>+344(SB)/8, $0x7fffffffffffffff
DATA transc<>+352(SB)/8, $0x3de6124613a86d09
DATA transc<>+360(SB)/8, $0x3de6124613a86d09
DATA transc<>+368(SB)/8, $0x3de6124613a86d09
DATA transc<>+376(SB)/8, $0x3de6124613a86d09
DATA transc<>+384(SB)/8, $0x3e21eed8eff8d898
DATA transc<>+392(SB)/8, $0x3e21eed8eff8d898
DATA transc<>+400(SB)/8, $0x3e21eed8eff8d898
DATA transc<>+408(SB)/8, $0x3e21eed8eff8d898
DATA transc<>+416(SB)/8, $0x3e5ae64567f544e4
DATA transc<>+424(SB)/8, $0x3e5ae64567f544e4
DATA transc<>+432(SB)/8, $0x3e5ae64567f544e4
DATA transc<>+440(SB)/8, $0x3e5ae64567f544e4
DATA transc<>+448(SB)/8, $0x3e927e4fb7789f5c
DATA transc<>+456(SB)/8, $0x3e927e4fb7789f5c
DATA transc<>+464(SB)/8, $0x3e927e4fb7789f5c
DATA transc<>+472(SB)/8, $0x3e927e4fb7789f5c
DATA transc<>+480(SB)/8, $0x3ec71de3a556c734
DATA transc<>+488(SB)/8, $0x3ec71de3a556c734
DATA transc<>+496(SB)/8, $0x3ec71de3a556c734
DATA transc<>+504(SB)/8, $0x3ec71de3a556c734
DATA transc<>+512(SB)/8, $0x3efa01a01a01a01a
DATA transc<>+520(SB)/8, $0x3efa01a01a01a01a
DATA transc<>+528(SB)/8, $0x3efa01a01a01a01a
DATA transc<>+536(SB)/8, $0x3efa01a01a01a01a
DATA transc<>+544(SB)/8, $0x3f2a01a01a01a01a
DATA transc<>+552(SB)/8, $0x3f2a01a01a01a01a
DATA transc<>+560(SB)/8, $0x3f2a01a01a01a01a
DATA transc<>+568(SB)/8, $0x3f2a01a01a01a01a
DATA transc<>+576(SB)/8, $0x3f56c16c16c16c17
DATA transc<>+584(SB)/8, $0x3f56c16c16c16c17
DATA transc<>+592(SB)/8, $0x3f56c16c16c16c17
DATA transc<>+600(SB)/8, $0x3f56c16c16c16c17
DATA transc<>+608(SB)/8, $0x3f81111111111111
DATA transc<>+616(SB)/8, $0x3f81111111111111
DATA transc<>+624(SB)/8, $0x3f81111111111111
DATA transc<>+632(SB)/8, $0x3f81111111111111
DATA transc<>+640(SB)/8, $0x3fa5555555555555
DATA transc<>+648(SB)/8, $0x3fa5555555555555
DATA transc<>+656(SB)/8, $0x3fa5555555555555
DATA transc<>+664(SB)/8, $0x3fa5555555555555
DATA transc<>+672(SB)/8, $0x3fc5555555555555
DATA transc<>+680(SB)/8, $0x3fc5555555555555
DATA transc<>+688(SB)/8, $0x3fc5555555555555
DATA transc<>+696(SB)/8, $0x3fc5555555555555
DATA transc<>+704(SB)/8, $0x3fe0000000000000
DATA transc<>+712(SB)/8, $0x3fe0000000000000
DATA transc<>+720(SB)/8, $0x3fe0000000000000
DATA transc<>+728(SB)/8, $0x3fe0000000000000
GLOBL transc<>(SB), RODATA|NOPTR, $736

// func expAVX2(dst, x *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JAE  done
	VCVTPS2PD 0(SI)(BX*4), Y0
	VMAXPD transc<>+128(SB), Y0, Y0
	VMINPD transc<>+160(SB), Y0, Y0
	VMULPD transc<>+0(SB), Y0, Y1
	VADDPD transc<>+32(SB), Y1, Y1
	VROUNDPD $1, Y1, Y1 // floor
	VMULPD transc<>+64(SB), Y1, Y3
	VSUBPD Y3, Y0, Y2
	VMULPD transc<>+96(SB), Y1, Y3
	VSUBPD Y3, Y2, Y2
	VMOVUPD transc<>+352(SB), Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+384(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+416(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+448(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+480(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+512(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+544(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+576(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+608(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+640(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+672(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+704(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+192(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VCVTPD2DQY Y1, X3
	VPMOVSXDQ X3, Y3
	VPADDQ transc<>+288(SB), Y3, Y3
	VPSLLQ $52, Y3, Y3
	VMULPD Y3, Y4, Y4
	VADDPD Y4, Y3, Y4
	VCVTPD2PSY Y4, X5
	VMOVUPS 0(SI)(BX*4), X2
	VCMPPS $3, X2, X2, X1 // unordered: x is NaN
	VBLENDVPS X1, X2, X5, X5
	VMOVUPS X5, 0(DI)(BX*4)
	VCVTPS2PD 16(SI)(BX*4), Y6
	VMAXPD transc<>+128(SB), Y6, Y6
	VMINPD transc<>+160(SB), Y6, Y6
	VMULPD transc<>+0(SB), Y6, Y7
	VADDPD transc<>+32(SB), Y7, Y7
	VROUNDPD $1, Y7, Y7 // floor
	VMULPD transc<>+64(SB), Y7, Y9
	VSUBPD Y9, Y6, Y8
	VMULPD transc<>+96(SB), Y7, Y9
	VSUBPD Y9, Y8, Y8
	VMOVUPD transc<>+352(SB), Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+384(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+416(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+448(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+480(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+512(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+544(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+576(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+608(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+640(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+672(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+704(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+192(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VCVTPD2DQY Y7, X9
	VPMOVSXDQ X9, Y9
	VPADDQ transc<>+288(SB), Y9, Y9
	VPSLLQ $52, Y9, Y9
	VMULPD Y9, Y10, Y10
	VADDPD Y10, Y9, Y10
	VCVTPD2PSY Y10, X11
	VMOVUPS 16(SI)(BX*4), X8
	VCMPPS $3, X8, X8, X7 // unordered: x is NaN
	VBLENDVPS X7, X8, X11, X11
	VMOVUPS X11, 16(DI)(BX*4)
	ADDQ $8, BX
	JMP  loop

done:
	VZEROUPPER
	RET

// func tanhAVX2(dst, x *float32, n int)
TEXT ·tanhAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ BX, BX

loop:
	CMPQ BX, CX
	JAE  done
	VCVTPS2PD 0(SI)(BX*4), Y0
	VANDPD transc<>+320(SB), Y0, Y0
	VMINPD transc<>+256(SB), Y0, Y0
	VADDPD Y0, Y0, Y0 // 2|x|
	VMULPD transc<>+0(SB), Y0, Y1
	VADDPD transc<>+32(SB), Y1, Y1
	VROUNDPD $1, Y1, Y1 // floor
	VMULPD transc<>+64(SB), Y1, Y3
	VSUBPD Y3, Y0, Y2
	VMULPD transc<>+96(SB), Y1, Y3
	VSUBPD Y3, Y2, Y2
	VMOVUPD transc<>+352(SB), Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+384(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+416(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+448(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+480(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+512(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+544(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+576(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+608(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+640(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+672(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+704(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VADDPD transc<>+192(SB), Y4, Y4
	VMULPD Y2, Y4, Y4
	VCVTPD2DQY Y1, X3
	VPMOVSXDQ X3, Y3
	VPADDQ transc<>+288(SB), Y3, Y3
	VPSLLQ $52, Y3, Y3
	VMULPD Y3, Y4, Y4
	VSUBPD transc<>+192(SB), Y3, Y3
	VADDPD Y4, Y3, Y3
	VADDPD transc<>+224(SB), Y3, Y4
	VDIVPD Y4, Y3, Y3
	VCVTPD2PSY Y3, X5
	VMOVUPS 0(SI)(BX*4), X2
	VPCMPEQD X4, X4, X4
	VPSLLD $31, X4, X4 // 0x80000000
	VPAND X2, X4, X4
	VPOR X4, X5, X5
	VCMPPS $3, X2, X2, X1 // unordered: x is NaN
	VBLENDVPS X1, X2, X5, X5
	VMOVUPS X5, 0(DI)(BX*4)
	VCVTPS2PD 16(SI)(BX*4), Y6
	VANDPD transc<>+320(SB), Y6, Y6
	VMINPD transc<>+256(SB), Y6, Y6
	VADDPD Y6, Y6, Y6 // 2|x|
	VMULPD transc<>+0(SB), Y6, Y7
	VADDPD transc<>+32(SB), Y7, Y7
	VROUNDPD $1, Y7, Y7 // floor
	VMULPD transc<>+64(SB), Y7, Y9
	VSUBPD Y9, Y6, Y8
	VMULPD transc<>+96(SB), Y7, Y9
	VSUBPD Y9, Y8, Y8
	VMOVUPD transc<>+352(SB), Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+384(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+416(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+448(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+480(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+512(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+544(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+576(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+608(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+640(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+672(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+704(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VADDPD transc<>+192(SB), Y10, Y10
	VMULPD Y8, Y10, Y10
	VCVTPD2DQY Y7, X9
	VPMOVSXDQ X9, Y9
	VPADDQ transc<>+288(SB), Y9, Y9
	VPSLLQ $52, Y9, Y9
	VMULPD Y9, Y10, Y10
	VSUBPD transc<>+192(SB), Y9, Y9
	VADDPD Y10, Y9, Y9
	VADDPD transc<>+224(SB), Y9, Y10
	VDIVPD Y10, Y9, Y9
	VCVTPD2PSY Y9, X11
	VMOVUPS 16(SI)(BX*4), X8
	VPCMPEQD X10, X10, X10
	VPSLLD $31, X10, X10 // 0x80000000
	VPAND X8, X10, X10
	VPOR X10, X11, X11
	VCMPPS $3, X8, X8, X7 // unordered: x is NaN
	VBLENDVPS X7, X8, X11, X11
	VMOVUPS X11, 16(DI)(BX*4)
	ADDQ $8, BX
	JMP  loop

done:
	VZEROUPPER
	RET
