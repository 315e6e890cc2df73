package gemm

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestScratchVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
		return d
	}
	for _, sh := range [][4]int{{256, 2304, 768, 1}, {256, 768, 768, 1}, {256, 768, 3072, 0}, {256, 768, 2304, 0}} {
		m, n, k, tb := sh[0], sh[1], sh[2], sh[3] == 1
		const R = 16
		var as, bs, cs [R][]float32
		for i := 0; i < R; i++ {
			as[i], bs[i], cs[i] = rnd(m*k), rnd(k*n), rnd(m*n)
		}
		s := rnd(k)
		ldb := n
		if tb {
			ldb = k
		}
		times := [2][]float64{}
		for rep := 0; rep < 200; rep++ {
			i := rep % R
			for vv := 0; vv < 2; vv++ {
				v := (vv + rep) % 2
				t0 := time.Now()
				switch v {
				case 0:
					Sgemm(false, tb, m, n, k, 1, as[i], k, bs[i], ldb, 0, cs[i], n)
				case 1:
					SgemmScaled(false, tb, m, n, k, 1, as[i], k, s, bs[i], ldb, 0, cs[i], n)
				}
				if rep >= R {
					times[v] = append(times[v], time.Since(t0).Seconds()*1e3)
				}
			}
		}
		med := func(x []float64) float64 { sort.Float64s(x); return x[len(x)/2] }
		fmt.Printf("%v plain %.4f scaled %.4f ms ratio %.3f\n", sh, med(times[0]), med(times[1]), med(times[1])/med(times[0]))
	}
}
