package blaspeer

import (
	"testing"

	"github.com/hutml/hut/core/gemm"
)

func TestAgreesWithGemm(t *testing.T) {
	if !Available() {
		t.Skip("built without -tags openblas")
	}
	SetThreads(2)
	for _, o := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		m, n, k := 37, 53, 61
		a := make([]float32, m*k)
		b := make([]float32, k*n)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range b {
			b[i] = float32(i%5) - 2
		}
		lda, ldb := k, n
		if o[0] {
			lda = m
		}
		if o[1] {
			ldb = k
		}
		c1 := make([]float32, m*n)
		c2 := make([]float32, m*n)
		Sgemm(o[0], o[1], m, n, k, 1, a, lda, b, ldb, 0, c1, n)
		gemm.Sgemm(o[0], o[1], m, n, k, 1, a, lda, b, ldb, 0, c2, n)
		for i := range c1 {
			if c1[i] != c2[i] { // small integers: exact
				t.Fatalf("orient %v: c[%d] = %g (openblas) vs %g", o, i, c1[i], c2[i])
			}
		}
	}
}
