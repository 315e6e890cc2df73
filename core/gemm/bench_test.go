package gemm

import (
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

func benchShapes(b *testing.B, run func(s Shape, a, bm, c []float32)) {
	for _, s := range TrainingShapes() {
		b.Run(s.Name, func(b *testing.B) {
			a, bm, c := RandomOperands(s)
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
	benchShapes(b, func(s Shape, a, bm, c []float32) {
		lda, ldb, ldc := s.Strides()
		Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, bm, ldb, 0, c, ldc)
	})
}

// BenchmarkGonum is the gonum blas32 peer on the same shapes.
func BenchmarkGonum(b *testing.B) {
	benchShapes(b, func(s Shape, a, bm, c []float32) {
		GonumSgemm(s, a, bm, c)
	})
}

// GonumSgemm runs gonum's blas32.Gemm on dense operands of shape s.
func GonumSgemm(s Shape, a, bm, c []float32) {
	lda, ldb, ldc := s.Strides()
	ta, tb := blas.NoTrans, blas.NoTrans
	ar, ac := s.M, s.K
	if s.TransA {
		ta, ar, ac = blas.Trans, s.K, s.M
	}
	br, bc := s.K, s.N
	if s.TransB {
		tb, br, bc = blas.Trans, s.N, s.K
	}
	blas32.Gemm(ta, tb, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: bm},
		0, blas32.General{Rows: s.M, Cols: s.N, Stride: ldc, Data: c})
}
