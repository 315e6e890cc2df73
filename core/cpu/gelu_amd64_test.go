package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/internal/cpufeat"
)

// TestGELUAVX512MatchesAVX2: the 16-lane kernels give every element the
// bits of the 8-lane ones (the same instructions), over normal values,
// large magnitudes that hit the clamps, ±0, ±Inf, and lengths whose tails
// fall to the AVX2 kernel and to the padded block.
func TestGELUAVX512MatchesAVX2(t *testing.T) {
	if !cpufeat.AVX2FMA || !cpufeat.AVX512F {
		t.Skip("no AVX-512 on this CPU")
	}
	defer func(v bool) { useAVX512GELU = v }(useAVX512GELU)
	r := rand.New(rand.NewPCG(3, 9))
	for _, n := range []int{1, 7, 8, 15, 16, 17, 31, 40, 1000, 4099} {
		x, dout := make([]float32, n), make([]float32, n)
		for i := range x {
			switch i % 5 {
			case 0:
				x[i] = float32(r.NormFloat64() * 40) // clamps
			default:
				x[i] = float32(r.NormFloat64() * 3)
			}
			dout[i] = float32(r.NormFloat64())
		}
		special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-30, -1e-30}
		copy(x, special[:min(n, len(special))])
		var y, dx [2][]float32
		for k, on := range []bool{false, true} {
			useAVX512GELU = on
			y[k], dx[k] = make([]float32, n), make([]float32, n)
			geluTanhVec(y[k], x)
			geluTanhGradVec(dx[k], dout, x)
		}
		for i := range x {
			if math.Float32bits(y[0][i]) != math.Float32bits(y[1][i]) || math.Float32bits(dx[0][i]) != math.Float32bits(dx[1][i]) {
				t.Fatalf("n=%d x[%d]=%v: AVX2 gelu %v grad %v, AVX-512 %v %v", n, i, x[i], y[0][i], dx[0][i], y[1][i], dx[1][i])
			}
		}
	}
}

// BenchmarkGELUKernels times the tanh GELU forward and backward over 64 Ki
// floats (hot in L1/L2) with the 8-lane and the 16-lane kernels.
//
//	go test -run XXX -bench GELUKernels ./core/cpu
func BenchmarkGELUKernels(b *testing.B) {
	x, dout := make([]float32, 1<<16), make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%1000)*0.01 - 5
		dout[i] = 1
	}
	y := make([]float32, len(x))
	defer func(v bool) { useAVX512GELU = v }(useAVX512GELU)
	for _, c := range []struct {
		name string
		on   bool
	}{{"avx2", false}, {"avx512", true}} {
		if c.on && !cpufeat.AVX512F {
			continue
		}
		useAVX512GELU = c.on
		b.Run("forward/"+c.name, func(b *testing.B) {
			for b.Loop() {
				geluTanhVec(y, x)
			}
			b.ReportMetric(float64(b.N*len(x))/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
		b.Run("backward/"+c.name, func(b *testing.B) {
			for b.Loop() {
				geluTanhGradVec(y, dout, x)
			}
			b.ReportMetric(float64(b.N*len(x))/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}

// TestGELUGradInKernels: the fused kernel of GELUScaledBackwardIn gives the
// bits of the separate helpers (geluTanhVec, fmaVec, mulVec,
// geluTanhGradVec) with the 8-lane and the 16-lane kernels, over lengths
// whose tails take the padded block.
func TestGELUGradInKernels(t *testing.T) {
	if !haveGELUIn {
		t.Skip("no AVX2/FMA on this CPU")
	}
	defer func(v bool) { useAVX512GELU = v }(useAVX512GELU)
	r := rand.New(rand.NewPCG(5, 11))
	for _, n := range []int{1, 7, 8, 15, 16, 17, 40, 1000, 4099} {
		x, h, s, acc0 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], h[i], s[i], acc0[i] = float32(r.NormFloat64()*3), float32(r.NormFloat64()), float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		for _, mode := range []string{"avx2", "avx512"} {
			if mode == "avx512" && !cpufeat.AVX512F {
				continue
			}
			useAVX512GELU = mode == "avx512"
			g, d, wantDX := make([]float32, n), make([]float32, n), make([]float32, n)
			wantAcc := append([]float32(nil), acc0...)
			geluTanhVec(g, x)
			fmaVec(wantAcc, h, g)
			mulVec(d, h, s)
			geluTanhGradVec(wantDX, d, x)
			dx, acc := make([]float32, n), append([]float32(nil), acc0...)
			geluTanhGradInVec(dx, acc, h, s, x)
			for i := range x {
				if math.Float32bits(dx[i]) != math.Float32bits(wantDX[i]) || math.Float32bits(acc[i]) != math.Float32bits(wantAcc[i]) {
					t.Fatalf("%s n=%d i=%d: dx %v acc %v, want %v %v", mode, n, i, dx[i], acc[i], wantDX[i], wantAcc[i])
				}
			}
		}
	}
}
