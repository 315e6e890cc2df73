package cpu

import "github.com/hutml/hut/core/gemm"

// Portable element-wise kernels (and the tails of the vector ones).

func fmaVecGo(acc, a, b []float32) {
	for i := range a {
		acc[i] += a[i] * b[i]
	}
}

// mulAddVecGo is mulAddVec's loop; the conversion keeps the product
// rounded on its own (no fused multiply-add).
func mulAddVecGo(out, a, b, c []float32) {
	for i := range a {
		out[i] = float32(a[i]*b[i]) + c[i]
	}
}

func addVecGo(acc, a []float32) {
	for i := range a {
		acc[i] += a[i]
	}
}

// mulVec sets out[i] = a[i]·b[i] (len(out) ≥ len(a), len(b) ≥ len(a)): the
// GEMM package's vector product, which also scales SgemmScaled's panels.
func mulVec(out, a, b []float32) { gemm.MulVec(out, a, b) }
