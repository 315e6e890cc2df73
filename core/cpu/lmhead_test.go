package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// lceRef is the loss and dx of the tied LM head in float64.
func lceRef(x, w []float32, T []int32, Wn []float32, N, V, C int, eps float64) (float64, []float64) {
	var total float64
	dx := make([]float64, N*C)
	z := make([]float64, V)
	for n := 0; n < N; n++ {
		if Wn[n] == 0 {
			continue
		}
		mx := math.Inf(-1)
		var zsum float64
		for v := 0; v < V; v++ {
			var d float64
			for c := 0; c < C; c++ {
				d += float64(x[n*C+c]) * float64(w[v*C+c])
			}
			z[v] = d
			mx = math.Max(mx, d)
			zsum += d
		}
		var s float64
		for v := range z {
			s += math.Exp(z[v] - mx)
		}
		lse := mx + math.Log(s)
		t := int(T[n])
		total += float64(Wn[n]) * ((1-eps)*(lse-z[t]) + eps*(lse-zsum/float64(V)))
		for v := 0; v < V; v++ {
			g := math.Exp(z[v]-lse) - eps/float64(V)
			if v == t {
				g -= 1 - eps
			}
			g *= float64(Wn[n])
			for c := 0; c < C; c++ {
				dx[n*C+c] += g * float64(w[v*C+c])
			}
		}
	}
	return total, dx
}

// TestLinearCrossEntropy holds the fused LM head to a float64 reference and
// to the unfused MatMul + CrossEntropy + MatMul, with and without label
// smoothing, with zero-weight rows, vocabularies that end in a partial block
// or have fewer blocks than parts, confident predictions (p_t ≈ 1, where
// dx must not lose its digits to cancellation), and one thread against two
// (the same bits).
func TestLinearCrossEntropy(t *testing.T) {
	for _, c := range []struct {
		N, V, C   int
		eps       float32
		confident bool
	}{
		{5, 300, 8, 0, false},
		{13, 1000, 24, 0, false},
		{13, 1000, 24, 0.1, false},
		{9, 2 * lceBlock, 16, 0, false},
		{7, 5*lceBlock + 3, 32, 0, true},
		{7, 5*lceBlock + 3, 32, 0.1, true},
	} {
		t.Run(fmt.Sprintf("N%d_V%d_C%d_eps%v_conf%v", c.N, c.V, c.C, c.eps, c.confident), func(t *testing.T) {
			N, V, C := c.N, c.V, c.C
			r := rand.New(rand.NewPCG(uint64(V), uint64(C)))
			x, w := randn(r, N*C, 1), randn(r, V*C, 0.3)
			T, Wn := make([]int32, N), make([]float32, N)
			for n := range T {
				T[n] = int32(r.IntN(V))
				Wn[n] = float32(r.Float64() + 0.5)
			}
			Wn[N/2] = 0
			if c.confident { // x[n] ∥ w[t]: the target's logit far above the others
				for n := 0; n < N; n++ {
					for k := 0; k < C; k++ {
						x[n*C+k] = 40 * w[int(T[n])*C+k] / float32(C) * 8
					}
				}
			}
			wantLoss, wantDX := lceRef(x, w, T, Wn, N, V, C, float64(c.eps))
			var prev []float32
			for _, threads := range []int{1, 2} {
				be := &Backend{threads: threads}
				stats, dx := make([]float32, 2), make([]float32, N*C)
				be.LinearCrossEntropy(From(stats), 1, From(dx), From(x), From(w), FromI(T), From(Wn), N, V, C, c.eps)
				if d := math.Abs(float64(stats[1]) - wantLoss); d > 2e-5*math.Max(1, math.Abs(wantLoss)) {
					t.Fatalf("%d threads: loss %v, float64 %v", threads, stats[1], wantLoss)
				}
				var scale float64
				for _, v := range wantDX {
					scale = math.Max(scale, math.Abs(v))
				}
				for i, v := range wantDX {
					if d := math.Abs(float64(dx[i]) - v); d > 1e-5*scale+1e-6*math.Abs(v) {
						t.Fatalf("%d threads: dx[%d] = %v, float64 %v (max |dx| %v)", threads, i, dx[i], v, scale)
					}
				}
				statsNoGrad := make([]float32, 2)
				be.LinearCrossEntropy(From(statsNoGrad), 1, nil, From(x), From(w), FromI(T), From(Wn), N, V, C, c.eps)
				if statsNoGrad[1] != stats[1] {
					t.Fatalf("loss without dx %v, with %v", statsNoGrad[1], stats[1])
				}
				if prev != nil {
					for i := range dx {
						if dx[i] != prev[i] {
							t.Fatalf("dx[%d]: %v with 2 threads, %v with 1", i, dx[i], prev[i])
						}
					}
				}
				prev = append(dx[:0:0], dx...)
			}
			// The unfused path agrees to float32 rounding.
			be := New()
			logits, stats, dx := make([]float32, N*V), make([]float32, 2), make([]float32, N*C)
			be.MatMul(From(logits), From(x), From(w), N, V, C, false, true, 1, 0)
			be.CrossEntropy(From(stats), 1, From(logits), From(logits), FromI(T), From(Wn), N, V, c.eps)
			be.MatMul(From(dx), From(logits), From(w), N, C, V, false, false, 1, 0)
			if d := math.Abs(float64(stats[1]) - wantLoss); d > 2e-5*math.Max(1, math.Abs(wantLoss)) {
				t.Fatalf("unfused loss %v, float64 %v", stats[1], wantLoss)
			}
		})
	}
}
