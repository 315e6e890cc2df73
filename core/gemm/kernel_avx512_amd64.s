//go:build amd64 && !purego

#include "textflag.h"

// One k step of the 8×32 AVX-512 kernel: SI points at 8 floats of A (+ao
// bytes), DI at 32 floats of B (+bo bytes). Z0..Z15 accumulate rows 0..7
// (two zmm per row); Z16, Z17 hold B; Z18..Z21 the broadcast A values.
#define KSTEP512(ao, bo) \
	VMOVUPS      bo(DI), Z16; \
	VMOVUPS      (bo+64)(DI), Z17; \
	VBROADCASTSS ao(SI), Z18; \
	VBROADCASTSS (ao+4)(SI), Z19; \
	VFMADD231PS  Z16, Z18, Z0; \
	VFMADD231PS  Z17, Z18, Z1; \
	VBROADCASTSS (ao+8)(SI), Z20; \
	VFMADD231PS  Z16, Z19, Z2; \
	VFMADD231PS  Z17, Z19, Z3; \
	VBROADCASTSS (ao+12)(SI), Z21; \
	VFMADD231PS  Z16, Z20, Z4; \
	VFMADD231PS  Z17, Z20, Z5; \
	VBROADCASTSS (ao+16)(SI), Z18; \
	VFMADD231PS  Z16, Z21, Z6; \
	VFMADD231PS  Z17, Z21, Z7; \
	VBROADCASTSS (ao+20)(SI), Z19; \
	VFMADD231PS  Z16, Z18, Z8; \
	VFMADD231PS  Z17, Z18, Z9; \
	VBROADCASTSS (ao+24)(SI), Z20; \
	VFMADD231PS  Z16, Z19, Z10; \
	VFMADD231PS  Z17, Z19, Z11; \
	VBROADCASTSS (ao+28)(SI), Z21; \
	VFMADD231PS  Z16, Z20, Z12; \
	VFMADD231PS  Z17, Z20, Z13; \
	VFMADD231PS  Z16, Z21, Z14; \
	VFMADD231PS  Z17, Z21, Z15

// Four k steps, then SI and DI moved past them (the unrolled loop's body).
#define KSTEP4_512 \
	KSTEP512(0, 0); \
	KSTEP512(32, 128); \
	KSTEP512(64, 256); \
	KSTEP512(96, 384); \
	ADDQ $128, SI; \
	ADDQ $512, DI

// acc = alpha·acc + beta·C[addr] with one rounding for the sum (Z23 = beta).
#define UPD512(addr, acc) \
	VMOVUPS     addr, Z24; \
	VFMADD231PS Z24, Z23, acc; \
	VMOVUPS     acc, addr

// func kern8x32(kc int, a, b, c *float32, ldc int, alpha, beta float32, pf uintptr, pfn int)
// The first pfn iterations of the 4-step loop each also prefetch one line,
// from pf on, into L2 (pfn ≤ kc/4).
TEXT ·kern8x32(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8                 // row stride in bytes
	LEAQ (R8)(R8*2), R9         // 3 rows
	LEAQ (DX)(R8*4), R10        // row 4

	PREFETCHT0 (DX)
	PREFETCHT0 127(DX)
	PREFETCHT0 (DX)(R8*1)
	PREFETCHT0 127(DX)(R8*1)
	PREFETCHT0 (DX)(R8*2)
	PREFETCHT0 127(DX)(R8*2)
	PREFETCHT0 (DX)(R9*1)
	PREFETCHT0 127(DX)(R9*1)
	PREFETCHT0 (R10)
	PREFETCHT0 127(R10)
	PREFETCHT0 (R10)(R8*1)
	PREFETCHT0 127(R10)(R8*1)
	PREFETCHT0 (R10)(R8*2)
	PREFETCHT0 127(R10)(R8*2)
	PREFETCHT0 (R10)(R9*1)
	PREFETCHT0 127(R10)(R9*1)

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

	MOVQ pf+48(FP), R11
	MOVQ pfn+56(FP), R12
	CMPQ CX, $4
	JLT  tail
	TESTQ R12, R12
	JLE  loop4

loop4pf:
	PREFETCHT1 (R11)
	ADDQ       $64, R11
	KSTEP4_512
	SUBQ $4, CX
	CMPQ CX, $4
	JLT  tail
	DECQ R12
	JNE  loop4pf

loop4:
	KSTEP4_512
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   done

tailloop:
	KSTEP512(0, 0)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ CX
	JNE  tailloop

done:
	VBROADCASTSS alpha+40(FP), Z22
	VMULPS       Z22, Z0, Z0
	VMULPS       Z22, Z1, Z1
	VMULPS       Z22, Z2, Z2
	VMULPS       Z22, Z3, Z3
	VMULPS       Z22, Z4, Z4
	VMULPS       Z22, Z5, Z5
	VMULPS       Z22, Z6, Z6
	VMULPS       Z22, Z7, Z7
	VMULPS       Z22, Z8, Z8
	VMULPS       Z22, Z9, Z9
	VMULPS       Z22, Z10, Z10
	VMULPS       Z22, Z11, Z11
	VMULPS       Z22, Z12, Z12
	VMULPS       Z22, Z13, Z13
	VMULPS       Z22, Z14, Z14
	VMULPS       Z22, Z15, Z15

	MOVL beta+44(FP), AX
	SHLL $1, AX                 // drop the sign: beta = ±0 means overwrite
	JEQ  store

	VBROADCASTSS beta+44(FP), Z23
	UPD512((DX), Z0)
	UPD512(64(DX), Z1)
	UPD512((DX)(R8*1), Z2)
	UPD512(64(DX)(R8*1), Z3)
	UPD512((DX)(R8*2), Z4)
	UPD512(64(DX)(R8*2), Z5)
	UPD512((DX)(R9*1), Z6)
	UPD512(64(DX)(R9*1), Z7)
	UPD512((R10), Z8)
	UPD512(64(R10), Z9)
	UPD512((R10)(R8*1), Z10)
	UPD512(64(R10)(R8*1), Z11)
	UPD512((R10)(R8*2), Z12)
	UPD512(64(R10)(R8*2), Z13)
	UPD512((R10)(R9*1), Z14)
	UPD512(64(R10)(R9*1), Z15)
	VZEROUPPER
	RET

store:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, (DX)(R8*1)
	VMOVUPS Z3, 64(DX)(R8*1)
	VMOVUPS Z4, (DX)(R8*2)
	VMOVUPS Z5, 64(DX)(R8*2)
	VMOVUPS Z6, (DX)(R9*1)
	VMOVUPS Z7, 64(DX)(R9*1)
	VMOVUPS Z8, (R10)
	VMOVUPS Z9, 64(R10)
	VMOVUPS Z10, (R10)(R8*1)
	VMOVUPS Z11, 64(R10)(R8*1)
	VMOVUPS Z12, (R10)(R8*2)
	VMOVUPS Z13, 64(R10)(R8*2)
	VMOVUPS Z14, (R10)(R9*1)
	VMOVUPS Z15, 64(R10)(R9*1)
	VZEROUPPER
	RET
