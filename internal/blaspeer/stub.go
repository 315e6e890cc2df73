//go:build !(openblas && cgo)

package blaspeer

// Available reports whether the OpenBLAS peer is compiled in: false without
// the openblas build tag and cgo.
func Available() bool { return false }

// CoreName returns "" without OpenBLAS.
func CoreName() string { return "" }

// Config returns "" without OpenBLAS.
func Config() string { return "" }

// SetThreads does nothing without OpenBLAS.
func SetThreads(int) {}

// Threads returns 0 without OpenBLAS.
func Threads() int { return 0 }

// Sgemm panics without OpenBLAS; check Available first.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	panic("blaspeer: built without the openblas tag (or without cgo)")
}
