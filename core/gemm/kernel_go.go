package gemm

// The pure-Go implementation: used on wasm and other architectures, on
// amd64 without AVX2/FMA, and with the purego build tag. It is also the
// source of the generic packing routines that the assembly path uses for
// partial micro-panels.

var goImpl = &impl{
	name:  "go-3x4",
	mr:    3,
	nr:    4,
	kcMax: 256,
	mcMax: 120,
	ncMax: 512,
	packA: func(dst []float32, trans bool, a []float32, lda, i0, rows, p0, kc int) {
		packAGeneric(dst, trans, a, lda, i0, rows, p0, kc, 3)
	},
	packB: func(dst []float32, trans bool, b []float32, ldb, j0, cols, p0, kc int) {
		packBGeneric(dst, trans, b, ldb, j0, cols, p0, kc, 4)
	},
	tile: func(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, pf uintptr, pfn int) int {
		prefetchLines(pf, pfn)
		tileGo3x4(kc, ap, bp, c, ldc, alpha, beta)
		return pfn
	},
}

// packAGeneric packs rows [i0, i0+rows) × columns [p0, p0+kc) of op(A)
// into panels of r rows (see impl.packA).
func packAGeneric(dst []float32, trans bool, a []float32, lda, i0, rows, p0, kc, r int) {
	if trans {
		// A is stored k×m: op(A)[i][p] = a[p*lda+i]; rows of op(A) are columns here.
		packStrips(dst, a[p0*lda+i0:], lda, rows, kc, r)
	} else {
		packInterleave(dst, a[i0*lda+p0:], lda, rows, kc, r)
	}
}

// packBGeneric packs rows [p0, p0+kc) × columns [j0, j0+cols) of op(B) into
// panels of r columns (see impl.packB).
func packBGeneric(dst []float32, trans bool, b []float32, ldb, j0, cols, p0, kc, r int) {
	if trans {
		// B is stored n×k: op(B)[p][j] = b[j*ldb+p].
		packInterleave(dst, b[j0*ldb+p0:], ldb, cols, kc, r)
	} else {
		packStrips(dst, b[p0*ldb+j0:], ldb, cols, kc, r)
	}
}

// packInterleave packs `lines` source rows (stride ld, kc elements each)
// into panels of r lines: dst[t·r·kc + p·r + l] = src[(t·r+l)·ld + p],
// zero-filling the lines past the end of the last panel.
func packInterleave(dst, src []float32, ld, lines, kc, r int) {
	for t := 0; t*r < lines; t++ {
		d := dst[t*r*kc : (t+1)*r*kc]
		n := min(r, lines-t*r)
		for l := 0; l < n; l++ {
			s := src[(t*r+l)*ld : (t*r+l)*ld+kc]
			for p, v := range s {
				d[p*r+l] = v
			}
		}
		for l := n; l < r; l++ {
			for p := 0; p < kc; p++ {
				d[p*r+l] = 0
			}
		}
	}
}

// packStrips packs kc source rows (stride ld) restricted to `width`
// columns into panels of r columns: dst[t·r·kc + p·r + l] = src[p·ld + t·r + l],
// zero-filling the columns past the end of the last panel.
func packStrips(dst, src []float32, ld, width, kc, r int) {
	for t := 0; t*r < width; t++ {
		d := dst[t*r*kc : (t+1)*r*kc]
		n := min(r, width-t*r)
		for p := 0; p < kc; p++ {
			row := d[p*r : p*r+r]
			copy(row, src[p*ld+t*r:p*ld+t*r+n])
			clear(row[n:])
		}
	}
}

// tileGo3x4 is the pure-Go micro-kernel: a 3×4 tile of C from a 3×kc panel
// of A and a kc×4 panel of B. Twelve scalar accumulators leave the Go
// compiler enough registers (amd64 and wasm alike) to avoid spilling in the
// loop; larger tiles measured slower on both.
func tileGo3x4(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	a = a[:3*kc]
	b = b[:4*kc]
	for len(a) >= 3 && len(b) >= 4 {
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		a0 := a[0]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		a1 := a[1]
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a2 := a[2]
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		a = a[3:]
		b = b[4:]
	}
	store4(c[0*ldc:0*ldc+4], c00, c01, c02, c03, alpha, beta)
	store4(c[1*ldc:1*ldc+4], c10, c11, c12, c13, alpha, beta)
	store4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, alpha, beta)
}

func store4(c []float32, v0, v1, v2, v3, alpha, beta float32) {
	c = c[:4]
	if beta == 0 {
		c[0] = alpha * v0
		c[1] = alpha * v1
		c[2] = alpha * v2
		c[3] = alpha * v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}
