// Package blaspeer exposes OpenBLAS's cblas_sgemm as a benchmark peer for
// core/gemm. It is built only with the openblas build tag and cgo (Debian:
// apt-get install libopenblas-dev), e.g.
//
//	go run -tags openblas ./internal/bench/gemmbench
//
// Without the tag, Available reports false and Sgemm panics, so code that
// uses the peer builds everywhere.
//
// OpenBLAS picks its kernels when the library loads, from the CPU model or
// from the OPENBLAS_CORETYPE environment variable (e.g. Haswell for its AVX2
// kernels, SkylakeX for AVX-512). CoreName tells which ones are in use.
package blaspeer
