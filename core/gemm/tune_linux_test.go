package gemm

import (
	"fmt"
	"os"
	"testing"
)

// TestTune prints best-of timings for block-size variants; it runs only
// with GEMM_TUNE=1 (go test -run Tune -v ./core/gemm).
func TestTune(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE=1")
	}
	th := 1
	fmt.Sscan(os.Getenv("GEMM_TUNE_THREADS"), &th)
	defer SetMaxThreads(SetMaxThreads(th))
	type variant struct {
		im         *impl
		kc, mc, nc int
	}
	var vs []variant
	for _, s := range []string{os.Getenv("GEMM_TUNE_VARIANTS")} {
		for len(s) > 0 {
			var v variant
			var rest string
			v.im = active
			n, _ := fmt.Sscanf(s, "%d,%d,%d;%s", &v.kc, &v.mc, &v.nc, &rest)
			if n < 3 {
				break
			}
			vs = append(vs, v)
			s = rest
		}
	}
	if len(vs) == 0 {
		// Every kernel with its own block sizes.
		for _, im := range available() {
			if im != goImpl || len(available()) == 1 {
				vs = append(vs, variant{im, im.kcMax, im.mcMax, im.ncMax})
			}
		}
	}
	shapes := TrainingShapes()
	for _, s := range shapes {
		big := s.N > 10000 || s.M > 10000 || s.K > 10000
		if big != (os.Getenv("GEMM_TUNE_BIG") != "") {
			continue
		}
		a, b, c := RandomOperands(s)
		lda, ldb, ldc := s.Strides()
		line := fmt.Sprintf("%-13s", s.Name)
		reps := 9
		if big {
			reps = 3
		}
		for _, v := range vs {
			im := *v.im
			im.kcMax, im.mcMax, im.ncMax = v.kc, v.mc, v.nc
			best := bestCPU(reps, func() {
				sgemmWith(&im, s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c, ldc)
			})
			line += fmt.Sprintf("  %s %d/%d/%d:%6.1f", v.im.name, v.kc, v.mc, v.nc, s.Flops()/best.Seconds()/1e9)
		}
		t.Log(line)
	}
}
