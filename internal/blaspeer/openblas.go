//go:build openblas && cgo

package blaspeer

/*
#cgo CFLAGS: -I/usr/include/x86_64-linux-gnu/openblas-pthread
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import "fmt"

// Available reports whether the OpenBLAS peer is compiled in.
func Available() bool { return true }

// CoreName returns the kernel family OpenBLAS selected (e.g. "Haswell").
func CoreName() string { return C.GoString(C.openblas_get_corename()) }

// Config returns OpenBLAS's build configuration string.
func Config() string { return C.GoString(C.openblas_get_config()) }

// SetThreads sets the number of threads OpenBLAS uses.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// Threads returns the number of threads OpenBLAS uses.
func Threads() int { return int(C.openblas_get_num_threads()) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with cblas_sgemm, with the
// same row-major conventions as core/gemm.Sgemm.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	need := func(name string, s []float32, rows, cols, ld int) {
		if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("blaspeer: %s too short", name))
		}
	}
	ta, tb := uint32(C.CblasNoTrans), uint32(C.CblasNoTrans)
	ar, ac, br, bc := m, k, k, n
	if transA {
		ta, ar, ac = C.CblasTrans, k, m
	}
	if transB {
		tb, br, bc = C.CblasTrans, n, k
	}
	need("a", a, ar, ac, lda)
	need("b", b, br, bc, ldb)
	need("c", c, m, n, ldc)
	var pa, pb *C.float
	if k > 0 {
		pa, pb = (*C.float)(&a[0]), (*C.float)(&b[0])
	}
	C.cblas_sgemm(C.CblasRowMajor, C.enum_CBLAS_TRANSPOSE(ta), C.enum_CBLAS_TRANSPOSE(tb),
		C.blasint(m), C.blasint(n), C.blasint(k), C.float(alpha), pa, C.blasint(lda),
		pb, C.blasint(ldb), C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}
