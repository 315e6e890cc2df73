#include "textflag.h"

// Constants of expSubSumAVX2 (see fastmath.go for the scalar version).
DATA expc<>+0(SB)/4, $-87.33654     // smallest argument: exp gives a normal float
DATA expc<>+4(SB)/4, $1.44269504    // log2(e)
DATA expc<>+8(SB)/4, $0.5
DATA expc<>+12(SB)/4, $0.693359375  // ln2, high part
DATA expc<>+16(SB)/4, $-2.12194440e-4 // ln2, low part
DATA expc<>+20(SB)/4, $0.00138888888 // 1/720
DATA expc<>+24(SB)/4, $0.00833333333 // 1/120
DATA expc<>+28(SB)/4, $0.0416666666 // 1/24
DATA expc<>+32(SB)/4, $0.166666666  // 1/6
DATA expc<>+36(SB)/4, $1.0
DATA expc<>+40(SB)/4, $127
GLOBL expc<>(SB), RODATA|NOPTR, $44

// func expSubSumAVX2(dst, src []float32, m float32) float32
// dst[i] = exp(src[i] - m) for i < len(src) &^ 7; returns the sum of those
// values (eight lane sums added at the end, in a fixed order).
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-60
	MOVQ dst_base+0(FP), DI
	MOVQ src_base+24(FP), SI
	MOVQ src_len+32(FP), CX
	SHRQ $3, CX
	VBROADCASTSS m+48(FP), Y15
	VBROADCASTSS expc<>+0(SB), Y14
	VBROADCASTSS expc<>+4(SB), Y13
	VBROADCASTSS expc<>+8(SB), Y5
	VBROADCASTSS expc<>+12(SB), Y11
	VBROADCASTSS expc<>+16(SB), Y10
	VBROADCASTSS expc<>+20(SB), Y9
	VBROADCASTSS expc<>+24(SB), Y8
	VBROADCASTSS expc<>+28(SB), Y7
	VBROADCASTSS expc<>+32(SB), Y6
	VBROADCASTSS expc<>+36(SB), Y4
	VPBROADCASTD expc<>+40(SB), Y12
	VXORPS Y3, Y3, Y3
	TESTQ CX, CX
	JZ done

loop:
	VMOVUPS (SI), Y0
	VSUBPS Y15, Y0, Y0          // x = z - m
	VMAXPS Y0, Y14, Y0          // x = max(x, min); NaN in x propagates
	VMULPS Y13, Y0, Y1
	VADDPS Y5, Y1, Y1
	VROUNDPS $1, Y1, Y1         // n = floor(x·log2e + 0.5)
	VFNMADD231PS Y11, Y1, Y0    // r = x - n·ln2hi
	VFNMADD231PS Y10, Y1, Y0    //     - n·ln2lo
	VMOVAPS Y9, Y2              // p = 1/720
	VFMADD213PS Y8, Y0, Y2      // p = p·r + 1/120
	VFMADD213PS Y7, Y0, Y2      // p = p·r + 1/24
	VFMADD213PS Y6, Y0, Y2      // p = p·r + 1/6
	VFMADD213PS Y5, Y0, Y2      // p = p·r + 1/2
	VFMADD213PS Y4, Y0, Y2      // p = p·r + 1
	VFMADD213PS Y4, Y0, Y2      // p = p·r + 1
	VCVTTPS2DQ Y1, Y1
	VPADDD Y12, Y1, Y1
	VPSLLD $23, Y1, Y1          // 2^n
	VMULPS Y1, Y2, Y2
	VMOVUPS Y2, (DI)
	VADDPS Y2, Y3, Y3
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ loop

done:
	VEXTRACTF128 $1, Y3, X0
	VADDPS X0, X3, X3
	VHADDPS X3, X3, X3
	VHADDPS X3, X3, X3
	MOVSS X3, ret+56(FP)
	VZEROUPPER
	RET

// func maxSumAVX2(src []float32) (mx, sum float32)
// Over len(src) &^ 7 elements (≥ 8): the maximum and the sum (lane sums
// added in a fixed order).
TEXT ·maxSumAVX2(SB), NOSPLIT, $0-32
	MOVQ src_base+0(FP), SI
	MOVQ src_len+8(FP), CX
	SHRQ $3, CX
	VMOVUPS (SI), Y0
	VXORPS Y1, Y1, Y1

msloop:
	VMOVUPS (SI), Y2
	VMAXPS Y2, Y0, Y0
	VADDPS Y2, Y1, Y1
	ADDQ $32, SI
	DECQ CX
	JNZ msloop

	VEXTRACTF128 $1, Y0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0x4e, X0, X2
	VMAXPS X2, X0, X0
	VPERMILPS $0xb1, X0, X2
	VMAXPS X2, X0, X0
	MOVSS X0, mx+24(FP)
	VEXTRACTF128 $1, Y1, X2
	VADDPS X2, X1, X1
	VHADDPS X1, X1, X1
	VHADDPS X1, X1, X1
	MOVSS X1, sum+28(FP)
	VZEROUPPER
	RET

// func scaleShiftAVX2(x []float32, a, b float32)
// x[i] = x[i]·a + b for i < len(x) &^ 7.
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	SHRQ $3, CX
	VBROADCASTSS a+24(FP), Y1
	VBROADCASTSS b+28(FP), Y2
	TESTQ CX, CX
	JZ ssdone

ssloop:
	VMOVUPS (SI), Y0
	VFMADD213PS Y2, Y1, Y0
	VMOVUPS Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ ssloop

ssdone:
	VZEROUPPER
	RET
