#include "textflag.h"

// The layer norm of one row with AVX2 and FMA, len(x) a positive multiple
// of 8: eight lanes accumulate the row's sums, which are then added across
// lanes (HSUM8).

// HSUM8 adds the 8 lanes of Y into the low lane of X (X is Y's low half);
// clobbers X7.
#define HSUM8(Y, X) \
	VEXTRACTF128 $1, Y, X7 \
	VADDPS X7, X, X \
	VHADDPS X, X, X \
	VHADDPS X, X, X

// func lnFwdAVX2(o, x, g, b []float32, eps float32) (mu, rs float32)
// mu = Σx/n, rs = 1/√(Σ(x−mu)²/n + eps), o = (x−mu)·rs·g + b.
TEXT ·lnFwdAVX2(SB), NOSPLIT, $0-112
	MOVQ o_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	MOVQ g_base+48(FP), R8
	MOVQ b_base+72(FP), R9
	MOVQ CX, BX
	SHRQ $3, BX
	VCVTSI2SSQ CX, X6, X6       // n

	// Σx and Σ(x−mu)² in four accumulators over 32-float steps, then
	// single vectors.
	MOVQ CX, R10
	SHRQ $5, R10                // 32-float steps
	MOVQ BX, R11
	ANDQ $3, R11                // then single vectors
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	MOVQ SI, AX
	MOVQ R10, DX
	TESTQ DX, DX
	JZ   lfsum1
lfsum4:
	VADDPS (AX), Y0, Y0
	VADDPS 32(AX), Y1, Y1
	VADDPS 64(AX), Y3, Y3
	VADDPS 96(AX), Y4, Y4
	ADDQ $128, AX
	DECQ DX
	JNZ  lfsum4
lfsum1:
	MOVQ R11, DX
	TESTQ DX, DX
	JZ   lfsumd
lfsum1l:
	VADDPS (AX), Y0, Y0
	ADDQ $32, AX
	DECQ DX
	JNZ  lfsum1l
lfsumd:
	VADDPS Y1, Y0, Y0
	VADDPS Y4, Y3, Y3
	VADDPS Y3, Y0, Y0
	HSUM8(Y0, X0)
	VDIVSS X6, X0, X2           // mu
	VBROADCASTSS X2, Y2

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	MOVQ SI, AX
	MOVQ R10, DX
	TESTQ DX, DX
	JZ   lfsq1
lfsq4:
	VMOVUPS (AX), Y8
	VMOVUPS 32(AX), Y9
	VMOVUPS 64(AX), Y10
	VMOVUPS 96(AX), Y11
	VSUBPS Y2, Y8, Y8
	VSUBPS Y2, Y9, Y9
	VSUBPS Y2, Y10, Y10
	VSUBPS Y2, Y11, Y11
	VFMADD231PS Y8, Y8, Y0
	VFMADD231PS Y9, Y9, Y1
	VFMADD231PS Y10, Y10, Y3
	VFMADD231PS Y11, Y11, Y4
	ADDQ $128, AX
	DECQ DX
	JNZ  lfsq4
lfsq1:
	MOVQ R11, DX
	TESTQ DX, DX
	JZ   lfsqd
lfsq1l:
	VMOVUPS (AX), Y8
	VSUBPS Y2, Y8, Y8
	VFMADD231PS Y8, Y8, Y0
	ADDQ $32, AX
	DECQ DX
	JNZ  lfsq1l
lfsqd:
	VADDPS Y1, Y0, Y0
	VADDPS Y4, Y3, Y3
	VADDPS Y3, Y0, Y3
	HSUM8(Y3, X3)
	VDIVSS X6, X3, X3
	VADDSS eps+96(FP), X3, X3
	VSQRTSS X3, X3, X3
	MOVL $0x3f800000, AX
	MOVQ AX, X5
	VDIVSS X3, X5, X5           // rs
	VBROADCASTSS X5, Y5

lfout:
	VMOVUPS (SI), Y4
	VSUBPS Y2, Y4, Y4
	VMULPS Y5, Y4, Y4
	VMOVUPS (R8), Y6
	VFMADD213PS (R9), Y6, Y4    // x̂·g + b
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, DI
	DECQ BX
	JNZ  lfout

	MOVSS X2, mu+104(FP)
	MOVSS X5, rs+108(FP)
	VZEROUPPER
	RET

// func lnBwdAVX2(d, do, x, w []float32, mu, rs float32)
// With g = do·w and x̂ = (x−mu)·rs: d = (g − Σg/n − x̂·Σ(g·x̂)/n)·rs.
TEXT ·lnBwdAVX2(SB), NOSPLIT, $0-104
	MOVQ d_base+0(FP), DI
	MOVQ do_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	MOVQ x_len+56(FP), CX
	MOVQ w_base+72(FP), R8
	VBROADCASTSS mu+96(FP), Y2
	VBROADCASTSS rs+100(FP), Y5
	MOVQ CX, BX
	SHRQ $3, BX
	VCVTSI2SSQ CX, X6, X6       // n

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ DX, R10
	MOVQ SI, R11
	MOVQ R8, R12
	MOVQ BX, AX
lbsum:
	VMOVUPS (R10), Y3
	VMULPS (R12), Y3, Y3        // g
	VADDPS Y3, Y0, Y0
	VMOVUPS (R11), Y4
	VSUBPS Y2, Y4, Y4
	VMULPS Y5, Y4, Y4           // x̂
	VFMADD231PS Y4, Y3, Y1
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	DECQ AX
	JNZ  lbsum
	HSUM8(Y0, X0)
	HSUM8(Y1, X1)
	VDIVSS X6, X0, X0
	VDIVSS X6, X1, X1
	VBROADCASTSS X0, Y0         // Σg/n
	VBROADCASTSS X1, Y1         // Σg·x̂/n

lbout:
	VMOVUPS (DX), Y3
	VMULPS (R8), Y3, Y3
	VSUBPS Y0, Y3, Y3
	VMOVUPS (SI), Y4
	VSUBPS Y2, Y4, Y4
	VMULPS Y5, Y4, Y4
	VFNMADD231PS Y4, Y1, Y3     // − x̂·Σg·x̂/n
	VMULPS Y5, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ BX
	JNZ  lbout
	VZEROUPPER
	RET
