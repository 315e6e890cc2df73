//go:build !amd64

package cpu

func fmaVec(acc, a, b []float32) { fmaVecGo(acc[:len(a)], a, b[:len(a)]) }
func addVec(acc, a []float32)    { addVecGo(acc[:len(a)], a) }

// mulAddVec sets out[i] = a[i]·b[i] + c[i], the product rounded first.
func mulAddVec(out, a, b, c []float32) { mulAddVecGo(out[:len(a)], a, b[:len(a)], c[:len(a)]) }

// mulAddVecKeep copies a to keep and sets out[i] = a[i]·b[i] + c[i] (out
// may be a).
func mulAddVecKeep(out, keep, a, b, c []float32) {
	copy(keep[:len(a)], a)
	mulAddVec(out, a, b, c)
}

func storeFence() {}
