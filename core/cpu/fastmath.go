package cpu

import "math"

// expf is a float32 exp accurate to about 2 ulp over the float32 range
// (exp(x) = 2^n·e^r with n = round(x/ln2), r reduced with a two-part ln2 and
// a degree-6 polynomial for e^r on [-ln2/2, ln2/2]). It is several times
// faster than math.Exp on float64 and is what softmax, cross-entropy and
// GELU use on the CPU.
func expf(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -103.97208:
		return 0
	case x != x:
		return x
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	const magic = 12582912 // 1.5·2²³: adding and subtracting it rounds to an integer
	n := (x*log2e + magic) - magic
	r := x - n*ln2hi - n*ln2lo
	// e^r ≈ 1 + r + r²/2 + … (Horner, coefficients of the Taylor series,
	// accurate to < 1 ulp on the reduced interval).
	p := float32(1.0 / 720)
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	ni := int32(n)
	if ni > 127 { // the result is finite but 2^n is not
		return p * math.Float32frombits(uint32(ni-1+127)<<23) * 2
	}
	if ni < -126 { // subnormal result: scale in two steps
		return p * math.Float32frombits(uint32(ni+126+127)<<23) * math.Float32frombits(1<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// tanhf is tanh through expf: tanh(u) = sign(u)·(1 - 2/(e^{2|u|}+1)). Its
// absolute error is below 1e-7, which is what GELU needs.
func tanhf(u float32) float32 {
	a := u
	if a < 0 {
		a = -a
	}
	if a > 9 {
		a = 1
	} else {
		a = 1 - 2/(expf(2*a)+1)
	}
	if u < 0 {
		return -a
	}
	return a
}

// expSubSumGo is the portable expSubSum.
func expSubSumGo(dst, src []float32, m float32) float32 {
	var s float32
	for i, z := range src {
		e := expf(z - m)
		dst[i] = e
		s += e
	}
	return s
}

func maxSumGo(src []float32) (float32, float32) {
	m, s := src[0], float32(0)
	for _, v := range src {
		if v > m {
			m = v
		}
		s += v
	}
	return m, s
}

func scaleShiftGo(x []float32, a, b float32) {
	for i, v := range x {
		x[i] = v*a + b
	}
}

func geluTanhGo(out, x []float32) {
	for i := range x {
		out[i] = geluF(x[i], 0)
	}
}

func geluTanhGradGo(dx, dout, x []float32) {
	for i := range x {
		dx[i] = dout[i] * geluGrad(x[i], 0)
	}
}
