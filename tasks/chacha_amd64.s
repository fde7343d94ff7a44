//go:build !purego

#include "textflag.h"

// rot16 and rot8 rotate each 32-bit lane left by 16 and 8 bits (VPSHUFB).
DATA rot16<>+0(SB)/8, $0x0504070601000302
DATA rot16<>+8(SB)/8, $0x0d0c0f0e09080b0a
DATA rot16<>+16(SB)/8, $0x0504070601000302
DATA rot16<>+24(SB)/8, $0x0d0c0f0e09080b0a
GLOBL rot16<>(SB), RODATA|NOPTR, $32
DATA rot8<>+0(SB)/8, $0x0605040702010003
DATA rot8<>+8(SB)/8, $0x0e0d0c0f0a09080b
DATA rot8<>+16(SB)/8, $0x0605040702010003
DATA rot8<>+24(SB)/8, $0x0e0d0c0f0a09080b
GLOBL rot8<>(SB), RODATA|NOPTR, $32
DATA iota8<>+0(SB)/4, $0
DATA iota8<>+4(SB)/4, $1
DATA iota8<>+8(SB)/4, $2
DATA iota8<>+12(SB)/4, $3
DATA iota8<>+16(SB)/4, $4
DATA iota8<>+20(SB)/4, $5
DATA iota8<>+24(SB)/4, $6
DATA iota8<>+28(SB)/4, $7
GLOBL iota8<>(SB), RODATA|NOPTR, $32
DATA signbit<>+0(SB)/8, $0x8000000080000000
DATA signbit<>+8(SB)/8, $0x8000000080000000
DATA signbit<>+16(SB)/8, $0x8000000080000000
DATA signbit<>+24(SB)/8, $0x8000000080000000
GLOBL signbit<>(SB), RODATA|NOPTR, $32

// counters holds the block counters of the two runs of an iteration.
DATA counters<>+0(SB)/4, $0
DATA counters<>+4(SB)/4, $1
DATA counters<>+8(SB)/4, $2
DATA counters<>+12(SB)/4, $3
DATA counters<>+16(SB)/4, $4
DATA counters<>+20(SB)/4, $5
DATA counters<>+24(SB)/4, $6
DATA counters<>+28(SB)/4, $7
DATA counters<>+32(SB)/4, $8
DATA counters<>+36(SB)/4, $9
DATA counters<>+40(SB)/4, $10
DATA counters<>+44(SB)/4, $11
DATA counters<>+48(SB)/4, $12
DATA counters<>+52(SB)/4, $13
DATA counters<>+56(SB)/4, $14
DATA counters<>+60(SB)/4, $15
GLOBL counters<>(SB), RODATA|NOPTR, $64

// QRHALF runs half of two ChaCha quarter rounds side by side, on words
// (a1, b1, c1, d1) and (a2, b2, c2, d2) in registers: d rotated by the
// VPSHUFB table rot, b rotated left by l bits (r = 32 − l; Y15: scratch).
#define QRHALF(rot, l, r, a1, b1, c1, d1, a2, b2, c2, d2) \
	VPADDD b1, a1, a1; \
	VPADDD b2, a2, a2; \
	VPXOR a1, d1, d1; \
	VPXOR a2, d2, d2; \
	VPSHUFB rot<>(SB), d1, d1; \
	VPSHUFB rot<>(SB), d2, d2; \
	VPADDD d1, c1, c1; \
	VPADDD d2, c2, c2; \
	VPXOR c1, b1, b1; \
	VPXOR c2, b2, b2; \
	VPSLLD $l, b1, Y15; \
	VPSRLD $r, b1, b1; \
	VPOR Y15, b1, b1; \
	VPSLLD $l, b2, Y15; \
	VPSRLD $r, b2, b2; \
	VPOR Y15, b2, b2

// QR2 runs two ChaCha quarter rounds side by side (see QRHALF).
#define QR2(a1, b1, c1, d1, a2, b2, c2, d2) \
	QRHALF(rot16, 12, 20, a1, b1, c1, d1, a2, b2, c2, d2); \
	QRHALF(rot8, 7, 25, a1, b1, c1, d1, a2, b2, c2, d2)

// CHACHA8_REST runs the four double rounds after their first column
// round, on the words as that round leaves them: word 4 in row 4 of the
// state at R8 (128(R8)), word 15 in Y4, the others in the registers of
// their numbers (Y15: scratch). It ends with the words in Y0-Y3 (0-3), Y6
// (4), Y5 (5), 192(R8) (6), Y7-Y14 (7-14) and Y4 (15); it uses rows 4 and
// 6 of the state as well.
#define CHACHA8_REST \
	QR2(Y0, Y5, Y10, Y4, Y1, Y6, Y11, Y12); \
	VMOVDQU Y6, 192(R8); \
	VMOVDQU 128(R8), Y6; \
	QR2(Y2, Y7, Y8, Y13, Y3, Y6, Y9, Y14); \
	QR2(Y0, Y6, Y8, Y12, Y1, Y5, Y9, Y13); \
	VMOVDQU Y6, 128(R8); \
	VMOVDQU 192(R8), Y6; \
	QR2(Y2, Y6, Y10, Y14, Y3, Y7, Y11, Y4); \
	QR2(Y0, Y5, Y10, Y4, Y1, Y6, Y11, Y12); \
	VMOVDQU Y6, 192(R8); \
	VMOVDQU 128(R8), Y6; \
	QR2(Y2, Y7, Y8, Y13, Y3, Y6, Y9, Y14); \
	QR2(Y0, Y6, Y8, Y12, Y1, Y5, Y9, Y13); \
	VMOVDQU Y6, 128(R8); \
	VMOVDQU 192(R8), Y6; \
	QR2(Y2, Y6, Y10, Y14, Y3, Y7, Y11, Y4); \
	QR2(Y0, Y5, Y10, Y4, Y1, Y6, Y11, Y12); \
	VMOVDQU Y6, 192(R8); \
	VMOVDQU 128(R8), Y6; \
	QR2(Y2, Y7, Y8, Y13, Y3, Y6, Y9, Y14); \
	QR2(Y0, Y6, Y8, Y12, Y1, Y5, Y9, Y13); \
	VMOVDQU Y6, 128(R8); \
	VMOVDQU 192(R8), Y6; \
	QR2(Y2, Y6, Y10, Y14, Y3, Y7, Y11, Y4); \
	QR2(Y0, Y5, Y10, Y4, Y1, Y6, Y11, Y12); \
	VMOVDQU Y6, 192(R8); \
	VMOVDQU 128(R8), Y6; \
	QR2(Y2, Y7, Y8, Y13, Y3, Y6, Y9, Y14)

// QR32 is a ChaCha quarter round on four 32-bit registers.
#define QR32(a, b, c, d) \
	ADDL b, a; XORL a, d; ROLL $16, d; \
	ADDL d, c; XORL c, b; ROLL $12, b; \
	ADDL b, a; XORL a, d; ROLL $8, d; \
	ADDL d, c; XORL c, b; ROLL $7, b

// ROT sets W to W rotated left by n bits (m = 32 − n; Y15: scratch).
#define ROT(W, n, m) \
	VPSLLD $n, W, Y15; \
	VPSRLD $m, W, W; \
	VPOR Y15, W, W

// LESS sets each lane of W to all ones where W XOR 1<<31 is below thr
// (thr XOR 1<<31 in Y15, signed): where W is below thr when W holds a word
// XOR 1<<31.
#define LESS(W) \
	VPCMPGTD W, Y15, W

// FLIP XORs each lane of W with 1<<31.
#define FLIP(W) \
	VPXOR signbit<>(SB), W, W

// func chachaMaskAVX2(state *[16][8]uint32, seed *[4]uint64, bits *byte, iters int, thr uint32)
//
// Per iteration two runs of eight blocks (counters 0-7, then 8-15), in the
// registers CHACHA8_REST describes. Only word 12 (the counter) differs
// between the blocks of an iteration, so the first column round's quarter
// rounds on columns 1 to 3 are computed once per iteration, in scalar
// registers, into row 2 of the state (word w at 64+4w; word 0 as const+key
// after its first addition), with the key words XOR 1<<31 in row 8 for the
// end of a run; a run broadcasts them and computes the first quarter round
// on column 0 only.
//
// At the end of a run each word w is compared with thr, lane by lane;
// VPACKSSDW and VPACKSSWB turn the comparisons of words 4q to 4q+3 into
// bytes whose low 128 bits are the 16 lanes of the first group (element
// 4w + j of block j, in order) and whose high 128 bits those of the second
// group, and VPERM2I128 pairs the low (high) halves of q = 0 and 1, then
// q = 2 and 3, so each VPMOVMSKB gives four mask bytes of one group. A run
// stores 16 bytes, the last one of the second run holding the reseed words
// (overwritten by the next iteration, 31 bytes on). Words 14 and 15 of the
// second group (upper lanes) go to row 0 each run: after the second run
// they are the next seed. thr XOR 1<<31 is kept in row 1.
TEXT ·chachaMaskAVX2(SB), NOSPLIT, $0-36
	MOVQ state+0(FP), R8
	MOVQ seed+8(FP), SI
	MOVQ bits+16(FP), DI
	MOVQ iters+24(FP), CX
	MOVL thr+32(FP), AX
	XORL $0x80000000, AX
	MOVL AX, 32(R8)
	TESTQ CX, CX
	JZ   kdone

kiter:
	// Column round, columns 1 to 3 (words 13-15 start at 0).
	MOVL $0x3320646e, AX
	MOVL 4(SI), BX
	MOVL 20(SI), R9
	XORL R10, R10
	MOVL $0x79622d32, DX
	MOVL 8(SI), R11
	MOVL 24(SI), R12
	XORL R13, R13
	QR32(AX, BX, R9, R10)
	QR32(DX, R11, R12, R13)
	MOVL AX, 68(R8)
	MOVL BX, 84(R8)
	MOVL R9, 100(R8)
	MOVL R10, 116(R8)
	MOVL DX, 72(R8)
	MOVL R11, 88(R8)
	MOVL R12, 104(R8)
	MOVL R13, 120(R8)
	MOVL $0x6b206574, AX
	MOVL 12(SI), BX
	MOVL 28(SI), R9
	XORL R10, R10
	QR32(AX, BX, R9, R10)
	MOVL AX, 76(R8)
	MOVL BX, 92(R8)
	MOVL R9, 108(R8)
	MOVL R10, 124(R8)
	// Column 0: word 0 after a += b, words 4 and 8.
	MOVL 0(SI), AX
	MOVL AX, 80(R8)
	ADDL $0x61707865, AX
	MOVL AX, 64(R8)
	MOVL 16(SI), AX
	MOVL AX, 96(R8)
	// The key XOR 1<<31, for the end of the runs.
	MOVL 0(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 256(R8)
	MOVL 4(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 260(R8)
	MOVL 8(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 264(R8)
	MOVL 12(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 268(R8)
	MOVL 16(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 272(R8)
	MOVL 20(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 276(R8)
	MOVL 24(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 280(R8)
	MOVL 28(SI), AX
	XORL $0x80000000, AX
	MOVL AX, 284(R8)
	LEAQ counters<>(SB), DX

krun:
	// Column round, column 0; the other columns from row 2.
	VPBROADCASTD 64(R8), Y0
	VPBROADCASTD 80(R8), Y4
	VPBROADCASTD 96(R8), Y8
	VPXOR        (DX), Y0, Y12
	VPSHUFB      rot16<>(SB), Y12, Y12
	VPADDD       Y12, Y8, Y8
	VPXOR        Y8, Y4, Y4
	ROT(Y4, 12, 20)
	VPADDD       Y4, Y0, Y0
	VPXOR        Y0, Y12, Y12
	VPSHUFB      rot8<>(SB), Y12, Y12
	VPADDD       Y12, Y8, Y8
	VPXOR        Y8, Y4, Y4
	ROT(Y4, 7, 25)
	VMOVDQU      Y4, 128(R8)
	VPBROADCASTD 68(R8), Y1
	VPBROADCASTD 72(R8), Y2
	VPBROADCASTD 76(R8), Y3
	VPBROADCASTD 84(R8), Y5
	VPBROADCASTD 88(R8), Y6
	VPBROADCASTD 92(R8), Y7
	VPBROADCASTD 100(R8), Y9
	VPBROADCASTD 104(R8), Y10
	VPBROADCASTD 108(R8), Y11
	VPBROADCASTD 116(R8), Y13
	VPBROADCASTD 120(R8), Y14
	VPBROADCASTD 124(R8), Y4
	CHACHA8_REST

	// The reseed words, then thr.
	VEXTRACTI128 $1, Y14, X15
	VMOVDQU      X15, 0(R8)
	VEXTRACTI128 $1, Y4, X15
	VMOVDQU      X15, 16(R8)
	VPBROADCASTD 32(R8), Y15

	// Words 0-3.
	FLIP(Y0)
	FLIP(Y1)
	FLIP(Y2)
	FLIP(Y3)
	LESS(Y0)
	LESS(Y1)
	LESS(Y2)
	LESS(Y3)
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKSSWB Y2, Y0, Y0

	// Words 4-7 (word 6 in row 6), key XOR 1<<31 added back.
	VPBROADCASTD 256(R8), Y1
	VPADDD       Y1, Y6, Y6
	VPBROADCASTD 260(R8), Y1
	VPADDD       Y1, Y5, Y5
	VPBROADCASTD 264(R8), Y2
	VPADDD       192(R8), Y2, Y2
	VPBROADCASTD 268(R8), Y1
	VPADDD       Y1, Y7, Y7
	LESS(Y6)
	LESS(Y5)
	LESS(Y2)
	LESS(Y7)
	VPACKSSDW  Y5, Y6, Y6
	VPACKSSDW  Y7, Y2, Y2
	VPACKSSWB  Y2, Y6, Y6
	VPERM2I128 $0x20, Y6, Y0, Y1
	VPMOVMSKB  Y1, AX
	MOVL       AX, 0(DI)
	VPERM2I128 $0x31, Y6, Y0, Y1
	VPMOVMSKB  Y1, AX
	MOVL       AX, 8(DI)

	// Words 8-11, key XOR 1<<31 added back.
	VPBROADCASTD 272(R8), Y0
	VPADDD       Y0, Y8, Y8
	VPBROADCASTD 276(R8), Y0
	VPADDD       Y0, Y9, Y9
	VPBROADCASTD 280(R8), Y0
	VPADDD       Y0, Y10, Y10
	VPBROADCASTD 284(R8), Y0
	VPADDD       Y0, Y11, Y11
	LESS(Y8)
	LESS(Y9)
	LESS(Y10)
	LESS(Y11)
	VPACKSSDW Y9, Y8, Y8
	VPACKSSDW Y11, Y10, Y10
	VPACKSSWB Y10, Y8, Y8

	// Words 12-15 (15 in Y4).
	FLIP(Y12)
	FLIP(Y13)
	FLIP(Y14)
	FLIP(Y4)
	LESS(Y12)
	LESS(Y13)
	LESS(Y14)
	LESS(Y4)
	VPACKSSDW  Y13, Y12, Y12
	VPACKSSDW  Y4, Y14, Y14
	VPACKSSWB  Y14, Y12, Y12
	VPERM2I128 $0x20, Y12, Y8, Y1
	VPMOVMSKB  Y1, AX
	MOVL       AX, 4(DI)
	VPERM2I128 $0x31, Y12, Y8, Y1
	VPMOVMSKB  Y1, AX
	MOVL       AX, 12(DI)

	ADDQ $16, DI
	ADDQ $32, DX
	LEAQ counters<>+64(SB), AX
	CMPQ DX, AX
	JNE  krun

	DECQ    DI
	VMOVDQU 0(R8), Y0
	VMOVDQU Y0, 0(SI)
	DECQ    CX
	JNZ     kiter

kdone:
	VZEROUPPER
	RET
