package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/tensor"
)

// TestGELUScaledMatchesUnfused holds the fused ops to the passes they
// replace, bit for bit: ScaleColsBias (or AddBias) then GELU, GELUBackward
// then ColSumMul; with one worker and two, for row lengths below, at and
// above the segment length and not a multiple of 8.
func TestGELUScaledMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, sh := range []struct{ N, C int }{{1, 1}, {3, 5}, {7, geluSeg}, {5, geluSeg + 13}, {64, 3072}} {
		for _, kind := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
			for _, withS := range []bool{false, true} {
				for _, withBias := range []bool{false, true} {
					name := fmt.Sprintf("%dx%d/kind%d/s=%v/bias=%v", sh.N, sh.C, kind, withS, withBias)
					t.Run(name, func(t *testing.T) {
						N, C := sh.N, sh.C
						z, dout := randn(r, N*C, 2), randn(r, N*C, 1)
						var s, bias tensor.Buf
						sv, bv := make([]float32, C), make([]float32, C)
						for i := range sv {
							sv[i] = 1
						}
						if withS {
							sv = randn(r, C, 1)
							s = From(sv)
						}
						if withBias {
							bv = randn(r, C, 0.5)
							bias = From(bv)
						}
						ds0 := randn(r, C, 1) // ds accumulates
						// The unfused passes.
						ref := New()
						pre := make([]float32, N*C)
						switch {
						case withS:
							ref.ScaleColsBias(From(pre), From(z), s, bias, N, C)
						default:
							copy(pre, z)
							if withBias {
								ref.AddBias(From(pre), bias, N, C)
							}
						}
						wantH, wantDX := make([]float32, N*C), make([]float32, N*C)
						ref.GELU(From(wantH), From(pre), N*C, kind)
						ref.GELUBackward(From(wantDX), From(dout), From(pre), N*C, kind)
						wantDS := append([]float32(nil), ds0...)
						ref.ColSumMul(From(wantDS), From(wantDX), From(z), N, C)

						for _, threads := range []int{1, 2} {
							be := &Backend{threads: threads}
							h, dx, dx2 := make([]float32, N*C), make([]float32, N*C), make([]float32, N*C)
							ds := append([]float32(nil), ds0...)
							be.GELUScaled(From(h), From(z), s, bias, N, C, kind)
							be.GELUScaledBackward(From(dx), From(ds), From(dout), From(z), s, bias, N, C, kind)
							be.GELUScaledBackward(From(dx2), nil, From(dout), From(z), s, bias, N, C, kind)
							for _, c := range []struct {
								what      string
								got, want []float32
							}{{"out", h, wantH}, {"dx", dx, wantDX}, {"dx (no ds)", dx2, wantDX}, {"ds", ds, wantDS}} {
								for i := range c.want {
									if c.got[i] != c.want[i] {
										t.Fatalf("%d workers: %s[%d] = %v, unfused %v", threads, c.what, i, c.got[i], c.want[i])
									}
								}
							}
						}
					})
				}
			}
		}
	}
}

// TestGradGELUScaled checks the fused backward against central differences
// of L = Σ R⊙gelu(z⊙s + bias) in z (∂z = dx⊙s), s (ds) and bias (Σ_n dx).
func TestGradGELUScaled(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(5, 6))
	const N, C = 6, 21
	for _, kind := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
		z, s, bias, R := randn(r, N*C, 1.5), randn(r, C, 1), randn(r, C, 0.5), randn(r, N*C, 1)
		h := make([]float32, N*C)
		loss := func() float64 {
			be.GELUScaled(From(h), From(z), From(s), From(bias), N, C, kind)
			return dot64(h, R)
		}
		dx, ds := make([]float32, N*C), make([]float32, C)
		be.GELUScaledBackward(From(dx), From(ds), From(R), From(z), From(s), From(bias), N, C, kind)
		dz, db := make([]float32, N*C), make([]float32, C)
		for i := range dz {
			dz[i] = dx[i] * s[i%C]
			db[i%C] += dx[i]
		}
		name := fmt.Sprintf("kind%d", kind)
		checkGrad(t, name+"/z", z, dz, loss)
		checkGrad(t, name+"/s", s, ds, loss)
		checkGrad(t, name+"/bias", bias, db, loss)
	}
}

// TestGELUScaledBackwardInMatchesUnfused holds GELUScaledBackwardIn to the
// passes it replaces, bit for bit: the GELU's output h from GELUScaled (as
// the forward pass stored it), ColSumMulScale(dsIn, dh, H, h, sIn), then
// GELUScaledBackward(dx, ds, dh, …); with one worker and two, both GELU
// forms, row lengths around the segment length and not a multiple of 8.
func TestGELUScaledBackwardInMatchesUnfused(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sh := range []struct{ N, C int }{{1, 1}, {3, 5}, {7, geluSeg}, {5, geluSeg + 13}, {64, 3072}} {
		for _, kind := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
			for _, withS := range []bool{false, true} {
				for _, withBias := range []bool{false, true} {
					t.Run(fmt.Sprintf("%dx%d/kind%d/s=%v/bias=%v", sh.N, sh.C, kind, withS, withBias), func(t *testing.T) {
						N, C := sh.N, sh.C
						z, H, sIn := From(randn(r, N*C, 2)), From(randn(r, N*C, 1)), From(randn(r, C, 1))
						var s, bias tensor.Buf
						if withS {
							s = From(randn(r, C, 1))
						}
						if withBias {
							bias = From(randn(r, C, 0.5))
						}
						ds0, dsIn0 := randn(r, C, 1), randn(r, C, 1) // both accumulate
						ref := New()
						h, dh, wantDX := make([]float32, N*C), make([]float32, N*C), make([]float32, N*C)
						ref.GELUScaled(From(h), z, s, bias, N, C, kind)
						wantDSIn, wantDS := append([]float32(nil), dsIn0...), append([]float32(nil), ds0...)
						ref.ColSumMulScale(From(wantDSIn), From(dh), H, From(h), sIn, N, C)
						ref.GELUScaledBackward(From(wantDX), From(wantDS), From(dh), z, s, bias, N, C, kind)
						for _, threads := range []int{1, 2} {
							be := &Backend{threads: threads}
							dx, ds, dsIn := make([]float32, N*C), append([]float32(nil), ds0...), append([]float32(nil), dsIn0...)
							be.GELUScaledBackwardIn(From(dx), From(ds), From(dsIn), H, sIn, z, s, bias, N, C, kind)
							for _, c := range []struct {
								what      string
								got, want []float32
							}{{"dx", dx, wantDX}, {"ds", ds, wantDS}, {"dsIn", dsIn, wantDSIn}} {
								for i := range c.want {
									if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
										t.Fatalf("threads=%d: %s[%d] = %v, want %v", threads, c.what, i, c.got[i], c.want[i])
									}
								}
							}
							dx2, dsIn2 := make([]float32, N*C), append([]float32(nil), dsIn0...)
							be.GELUScaledBackwardIn(From(dx2), nil, From(dsIn2), H, sIn, z, s, bias, N, C, kind)
							for i := range wantDX {
								if math.Float32bits(dx2[i]) != math.Float32bits(wantDX[i]) {
									t.Fatalf("threads=%d without ds: dx[%d] = %v, want %v", threads, i, dx2[i], wantDX[i])
								}
							}
						}
					})
				}
			}
		}
	}
}
