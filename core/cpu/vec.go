package cpu

// Portable element-wise kernels (and the tails of the vector ones).

func mulVecGo(out, a, b []float32) {
	for i := range a {
		out[i] = a[i] * b[i]
	}
}

func fmaVecGo(acc, a, b []float32) {
	for i := range a {
		acc[i] += a[i] * b[i]
	}
}

func addVecGo(acc, a []float32) {
	for i := range a {
		acc[i] += a[i]
	}
}
