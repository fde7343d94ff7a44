//go:build !purego

#include "textflag.h"

// L1HALF handles 8 entries of a group of 16 whose stored values VPUNPCK?WD
// interleaves with zeros (op: VPUNPCKLWD for entries 0–3 and 8–11 of the
// group, VPUNPCKHWD for 4–7 and 12–15; the widening puts bf16 bits in the
// high half of each float32): a = |x − b|, widened to float64 four
// entries at a time into the lane accumulators (accA: the half's first
// four entries, accB: the four 8 entries later) of acc[0], and, ANDed with
// the 64-bit lane masks of the entries' mask bytes (rows at R11 + rA,
// R11 + rB, offset off: 0 for the byte's entries 0–3, 32 for 4–7), into
// those of acc[1] (keepA, keepB). Y12 holds zero, Y13 0x7fffffff; Y8–Y11
// are scratch.
#define L1HALF(op, accA, accB, keepA, keepB, rA, rB, off) \
	op         (SI)(BX*2), Y12, Y8 \
	op         (DX)(BX*2), Y12, Y9 \
	VSUBPS     Y9, Y8, Y8 \
	VPAND      Y13, Y8, Y8 \
	VCVTPS2PD  X8, Y9 \
	VADDPD     Y9, accA, accA \
	VANDPD     off(R11)(rA*1), Y9, Y9 \
	VADDPD     Y9, keepA, keepA \
	VEXTRACTF128 $1, Y8, X8 \
	VCVTPS2PD  X8, Y10 \
	VADDPD     Y10, accB, accB \
	VANDPD     off(R11)(rB*1), Y10, Y10 \
	VADDPD     Y10, keepB, keepB

// func l1BF16AVX2(acc *[2][16]float64, x, b *uint16, bits *byte, n int, rows *[256][8]uint64)
//
// Per 16 entries (lane j of the accumulators takes entry j): a = |x − b|
// as float32, widened to float64 into acc[0] (Y0–Y3: lanes 0–3, 4–7, 8–11,
// 12–15) and, masked by the keep bits after the widening (the same values
// as masking before it), into acc[1] (Y4–Y7). The mask byte of entries
// 0–7 (AX) and 8–15 (R9) select rows of 64-byte lane masks.
TEXT ·l1BF16AVX2(SB), NOSPLIT, $0-48
	MOVQ     acc+0(FP), DI
	MOVQ     x+8(FP), SI
	MOVQ     b+16(FP), DX
	MOVQ     bits+24(FP), R8
	MOVQ     n+32(FP), CX
	MOVQ     rows+40(FP), R11
	VMOVUPD  0(DI), Y0
	VMOVUPD  32(DI), Y1
	VMOVUPD  64(DI), Y2
	VMOVUPD  96(DI), Y3
	VMOVUPD  128(DI), Y4
	VMOVUPD  160(DI), Y5
	VMOVUPD  192(DI), Y6
	VMOVUPD  224(DI), Y7
	VPXOR    Y12, Y12, Y12
	VPCMPEQD Y13, Y13, Y13
	VPSRLD   $1, Y13, Y13
	XORQ     BX, BX
	TESTQ    CX, CX
	JZ       l1done

l1loop:
	MOVBLZX (R8), AX
	SHLQ    $6, AX
	MOVBLZX 1(R8), R9
	SHLQ    $6, R9
	L1HALF(VPUNPCKLWD, Y0, Y2, Y4, Y6, AX, R9, 0)
	L1HALF(VPUNPCKHWD, Y1, Y3, Y5, Y7, AX, R9, 32)
	ADDQ    $2, R8
	ADDQ    $16, BX
	CMPQ    BX, CX
	JB      l1loop

l1done:
	VMOVUPD Y0, 0(DI)
	VMOVUPD Y1, 32(DI)
	VMOVUPD Y2, 64(DI)
	VMOVUPD Y3, 96(DI)
	VMOVUPD Y4, 128(DI)
	VMOVUPD Y5, 160(DI)
	VMOVUPD Y6, 192(DI)
	VMOVUPD Y7, 224(DI)
	VZEROUPPER
	RET
