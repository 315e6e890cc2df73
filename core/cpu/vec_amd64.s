#include "textflag.h"

// The vector kernels below process len(a) &^ 31 elements in blocks of 32
// (four ymm registers); the Go wrappers in vec_amd64.go do the tail.

// func fmaVecAVX2(acc, a, b []float32)   acc[i] += a[i]·b[i]
TEXT ·fmaVecAVX2(SB), NOSPLIT, $0-72
	MOVQ acc_base+0(FP), DI
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	MOVQ a_len+32(FP), CX
	SHRQ $5, CX
	JZ fdone
floop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DX), Y4, Y0
	VFMADD231PS 32(DX), Y5, Y1
	VFMADD231PS 64(DX), Y6, Y2
	VFMADD231PS 96(DX), Y7, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, DI
	DECQ CX
	JNZ floop
fdone:
	VZEROUPPER
	RET

// func addVecAVX2(acc, a []float32)   acc[i] += a[i]
TEXT ·addVecAVX2(SB), NOSPLIT, $0-48
	MOVQ acc_base+0(FP), DI
	MOVQ a_base+24(FP), SI
	MOVQ a_len+32(FP), CX
	SHRQ $5, CX
	JZ adone
aloop:
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VADDPS (SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y2, Y2
	VADDPS 96(SI), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ CX
	JNZ aloop
adone:
	VZEROUPPER
	RET

// MULADD4 stores Y0..Y3 (32 floats of a) times the 32 at DX plus the 32 at
// R8, each product rounded before the sum, to DI.
#define MULADD4 \
	VMULPS (DX), Y0, Y0; \
	VMULPS 32(DX), Y1, Y1; \
	VMULPS 64(DX), Y2, Y2; \
	VMULPS 96(DX), Y3, Y3; \
	VADDPS (R8), Y0, Y0; \
	VADDPS 32(R8), Y1, Y1; \
	VADDPS 64(R8), Y2, Y2; \
	VADDPS 96(R8), Y3, Y3; \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, 64(DI); \
	VMOVUPS Y3, 96(DI)

// func mulAddVecAVX2(out, a, b, c []float32)   out[i] = a[i]·b[i] + c[i],
// the product rounded before the sum (as mulVec then addVec).
TEXT ·mulAddVecAVX2(SB), NOSPLIT, $0-96
	MOVQ out_base+0(FP), DI
	MOVQ a_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	MOVQ c_base+72(FP), R8
	MOVQ a_len+32(FP), CX
	SHRQ $5, CX
	JZ madone
maloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	MULADD4
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, R8
	ADDQ $128, DI
	DECQ CX
	JNZ maloop
madone:
	VZEROUPPER
	RET

// func mulAddVecKeepAVX2(out, keep, a, b, c []float32)   keep[i] = a[i] and
// out[i] = a[i]·b[i] + c[i] for i < len(a)&^31; keep is written with
// non-temporal stores (it must be 32-byte aligned), not fenced.
TEXT ·mulAddVecKeepAVX2(SB), NOSPLIT, $0-120
	MOVQ out_base+0(FP), DI
	MOVQ keep_base+24(FP), R9
	MOVQ a_base+48(FP), SI
	MOVQ b_base+72(FP), DX
	MOVQ c_base+96(FP), R8
	MOVQ a_len+56(FP), CX
	SHRQ $5, CX
	JZ mkdone
mkloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVNTPS Y0, (R9)
	VMOVNTPS Y1, 32(R9)
	VMOVNTPS Y2, 64(R9)
	VMOVNTPS Y3, 96(R9)
	MULADD4
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $128, R8
	ADDQ $128, DI
	ADDQ $128, R9
	DECQ CX
	JNZ mkloop
mkdone:
	VZEROUPPER
	RET

// func storeFence()
TEXT ·storeFence(SB), NOSPLIT, $0-0
	SFENCE
	RET
