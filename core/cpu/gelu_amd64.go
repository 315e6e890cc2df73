package cpu

import "github.com/hutml/hut/internal/cpufeat"

//go:noescape
func geluFwdAVX2(out, x []float32)

//go:noescape
func geluBwdAVX2(dx, dout, x []float32)

//go:noescape
func geluFwdAVX512(out, x []float32)

//go:noescape
func geluBwdAVX512(dx, dout, x []float32)

// useAVX512GELU selects the 16-lane GELU kernels (a variable for tests).
var useAVX512GELU = cpufeat.AVX2FMA && cpufeat.AVX512F

// geluTanhVec computes GPT-2's gelu_new over x. With AVX2 (and AVX-512,
// whose kernel runs the same instructions on 16 lanes) every element,
// the tail included (through a padded block), takes the vector path, so a
// result never depends on how the work was split across threads.
func geluTanhVec(out, x []float32) {
	if !cpufeat.AVX2FMA {
		geluTanhGo(out, x)
		return
	}
	if useAVX512GELU {
		n := len(x) &^ 15
		geluFwdAVX512(out[:n], x[:n])
		out, x = out[n:len(x)], x[n:]
	}
	n := len(x) &^ 7
	geluFwdAVX2(out[:n], x[:n])
	if n < len(x) {
		var tx, to [8]float32
		k := copy(tx[:], x[n:])
		geluFwdAVX2(to[:], tx[:])
		copy(out[n:len(x)], to[:k])
	}
}

// geluTanhGradVec sets dx = dout·gelu_new'(x) (tail as in geluTanhVec).
func geluTanhGradVec(dx, dout, x []float32) {
	if !cpufeat.AVX2FMA {
		geluTanhGradGo(dx, dout, x)
		return
	}
	if useAVX512GELU {
		n := len(x) &^ 15
		geluBwdAVX512(dx[:n], dout[:n], x[:n])
		dx, dout, x = dx[n:len(x)], dout[n:len(x)], x[n:]
	}
	n := len(x) &^ 7
	geluBwdAVX2(dx[:n], dout[:n], x[:n])
	if n < len(x) {
		var tx, td, to [8]float32
		k := copy(tx[:], x[n:])
		copy(td[:], dout[n:len(x)])
		geluBwdAVX2(to[:], td[:], tx[:])
		copy(dx[n:len(x)], to[:k])
	}
}
