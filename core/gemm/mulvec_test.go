package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMulVec checks the element-wise product behind SgemmScaled's scaling
// against a scalar loop, bit for bit, for lengths around the 8- and 32-wide
// steps of the assembly loop, and that it touches nothing past len(dst).
func TestMulVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 100, 2048} {
		dst := make([]float32, n+8)
		e := make([]float32, n+8)
		for i := range dst {
			dst[i] = float32(rng.NormFloat64())
			e[i] = float32(rng.NormFloat64())
		}
		want := append([]float32(nil), dst...)
		for i := 0; i < n; i++ {
			want[i] *= e[i]
		}
		mulVec(dst[:n], e)
		for i := range dst {
			if math.Float32bits(dst[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: dst[%d] = %g, want %g", n, i, dst[i], want[i])
			}
		}
	}
}
