package gemm

import "fmt"

// PackedB is op(B) of a product packed once ahead of time, for a matrix that
// takes part in many products without changing (a frozen weight): SgemmPacked
// then skips the packing that Sgemm does on every call. It holds a packed
// copy of the whole matrix (k·n floats, n rounded up to the micro-kernel's
// panel width) and keeps a reference to the source, which must not change
// while the PackedB is in use.
//
// The packed layout is the one Sgemm builds per call: k is cut into the same
// blocks (they depend on k only), and within block q the nr-wide panels of
// all n columns follow one another, so a column chunk of any Sgemm plan is a
// contiguous run of panels. The arithmetic is therefore Sgemm's, bit for bit.
type PackedB struct {
	im     *impl
	transB bool
	n, k   int
	kcb    int // k block
	npad   int // n rounded up to im.nr
	data   []float32
	b      []float32 // the source, for products the packed copy cannot serve
	ldb    int
}

// PackB packs op(B) (k×n; B is n×k with row stride ldb when transB, else
// k×n) for SgemmPacked with the active implementation. It panics on invalid
// dimensions like Sgemm.
func PackB(transB bool, n, k int, b []float32, ldb int) *PackedB {
	if n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension n=%d k=%d", n, k))
	}
	_, _, br, bc := storedDims(false, transB, 0, n, k)
	checkMat("b", b, br, bc, ldb, n > 0 && k > 0)
	im := active
	kcb, nkb := kBlocks(im, k)
	pb := &PackedB{im: im, transB: transB, n: n, k: k, kcb: kcb, npad: roundUp(n, im.nr), b: b, ldb: ldb}
	if n == 0 || k == 0 {
		return pb
	}
	pb.data = make([]float32, nkb*pb.npad*kcb)
	for q := 0; q < nkb; q++ {
		p0 := q * kcb
		im.packB(pb.data[q*pb.npad*kcb:], transB, b, ldb, 0, n, p0, min(kcb, k-p0))
	}
	return pb
}

// Size is the packed copy's size in bytes.
func (pb *PackedB) Size() int { return 4 * len(pb.data) }

// Dims returns n and k: op(B) is k×n.
func (pb *PackedB) Dims() (n, k int) { return pb.n, pb.k }

// panels returns the packed panels of columns [j0, j0+nc) of k block q
// (j0 a multiple of nr, kc that block's length).
func (pb *PackedB) panels(q, j0, nc, kc int) []float32 {
	off := q*pb.npad*pb.kcb + j0*kc
	return pb.data[off : off+roundUp(nc, pb.im.nr)*kc]
}

// SgemmPacked computes C = alpha·op(A)·diag(s)·op(B) + beta·C like
// SgemmScaled (s may be nil) with op(B) taken from pb: m×k op(A) (A is k×m
// with row stride lda when transA), n and k those of pb. The packed copy
// serves every plan — its layout is both the column strips that a plan
// sharing A packs (m ≤ n) and the shared B of the others — with the
// implementation pb was packed for; with another one SgemmScaled runs on
// pb's source. The result is the same either way.
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, s []float32, pb *PackedB, beta float32, c []float32, ldc int) {
	sgemm(transA, pb.transB, m, pb.n, pb.k, alpha, a, lda, pb.b, pb.ldb, beta, c, ldc, extras{scaleA: s, packedB: pb.usable()})
}

// SgemmPackedEpilogue is SgemmPacked that hands each finished block of C
// to ep, as SgemmEpilogue does.
func SgemmPackedEpilogue(transA bool, m int, alpha float32, a []float32, lda int, s []float32, pb *PackedB, beta float32, c []float32, ldc int, ep Epilogue) {
	sgemm(transA, pb.transB, m, pb.n, pb.k, alpha, a, lda, pb.b, pb.ldb, beta, c, ldc, extras{scaleA: s, packedB: pb.usable(), ep: ep})
}

// usable returns pb if the active implementation can read it, else nil.
func (pb *PackedB) usable() *PackedB {
	if pb.im != active {
		return nil
	}
	return pb
}

// PackedA is op(A) of several products packed once, for a matrix that
// multiplies many different B in a row (the fused LM head multiplies the
// same hidden states by every block of the vocabulary): the products then
// skip packing it. Its layout is the shared packed A of a product's plan —
// for each k block (the same blocks as Sgemm's, they depend on k only) the
// mr-row panels of all m rows — so the arithmetic is Sgemm's, bit for bit.
// It keeps a reference to the source, which must not change while in use.
// The zero value is ready to Pack; packing again reuses the storage.
type PackedA struct {
	im     *impl
	transA bool
	m, k   int
	kcb    int // k block
	mpad   int // m rounded up to im.mr
	data   []float32
	a      []float32 // the source, for products the packed copy cannot serve
	lda    int
}

// Pack packs op(A) (m×k; A is k×m with row stride lda when transA, else
// m×k) with the active implementation, replacing what pa held. It panics
// on invalid dimensions like Sgemm.
func (pa *PackedA) Pack(transA bool, m, k int, a []float32, lda int) {
	if m < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d k=%d", m, k))
	}
	ar, ac, _, _ := storedDims(transA, false, m, 0, k)
	checkMat("a", a, ar, ac, lda, m > 0 && k > 0)
	im := active
	kcb, nkb := kBlocks(im, k)
	*pa = PackedA{im: im, transA: transA, m: m, k: k, kcb: kcb, mpad: roundUp(m, im.mr), data: pa.data[:0], a: a, lda: lda}
	if m == 0 || k == 0 {
		return
	}
	n := nkb * pa.mpad * kcb
	if cap(pa.data) < n {
		pa.data = make([]float32, n)
	}
	pa.data = pa.data[:n]
	p := problem{transA: transA, a: a, lda: lda}
	for q := 0; q < nkb; q++ {
		p0 := q * kcb
		p.packA(im, pa.data[q*pa.mpad*kcb:], 0, m, p0, min(kcb, k-p0))
	}
}

// Release lets go of the source (pa must not be used for products until it
// is packed again); the storage is kept for the next Pack.
func (pa *PackedA) Release() {
	*pa = PackedA{data: pa.data[:0]}
}

// Dims returns m and k: op(A) is m×k.
func (pa *PackedA) Dims() (m, k int) { return pa.m, pa.k }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C like Sgemm with op(A)
// taken from pa: op(B) is k×n (B is n×k with row stride ldb when transB,
// else k×n), C is m×n. The packed copy serves products whose plan shares
// the packed A across column chunks (m ≤ n) with the implementation pa was
// packed for; others run Sgemm on pa's source. The result is the same
// either way.
func (pa *PackedA) Sgemm(transB bool, n int, alpha float32, b []float32, ldb int, beta float32, c []float32, ldc int) {
	pa.sgemm(transB, n, alpha, b, ldb, beta, c, ldc, false)
}

// SgemmSerial is pa.Sgemm on the calling goroutine alone (see SgemmSerial).
func (pa *PackedA) SgemmSerial(transB bool, n int, alpha float32, b []float32, ldb int, beta float32, c []float32, ldc int) {
	pa.sgemm(transB, n, alpha, b, ldb, beta, c, ldc, true)
}

func (pa *PackedA) sgemm(transB bool, n int, alpha float32, b []float32, ldb int, beta float32, c []float32, ldc int, serial bool) {
	use := pa
	if pa.im != active || pa.m > n {
		use = nil
	}
	sgemm(pa.transA, transB, pa.m, n, pa.k, alpha, pa.a, pa.lda, b, ldb, beta, c, ldc, extras{packedA: use, serial: serial})
}
