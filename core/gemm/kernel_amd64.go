//go:build amd64 && !purego

package gemm

import "github.com/hutml/hut/internal/cpufeat"

// The assembly implementations: AVX2+FMA (kernel_amd64.s, a 6×16
// micro-kernel) and AVX-512 (kernel_avx512_amd64.s, 8×32), with assembly
// packing for full micro-panels. Both accumulate every element of C as a
// chain of FMAs in k order over the same k blocks and finish with the same
// alpha/beta arithmetic, so they give bit-identical results.

// available lists the implementations this CPU supports, fastest first.
func available() []*impl {
	var l []*impl
	if hasAVX512() {
		l = append(l, avx512Impl)
	}
	if hasAVX2FMA() {
		l = append(l, avx2Impl)
	}
	return append(l, goImpl)
}

var avx512Impl = &impl{
	name:  "avx512-8x32",
	mr:    8,
	nr:    32,
	kcMax: 256,
	mcMax: 128,
	ncMax: 1024,
	packA: packA8,
	packB: packB32,
	tile:  tile8x32,

	packAScaled: packA8Scaled,
}

var avx2Impl = &impl{
	name:  "avx2-6x16",
	mr:    6,
	nr:    16,
	kcMax: 256,
	mcMax: 144,
	ncMax: 1024,
	packA: packA6,
	packB: packB16,
	tile:  tile6x16,

	packAScaled: packA6Scaled,
}

// hasAVX2FMA reports whether the CPU and the OS support AVX2 and FMA.
func hasAVX2FMA() bool { return cpufeat.AVX2FMA }

// hasAVX512 reports whether the CPU and the OS support AVX-512F (and AVX2
// and FMA, used by the packing routines).
func hasAVX512() bool { return cpufeat.AVX2FMA && cpufeat.AVX512F }

// kern6x16 computes the 6×16 tile at c (row stride ldc floats) as
// alpha·acc + beta·c (beta = 0: alpha·acc, c not read), where acc is the
// sum over p < kc of a[6p+i]·b[16p+j] accumulated in order of p. It also
// prefetches pfn lines from address pf on into L2, one per four k steps
// (pfn ≤ kc/4).
//
//go:noescape
func kern6x16(kc int, a, b, c *float32, ldc int, alpha, beta float32, pf uintptr, pfn int)

// interleave16 packs 16 rows of kc floats (row stride ld) as dst[16p+l].
//
//go:noescape
func interleave16(dst, src *float32, ld, kc int)

// interleave6 packs 6 rows of kc floats (row stride ld) as dst[6p+l],
// each multiplied by s[p] (s advancing as in interleave8; &ones[0] with
// 0, 0 copies).
//
//go:noescape
func interleave6(dst, src, s *float32, ld, kc, sinc8, sinc1 int)

// strips16 copies kc rows of 16 floats (row stride ld) to dst[16p+l].
//
//go:noescape
func strips16(dst, src *float32, ld, kc int)

// strips6 copies kc rows of 6 floats (row stride ld) to dst[6p+l].
//
//go:noescape
func strips6(dst, src *float32, ld, kc int)

// kern8x32 is kern6x16's AVX-512 counterpart for an 8×32 tile, prefetch
// included.
//
//go:noescape
func kern8x32(kc int, a, b, c *float32, ldc int, alpha, beta float32, pf uintptr, pfn int)

// interleave8 packs 8 rows of kc floats (row stride ld) as dst[dstride·p+l],
// each multiplied by s[p] (s advancing by sinc8 bytes per 8 columns and
// sinc1 per column of the remainder; &ones[0] with 0, 0 copies).
//
//go:noescape
func interleave8(dst, src, s *float32, ld, kc, dstride, sinc8, sinc1 int)

// ones is interleave8's scale for a plain copy.
var ones = [8]float32{1, 1, 1, 1, 1, 1, 1, 1}

// stripsN copies kc rows of 8·w8 floats (row stride ld) to dst[8·w8·p+l].
//
//go:noescape
func stripsN(dst, src *float32, ld, kc, w8 int)

// interleave32 packs 32 rows of kc floats (row stride ld; kc a multiple
// of 8) as dst[32p+l].
//
//go:noescape
func interleave32(dst, src *float32, ld, kc int)

// strips32 copies kc rows of 32 floats (row stride ld) to dst[32p+l].
//
//go:noescape
func strips32(dst, src *float32, ld, kc int)

func tile8x32(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, pf uintptr, pfn int) int {
	_ = ap[8*kc-1]
	_ = bp[32*kc-1]
	_ = c[7*ldc+31]
	pfn = min(pfn, kc/4)
	kern8x32(kc, &ap[0], &bp[0], &c[0], ldc, alpha, beta, pf, pfn)
	return pfn
}

func packA8(dst []float32, trans bool, a []float32, lda, i0, rows, p0, kc int) {
	full := rows / 8 * 8
	if full > 0 {
		_ = dst[full*kc-1]
		for t := 0; t < full; t += 8 {
			d := &dst[t*kc]
			if trans {
				o := p0*lda + i0 + t
				_ = a[o+(kc-1)*lda+7]
				stripsN(d, &a[o], lda, kc, 1)
			} else {
				o := (i0+t)*lda + p0
				_ = a[o+7*lda+kc-1]
				interleave8(d, &a[o], &ones[0], lda, kc, 8, 0, 0)
			}
		}
	}
	if full < rows {
		packAGeneric(dst[full*kc:], trans, a, lda, i0+full, rows-full, p0, kc, 8)
	}
}

// packA8Scaled packs the full 8-row panels of rows [i0, i0+rows) of a
// (not transposed) like packA8, each column p multiplied by s[p-p0] as it
// is packed, and returns how many rows it packed (a multiple of 8).
func packA8Scaled(dst, a []float32, lda, i0, rows, p0, kc int, s []float32) int {
	full := rows / 8 * 8
	if full == 0 || kc == 0 {
		return 0
	}
	_ = dst[full*kc-1]
	_ = s[kc-1]
	for t := 0; t < full; t += 8 {
		o := (i0+t)*lda + p0
		_ = a[o+7*lda+kc-1]
		interleave8(&dst[t*kc], &a[o], &s[0], lda, kc, 8, 32, 4)
	}
	return full
}

func packB32(dst []float32, trans bool, b []float32, ldb, j0, cols, p0, kc int) {
	full := cols / 32 * 32
	if full > 0 {
		_ = dst[full*kc-1]
		for t := 0; t < full; t += 32 {
			if trans {
				o := (j0+t)*ldb + p0
				_ = b[o+31*ldb+kc-1]
				d := dst[t*kc : (t+32)*kc]
				kc8 := kc &^ 7
				if kc8 > 0 {
					interleave32(&d[0], &b[o], ldb, kc8)
				}
				for p := kc8; p < kc; p++ {
					for l := range 32 {
						d[32*p+l] = b[o+l*ldb+p]
					}
				}
			} else {
				o := p0*ldb + j0 + t
				_ = b[o+(kc-1)*ldb+31]
				strips32(&dst[t*kc], &b[o], ldb, kc)
			}
		}
	}
	if full < cols {
		packBGeneric(dst[full*kc:], trans, b, ldb, j0+full, cols-full, p0, kc, 32)
	}
}

func tile6x16(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, pf uintptr, pfn int) int {
	_ = ap[6*kc-1]
	_ = bp[16*kc-1]
	_ = c[5*ldc+15]
	pfn = min(pfn, kc/4)
	kern6x16(kc, &ap[0], &bp[0], &c[0], ldc, alpha, beta, pf, pfn)
	return pfn
}

func packA6(dst []float32, trans bool, a []float32, lda, i0, rows, p0, kc int) {
	full := rows / 6 * 6
	if full > 0 {
		_ = dst[full*kc-1]
		for t := 0; t < full; t += 6 {
			d := &dst[t*kc]
			if trans {
				o := p0*lda + i0 + t
				_ = a[o+(kc-1)*lda+5]
				strips6(d, &a[o], lda, kc)
			} else {
				o := (i0+t)*lda + p0
				_ = a[o+5*lda+kc-1]
				interleave6(d, &a[o], &ones[0], lda, kc, 0, 0)
			}
		}
	}
	if full < rows {
		packAGeneric(dst[full*kc:], trans, a, lda, i0+full, rows-full, p0, kc, 6)
	}
}

// packA6Scaled is packA8Scaled for 6-row panels.
func packA6Scaled(dst, a []float32, lda, i0, rows, p0, kc int, s []float32) int {
	full := rows / 6 * 6
	if full == 0 || kc == 0 {
		return 0
	}
	_ = dst[full*kc-1]
	_ = s[kc-1]
	for t := 0; t < full; t += 6 {
		o := (i0+t)*lda + p0
		_ = a[o+5*lda+kc-1]
		interleave6(&dst[t*kc], &a[o], &s[0], lda, kc, 32, 4)
	}
	return full
}

func packB16(dst []float32, trans bool, b []float32, ldb, j0, cols, p0, kc int) {
	full := cols / 16 * 16
	if full > 0 {
		_ = dst[full*kc-1]
		for t := 0; t < full; t += 16 {
			d := &dst[t*kc]
			if trans {
				o := (j0+t)*ldb + p0
				_ = b[o+15*ldb+kc-1]
				interleave16(d, &b[o], ldb, kc)
			} else {
				o := p0*ldb + j0 + t
				_ = b[o+(kc-1)*ldb+15]
				strips16(d, &b[o], ldb, kc)
			}
		}
	}
	if full < cols {
		packBGeneric(dst[full*kc:], trans, b, ldb, j0+full, cols-full, p0, kc, 16)
	}
}

// mulVec8 sets out[i] = a[i]·b[i] for i < n; n must be a multiple of 8.
//
//go:noescape
func mulVec8(out, a, b *float32, n int)

// MulVec sets out[i] = a[i]·b[i] for i < len(a) (len(out), len(b) ≥ len(a);
// out may be a), each product rounded to float32 as a scalar loop's: with
// AVX when the CPU has it. SgemmScaled scales packed panels with it, and the
// CPU backend uses it for its element-wise products.
func MulVec(out, a, b []float32) {
	n := len(a)
	out, b = out[:n], b[:n]
	n8 := 0
	if cpufeat.AVX2FMA {
		n8 = n &^ 7
		if n8 > 0 {
			mulVec8(&out[0], &a[0], &b[0], n8)
		}
	}
	for i := n8; i < n; i++ {
		out[i] = a[i] * b[i]
	}
}

// prefetchLines asks for the n 64-byte lines from address p on into the L2
// cache: a hint, which never faults.
//
//go:noescape
func prefetchLines(p uintptr, n int)
