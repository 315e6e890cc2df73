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

//go:noescape
func geluBwdInAVX2(dx, acc, h, sIn, x []float32)

//go:noescape
func geluBwdInAVX512(dx, acc, h, sIn, x []float32)

// haveGELUIn says whether geluTanhGradInVec's kernels run here.
var haveGELUIn = cpufeat.AVX2FMA

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

// geluTanhGradInVec is, for a GELU whose output fed a layer with input
// scale sIn and input-gradient product h, acc += h·gelu_new(x) and
// dx = (h·sIn)·gelu_new'(x) in one pass: the bits of geluTanhVec, fmaVec,
// mulVec and geluTanhGradVec one after the other (tail as in geluTanhVec).
// It needs AVX2 and FMA (haveGELUIn).
func geluTanhGradInVec(dx, acc, h, sIn, x []float32) {
	n := len(x)
	dx, acc, h, sIn = dx[:n], acc[:n], h[:n], sIn[:n]
	if useAVX512GELU {
		m := n &^ 15
		geluBwdInAVX512(dx[:m], acc[:m], h[:m], sIn[:m], x[:m])
		dx, acc, h, sIn, x = dx[m:], acc[m:], h[m:], sIn[m:], x[m:]
		n -= m
	}
	m := n &^ 7
	geluBwdInAVX2(dx[:m], acc[:m], h[:m], sIn[:m], x[:m])
	if m < n {
		var tdx, tacc, th, ts, tx [8]float32
		k := copy(tx[:], x[m:])
		copy(tacc[:], acc[m:])
		copy(th[:], h[m:])
		copy(ts[:], sIn[m:])
		geluBwdInAVX2(tdx[:], tacc[:], th[:], ts[:], tx[:])
		copy(dx[m:], tdx[:k])
		copy(acc[m:], tacc[:k])
	}
}
