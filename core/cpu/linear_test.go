package cpu

import (
	"fmt"
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

// TestPackWeight: a weight packed ahead (PackWeight) gives the products ·w
// of MatMul, MatMulScaled and LinearBackwardInput the bits of an unpacked
// copy, for plans that share A (N ≤ In) and B (N > In), with one worker and
// two; the forward orientation (·wᵀ) is unaffected; Write, Zero and Copy
// drop the packed copy (the products follow the new values), as do
// UnpackWeight and Free; with packing off, PackWeight packs nothing.
func TestPackWeight(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for _, sh := range []struct{ N, Out, In int }{{7, 45, 33}, {64, 300, 200}, {300, 70, 90}} {
		for _, threads := range []int{1, 2} {
			t.Run(fmt.Sprintf("%dx%dx%d/threads=%d", sh.N, sh.Out, sh.In, threads), func(t *testing.T) {
				N, Out, In := sh.N, sh.Out, sh.In
				be := &Backend{threads: threads}
				dy, x, xf := randn(r, N*Out, 1), randn(r, N*In, 1), randn(r, N*In, 1)
				sOut, sIn := From(randn(r, Out, 1)), From(randn(r, In, 1))
				w := be.NewBuf(Out * In)
				// check runs every product on w and on a plain copy of its values.
				check := func(t *testing.T, when string) {
					t.Helper()
					plain := From(append([]float32(nil), F(w)...))
					for _, s := range []tensor.Buf{nil, sOut} {
						got, want := make([]float32, N*In), make([]float32, N*In)
						be.MatMulScaled(From(got), From(dy), w, s, N, In, Out, false, false, 1, 0)
						be.MatMulScaled(From(want), From(dy), plain, s, N, In, Out, false, false, 1, 0)
						same(t, when+": dx", got, want)
					}
					gdx, gds, wdx, wds := make([]float32, N*In), make([]float32, In), make([]float32, N*In), make([]float32, In)
					be.LinearBackwardInput(From(gdx), From(gds), From(dy), w, From(x), sOut, sIn, N, Out, In)
					be.LinearBackwardInput(From(wdx), From(wds), From(dy), plain, From(x), sOut, sIn, N, Out, In)
					same(t, when+": fused dx", gdx, wdx)
					same(t, when+": fused ds", gds, wds)
					gy, wy := make([]float32, N*Out), make([]float32, N*Out)
					be.MatMul(From(gy), From(xf), w, N, Out, In, false, true, 1, 0)
					be.MatMul(From(wy), From(xf), plain, N, Out, In, false, true, 1, 0)
					same(t, when+": forward", gy, wy)
				}
				packed := func() bool { return w.(*Buf).packed != nil }
				be.Write(w, 0, randn(r, Out*In, 0.1))
				be.PackWeight(w, Out, In)
				if !packed() {
					t.Fatal("PackWeight packed nothing")
				}
				check(t, "packed")
				for _, change := range []struct {
					name string
					do   func()
				}{
					{"Write", func() { be.Write(w, 3, randn(r, 5, 1)) }},
					{"Zero", func() { be.Zero(w, 1, 4) }},
					{"Copy", func() { be.Copy(w, 2, From(randn(r, 9, 1)), 0, 9) }},
				} {
					be.PackWeight(w, Out, In)
					change.do()
					if packed() {
						t.Fatalf("%s kept the packed copy", change.name)
					}
					be.PackWeight(w, Out, In)
					check(t, "packed again after "+change.name)
				}
				be.UnpackWeight(w)
				if packed() {
					t.Fatal("UnpackWeight kept the packed copy")
				}
				be.SetWeightPacking(false)
				if be.WeightPacking() {
					t.Fatal("WeightPacking() after SetWeightPacking(false)")
				}
				be.PackWeight(w, Out, In)
				if packed() {
					t.Fatal("PackWeight packed with packing off")
				}
				be.SetWeightPacking(true)
				be.PackWeight(w, Out, In)
				be.Free(w)
				if packed() {
					t.Fatal("Free kept the packed copy")
				}
			})
		}
	}
}
