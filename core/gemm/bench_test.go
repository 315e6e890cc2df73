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

// BenchmarkPacked compares Sgemm with SgemmPacked (op(B) packed once) on
// the training shapes whose B is a frozen weight (fwd_* and dx_*), each
// pass cycling through 4 copies of the weight (the LM head's 154 MB at
// least once), so that it comes from memory as in a training step.
//
//	go test -run XXX -bench Packed ./core/gemm
func BenchmarkPacked(b *testing.B) {
	for _, s := range gemm.TrainingShapes() {
		if s.TransA {
			continue // dw_*: no frozen operand
		}
		a, _, c := gemm.RandomOperands(s)
		lda, ldb, ldc := s.Strides()
		var bs []float32
		var pbs []*gemm.PackedB
		for i := 0; i < 4; i++ {
			_, bm, _ := gemm.RandomOperands(s)
			bs = append(bs, bm...)
			pbs = append(pbs, gemm.PackB(s.TransB, s.N, s.K, bm, ldb))
		}
		nb := len(bs) / 4
		for _, packed := range []bool{false, true} {
			name := s.Name + "/sgemm"
			if packed {
				name = s.Name + "/packed"
			}
			b.Run(name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					if packed {
						gemm.SgemmPacked(false, s.M, 1, a, lda, nil, pbs[i%4], 0, c, ldc)
					} else {
						gemm.Sgemm(false, s.TransB, s.M, s.N, s.K, 1, a, lda, bs[(i%4)*nb:(i%4+1)*nb], ldb, 0, c, ldc)
					}
					i++
				}
				b.ReportMetric(s.Flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
