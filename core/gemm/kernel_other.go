//go:build !amd64 || purego

package gemm

// On this platform (or with the purego tag) Sgemm always uses the pure-Go
// kernel in kernel_go.go.

func available() []*impl { return []*impl{goImpl} }

// MulVec sets out[i] = a[i]·b[i] for i < len(a) (len(out), len(b) ≥ len(a);
// out may be a). SgemmScaled scales packed panels with it, and the CPU
// backend uses it for its element-wise products.
func MulVec(out, a, b []float32) {
	out, b = out[:len(a)], b[:len(a)]
	for i := range a {
		out[i] = a[i] * b[i]
	}
}

// prefetchLines is a no-op here: the hint is amd64 assembly.
func prefetchLines(p uintptr, n int) {}
