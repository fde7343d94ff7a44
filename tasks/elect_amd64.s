//go:build !purego

#include "textflag.h"

// electFastAVX2: electBF16Generic for one, two or three models that all
// keep by the same kind of rule, unrolled across the models with every
// model's v in a register (no scratch round trip), 16 entries per
// iteration (two halves of 8 lanes), writing float32 or, fused, the bf16
// encodings of simd.F32ToBF16. One loop per variant (models, rule, ·scale
// or not, normalize or not), chosen once per call.
//
// Registers:
//	DI out (float32 or uint16), SI base, R8 the model rows (electRow, 160
//	bytes each: x at 0, bits at 8, from at 32, spanX at 64, scale at 96,
//	w at 128), R14 the electParams (lambda row at 0, bf16 flag at 32), CX
//	n, BX the entry index, DX the mask byte index (BX >> 3).
//	R9, R10, R11: x of models 0, 1, 2; R12, R13, AX: their mask bits.
//	Half one (entries 0–3, 8–11): Y0 b then the result, Y1–Y3 δ then v of
//	models 0–2 (Y1 then m). Half two (entries 4–7, 12–15): Y8, and Y9,
//	Y10, Y13. Y4 the keep mask. In the election, half one: Y5 Σv then the
//	elected sign bit, Y6 the agreement mask, Y7 dv; half two: Y4, Y14,
//	Y12. Constants: Y11 1<<31, Y15 zero; the others are memory operands.
//
// The rules (the same for all models of a call):
//	GE:   keep iff |δ| > from−1 as int32: a band reaching 0x7fffffff (the
//	      row's from holds from−1; from = 0 gives −1, keeping everything).
//	BAND: keep iff (|δ| − from) XOR 1<<31 ≤ spanX as int32, the unsigned
//	      (|δ| − from) ≤ span of fusedModel.keeps.
//	BITS: keep iff the mask bit is set: the word of the 16 entries' mask
//	      bits is broadcast and shifted per lane so that the entry's bit is
//	      the sign bit, which selects v or +0 (VBLENDVPS).
// The ...1 forms skip ·scale (scale = 1: δ·1 = δ exactly, also for NaN).
//
// The election, as electBF16Generic but without its +0 starting terms:
//	Σv = v0 + v1 + v2 (v = +0 when not kept; +0 + v0 differs from v0 only
//	for v0 = −0, which changes at most the sign of a zero Σ, and the test
//	!(Σ ≥ 0) ignores it); the elected sign bit S = 1<<31 where !(Σ ≥ 0);
//	v agrees iff (v XOR S) > 0 ordered: non-zero, not NaN, of the elected
//	sign. m and dv add the agreeing v and w in model order, +0 for the
//	others: m's first term is +0 or a non-zero v, and a sum of non-zero
//	values of one sign is never −0, so m + (+0) = m and m has the generic
//	bits; dv can differ only by being −0 where the generic one is +0, and
//	both compare equal to 0 and divide by 1.
//	out = b + float32(m / d)·lambda, d = dv unless dv == 0 (normalize),
//	without the division without normalize (m / 1 = m: m is never NaN).

DATA absmask<>+0(SB)/4, $0x7fffffff
DATA absmask<>+4(SB)/4, $0x7fffffff
DATA absmask<>+8(SB)/4, $0x7fffffff
DATA absmask<>+12(SB)/4, $0x7fffffff
DATA absmask<>+16(SB)/4, $0x7fffffff
DATA absmask<>+20(SB)/4, $0x7fffffff
DATA absmask<>+24(SB)/4, $0x7fffffff
DATA absmask<>+28(SB)/4, $0x7fffffff
GLOBL absmask<>(SB), RODATA|NOPTR, $32

DATA signbit<>+0(SB)/4, $0x80000000
DATA signbit<>+4(SB)/4, $0x80000000
DATA signbit<>+8(SB)/4, $0x80000000
DATA signbit<>+12(SB)/4, $0x80000000
DATA signbit<>+16(SB)/4, $0x80000000
DATA signbit<>+20(SB)/4, $0x80000000
DATA signbit<>+24(SB)/4, $0x80000000
DATA signbit<>+28(SB)/4, $0x80000000
GLOBL signbit<>(SB), RODATA|NOPTR, $32

DATA onef<>+0(SB)/4, $0x3f800000
DATA onef<>+4(SB)/4, $0x3f800000
DATA onef<>+8(SB)/4, $0x3f800000
DATA onef<>+12(SB)/4, $0x3f800000
DATA onef<>+16(SB)/4, $0x3f800000
DATA onef<>+20(SB)/4, $0x3f800000
DATA onef<>+24(SB)/4, $0x3f800000
DATA onef<>+28(SB)/4, $0x3f800000
GLOBL onef<>(SB), RODATA|NOPTR, $32

// bfconst: the rounding bias 0x7fff and the lsb 1 of the bf16 encoding,
// 8 lanes each (offsets 0, 32).
DATA bfconst<>+0(SB)/4, $0x7fff
DATA bfconst<>+4(SB)/4, $0x7fff
DATA bfconst<>+8(SB)/4, $0x7fff
DATA bfconst<>+12(SB)/4, $0x7fff
DATA bfconst<>+16(SB)/4, $0x7fff
DATA bfconst<>+20(SB)/4, $0x7fff
DATA bfconst<>+24(SB)/4, $0x7fff
DATA bfconst<>+28(SB)/4, $0x7fff
DATA bfconst<>+32(SB)/4, $1
DATA bfconst<>+36(SB)/4, $1
DATA bfconst<>+40(SB)/4, $1
DATA bfconst<>+44(SB)/4, $1
DATA bfconst<>+48(SB)/4, $1
DATA bfconst<>+52(SB)/4, $1
DATA bfconst<>+56(SB)/4, $1
DATA bfconst<>+60(SB)/4, $1
GLOBL bfconst<>(SB), RODATA|NOPTR, $64

// bitshift: the 16 entries' mask bits, read as one little-endian word w
// and broadcast to every dword as w | w<<16, hold entry e's bit at
// position 16+e; shifting it left by 15−e makes it the sign bit. The
// first half's lanes hold entries 0–3 and 8–11, the second's 4–7 and
// 12–15 (see LOADBF).
DATA bitshift<>+0(SB)/4, $15
DATA bitshift<>+4(SB)/4, $14
DATA bitshift<>+8(SB)/4, $13
DATA bitshift<>+12(SB)/4, $12
DATA bitshift<>+16(SB)/4, $7
DATA bitshift<>+20(SB)/4, $6
DATA bitshift<>+24(SB)/4, $5
DATA bitshift<>+28(SB)/4, $4
DATA bitshift<>+32(SB)/4, $11
DATA bitshift<>+36(SB)/4, $10
DATA bitshift<>+40(SB)/4, $9
DATA bitshift<>+44(SB)/4, $8
DATA bitshift<>+48(SB)/4, $3
DATA bitshift<>+52(SB)/4, $2
DATA bitshift<>+56(SB)/4, $1
DATA bitshift<>+60(SB)/4, $0
GLOBL bitshift<>(SB), RODATA|NOPTR, $64

// LOADBF widens 8 of the 16 stored bf16 values at (P)(BX*2) to float32
// in D: interleaving the words with zeros (Y15) puts each value in the
// upper half of its dword. UNP is VPUNPCKLWD (the first half: entries 0–3
// and 8–11, as the unpack works per 128-bit lane) or VPUNPCKHWD (the
// second: 4–7 and 12–15); every row is read in this order and the results
// are put back in order on output.
#define LOADBF(UNP, P, D) \
	UNP (P)(BX*2), Y15, D

// DELTA sets V = x − b for the model whose x is XP.
#define DELTA(HALF, XP, B, V) \
	LOADBF(HALF, XP, V) \
	VSUBPS B, V, V

// The rules: V = δ of the model whose row is at ROW(R8) (mask bits at BP,
// lane shifts SH) becomes v = (δ·scale)·w where kept, else +0.
#define GE(ROW, BP, SH, V) \
	VPAND    absmask<>(SB), V, Y4 \
	VPCMPGTD ROW+32(R8), Y4, Y4 \
	VMULPS   ROW+96(R8), V, V   \
	VMULPS   ROW+128(R8), V, V  \
	VPAND    Y4, V, V

#define GE1(ROW, BP, SH, V) \
	VPAND    absmask<>(SB), V, Y4 \
	VPCMPGTD ROW+32(R8), Y4, Y4 \
	VMULPS   ROW+128(R8), V, V  \
	VPAND    Y4, V, V

#define BAND(ROW, BP, SH, V) \
	VPAND    absmask<>(SB), V, Y4 \
	VPSUBD   ROW+32(R8), Y4, Y4 \
	VPXOR    Y11, Y4, Y4        \
	VPCMPGTD ROW+64(R8), Y4, Y4 \
	VMULPS   ROW+96(R8), V, V   \
	VMULPS   ROW+128(R8), V, V  \
	VPANDN   V, Y4, V

#define BAND1(ROW, BP, SH, V) \
	VPAND    absmask<>(SB), V, Y4 \
	VPSUBD   ROW+32(R8), Y4, Y4 \
	VPXOR    Y11, Y4, Y4        \
	VPCMPGTD ROW+64(R8), Y4, Y4 \
	VMULPS   ROW+128(R8), V, V  \
	VPANDN   V, Y4, V

#define BITS(ROW, BP, SH, V) \
	VPBROADCASTW (BP)(DX*1), Y4   \
	VPSLLVD      SH, Y4, Y4       \
	VMULPS       ROW+96(R8), V, V  \
	VMULPS       ROW+128(R8), V, V \
	VBLENDVPS    Y4, V, Y15, V

#define BITS1(ROW, BP, SH, V) \
	VPBROADCASTW (BP)(DX*1), Y4   \
	VPSLLVD      SH, Y4, Y4       \
	VMULPS       ROW+128(R8), V, V \
	VBLENDVPS    Y4, V, Y15, V

// Stage 1 of 8 entries (the half HALF, an unpack instruction, of the bf16
// rows, mask bit shifts SH) for k models: B = b, Vk = v of model k.
#define V1(RULE, HALF, SH, B, V0, VA, VB) \
	LOADBF(HALF, SI, B)       \
	DELTA(HALF, R9, B, V0)    \
	RULE(0, R12, SH, V0)

#define V2(RULE, HALF, SH, B, V0, VA, VB) \
	V1(RULE, HALF, SH, B, V0, VA, VB) \
	DELTA(HALF, R10, B, VA)   \
	RULE(160, R13, SH, VA)

#define V3(RULE, HALF, SH, B, V0, VA, VB) \
	V2(RULE, HALF, SH, B, V0, VA, VB) \
	DELTA(HALF, R11, B, VB)   \
	RULE(320, AX, SH, VB)

// Stage 2, the election, for k models, of both halves at once (their
// steps interleaved): B = b + float32(m / d)·lambda. Per half S is Σv,
// then the elected sign bit, A the agreement mask, M m (in model 0's v),
// DV dv: Y5, Y6, Y1, Y7 for the first half, Y4, Y14, Y9, Y12 for the
// second. The DV... macros keep dv and divide (normalize) or do nothing.

// SIGN turns Σv in S into the elected sign bit.
#define SIGN(S) \
	VCMPPS $0x19, Y15, S, S \
	VPAND  Y11, S, S

// AGREE sets A to the lanes where V agrees with the elected sign S.
#define AGREE(V, S, A) \
	VXORPS S, V, A \
	VCMPPS $0x1e, Y15, A, A

#define DVFIRST(A, DV) \
	VANDPS 128(R8), A, DV

#define DVNEXT(ROW, A, DV) \
	VANDPS ROW+128(R8), A, A \
	VADDPS A, DV, DV

#define DVDIV(M, A, DV) \
	VCMPPS    $0, Y15, DV, A         \
	VBLENDVPS A, onef<>(SB), DV, DV  \
	VDIVPS    DV, M, M

#define NOFIRST(A, DV)
#define NONEXT(ROW, A, DV)
#define NODIV(M, A, DV)

// MFIRST turns model 0's v (M) into m; MNEXT adds model V (row ROW).
#define MFIRST(DVF, M, S, A, DV) \
	AGREE(M, S, A)    \
	VANDPS A, M, M    \
	DVF(A, DV)

#define MNEXT(DVN, ROW, V, M, S, A, DV) \
	AGREE(V, S, A)    \
	VANDPS A, V, V    \
	VADDPS V, M, M    \
	DVN(ROW, A, DV)

#define FINISH(DIV, B, M, A, DV) \
	DIV(M, A, DV)             \
	VMULPS (R14), M, M        \
	VADDPS M, B, B

#define ELECT(DVF, DVN, DIV) \
	SIGN(Y5)                                  \
	SIGN(Y4)                                  \
	MFIRST(DVF, Y1, Y5, Y6, Y7)               \
	MFIRST(DVF, Y9, Y4, Y14, Y12)

#define E1(DVF, DVN, DIV) \
	VMOVAPS Y1, Y5                            \
	VMOVAPS Y9, Y4                            \
	ELECT(DVF, DVN, DIV)                      \
	FINISH(DIV, Y0, Y1, Y6, Y7)               \
	FINISH(DIV, Y8, Y9, Y14, Y12)

#define E2(DVF, DVN, DIV) \
	VADDPS Y2, Y1, Y5                         \
	VADDPS Y10, Y9, Y4                        \
	ELECT(DVF, DVN, DIV)                      \
	MNEXT(DVN, 160, Y2, Y1, Y5, Y6, Y7)       \
	MNEXT(DVN, 160, Y10, Y9, Y4, Y14, Y12)    \
	FINISH(DIV, Y0, Y1, Y6, Y7)               \
	FINISH(DIV, Y8, Y9, Y14, Y12)

#define E3(DVF, DVN, DIV) \
	VADDPS Y2, Y1, Y5                         \
	VADDPS Y10, Y9, Y4                        \
	VADDPS Y3, Y5, Y5                         \
	VADDPS Y13, Y4, Y4                        \
	ELECT(DVF, DVN, DIV)                      \
	MNEXT(DVN, 160, Y2, Y1, Y5, Y6, Y7)       \
	MNEXT(DVN, 160, Y10, Y9, Y4, Y14, Y12)    \
	MNEXT(DVN, 320, Y3, Y1, Y5, Y6, Y7)       \
	MNEXT(DVN, 320, Y13, Y9, Y4, Y14, Y12)    \
	FINISH(DIV, Y0, Y1, Y6, Y7)               \
	FINISH(DIV, Y8, Y9, Y14, Y12)

// ROUNDBF16 sets R to the bf16 encodings of V (in the low words), as
// simd.F32ToBF16 rounds a number: (V + 0x7fff + lsb) >> 16. Its NaN rule
// (V>>16 | 0x40) gives the same bits here: a NaN result is either base's
// NaN, quieted (a bf16 value: its low 16 bits are 0), or a NaN that the
// arithmetic created (0xffc00000); the NaNs of scale and w never reach m
// or dv (their v is NaN and never agrees), and electFast declines a NaN
// lambda. With V's low 16 bits 0 the sum does not carry, and the quiet
// bit 0x40 is already set.
#define ROUNDBF16(V, T, R) \
	VPSRLD    $16, V, T                 \
	VPAND     bfconst<>+32(SB), T, R    \
	VPADDD    bfconst<>+0(SB), R, R     \
	VPADDD    V, R, R                   \
	VPSRLD    $16, R, R

// LOOP is the loop of one variant (labels L, LBF, LNEXT): 16 entries per
// iteration, one half (entries 0–3, 8–11) in Y0 (b, then the result) and Y1–Y3, the other
// (4–7, 12–15) in Y8 and Y9, Y10, Y13; both halves' v first, then both elections, so
// that one half's election overlaps the other's loads. The results are
// stored as float32 or bf16 by the flag at 32(R14).
#define LOOP(VK, EK, RULE, DVF, DVN, DIV, L, LBF, LNEXT) \
L:                                                  \
	MOVQ BX, DX                                     \
	SHRQ $3, DX                                     \
	VK(RULE, VPUNPCKLWD, bitshift<>+0(SB), Y0, Y1, Y2, Y3)   \
	VK(RULE, VPUNPCKHWD, bitshift<>+32(SB), Y8, Y9, Y10, Y13) \
	EK(DVF, DVN, DIV)                               \
	CMPB 32(R14), $0                                \
	JNE  LBF                                        \
	VPERM2F128 $0x20, Y8, Y0, Y1                    \
	VPERM2F128 $0x31, Y8, Y0, Y2                    \
	VMOVUPS Y1, (DI)(BX*4)                          \
	VMOVUPS Y2, 32(DI)(BX*4)                        \
	JMP  LNEXT                                      \
LBF:                                                \
	ROUNDBF16(Y0, Y1, Y2)                           \
	ROUNDBF16(Y8, Y4, Y5)                           \
	VPACKUSDW Y5, Y2, Y2                            \
	VMOVDQU   Y2, (DI)(BX*2)                        \
LNEXT:                                              \
	ADDQ $16, BX                                    \
	CMPQ BX, CX                                     \
	JB   L                                          \
	JMP  done

// LOOPS are the four loops of k models keeping by RULE (RULE1 without
// ·scale), with and without normalize.
#define LOOPS(VK, EK, RULE, RULE1, L0, L0B, L0N, L1, L1B, L1N, L2, L2B, L2N, L3, L3B, L3N) \
	LOOP(VK, EK, RULE, NOFIRST, NONEXT, NODIV, L0, L0B, L0N)     \
	LOOP(VK, EK, RULE1, NOFIRST, NONEXT, NODIV, L1, L1B, L1N)    \
	LOOP(VK, EK, RULE, DVFIRST, DVNEXT, DVDIV, L2, L2B, L2N)     \
	LOOP(VK, EK, RULE1, DVFIRST, DVNEXT, DVDIV, L3, L3B, L3N)

#define CASE(N, L) \
	CMPQ DX, $N \
	JEQ  L

// func electFastAVX2(out unsafe.Pointer, base *uint16, tab *[3]electRow, n int, p *electParams, variant int)
//
// n is a positive multiple of 16; variant is 12·(k−1) + 4·rule +
// 2·normalize + scale1, with rule 0 GE, 1 BAND, 2 BITS and scale1 = 1 for
// the forms without ·scale.
TEXT ·electFastAVX2(SB), NOSPLIT, $0-48
	MOVQ    out+0(FP), DI
	MOVQ    base+8(FP), SI
	MOVQ    tab+16(FP), R8
	MOVQ    n+24(FP), CX
	MOVQ    p+32(FP), R14
	MOVQ    variant+40(FP), DX
	MOVQ    0(R8), R9
	MOVQ    160(R8), R10
	MOVQ    320(R8), R11
	MOVQ    8(R8), R12
	MOVQ    168(R8), R13
	MOVQ    328(R8), AX
	VPXOR   Y15, Y15, Y15
	VMOVDQU signbit<>(SB), Y11
	XORQ    BX, BX
	CASE(0, a0)
	CASE(1, a1)
	CASE(2, a2)
	CASE(3, a3)
	CASE(4, b0)
	CASE(5, b1)
	CASE(6, b2)
	CASE(7, b3)
	CASE(8, c0)
	CASE(9, c1)
	CASE(10, c2)
	CASE(11, c3)
	CASE(12, d0)
	CASE(13, d1)
	CASE(14, d2)
	CASE(15, d3)
	CASE(16, e0)
	CASE(17, e1)
	CASE(18, e2)
	CASE(19, e3)
	CASE(20, f0)
	CASE(21, f1)
	CASE(22, f2)
	CASE(23, f3)
	CASE(24, g0)
	CASE(25, g1)
	CASE(26, g2)
	CASE(27, g3)
	CASE(28, h0)
	CASE(29, h1)
	CASE(30, h2)
	CASE(31, h3)
	CASE(32, i0)
	CASE(33, i1)
	CASE(34, i2)
	CASE(35, i3)
	JMP     done

	// One model (a GE, b BAND, c BITS), two (d, e, f), three (g, h, i).
	LOOPS(V1, E1, GE, GE1, a0, a0b, a0n, a1, a1b, a1n, a2, a2b, a2n, a3, a3b, a3n)
	LOOPS(V1, E1, BAND, BAND1, b0, b0b, b0n, b1, b1b, b1n, b2, b2b, b2n, b3, b3b, b3n)
	LOOPS(V1, E1, BITS, BITS1, c0, c0b, c0n, c1, c1b, c1n, c2, c2b, c2n, c3, c3b, c3n)
	LOOPS(V2, E2, GE, GE1, d0, d0b, d0n, d1, d1b, d1n, d2, d2b, d2n, d3, d3b, d3n)
	LOOPS(V2, E2, BAND, BAND1, e0, e0b, e0n, e1, e1b, e1n, e2, e2b, e2n, e3, e3b, e3n)
	LOOPS(V2, E2, BITS, BITS1, f0, f0b, f0n, f1, f1b, f1n, f2, f2b, f2n, f3, f3b, f3n)
	LOOPS(V3, E3, GE, GE1, g0, g0b, g0n, g1, g1b, g1n, g2, g2b, g2n, g3, g3b, g3n)
	LOOPS(V3, E3, BAND, BAND1, h0, h0b, h0n, h1, h1b, h1n, h2, h2b, h2n, h3, h3b, h3n)
	LOOPS(V3, E3, BITS, BITS1, i0, i0b, i0n, i1, i1b, i1n, i2, i2b, i2n, i3, i3b, i3n)

done:
	VZEROUPPER
	RET
