//go:build amd64 && !purego

package gemm

import (
	"os"
	"testing"
)

// TestKernelPeak prints the micro-kernels' speed on cache-resident panels
// (GEMM_TUNE=1).
func TestKernelPeak(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE=1")
	}
	for _, im := range available() {
		if im == goImpl {
			continue
		}
		kc := 256
		for _, mc := range []int{im.mr, 16 * im.mr} {
			ap := make([]float32, mc*kc)
			bp := make([]float32, im.nr*kc)
			c := make([]float32, mc*im.nr)
			n := 20000 * 6 / mc
			d := bestCPU(7, func() {
				for i := 0; i < n; i++ {
					for ir := 0; ir < mc; ir += im.mr {
						im.tile(kc, ap[ir*kc:], bp, c[ir*im.nr:], im.nr, 1, 0, 0, 0)
					}
				}
			})
			t.Logf("%s mc=%d: %.1f GFLOP/s", im.name, mc, 2*float64(im.nr*mc*kc*n)/d.Seconds()/1e9)
		}
	}
}
