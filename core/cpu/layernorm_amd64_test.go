package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLayerNormAVX2MatchesGo holds the vector layer-norm rows to the
// portable ones (which TestGradLayerNorm and the WebGPU parity tests check
// further): the same results up to the rounding of sums taken in another
// order, including rows with a large mean (the variance is taken around the
// mean, in a second pass, not as E[x²] − mean²).
func TestLayerNormAVX2MatchesGo(t *testing.T) {
	if !useLNAVX2 {
		t.Skip("no AVX2/FMA")
	}
	r := rand.New(rand.NewPCG(4, 2))
	for _, C := range []int{8, 40, 64, 88, 768, 1024} {
		for _, offset := range []float64{0, 100} {
			x, do, g, b := make([]float32, C), randn(r, C, 1), randn(r, C, 1), randn(r, C, 1)
			for i := range x {
				x[i] = float32(offset + r.NormFloat64()*2)
			}
			o1, o2 := make([]float32, C), make([]float32, C)
			mu1, rs1 := lnRowFwdGo(o1, x, g, b, 1e-5)
			mu2, rs2 := lnRowFwd(o2, x, g, b, 1e-5)
			close := func(what string, i int, a, b, scale float32) {
				t.Helper()
				if d := math.Abs(float64(a - b)); d > 2e-6*math.Max(1, float64(scale)) {
					t.Fatalf("C=%d offset %v: %s[%d] = %v vector, %v portable", C, offset, what, i, b, a)
				}
			}
			close("mu", 0, mu1, mu2, mu1)
			close("rs", 0, rs1, rs2, rs1)
			// The means differ by the rounding of their sums, which x̂ carries
			// as |mu|·rs times float32's epsilon.
			big := 4 * (1 + float32(math.Abs(float64(mu1)))*rs1)
			for i := range o1 {
				close("out", i, o1[i], o2[i], big)
			}
			d1, d2 := make([]float32, C), make([]float32, C)
			lnRowBwdGo(d1, do, x, g, mu1, rs1)
			lnRowBwd(d2, do, x, g, mu1, rs1)
			for i := range d1 {
				close("dx", i, d1[i], d2[i], big*rs1)
			}
		}
	}
}
