//go:build !amd64

package cpu

func fmaVec(acc, a, b []float32) { fmaVecGo(acc[:len(a)], a, b[:len(a)]) }
func addVec(acc, a []float32)    { addVecGo(acc[:len(a)], a) }
