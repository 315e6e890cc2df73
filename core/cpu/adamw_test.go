package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamWKernel: the vector AdamW kernel (blocks of 8 plus a Go tail)
// gives the same bits as the element-wise Go code, over several steps and
// lengths, with weight decay, gradient scaling and v = 0 entries; and the
// Go code matches the float64 formula to float32 rounding.
func TestAdamWKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 9, 100, 1003} {
		p, g := make([]float32, n), make([]float32, n)
		for i := range p {
			p[i] = float32(rng.NormFloat64())
		}
		m, v := make([]float32, n), make([]float32, n)
		pv, mv, vv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
		for step := 1; step <= 3; step++ {
			for i := range g {
				g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
				if i%5 == 0 {
					g[i] = 0 // v stays 0 on the first step: √0
				}
			}
			lr, wd, b1, b2, eps := float32(1e-3), float32(0.01), float32(0.9), float32(0.999), float32(1e-8)
			bc1 := 1 - math.Pow(float64(b1), float64(step))
			bc2 := 1 - math.Pow(float64(b2), float64(step))
			c := &adamConsts{gs: 0.5, b1: b1, omb1: 1 - b1, b2: b2, omb2: 1 - b2, decay: 1 - lr*wd,
				stepSize: float32(float64(lr) / bc1), sbc2: float32(math.Sqrt(bc2)), eps: eps}
			p0 := append([]float32(nil), p...)
			m0 := append([]float32(nil), m...)
			v0 := append([]float32(nil), v...)
			adamw(pv, g, mv, vv, c)
			adamwGo(p, g, m, v, c)
			name := fmt.Sprintf("n=%d step=%d", n, step)
			same(t, name+" p", pv, p)
			same(t, name+" m", mv, m)
			same(t, name+" v", vv, v)
			// The formula in float64, from the same starting point.
			for i := range p {
				gi := float64(g[i]) * 0.5
				mi := float64(b1)*float64(m0[i]) + (1-float64(b1))*gi
				vi := float64(b2)*float64(v0[i]) + (1-float64(b2))*gi*gi
				pi := float64(p0[i])*(1-float64(lr)*float64(wd)) - float64(lr)/bc1*mi/(math.Sqrt(vi)/math.Sqrt(bc2)+float64(eps))
				if d := math.Abs(pi - float64(p[i])); d > 1e-6*(1+math.Abs(pi)) {
					t.Fatalf("%s: p[%d] = %g, float64 formula %g", name, i, p[i], pi)
				}
			}
		}
	}
}

func same(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %g, want %g", name, i, got[i], want[i])
		}
	}
}
