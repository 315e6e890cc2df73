package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMulVec checks MulVec against a scalar loop, bit for bit, in place and
// out of place, for lengths around the 8- and 32-wide steps of the assembly
// loop, and that it writes nothing past len(a).
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
		out := make([]float32, n+8)
		copy(out[n:], want[n:])
		MulVec(out, dst[:n], e)
		MulVec(dst, dst[:n], e) // in place
		for i := range dst {
			if math.Float32bits(dst[i]) != math.Float32bits(want[i]) || math.Float32bits(out[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: element %d = %g (in place), %g, want %g", n, i, dst[i], out[i], want[i])
			}
		}
	}
}
