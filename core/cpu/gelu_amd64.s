#include "textflag.h"

// GELU (tanh form) as x·σ(2u), u = √(2/π)(x + 0.044715x³), which equals
// 0.5x(1 + tanh u); the exponential is the same range reduction and
// polynomial as expSubSumAVX2.
DATA geluc<>+0(SB)/4, $-87.33654
DATA geluc<>+4(SB)/4, $88.0
DATA geluc<>+8(SB)/4, $1.44269504
DATA geluc<>+12(SB)/4, $0.5
DATA geluc<>+16(SB)/4, $0.693359375
DATA geluc<>+20(SB)/4, $-2.12194440e-4
DATA geluc<>+24(SB)/4, $0.00138888888
DATA geluc<>+28(SB)/4, $0.00833333333
DATA geluc<>+32(SB)/4, $0.0416666666
DATA geluc<>+36(SB)/4, $0.166666666
DATA geluc<>+40(SB)/4, $1.0
DATA geluc<>+44(SB)/4, $127
DATA geluc<>+48(SB)/4, $0.044715       // c2
DATA geluc<>+52(SB)/4, $-1.59576912    // -2·√(2/π)
DATA geluc<>+56(SB)/4, $1.59576912     // 2·√(2/π)
DATA geluc<>+60(SB)/4, $0.134145       // 3·c2
GLOBL geluc<>(SB), RODATA|NOPTR, $64

#define LOADCONSTS \
	VBROADCASTSS geluc<>+0(SB), Y15 \
	VBROADCASTSS geluc<>+4(SB), Y14 \
	VBROADCASTSS geluc<>+8(SB), Y13 \
	VBROADCASTSS geluc<>+12(SB), Y12 \
	VBROADCASTSS geluc<>+16(SB), Y11 \
	VBROADCASTSS geluc<>+20(SB), Y10 \
	VBROADCASTSS geluc<>+24(SB), Y9 \
	VBROADCASTSS geluc<>+28(SB), Y8 \
	VBROADCASTSS geluc<>+32(SB), Y7 \
	VBROADCASTSS geluc<>+36(SB), Y6 \
	VBROADCASTSS geluc<>+40(SB), Y5 \
	VPBROADCASTD geluc<>+44(SB), Y4

// SIGMOID2U: Y0 = x (kept); Y2 = σ(2u(x)). Clobbers Y1, Y3.
#define SIGMOID2U \
	VMULPS Y0, Y0, Y1 \
	VMULPS Y0, Y1, Y1 \
	VBROADCASTSS geluc<>+48(SB), Y3 \
	VMULPS Y3, Y1, Y1 \
	VADDPS Y0, Y1, Y1 \
	VBROADCASTSS geluc<>+52(SB), Y3 \
	VMULPS Y3, Y1, Y1 \
	VMAXPS Y1, Y15, Y1 \
	VMINPS Y1, Y14, Y1 \
	VMULPS Y13, Y1, Y3 \
	VADDPS Y12, Y3, Y3 \
	VROUNDPS $1, Y3, Y3 \
	VFNMADD231PS Y11, Y3, Y1 \
	VFNMADD231PS Y10, Y3, Y1 \
	VMOVAPS Y9, Y2 \
	VFMADD213PS Y8, Y1, Y2 \
	VFMADD213PS Y7, Y1, Y2 \
	VFMADD213PS Y6, Y1, Y2 \
	VFMADD213PS Y12, Y1, Y2 \
	VFMADD213PS Y5, Y1, Y2 \
	VFMADD213PS Y5, Y1, Y2 \
	VCVTTPS2DQ Y3, Y3 \
	VPADDD Y4, Y3, Y3 \
	VPSLLD $23, Y3, Y3 \
	VMULPS Y3, Y2, Y2 \
	VADDPS Y5, Y2, Y2 \
	VDIVPS Y2, Y5, Y2

// GELUDERIV: Y0 = x, Y2 = σ(2u(x)) (SIGMOID2U's) → Y1 = gelu_new'(x) =
// s + x·s(1-s)·2√(2/π)(1 + 3·0.044715x²). Clobbers Y3; reloads Y4.
#define GELUDERIV \
	VSUBPS Y2, Y5, Y3 \
	VMULPS Y2, Y3, Y3 \
	VMULPS Y0, Y0, Y1 \
	VBROADCASTSS geluc<>+60(SB), Y4 \
	VMULPS Y4, Y1, Y1 \
	VADDPS Y5, Y1, Y1 \
	VBROADCASTSS geluc<>+56(SB), Y4 \
	VMULPS Y4, Y1, Y1 \
	VMULPS Y0, Y1, Y1 \
	VMULPS Y3, Y1, Y1 \
	VADDPS Y2, Y1, Y1 \
	VPBROADCASTD geluc<>+44(SB), Y4

// func geluFwdAVX2(out, x []float32)   over len(x) &^ 7 elements
TEXT ·geluFwdAVX2(SB), NOSPLIT, $0-48
	MOVQ out_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	SHRQ $3, CX
	JZ gfdone
	LOADCONSTS
gfloop:
	VMOVUPS (SI), Y0
	SIGMOID2U
	VMULPS Y2, Y0, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ gfloop
gfdone:
	VZEROUPPER
	RET

// func geluBwdAVX2(dx, dout, x []float32)   over len(x) &^ 7 elements:
// dx = dout·(s + x·s(1-s)·2√(2/π)(1 + 3·0.044715x²)), s = σ(2u).
TEXT ·geluBwdAVX2(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dout_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	MOVQ x_len+56(FP), CX
	SHRQ $3, CX
	JZ gbdone
	LOADCONSTS
gbloop:
	VMOVUPS (SI), Y0
	SIGMOID2U
	GELUDERIV
	VMULPS (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ gbloop
gbdone:
	VZEROUPPER
	RET

// func geluBwdInAVX2(dx, acc, h, sIn, x []float32)   over len(x) &^ 7
// elements, for a GELU whose output fed a layer with input scale sIn and
// input-gradient product h: acc += h·gelu(x) (that layer's ∂sIn) and
// dx = (h·sIn)·gelu'(x), with the roundings of geluFwdAVX2, fmaVecAVX2,
// mulVec8 and geluBwdAVX2 run one after the other.
TEXT ·geluBwdInAVX2(SB), NOSPLIT, $0-120
	MOVQ dx_base+0(FP), DI
	MOVQ acc_base+24(FP), R9
	MOVQ h_base+48(FP), R8
	MOVQ sIn_base+72(FP), R10
	MOVQ x_base+96(FP), SI
	MOVQ x_len+104(FP), CX
	SHRQ $3, CX
	JZ gbidone
	LOADCONSTS
gbiloop:
	VMOVUPS (SI), Y0
	SIGMOID2U
	GELUDERIV
	VMULPS Y2, Y0, Y2
	VMOVUPS (R8), Y3
	VFMADD213PS (R9), Y3, Y2
	VMOVUPS Y2, (R9)
	VMULPS (R10), Y3, Y3
	VMULPS Y3, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ gbiloop
gbidone:
	VZEROUPPER
	RET

// The AVX-512 versions run the same instructions on 16 lanes, so every
// element gets the bits of the AVX2 versions (TestGELUAVX512MatchesAVX2).
#define LOADCONSTS512 \
	VBROADCASTSS geluc<>+0(SB), Z15 \
	VBROADCASTSS geluc<>+4(SB), Z14 \
	VBROADCASTSS geluc<>+8(SB), Z13 \
	VBROADCASTSS geluc<>+12(SB), Z12 \
	VBROADCASTSS geluc<>+16(SB), Z11 \
	VBROADCASTSS geluc<>+20(SB), Z10 \
	VBROADCASTSS geluc<>+24(SB), Z9 \
	VBROADCASTSS geluc<>+28(SB), Z8 \
	VBROADCASTSS geluc<>+32(SB), Z7 \
	VBROADCASTSS geluc<>+36(SB), Z6 \
	VBROADCASTSS geluc<>+40(SB), Z5 \
	VPBROADCASTD geluc<>+44(SB), Z4

// SIGMOID2U512: Z0 = x (kept); Z2 = σ(2u(x)). Clobbers Z1, Z3.
#define SIGMOID2U512 \
	VMULPS Z0, Z0, Z1 \
	VMULPS Z0, Z1, Z1 \
	VBROADCASTSS geluc<>+48(SB), Z3 \
	VMULPS Z3, Z1, Z1 \
	VADDPS Z0, Z1, Z1 \
	VBROADCASTSS geluc<>+52(SB), Z3 \
	VMULPS Z3, Z1, Z1 \
	VMAXPS Z1, Z15, Z1 \
	VMINPS Z1, Z14, Z1 \
	VMULPS Z13, Z1, Z3 \
	VADDPS Z12, Z3, Z3 \
	VRNDSCALEPS $1, Z3, Z3 \
	VFNMADD231PS Z11, Z3, Z1 \
	VFNMADD231PS Z10, Z3, Z1 \
	VMOVAPS Z9, Z2 \
	VFMADD213PS Z8, Z1, Z2 \
	VFMADD213PS Z7, Z1, Z2 \
	VFMADD213PS Z6, Z1, Z2 \
	VFMADD213PS Z12, Z1, Z2 \
	VFMADD213PS Z5, Z1, Z2 \
	VFMADD213PS Z5, Z1, Z2 \
	VCVTTPS2DQ Z3, Z3 \
	VPADDD Z4, Z3, Z3 \
	VPSLLD $23, Z3, Z3 \
	VMULPS Z3, Z2, Z2 \
	VADDPS Z5, Z2, Z2 \
	VDIVPS Z2, Z5, Z2

// GELUDERIV512: GELUDERIV on zmm registers.
#define GELUDERIV512 \
	VSUBPS Z2, Z5, Z3 \
	VMULPS Z2, Z3, Z3 \
	VMULPS Z0, Z0, Z1 \
	VBROADCASTSS geluc<>+60(SB), Z4 \
	VMULPS Z4, Z1, Z1 \
	VADDPS Z5, Z1, Z1 \
	VBROADCASTSS geluc<>+56(SB), Z4 \
	VMULPS Z4, Z1, Z1 \
	VMULPS Z0, Z1, Z1 \
	VMULPS Z3, Z1, Z1 \
	VADDPS Z2, Z1, Z1 \
	VPBROADCASTD geluc<>+44(SB), Z4

// func geluFwdAVX512(out, x []float32)   over len(x) &^ 15 elements
TEXT ·geluFwdAVX512(SB), NOSPLIT, $0-48
	MOVQ out_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	SHRQ $4, CX
	JZ gfdone512
	LOADCONSTS512
gfloop512:
	VMOVUPS (SI), Z0
	SIGMOID2U512
	VMULPS Z2, Z0, Z2
	VMOVUPS Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ gfloop512
gfdone512:
	VZEROUPPER
	RET

// func geluBwdAVX512(dx, dout, x []float32)   over len(x) &^ 15 elements:
// dx = dout·(s + x·s(1-s)·2√(2/π)(1 + 3·0.044715x²)), s = σ(2u).
TEXT ·geluBwdAVX512(SB), NOSPLIT, $0-72
	MOVQ dx_base+0(FP), DI
	MOVQ dout_base+24(FP), DX
	MOVQ x_base+48(FP), SI
	MOVQ x_len+56(FP), CX
	SHRQ $4, CX
	JZ gbdone512
	LOADCONSTS512
gbloop512:
	VMOVUPS (SI), Z0
	SIGMOID2U512
	GELUDERIV512
	VMULPS (DX), Z1, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ gbloop512
gbdone512:
	VZEROUPPER
	RET

// func geluBwdInAVX512(dx, acc, h, sIn, x []float32)   over len(x) &^ 15
// elements: geluBwdInAVX2 on 16 lanes.
TEXT ·geluBwdInAVX512(SB), NOSPLIT, $0-120
	MOVQ dx_base+0(FP), DI
	MOVQ acc_base+24(FP), R9
	MOVQ h_base+48(FP), R8
	MOVQ sIn_base+72(FP), R10
	MOVQ x_base+96(FP), SI
	MOVQ x_len+104(FP), CX
	SHRQ $4, CX
	JZ gbidone512
	LOADCONSTS512
gbiloop512:
	VMOVUPS (SI), Z0
	SIGMOID2U512
	GELUDERIV512
	VMULPS Z2, Z0, Z2
	VMOVUPS (R8), Z3
	VFMADD213PS (R9), Z3, Z2
	VMOVUPS Z2, (R9)
	VMULPS (R10), Z3, Z3
	VMULPS Z3, Z1, Z1
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	DECQ CX
	JNZ gbiloop512
gbidone512:
	VZEROUPPER
	RET
