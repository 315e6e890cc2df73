package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/hutml/hut/core/gemm"
)

func TestCompareGemmSmoke(t *testing.T) {
	shapes := []gemm.Shape{{Name: "tiny", TransB: true, M: 8, N: 40, K: 16}, {Name: "tinyT", TransA: true, M: 24, N: 8, K: 5}}
	rows := CompareGemm(GemmOptions{Shapes: shapes, Pairs: 1, Sample: time.Millisecond, Gonum: true})
	if len(rows) != 2 || rows[0].Ours <= 0 || rows[0].Gonum <= 0 {
		t.Fatalf("rows = %+v", rows)
	}
	var sb strings.Builder
	WriteGemmTable(&sb, rows)
	if !strings.Contains(sb.String(), "| tiny | A·Bᵀ | 8×40×16 |") || !strings.Contains(sb.String(), "| tinyT | Aᵀ·B |") {
		t.Fatalf("table:\n%s", sb.String())
	}
}

func TestGonumMatchesGemm(t *testing.T) {
	for _, s := range []gemm.Shape{{M: 5, N: 7, K: 3}, {TransA: true, M: 5, N: 7, K: 3}, {TransB: true, M: 5, N: 7, K: 3}, {TransA: true, TransB: true, M: 5, N: 7, K: 3}} {
		a, b, _ := gemm.RandomOperands(s)
		// Small integers: exact in any summation order.
		for i := range a {
			a[i] = float32(int(a[i] * 4))
		}
		for i := range b {
			b[i] = float32(int(b[i] * 4))
		}
		c1 := make([]float32, s.M*s.N)
		c2 := make([]float32, s.M*s.N)
		lda, ldb, ldc := s.Strides()
		gemm.Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c1, ldc)
		GonumSgemm(s, a, b, c2)
		for i := range c1 {
			if c1[i] != c2[i] {
				t.Fatalf("%+v: c[%d] = %g (gemm) vs %g (gonum)", s, i, c1[i], c2[i])
			}
		}
	}
}
