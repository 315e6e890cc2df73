package cpu

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -103.0; x < 88.7; x += 0.0137 {
		got := float64(expf(float32(x)))
		want := math.Exp(float64(float32(x)))
		if want < 1.1754944e-38 { // subnormal range: absolute error
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("expf(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 4e-7 {
		t.Fatalf("expf worst relative error %g", worst)
	}
	if expf(100) != float32(math.Inf(1)) || expf(-200) != 0 || !math.IsNaN(float64(expf(float32(math.NaN())))) {
		t.Fatal("expf edge cases")
	}
	for x := -12.0; x < 12; x += 0.0031 {
		if d := math.Abs(float64(tanhf(float32(x))) - math.Tanh(x)); d > 2e-7 {
			t.Fatalf("tanhf(%v) off by %g", x, d)
		}
	}
}

func BenchmarkExpf(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i%200) * -0.05
	}
	var s float32
	for i := 0; i < b.N; i++ {
		for _, v := range x {
			s += expf(v)
		}
	}
	_ = s
	b.ReportMetric(float64(b.N*len(x))/b.Elapsed().Seconds()/1e6, "Mexp/s")
}

func TestExpSubSum(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 63, 1000, 50257} {
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(math.Sin(float64(i))*30 - 10)
		}
		src = append(src, -200, float32(math.Inf(-1)))[:n]
		var m float32 = 25
		dst := make([]float32, n)
		got := expSubSum(dst, src, m)
		var want float64
		for i, z := range src {
			e := math.Exp(float64(z - m))
			want += e
			if d := math.Abs(float64(dst[i]) - e); d > 4e-7*e+1e-37 {
				t.Fatalf("n=%d: exp(%v) = %v, want %v", n, z-m, dst[i], e)
			}
		}
		if math.Abs(float64(got)-want) > 1e-5*want+1e-30 {
			t.Fatalf("n=%d: sum %v, want %v", n, got, want)
		}
	}
}

func BenchmarkExpSubSum(b *testing.B) {
	src := make([]float32, 50257)
	for i := range src {
		src[i] = float32(i%300) * -0.05
	}
	dst := make([]float32, len(src))
	for i := 0; i < b.N; i++ {
		expSubSum(dst, src, 0)
	}
	b.ReportMetric(float64(b.N*len(src))/b.Elapsed().Seconds()/1e6, "Mexp/s")
}

func TestMaxSumScaleShift(t *testing.T) {
	for _, n := range []int{1, 5, 8, 13, 64, 257} {
		x := make([]float32, n)
		var wm float32 = -1e9
		var ws float64
		for i := range x {
			x[i] = float32(math.Cos(float64(i*7)) * float64(i))
			wm = max(wm, x[i])
			ws += float64(x[i])
		}
		m, s := maxSum(x)
		if m != wm || math.Abs(float64(s)-ws) > 1e-4*math.Max(1, math.Abs(ws))*float64(n) {
			t.Fatalf("n=%d: maxSum = %v, %v; want %v, %v", n, m, s, wm, ws)
		}
		y := append([]float32(nil), x...)
		scaleShift(y, 2, -1)
		for i := range y {
			if y[i] != x[i]*2-1 {
				t.Fatalf("n=%d: scaleShift[%d] = %v, want %v", n, i, y[i], x[i]*2-1)
			}
		}
	}
}

func TestGELUVec(t *testing.T) {
	n := 1003
	x, dout := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i-500) * 0.023
		dout[i] = float32(math.Sin(float64(i)))
	}
	x[0], x[1] = -150, 150
	y, dx := make([]float32, n), make([]float32, n)
	geluTanhVec(y, x)
	geluTanhGradVec(dx, dout, x)
	for i := range x {
		xd := float64(x[i])
		u := math.Sqrt(2/math.Pi) * (xd + 0.044715*xd*xd*xd)
		want := 0.5 * xd * (1 + math.Tanh(u))
		th := math.Tanh(u)
		g := 0.5*(1+th) + 0.5*xd*(1-th*th)*math.Sqrt(2/math.Pi)*(1+3*0.044715*xd*xd)
		if d := math.Abs(float64(y[i]) - want); d > 2e-6*math.Max(1, math.Abs(want)) {
			t.Fatalf("gelu(%v) = %v, want %v", x[i], y[i], want)
		}
		if d := math.Abs(float64(dx[i]) - float64(dout[i])*g); d > 4e-6*math.Max(1, math.Abs(g)) {
			t.Fatalf("gelu'(%v)·dout = %v, want %v", x[i], dx[i], float64(dout[i])*g)
		}
	}
}

func BenchmarkGELUVec(b *testing.B) {
	x := make([]float32, 1<<16)
	for i := range x {
		x[i] = float32(i%1000)*0.01 - 5
	}
	y := make([]float32, len(x))
	for i := 0; i < b.N; i++ {
		geluTanhVec(y, x)
	}
	b.ReportMetric(float64(b.N*len(x))/b.Elapsed().Seconds()/1e6, "Melem/s")
}
