package cpu

import (
	"math"
	"testing"
)

func TestVecKernels(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 100, 1000} {
		a, b, acc := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i], acc[i] = float32(i)*0.5-3, float32(i%7)-2.5, float32(i%3)
		}
		out := make([]float32, n)
		mulVec(out, a, b)
		f := append([]float32(nil), acc...)
		fmaVec(f, a, b)
		s := append([]float32(nil), acc...)
		addVec(s, a)
		for i := range a {
			// Exactly representable products: FMA and mul+add agree.
			if out[i] != a[i]*b[i] || f[i] != acc[i]+a[i]*b[i] || s[i] != acc[i]+a[i] {
				t.Fatalf("n=%d i=%d: mul %v fma %v add %v", n, i, out[i], f[i], s[i])
			}
		}
	}
}

// TestFMAVecSplitInvariant: the result of an element must not depend on
// where the slice it is in starts (the thread split).
func TestFMAVecSplitInvariant(t *testing.T) {
	n := 200
	a, b, acc := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i], acc[i] = 1.0/float32(i+3), float32(i)/7+0.1, 1/float32(i+1)
	}
	whole := append([]float32(nil), acc...)
	fmaVec(whole, a, b)
	for _, cut := range []int{1, 7, 33, 100} {
		parts := append([]float32(nil), acc...)
		fmaVec(parts[:cut], a[:cut], b[:cut])
		fmaVec(parts[cut:], a[cut:], b[cut:])
		for i := range whole {
			if parts[i] != whole[i] {
				t.Fatalf("cut %d: element %d = %v, whole-slice %v", cut, i, parts[i], whole[i])
			}
		}
	}
}

// TestMulAddVec: mulAddVec gives the bits of mulVec then addVec (the
// product rounded before the sum, not fused), vector part and tail alike.
func TestMulAddVec(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 100, 1000} {
		a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			// Products that are not exact in float32, so a fused
			// multiply-add would round differently.
			a[i], b[i], c[i] = 1/float32(i+3), float32(i)/7+0.1, -1/float32(i+1)
		}
		want := make([]float32, n)
		mulVec(want, a, b)
		addVec(want, c)
		got := make([]float32, n)
		mulAddVec(got, a, b, c)
		fused := 0
		for i := range a {
			if got[i] != want[i] {
				t.Fatalf("n=%d i=%d: %v, want %v", n, i, got[i], want[i])
			}
			if float32(math.FMA(float64(a[i]), float64(b[i]), float64(c[i]))) != want[i] {
				fused++
			}
		}
		if n >= 100 && fused == 0 {
			t.Fatalf("n=%d: no input tells a fused multiply-add apart", n)
		}
	}
}

// TestMulAddVecKeep: keep gets a and out gets mulAddVec's bits, for every
// length and alignment of keep (the non-temporal path needs 32 bytes), out
// apart from a or the same slice.
func TestMulAddVecKeep(t *testing.T) {
	for _, n := range []int{0, 1, 31, 32, 33, 64, 100, 1000} {
		for _, off := range []int{0, 1, 4, 8} {
			for _, inPlace := range []bool{false, true} {
				a, b, c := make([]float32, n), make([]float32, n), make([]float32, n)
				for i := range a {
					a[i], b[i], c[i] = 1/float32(i+3), float32(i)/7+0.1, -1/float32(i+1)
				}
				want := make([]float32, n)
				mulAddVec(want, a, b, c)
				keepBuf := make([]float32, n+off+8)
				for i := range keepBuf {
					keepBuf[i] = float32(math.NaN())
				}
				keep := keepBuf[off : off+n]
				src := append([]float32(nil), a...)
				out := make([]float32, n)
				if inPlace {
					out = src
				}
				mulAddVecKeep(out, keep, src, b, c)
				storeFence()
				for i := range a {
					if math.Float32bits(keep[i]) != math.Float32bits(a[i]) || math.Float32bits(out[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d off=%d inPlace=%v i=%d: keep %v out %v, want %v %v", n, off, inPlace, i, keep[i], out[i], a[i], want[i])
					}
				}
				for i := off + n; i < len(keepBuf); i++ {
					if !math.IsNaN(float64(keepBuf[i])) {
						t.Fatalf("n=%d off=%d: wrote past keep at %d", n, off, i-off)
					}
				}
			}
		}
	}
}
