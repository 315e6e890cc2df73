//go:build amd64 && !purego

#include "textflag.h"

// One k step of the 6×16 kernel: SI points at 6 floats of A (+ao bytes),
// DI at 16 floats of B (+bo bytes); Y0..Y11 accumulate rows 0..5 (two ymm
// per row). Y12, Y13 hold B; Y14, Y15 the broadcast A values.
#define KSTEP(ao, bo) \
	VMOVUPS      bo(DI), Y12; \
	VMOVUPS      (bo+32)(DI), Y13; \
	VBROADCASTSS ao(SI), Y14; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VBROADCASTSS (ao+4)(SI), Y15; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS (ao+8)(SI), Y14; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VBROADCASTSS (ao+12)(SI), Y15; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7; \
	VBROADCASTSS (ao+16)(SI), Y14; \
	VFMADD231PS  Y12, Y14, Y8; \
	VFMADD231PS  Y13, Y14, Y9; \
	VBROADCASTSS (ao+20)(SI), Y15; \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11

// Four k steps, then SI and DI moved past them (the unrolled loop's body).
#define KSTEP4 \
	KSTEP(0, 0); \
	KSTEP(24, 64); \
	KSTEP(48, 128); \
	KSTEP(72, 192); \
	ADDQ $96, SI; \
	ADDQ $256, DI

// acc = alpha·acc + beta·C[addr] with one rounding for the sum (Y13 = beta).
#define UPD(addr, acc) \
	VMOVUPS     addr, Y14; \
	VFMADD231PS Y14, Y13, acc; \
	VMOVUPS     acc, addr

// func kern6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32, pf uintptr, pfn int)
// The first pfn iterations of the 4-step loop each also prefetch one line,
// from pf on, into L2 (pfn ≤ kc/4).
TEXT ·kern6x16(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8                 // row stride in bytes
	LEAQ (R8)(R8*2), R9         // 3 rows
	LEAQ (DX)(R8*4), R10        // row 4

	PREFETCHT0 (DX)
	PREFETCHT0 63(DX)
	PREFETCHT0 (DX)(R8*1)
	PREFETCHT0 63(DX)(R8*1)
	PREFETCHT0 (DX)(R8*2)
	PREFETCHT0 63(DX)(R8*2)
	PREFETCHT0 (DX)(R9*1)
	PREFETCHT0 63(DX)(R9*1)
	PREFETCHT0 (R10)
	PREFETCHT0 63(R10)
	PREFETCHT0 (R10)(R8*1)
	PREFETCHT0 63(R10)(R8*1)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ pf+48(FP), R11
	MOVQ pfn+56(FP), R12
	CMPQ CX, $4
	JLT  tail
	TESTQ R12, R12
	JLE  loop4

loop4pf:
	PREFETCHT1 (R11)
	ADDQ       $64, R11
	KSTEP4
	SUBQ $4, CX
	CMPQ CX, $4
	JLT  tail
	DECQ R12
	JNE  loop4pf

loop4:
	KSTEP4
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JEQ   done

tailloop:
	KSTEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNE  tailloop

done:
	VBROADCASTSS alpha+40(FP), Y12
	VMULPS       Y12, Y0, Y0
	VMULPS       Y12, Y1, Y1
	VMULPS       Y12, Y2, Y2
	VMULPS       Y12, Y3, Y3
	VMULPS       Y12, Y4, Y4
	VMULPS       Y12, Y5, Y5
	VMULPS       Y12, Y6, Y6
	VMULPS       Y12, Y7, Y7
	VMULPS       Y12, Y8, Y8
	VMULPS       Y12, Y9, Y9
	VMULPS       Y12, Y10, Y10
	VMULPS       Y12, Y11, Y11

	MOVL beta+44(FP), AX
	SHLL $1, AX                 // drop the sign: beta = ±0 means overwrite
	JEQ  store

	VBROADCASTSS beta+44(FP), Y13
	UPD((DX), Y0)
	UPD(32(DX), Y1)
	UPD((DX)(R8*1), Y2)
	UPD(32(DX)(R8*1), Y3)
	UPD((DX)(R8*2), Y4)
	UPD(32(DX)(R8*2), Y5)
	UPD((DX)(R9*1), Y6)
	UPD(32(DX)(R9*1), Y7)
	UPD((R10), Y8)
	UPD(32(R10), Y9)
	UPD((R10)(R8*1), Y10)
	UPD(32(R10)(R8*1), Y11)
	VZEROUPPER
	RET

store:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (DX)(R8*1)
	VMOVUPS Y3, 32(DX)(R8*1)
	VMOVUPS Y4, (DX)(R8*2)
	VMOVUPS Y5, 32(DX)(R8*2)
	VMOVUPS Y6, (DX)(R9*1)
	VMOVUPS Y7, 32(DX)(R9*1)
	VMOVUPS Y8, (R10)
	VMOVUPS Y9, 32(R10)
	VMOVUPS Y10, (R10)(R8*1)
	VMOVUPS Y11, 32(R10)(R8*1)
	VZEROUPPER
	RET

// TRANSPOSE8 transposes the 8×8 block in Y0..Y7 (row r in Yr): column q
// ends up in Y(8+q). Y0..Y7 are clobbered.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8; \
	VUNPCKHPS  Y1, Y0, Y9; \
	VUNPCKLPS  Y3, Y2, Y10; \
	VUNPCKHPS  Y3, Y2, Y11; \
	VUNPCKLPS  Y5, Y4, Y12; \
	VUNPCKHPS  Y5, Y4, Y13; \
	VUNPCKLPS  Y7, Y6, Y14; \
	VUNPCKHPS  Y7, Y6, Y15; \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xEE, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xEE, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// T8STORE transposes the 8×8 block of rows base, base+ld, …, base+7·ld
// (R8 = ld, R9 = 3·ld bytes; b4 = base+4·ld) and stores column q at
// off+row·q(DI), row being the packed row's length in bytes.
#define T8STORE(base, b4, off, row) \
	VMOVUPS (base), Y0; \
	VMOVUPS (base)(R8*1), Y1; \
	VMOVUPS (base)(R8*2), Y2; \
	VMOVUPS (base)(R9*1), Y3; \
	VMOVUPS (b4), Y4; \
	VMOVUPS (b4)(R8*1), Y5; \
	VMOVUPS (b4)(R8*2), Y6; \
	VMOVUPS (b4)(R9*1), Y7; \
	TRANSPOSE8; \
	VMOVUPS Y8, off(DI); \
	VMOVUPS Y9, (off+row)(DI); \
	VMOVUPS Y10, (off+2*row)(DI); \
	VMOVUPS Y11, (off+3*row)(DI); \
	VMOVUPS Y12, (off+4*row)(DI); \
	VMOVUPS Y13, (off+5*row)(DI); \
	VMOVUPS Y14, (off+6*row)(DI); \
	VMOVUPS Y15, (off+7*row)(DI)

// func interleave16(dst, src *float32, ld, kc int)
TEXT ·interleave16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ kc+24(FP), CX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10        // row 4
	LEAQ (R10)(R8*4), R11       // row 8
	LEAQ (R11)(R8*4), R12       // row 12
	MOVQ CX, BX
	SHRQ $3, BX
	ANDQ $7, CX
	TESTQ BX, BX
	JEQ  i16rem

i16loop:
	T8STORE(SI, R10, 0, 64)
	T8STORE(R11, R12, 32, 64)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $512, DI
	DECQ BX
	JNE  i16loop

i16rem:
	TESTQ CX, CX
	JEQ   i16done

i16remloop:
	VMOVSS (SI), X0
	VMOVSS X0, (DI)
	VMOVSS (SI)(R8*1), X0
	VMOVSS X0, 4(DI)
	VMOVSS (SI)(R8*2), X0
	VMOVSS X0, 8(DI)
	VMOVSS (SI)(R9*1), X0
	VMOVSS X0, 12(DI)
	VMOVSS (R10), X0
	VMOVSS X0, 16(DI)
	VMOVSS (R10)(R8*1), X0
	VMOVSS X0, 20(DI)
	VMOVSS (R10)(R8*2), X0
	VMOVSS X0, 24(DI)
	VMOVSS (R10)(R9*1), X0
	VMOVSS X0, 28(DI)
	VMOVSS (R11), X0
	VMOVSS X0, 32(DI)
	VMOVSS (R11)(R8*1), X0
	VMOVSS X0, 36(DI)
	VMOVSS (R11)(R8*2), X0
	VMOVSS X0, 40(DI)
	VMOVSS (R11)(R9*1), X0
	VMOVSS X0, 44(DI)
	VMOVSS (R12), X0
	VMOVSS X0, 48(DI)
	VMOVSS (R12)(R8*1), X0
	VMOVSS X0, 52(DI)
	VMOVSS (R12)(R8*2), X0
	VMOVSS X0, 56(DI)
	VMOVSS (R12)(R9*1), X0
	VMOVSS X0, 60(DI)
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $64, DI
	DECQ CX
	JNE  i16remloop

i16done:
	VZEROUPPER
	RET

// func interleave6(dst, src, s *float32, ld, kc, sinc8, sinc1 int)
// Packs 6 rows of kc floats (row stride ld) as dst[6p + l], l < 6, each
// multiplied by the scale at s, which advances by sinc8 bytes per 8 columns
// and sinc1 per column of the remainder (0 and 0 with s pointing at eight
// ones: a plain copy), as interleave8. The 8 scales of a column block
// multiply each row's 8 loaded floats before the transpose.
TEXT ·interleave6(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ s+16(FP), AX
	MOVQ ld+24(FP), R8
	MOVQ kc+32(FP), CX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10        // row 4
	MOVQ CX, BX
	SHRQ $3, BX
	ANDQ $7, CX
	TESTQ BX, BX
	JEQ  i6rem

i6loop:
	VMOVUPS (AX), Y7
	VMULPS  (SI), Y7, Y0
	VMULPS  (SI)(R8*1), Y7, Y1
	VMULPS  (SI)(R8*2), Y7, Y2
	VMULPS  (SI)(R9*1), Y7, Y3
	VMULPS  (R10), Y7, Y4
	VMULPS  (R10)(R8*1), Y7, Y5
	VXORPS  Y6, Y6, Y6
	VXORPS  Y7, Y7, Y7
	TRANSPOSE8
	// Column q is 6 floats at 24q bytes: each full store spills 2 floats
	// into the next column, which the next store overwrites; the last
	// column is stored exactly.
	VMOVUPS      Y8, (DI)
	VMOVUPS      Y9, 24(DI)
	VMOVUPS      Y10, 48(DI)
	VMOVUPS      Y11, 72(DI)
	VMOVUPS      Y12, 96(DI)
	VMOVUPS      Y13, 120(DI)
	VMOVUPS      Y14, 144(DI)
	VMOVUPS      X15, 168(DI)
	VEXTRACTF128 $1, Y15, X15
	VMOVQ        X15, 184(DI)
	ADDQ sinc8+40(FP), AX
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $192, DI
	DECQ BX
	JNE  i6loop

i6rem:
	TESTQ CX, CX
	JEQ   i6done

i6remloop:
	VMOVSS (AX), X1
	VMULSS (SI), X1, X0
	VMOVSS X0, (DI)
	VMULSS (SI)(R8*1), X1, X0
	VMOVSS X0, 4(DI)
	VMULSS (SI)(R8*2), X1, X0
	VMOVSS X0, 8(DI)
	VMULSS (SI)(R9*1), X1, X0
	VMOVSS X0, 12(DI)
	VMULSS (R10), X1, X0
	VMOVSS X0, 16(DI)
	VMULSS (R10)(R8*1), X1, X0
	VMOVSS X0, 20(DI)
	ADDQ sinc1+48(FP), AX
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ $24, DI
	DECQ CX
	JNE  i6remloop

i6done:
	VZEROUPPER
	RET

// func strips16(dst, src *float32, ld, kc int)
TEXT ·strips16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ kc+24(FP), CX
	SHLQ $2, R8
	TESTQ CX, CX
	JEQ   s16done

s16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNE  s16loop

s16done:
	VZEROUPPER
	RET

// func strips6(dst, src *float32, ld, kc int)
TEXT ·strips6(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ kc+24(FP), CX
	SHLQ $2, R8
	TESTQ CX, CX
	JEQ   s6done

s6loop:
	VMOVUPS (SI), X0
	VMOVQ   16(SI), X1
	VMOVUPS X0, (DI)
	VMOVQ   X1, 16(DI)
	ADDQ R8, SI
	ADDQ $24, DI
	DECQ CX
	JNE  s6loop

s6done:
	RET

// func interleave8(dst, src, s *float32, ld, kc, dstride, sinc8, sinc1 int)
// Packs 8 rows of kc floats (row stride ld) as dst[dstride·p + l], l < 8,
// each multiplied by the scale at s, which advances by sinc8 bytes per 8
// columns and sinc1 per column of the remainder (0 and 0 with s pointing
// at eight ones: a plain copy, x·1 = x).
TEXT ·interleave8(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ s+16(FP), AX
	MOVQ ld+24(FP), R8
	MOVQ kc+32(FP), CX
	MOVQ dstride+40(FP), DX
	SHLQ $2, R8
	SHLQ $2, DX                 // dst bytes per p
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10        // row 4
	LEAQ (DX)(DX*2), R11        // 3 p
	LEAQ (DX)(DX*4), R12        // 5 p
	LEAQ (R11)(R11*1), R13      // 6 p
	LEAQ (DX)(DX*8), R14
	SUBQ DX, R14                // 8 p
	SUBQ DX, R14                // 7 p
	MOVQ CX, BX
	SHRQ $3, BX
	ANDQ $7, CX
	TESTQ BX, BX
	JEQ  i8rem

i8loop:
	PREFETCHT0 512(SI)
	PREFETCHT0 512(SI)(R8*1)
	PREFETCHT0 512(SI)(R8*2)
	PREFETCHT0 512(SI)(R9*1)
	PREFETCHT0 512(R10)
	PREFETCHT0 512(R10)(R8*1)
	PREFETCHT0 512(R10)(R8*2)
	PREFETCHT0 512(R10)(R9*1)
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7
	VMULPS (AX), Y0, Y0
	VMULPS (AX), Y1, Y1
	VMULPS (AX), Y2, Y2
	VMULPS (AX), Y3, Y3
	VMULPS (AX), Y4, Y4
	VMULPS (AX), Y5, Y5
	VMULPS (AX), Y6, Y6
	VMULPS (AX), Y7, Y7
	ADDQ sinc8+48(FP), AX
	TRANSPOSE8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (DI)(DX*4)
	VMOVUPS Y13, (DI)(R12*1)
	VMOVUPS Y14, (DI)(R13*1)
	VMOVUPS Y15, (DI)(R14*1)
	ADDQ $32, SI
	ADDQ $32, R10
	LEAQ (DI)(DX*8), DI
	DECQ BX
	JNE  i8loop

i8rem:
	TESTQ CX, CX
	JEQ   i8done

i8remloop:
	VMOVSS (AX), X1
	VMULSS (SI), X1, X0
	VMOVSS X0, (DI)
	VMULSS (SI)(R8*1), X1, X0
	VMOVSS X0, 4(DI)
	VMULSS (SI)(R8*2), X1, X0
	VMOVSS X0, 8(DI)
	VMULSS (SI)(R9*1), X1, X0
	VMOVSS X0, 12(DI)
	VMULSS (R10), X1, X0
	VMOVSS X0, 16(DI)
	VMULSS (R10)(R8*1), X1, X0
	VMOVSS X0, 20(DI)
	VMULSS (R10)(R8*2), X1, X0
	VMOVSS X0, 24(DI)
	VMULSS (R10)(R9*1), X1, X0
	VMOVSS X0, 28(DI)
	ADDQ sinc1+56(FP), AX
	ADDQ $4, SI
	ADDQ $4, R10
	ADDQ DX, DI
	DECQ CX
	JNE  i8remloop

i8done:
	VZEROUPPER
	RET

// func stripsN(dst, src *float32, ld, kc, w8 int)
// Copies kc rows of 8·w8 floats (row stride ld) to dst[8·w8·p + l].
TEXT ·stripsN(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ kc+24(FP), CX
	MOVQ w8+32(FP), DX
	SHLQ $2, R8
	TESTQ CX, CX
	JEQ   sNdone
	TESTQ DX, DX
	JEQ   sNdone

sNrow:
	MOVQ SI, R10
	MOVQ DX, BX

sNcol:
	VMOVUPS (R10), Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, R10
	ADDQ $32, DI
	DECQ BX
	JNE  sNcol
	ADDQ R8, SI
	DECQ CX
	JNE  sNrow

sNdone:
	VZEROUPPER
	RET

// func strips32(dst, src *float32, ld, kc int)
// Copies kc rows of 32 floats (row stride ld) to dst[32p+l], prefetching
// 8 rows ahead.
TEXT ·strips32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ kc+24(FP), CX
	SHLQ $2, R8
	TESTQ CX, CX
	JEQ   s32done

s32loop:
	PREFETCHT0 (SI)(R8*8)
	PREFETCHT0 64(SI)(R8*8)
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ R8, SI
	ADDQ $128, DI
	DECQ CX
	JNE  s32loop

s32done:
	VZEROUPPER
	RET

// func mulVec8(out, a, b *float32, n int)
// out[i] = a[i]·b[i] for i < n, n a multiple of 8 (32 per iteration, then
// 8); out may be a.
TEXT ·mulVec8(SB), NOSPLIT, $0-32
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	CMPQ CX, $32
	JLT  mv8tail

mv8loop32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMULPS  (DX), Y0, Y0
	VMULPS  32(DX), Y1, Y1
	VMULPS  64(DX), Y2, Y2
	VMULPS  96(DX), Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     mv8loop32

mv8tail:
	TESTQ CX, CX
	JEQ   mv8done

mv8loop8:
	VMOVUPS (SI), Y0
	VMULPS  (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	JNE     mv8loop8

mv8done:
	VZEROUPPER
	RET

// func prefetchLines(p uintptr, n int)
// Asks for the n 64-byte lines from address p on into the L2 cache
// (PREFETCHT1): a hint that never faults, whatever the address.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ  p+0(FP), SI
	MOVQ  n+8(FP), CX
	TESTQ CX, CX
	JLE   pfdone

pfloop:
	PREFETCHT1 (SI)
	ADDQ       $64, SI
	DECQ       CX
	JNE        pfloop

pfdone:
	RET

// func interleave32(dst, src *float32, ld, kc int)
// Packs 32 rows of kc floats (row stride ld; kc a multiple of 8) as
// dst[32p + l]: 8 columns at a time, each written as whole 128-byte rows.
TEXT ·interleave32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	MOVQ kc+24(FP), CX
	SHLQ $2, R8
	LEAQ (R8)(R8*2), R9
	LEAQ (SI)(R8*4), R10        // row 4
	LEAQ (R10)(R8*4), R11       // row 8
	LEAQ (R11)(R8*4), R12       // row 12
	LEAQ (R12)(R8*4), R13       // row 16
	LEAQ (R13)(R8*4), R14       // row 20
	LEAQ (R14)(R8*4), AX        // row 24
	LEAQ (AX)(R8*4), BX         // row 28
	SHRQ $3, CX
	TESTQ CX, CX
	JEQ  i32done

i32loop:
	T8STORE(SI, R10, 0, 128)
	T8STORE(R11, R12, 32, 128)
	T8STORE(R13, R14, 64, 128)
	T8STORE(AX, BX, 96, 128)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $32, R14
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $1024, DI
	DECQ CX
	JNE  i32loop

i32done:
	VZEROUPPER
	RET
