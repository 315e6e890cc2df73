//go:build amd64 && !purego

package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAVX2MatchesAVX512 checks that the two assembly kernels give the same
// bits, so results do not depend on which one the machine has.
func TestAVX2MatchesAVX512(t *testing.T) {
	if !hasAVX512() {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(15, 16))
	for _, o := range orients {
		for _, d := range [][3]int{{1, 1, 1}, {37, 75, 513}, {256, 200, 300}, {200, 256, 77}} {
			m, n, k := d[0], d[1], d[2]
			ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
			A := newMat(rng, ar, ac, ac)
			B := newMat(rng, br, bc, bc)
			C := newMat(rng, m, n, n)
			c1 := append([]float32(nil), C.data...)
			c2 := append([]float32(nil), C.data...)
			sgemmWith(avx512Impl, o[0], o[1], m, n, k, 1.25, A.data, A.ld, B.data, B.ld, -0.5, c1, n)
			sgemmWith(avx2Impl, o[0], o[1], m, n, k, 1.25, A.data, A.ld, B.data, B.ld, -0.5, c2, n)
			for i := range c1 {
				if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
					t.Fatalf("tA=%v tB=%v %v: c[%d] avx512 %g != avx2 %g", o[0], o[1], d, i, c1[i], c2[i])
				}
			}
		}
	}
}
