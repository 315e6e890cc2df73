//go:build !amd64 || purego

package gemm

// On this platform (or with the purego tag) Sgemm always uses the pure-Go
// kernel in kernel_go.go.

func available() []*impl { return []*impl{goImpl} }
