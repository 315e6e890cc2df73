package gemm_test

import (
	"testing"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/internal/bench"
)

func benchShapes(b *testing.B, run func(s gemm.Shape, a, bm, c []float32)) {
	for _, s := range gemm.TrainingShapes() {
		b.Run(s.Name, func(b *testing.B) {
			a, bm, c := gemm.RandomOperands(s)
			run(s, a, bm, c)
			b.ResetTimer()
			for b.Loop() {
				run(s, a, bm, c)
			}
			b.ReportMetric(s.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemm reports GFLOP/s of Sgemm on the GPT-2 training shapes.
func BenchmarkSgemm(b *testing.B) {
	benchShapes(b, func(s gemm.Shape, a, bm, c []float32) {
		lda, ldb, ldc := s.Strides()
		gemm.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, bm, ldb, 0, c, ldc)
	})
}

// BenchmarkGonum is the gonum blas32 peer on the same shapes.
func BenchmarkGonum(b *testing.B) {
	benchShapes(b, bench.GonumSgemm)
}
