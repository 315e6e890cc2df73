#include "textflag.h"

// func adamwAVX2(p, g, m, v []float32, c *adamConsts)
// The AdamW update of adamwGo on len(p) &^ 7 elements, 8 per iteration;
// each operation rounds as the Go code's does (no fused multiply-adds).
TEXT ·adamwAVX2(SB), NOSPLIT, $0-104
	MOVQ p_base+0(FP), DI
	MOVQ p_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ c+96(FP), AX
	VBROADCASTSS 0(AX), Y8   // gs
	VBROADCASTSS 4(AX), Y9   // β1
	VBROADCASTSS 8(AX), Y10  // 1−β1
	VBROADCASTSS 12(AX), Y11 // β2
	VBROADCASTSS 16(AX), Y12 // 1−β2
	VBROADCASTSS 20(AX), Y13 // decay
	VBROADCASTSS 24(AX), Y14 // stepSize
	VBROADCASTSS 28(AX), Y15 // sbc2
	VBROADCASTSS 32(AX), Y7  // eps
	SHRQ $3, CX
	JZ adone
aloop:
	VMOVUPS (SI), Y0
	VMULPS Y8, Y0, Y0    // g' = g·gs
	VMULPS (R8), Y9, Y1  // β1·m
	VMULPS Y0, Y10, Y2   // (1−β1)·g'
	VADDPS Y2, Y1, Y1    // m
	VMOVUPS Y1, (R8)
	VMULPS (R9), Y11, Y3 // β2·v
	VMULPS Y0, Y12, Y4   // (1−β2)·g'
	VMULPS Y0, Y4, Y4    // ·g'
	VADDPS Y4, Y3, Y3    // v
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VDIVPS Y15, Y5, Y5   // √v/sbc2
	VADDPS Y7, Y5, Y5    // + eps
	VMULPS Y1, Y14, Y6   // stepSize·m
	VDIVPS Y5, Y6, Y6    // / (√v/sbc2 + eps)
	VMULPS (DI), Y13, Y2 // p·decay
	VSUBPS Y6, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ aloop
adone:
	VZEROUPPER
	RET
