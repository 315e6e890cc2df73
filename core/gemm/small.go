package gemm

// Small products with a triangular operand, for causal attention.
//
// Causal attention multiplies, per sequence and head, T×T matrices of
// which one triangle is zero or not wanted: the scores Q·Kᵀ above the
// diagonal are masked, and the probabilities P (or the score gradients) that
// multiply V, K or Q are zero above it. A full product spends about half
// its work there. SgemmTri computes such a product on the calling
// goroutine — the callers already run one product per worker — packing
// both operands once (k fits one k block) and running the micro-kernel
// only over the tiles and k ranges the triangle leaves.

// Tri says which triangle of a small product SgemmTri may leave out.
type Tri int

const (
	// Full is the whole product: Sgemm's bits on the calling goroutine,
	// without its threading and blocking overhead.
	Full Tri = iota
	// LowerC: only C[i][j] with j ≤ i is wanted. Tiles of C that lie
	// wholly above the diagonal are not computed and keep what they held;
	// other elements above the diagonal get the full product's value.
	LowerC
	// LowerA: op(A)[i][p] = 0 for p > i. Row i's sum stops where its tile
	// of rows ends its non-zero columns; the terms left out are exact zeros.
	LowerA
	// UpperA: op(A)[i][p] = 0 for p < i. Row i's sum starts at its tile's
	// first row; the terms left out are exact zeros.
	UpperA
)

// SgemmTri is Sgemm for a small product on the calling goroutine, with
// the part that tri says is zero or unwanted left out. With tri = LowerA or
// UpperA every element of C gets the bits Sgemm gives it when the zero
// entries of op(A) are +0 and the other operand is finite, except that an
// exact zero result may differ in sign: what is left out are terms +0·b at
// the end or the start of an element's chain of multiply-adds. With
// LowerC the wanted elements get Sgemm's bits. A product with k above the
// kernel's k block runs in full (Sgemm's arithmetic, on this goroutine).
func SgemmTri(tri Tri, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	im := active
	if k > im.kcMax || k == 0 || alpha == 0 {
		sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras{serial: true})
		return
	}
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	mr, nr := im.mr, im.nr
	na, nb := roundUp(m, mr)*k, roundUp(n, nr)*k
	w := getWorker(im, na+nb)
	defer putWorker(w)
	ap, bp := w.pack[:na], w.pack[na:]
	im.packA(ap, transA, a, lda, 0, m, 0, k)
	im.packB(bp, transB, b, ldb, 0, n, 0, k)
	for jr := 0; jr < n; jr += nr {
		nn := min(nr, n-jr)
		for ir := 0; ir < m; ir += mr {
			mm := min(mr, m-ir)
			k0, k1 := 0, k
			switch tri {
			case LowerC:
				if jr > ir+mm-1 {
					continue
				}
			case LowerA:
				k1 = min(k, ir+mm)
			case UpperA:
				k0 = min(ir, k)
			}
			o := ir*ldc + jr
			if k1 <= k0 { // nothing left of the sum: alpha·0 + beta·C
				scaleC(mm, nn, beta, c[o:], ldc)
				continue
			}
			apan := ap[ir*k+k0*mr : ir*k+k1*mr]
			bpan := bp[jr*k+k0*nr : jr*k+k1*nr]
			w.tileAt(k1-k0, apan, bpan, c, o, ldc, mm, nn, alpha, beta, 0, 0)
		}
	}
}
