//go:build !purego

#include "textflag.h"

// func applyBitsAVX2(d *float32, bits *byte, n int, rows *[256][8]uint32)
//
// Per 8 entries: the mask byte selects a 32-byte row of lane masks (all
// ones where its bit is set), ANDed into the entries in place.
TEXT ·applyBitsAVX2(SB), NOSPLIT, $0-32
	MOVQ  d+0(FP), DI
	MOVQ  bits+8(FP), SI
	MOVQ  n+16(FP), CX
	MOVQ  rows+24(FP), R8
	SHRQ  $3, CX
	JZ    abdone

abloop:
	MOVBLZX (SI), AX
	SHLQ    $5, AX
	VMOVUPS (DI), Y0
	VANDPS  (R8)(AX*1), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	INCQ    SI
	DECQ    CX
	JNZ     abloop

abdone:
	VZEROUPPER
	RET
