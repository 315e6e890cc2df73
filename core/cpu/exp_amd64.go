package cpu

import "github.com/hutml/hut/internal/cpufeat"

//go:noescape
func expSubSumAVX2(dst, src []float32, m float32) float32

// expSubSum sets dst[i] = exp(src[i]-m) and returns Σ dst[i] (m ≥ max src
// in the callers, so every argument is ≤ 0).
func expSubSum(dst, src []float32, m float32) float32 {
	if !cpufeat.AVX2FMA {
		return expSubSumGo(dst, src, m)
	}
	n := len(src) &^ 7
	s := expSubSumAVX2(dst[:len(src)], src, m)
	return s + expSubSumGo(dst[n:], src[n:], m)
}

//go:noescape
func maxSumAVX2(src []float32) (mx, sum float32)

//go:noescape
func scaleShiftAVX2(x []float32, a, b float32)

// maxSum returns the maximum and the sum of src (len ≥ 1).
func maxSum(src []float32) (float32, float32) {
	if !cpufeat.AVX2FMA || len(src) < 8 {
		return maxSumGo(src)
	}
	n := len(src) &^ 7
	m, s := maxSumAVX2(src[:n])
	if n < len(src) {
		m2, s2 := maxSumGo(src[n:])
		m = max(m, m2)
		s += s2
	}
	return m, s
}

// scaleShift sets x[i] = x[i]·a + b.
func scaleShift(x []float32, a, b float32) {
	if !cpufeat.AVX2FMA {
		scaleShiftGo(x, a, b)
		return
	}
	n := len(x) &^ 7
	scaleShiftAVX2(x[:n], a, b)
	scaleShiftGo(x[n:], a, b)
}
