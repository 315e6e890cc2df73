//go:build !amd64 || purego

package gemm

// On this platform (or with the purego tag) Sgemm always uses the pure-Go
// kernel in kernel_go.go.

func available() []*impl { return []*impl{goImpl} }

// mulVec sets dst[i] *= e[i] for i < len(dst) (len(e) ≥ len(dst)).
func mulVec(dst, e []float32) {
	e = e[:len(dst)]
	for i := range dst {
		dst[i] *= e[i]
	}
}
