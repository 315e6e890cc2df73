package cpu

import "github.com/hutml/hut/internal/cpufeat"

//go:noescape
func adamwAVX2(p, g, m, v []float32, c *adamConsts)

// adamw is adamwGo with the elements in blocks of 8 on AVX2 (same results).
func adamw(p, g, m, v []float32, c *adamConsts) {
	n := 0
	if cpufeat.AVX2FMA {
		n = len(p) &^ 7
		adamwAVX2(p[:n], g[:n], m[:n], v[:n], c)
	}
	adamwGo(p[n:], g[n:len(p)], m[n:len(p)], v[n:len(p)], c)
}
