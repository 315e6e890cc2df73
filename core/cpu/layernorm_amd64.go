package cpu

import "github.com/hutml/hut/internal/cpufeat"

//go:noescape
func lnFwdAVX2(o, x, g, b []float32, eps float32) (mu, rs float32)

//go:noescape
func lnBwdAVX2(d, do, x, w []float32, mu, rs float32)

// useLNAVX2 selects the vector layer-norm rows (a variable for tests).
var useLNAVX2 = cpufeat.AVX2FMA

// lnRowFwd normalises one row (lnRowFwdGo); with AVX2 and a row length that
// is a multiple of 8, in eight-lane sums and fused multiply-adds.
func lnRowFwd(o, x, g, b []float32, eps float32) (mu, rs float32) {
	if !useLNAVX2 || len(x) == 0 || len(x)%8 != 0 {
		return lnRowFwdGo(o, x, g, b, eps)
	}
	n := len(x)
	return lnFwdAVX2(o[:n], x, g[:n], b[:n], eps)
}

// lnRowBwd is lnRowBwdGo, vectorised like lnRowFwd.
func lnRowBwd(d, do, x, w []float32, mu, rs float32) {
	if !useLNAVX2 || len(do) == 0 || len(do)%8 != 0 {
		lnRowBwdGo(d, do, x, w, mu, rs)
		return
	}
	n := len(do)
	lnBwdAVX2(d[:n], do, x[:n], w[:n], mu, rs)
}
