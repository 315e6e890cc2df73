package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/tensor"
)

// TestFusedLinearMatchesUnfused holds LinearForward and LinearBackwardInput
// to the operations they fuse, bit for bit: MatMulScaled then
// ScaleColsBias (or MatMul then AddBias), MatMulScaled then
// ColSumMulScale; with one worker and two, for products whose GEMM plan
// shares A (N ≤ the output width: the epilogue runs per block) and shares B
// (N larger: it runs once at the end), partial tiles, and each optional
// input absent.
func TestFusedLinearMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	same := func(t *testing.T, what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
			}
		}
	}
	for _, sh := range []struct{ N, Out, In int }{{1, 1, 1}, {7, 45, 33}, {64, 300, 200}, {300, 70, 90}, {256, 1100, 600}} {
		for _, hut := range []bool{false, true} {
			for _, withBias := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d/hut=%v/bias=%v", sh.N, sh.Out, sh.In, hut, withBias), func(t *testing.T) {
					N, Out, In := sh.N, sh.Out, sh.In
					x, w, dy := randn(r, N*In, 1), randn(r, Out*In, 0.1), randn(r, N*Out, 1)
					var sIn, sOut, bias tensor.Buf
					if hut {
						sIn, sOut = From(randn(r, In, 1)), From(randn(r, Out, 1))
					}
					if withBias {
						bias = From(randn(r, Out, 0.5))
					}
					ds0 := randn(r, In, 1)
					ref := New()
					// Forward.
					wantY, wantP := make([]float32, N*Out), make([]float32, N*Out)
					if hut {
						ref.MatMulScaled(From(wantP), From(x), From(w), sIn, N, Out, In, false, true, 1, 0)
						ref.ScaleColsBias(From(wantY), From(wantP), sOut, bias, N, Out)
					} else {
						ref.MatMul(From(wantY), From(x), From(w), N, Out, In, false, true, 1, 0)
						if withBias {
							ref.AddBias(From(wantY), bias, N, Out)
						}
					}
					// Backward.
					H := make([]float32, N*In)
					ref.MatMulScaled(From(H), From(dy), From(w), sOut, N, In, Out, false, false, 1, 0)
					wantDX, wantDS := make([]float32, N*In), append([]float32(nil), ds0...)
					s := sIn
					if s == nil {
						ones := make([]float32, In)
						for i := range ones {
							ones[i] = 1
						}
						s = From(ones)
					}
					ref.ColSumMulScale(From(wantDS), From(wantDX), From(H), From(x), s, N, In)
					wantDSOnly := append([]float32(nil), ds0...)
					ref.ColSumMulScale(From(wantDSOnly), nil, From(H), From(x), s, N, In)

					for _, threads := range []int{1, 2} {
						be := &Backend{threads: threads}
						y := make([]float32, N*Out)
						if hut {
							p := make([]float32, N*Out)
							be.LinearForward(From(y), From(p), From(x), From(w), sIn, sOut, bias, N, Out, In)
							same(t, "p", p, wantP)
						} else {
							be.LinearForward(From(y), nil, From(x), From(w), nil, nil, bias, N, Out, In)
						}
						same(t, "y", y, wantY)
						dx, ds := make([]float32, N*In), append([]float32(nil), ds0...)
						be.LinearBackwardInput(From(dx), From(ds), From(dy), From(w), From(x), sOut, sIn, N, Out, In)
						same(t, "dx", dx, wantDX)
						same(t, "ds", ds, wantDS)
						ds = append(ds[:0], ds0...)
						be.LinearBackwardInput(nil, From(ds), From(dy), From(w), From(x), sOut, sIn, N, Out, In)
						same(t, "ds without dx", ds, wantDSOnly)
					}
				})
			}
		}
	}
}
