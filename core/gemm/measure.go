package gemm

import (
	"math/rand/v2"
	"time"
)

// Shape is one GEMM of a benchmark: C[M×N] = op(A)·op(B) with inner size K.
type Shape struct {
	Name           string
	TransA, TransB bool
	M, N, K        int
}

// Flops is the number of floating-point operations of one product, 2·M·N·K.
func (s Shape) Flops() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// Lens returns the slice lengths of A, B and C for a densely stored shape.
func (s Shape) Lens() (la, lb, lc int) { return s.M * s.K, s.K * s.N, s.M * s.N }

// Strides returns lda, ldb, ldc for densely stored operands.
func (s Shape) Strides() (lda, ldb, ldc int) {
	lda, ldb = s.K, s.N
	if s.TransA {
		lda = s.M
	}
	if s.TransB {
		ldb = s.K
	}
	return lda, ldb, s.N
}

// TrainingShapes lists the GEMMs of one GPT-2 124M training step with
// N = B·T = 256 tokens and C = 768 channels, linear weights W stored
// [out, in]: forward Y = X·Wᵀ (transB), input gradient dX = dY·W, weight
// gradient dW = dYᵀ·X (transA).
func TrainingShapes() []Shape {
	const n, c, v = 256, 768, 50257
	type lin struct {
		name    string
		in, out int
	}
	lins := []lin{
		{"qkv", c, 3 * c},
		{"attnproj", c, c},
		{"fc", c, 4 * c},
		{"fcproj", 4 * c, c},
		{"lmhead", c, v},
	}
	var s []Shape
	for _, l := range lins {
		s = append(s, Shape{Name: "fwd_" + l.name, TransB: true, M: n, N: l.out, K: l.in})
	}
	for _, l := range lins {
		s = append(s, Shape{Name: "dx_" + l.name, M: n, N: l.in, K: l.out})
	}
	for _, l := range lins {
		s = append(s, Shape{Name: "dw_" + l.name, TransA: true, M: l.out, N: l.in, K: n})
	}
	return s
}

// RandomOperands returns A, B and C for shape s filled with values uniform
// in [-1, 1), from a fixed seed.
func RandomOperands(s Shape) (a, b, c []float32) {
	rng := rand.New(rand.NewPCG(uint64(s.M), uint64(s.N*131+s.K)))
	la, lb, lc := s.Lens()
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 2*rng.Float32() - 1
		}
		return x
	}
	return fill(la), fill(lb), fill(lc)
}

// Time runs f once to warm up, then repeatedly until at least minDur has
// passed (and at least once more), and returns the median time of one call
// over batches of calls.
func Time(f func(), minDur time.Duration) time.Duration {
	f()
	// Calibrate a batch to ~minDur/5 so that several batches give a median.
	start := time.Now()
	f()
	one := time.Since(start)
	batch := 1
	if one > 0 {
		batch = max(1, int(minDur/5/one))
	}
	var per []time.Duration
	total := time.Duration(0)
	for total < minDur || len(per) < 3 {
		t0 := time.Now()
		for i := 0; i < batch; i++ {
			f()
		}
		d := time.Since(t0)
		total += d
		per = append(per, d/time.Duration(batch))
		if len(per) >= 3 && total >= minDur {
			break
		}
	}
	// Median.
	for i := 1; i < len(per); i++ {
		for j := i; j > 0 && per[j] < per[j-1]; j-- {
			per[j], per[j-1] = per[j-1], per[j]
		}
	}
	return per[len(per)/2]
}

// Measure times Sgemm on random operands of the given shape (alpha = 1,
// beta = 0, dense strides) for at least minDur and returns the median
// GFLOP/s.
func Measure(transA, transB bool, m, n, k int, minDur time.Duration) (gflops float64) {
	s := Shape{TransA: transA, TransB: transB, M: m, N: n, K: k}
	a, b, c := RandomOperands(s)
	lda, ldb, ldc := s.Strides()
	d := Time(func() { Sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc) }, minDur)
	return s.Flops() / d.Seconds() / 1e9
}
