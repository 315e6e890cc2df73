package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/tensor"
)

// The gradient checks follow one pattern: the scalar L = Σ out⊙R for a fixed
// random R, the backward pass run with dout = R, and central differences of
// L with respect to each input checked against the analytic gradient.

func randn(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * scale
	}
	return x
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// checkGrad compares analytic[i] with the central difference of loss with
// respect to x[i] for up to 40 indices.
func checkGrad(t *testing.T, name string, x, analytic []float32, loss func() float64) {
	t.Helper()
	r := rand.New(rand.NewPCG(7, uint64(len(x))))
	idx := r.Perm(len(x))
	if len(idx) > 40 {
		idx = idx[:40]
	}
	const eps = 1e-2
	bad := 0
	for _, i := range idx {
		old := x[i]
		x[i] = old + eps
		lp := loss()
		x[i] = old - eps
		lm := loss()
		x[i] = old
		num := (lp - lm) / (2 * eps)
		a := float64(analytic[i])
		if d := math.Abs(a - num); d > 2e-2*math.Max(1, math.Abs(num)) {
			bad++
			if bad < 5 {
				t.Errorf("%s[%d]: analytic %.6g numeric %.6g", name, i, a, num)
			}
		}
	}
}

func TestGradLayerNorm(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(1, 2))
	N, C := 5, 16
	x, w, b := randn(r, N*C, 1), randn(r, C, 1), randn(r, C, 1)
	R := randn(r, N*C, 1)
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	fwd := func() float64 {
		be.LayerNorm(From(out), From(mean), From(rstd), From(x), From(w), From(b), N, C, 1e-5)
		return dot64(out, R)
	}
	fwd()
	dx, dw, db := make([]float32, N*C), make([]float32, C), make([]float32, C)
	be.LayerNormBackward(From(dx), From(dw), From(db), From(R), From(x), From(w), From(mean), From(rstd), N, C)
	checkGrad(t, "dx", x, dx, fwd)
	checkGrad(t, "dw", w, dw, fwd)
	checkGrad(t, "db", b, db, fwd)
}

func TestGradPointwise(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(3, 4))
	n := 64
	for _, c := range []struct {
		name string
		fwd  func(out, x []float32)
		bwd  func(dx, dout, x, y []float32)
	}{
		{"gelu_tanh", func(o, x []float32) { be.GELU(From(o), From(x), n, tensor.GELUTanh) },
			func(dx, do, x, y []float32) { be.GELUBackward(From(dx), From(do), From(x), n, tensor.GELUTanh) }},
		{"gelu_erf", func(o, x []float32) { be.GELU(From(o), From(x), n, tensor.GELUErf) },
			func(dx, do, x, y []float32) { be.GELUBackward(From(dx), From(do), From(x), n, tensor.GELUErf) }},
		{"tanh", func(o, x []float32) { be.Tanh(From(o), From(x), n) },
			func(dx, do, x, y []float32) { be.TanhBackward(From(dx), From(do), From(y), n) }},
		{"dropout", func(o, x []float32) { be.Dropout(From(o), From(x), n, 0.3, 99) },
			func(dx, do, x, y []float32) { be.DropoutBackward(From(dx), From(do), n, 0.3, 99) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			x, R := randn(r, n, 2), randn(r, n, 1)
			y := make([]float32, n)
			f := func() float64 { c.fwd(y, x); return dot64(y, R) }
			f()
			dx := make([]float32, n)
			c.bwd(dx, R, x, y)
			checkGrad(t, c.name, x, dx, f)
		})
	}
}

func TestDropoutRate(t *testing.T) {
	be := New()
	n := 100000
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
	}
	y := make([]float32, n)
	be.Dropout(From(y), From(x), n, 0.1, 5)
	zeros := 0
	for _, v := range y {
		if v == 0 {
			zeros++
		} else if math.Abs(float64(v)-1/0.9) > 1e-6 {
			t.Fatalf("kept value %v, want %v", v, 1/0.9)
		}
	}
	if f := float64(zeros) / float64(n); math.Abs(f-0.1) > 0.005 {
		t.Fatalf("dropped fraction %.4f, want 0.1", f)
	}
}

func TestGradAttention(t *testing.T) {
	be := New()
	for _, c := range []struct {
		causal bool
		mask   bool
		pdrop  float32
	}{{true, false, 0}, {false, true, 0}, {true, false, 0.2}, {true, true, 0}} {
		t.Run(fmt.Sprintf("causal=%v,mask=%v,drop=%v", c.causal, c.mask, c.pdrop), func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			B, T, C, NH := 2, 5, 8, 2
			qkv := randn(r, B*T*3*C, 1)
			R := randn(r, B*T*C, 1)
			s := tensor.AttnSpec{B: B, T: T, C: C, NH: NH, Causal: c.causal, PDrop: c.pdrop, Seed: 11}
			if c.mask {
				m := []int32{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}
				s.KeyMask = FromI(m)
			}
			out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
			f := func() float64 { be.Attention(From(out), From(att), From(qkv), s); return dot64(out, R) }
			f()
			dqkv := make([]float32, len(qkv))
			be.AttentionBackward(From(dqkv), From(make([]float32, B*NH*T*T)), From(R), From(qkv), From(att), s)
			checkGrad(t, "dqkv", qkv, dqkv, f)
		})
	}
}

func TestGradCrossEntropy(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(8, 9))
	N, V := 4, 11
	logits := randn(r, N*V, 2)
	targets := []int32{3, 0, 10, 5}
	weight := []float32{0.5, 0, 0.25, 0.25}
	for _, eps := range []float32{0, 0.1} {
		stats := make([]float32, 1)
		f := func() float64 {
			stats[0] = 0
			be.CrossEntropy(From(stats), 0, nil, From(logits), FromI(targets), From(weight), N, V, eps)
			return float64(stats[0])
		}
		f()
		d := make([]float32, N*V)
		be.CrossEntropy(From(make([]float32, 1)), 0, From(d), From(logits), FromI(targets), From(weight), N, V, eps)
		checkGrad(t, fmt.Sprintf("dlogits(eps=%v)", eps), logits, d, f)
		// Loss against a direct float64 computation.
		var want float64
		for n := 0; n < N; n++ {
			row := logits[n*V : (n+1)*V]
			var s, zs float64
			for _, z := range row {
				s += math.Exp(float64(z))
				zs += float64(z)
			}
			lse := math.Log(s)
			l := (1-float64(eps))*(lse-float64(row[targets[n]])) + float64(eps)*(lse-zs/float64(V))
			want += float64(weight[n]) * l
		}
		if got := f(); math.Abs(got-want) > 1e-5*math.Max(1, want) {
			t.Errorf("eps=%v: loss %v, want %v", eps, got, want)
		}
	}
}

func TestGradEmbedAndGather(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(10, 11))
	N, C, V, P := 6, 4, 5, 8
	wte, wpe, tte := randn(r, V*C, 1), randn(r, P*C, 1), randn(r, 2*C, 1)
	tok := []int32{1, 4, 1, 0, 4, 4}
	pos := []int32{0, 1, 2, 0, 1, 2}
	typ := []int32{0, 0, 1, 1, 0, 1}
	R := randn(r, N*C, 1)
	out := make([]float32, N*C)
	f := func() float64 {
		be.Embed(From(out), FromI(tok), FromI(pos), FromI(typ), From(wte), From(wpe), From(tte), N, C)
		return dot64(out, R)
	}
	f()
	dwte, dwpe, dtte := make([]float32, V*C), make([]float32, P*C), make([]float32, 2*C)
	be.EmbedBackward(From(dwte), From(dwpe), From(dtte), From(R), FromI(tok), FromI(pos), FromI(typ), N, C)
	checkGrad(t, "dwte", wte, dwte, f)
	checkGrad(t, "dwpe", wpe, dwpe, f)
	checkGrad(t, "dtte", tte, dtte, f)

	idx := []int32{2, 0, 2}
	x := randn(r, N*C, 1)
	R2 := randn(r, 3*C, 1)
	g := make([]float32, 3*C)
	f2 := func() float64 { be.GatherRows(From(g), From(x), FromI(idx), 3, C); return dot64(g, R2) }
	dx := make([]float32, N*C)
	be.ScatterAddRows(From(dx), From(R2), FromI(idx), 3, C)
	checkGrad(t, "gather", x, dx, f2)
}

func TestMatMulOrientations(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(12, 13))
	m, n, k := 5, 7, 3
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a, b := randn(r, m*k, 1), randn(r, k*n, 1)
			c := randn(r, m*n, 1)
			c0 := append([]float32(nil), c...)
			be.MatMul(From(c), From(a), From(b), m, n, k, ta, tb, 0.5, 2)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for p := 0; p < k; p++ {
						av, bv := a[i*k+p], b[p*n+j]
						if ta {
							av = a[p*m+i]
						}
						if tb {
							bv = b[j*k+p]
						}
						s += float64(av) * float64(bv)
					}
					want := 0.5*s + 2*float64(c0[i*n+j])
					if math.Abs(float64(c[i*n+j])-want) > 1e-5 {
						t.Fatalf("ta=%v tb=%v: C[%d,%d]=%v want %v", ta, tb, i, j, c[i*n+j], want)
					}
				}
			}
		}
	}
}

func TestReductions(t *testing.T) {
	be := New()
	x := []float32{1, 2, 3, 4, 5, 6} // [2,3]
	y := []float32{1, 0, 2, 1, 1, 1}
	cs := []float32{10, 0, 0}
	be.ColSum(From(cs), From(x), 2, 3)
	csm := make([]float32, 3)
	be.ColSumMul(From(csm), From(x), From(y), 2, 3)
	rs := make([]float32, 2)
	be.RowSum(From(rs), From(x), 2, 3)
	st := make([]float32, 2)
	be.SumSquares(From(st), 1, From(x), 6)
	be.Sum(From(st), 0, From(x), 6)
	sc := make([]float32, 6)
	be.ScaleCols(From(sc), From(x), From([]float32{1, 0, -1}), 2, 3)
	sr := make([]float32, 6)
	be.ScaleRows(From(sr), From(x), From([]float32{2, -1}), 2, 3)
	bc := make([]float32, 6)
	be.BroadcastCols(From(bc), From([]float32{1, 2}), 2, 3)
	br := make([]float32, 6)
	be.BroadcastRows(From(br), From([]float32{1, 2, 3}), 2, 3)
	scb := make([]float32, 6)
	be.ScaleColsBias(From(scb), From(x), From([]float32{1, 0, -1}), From([]float32{1, 2, 3}), 2, 3)
	cms, cmo := []float32{1, 1, 1}, make([]float32, 6)
	be.ColSumMulScale(From(cms), From(cmo), From(x), From(y), From([]float32{2, 1, 0}), 2, 3)
	for _, c := range []struct {
		name      string
		got, want []float32
	}{
		{"ScaleColsBias", scb, []float32{2, 2, 0, 5, 2, -3}},
		{"ColSumMulScale/sum", cms, []float32{6, 6, 13}},
		{"ColSumMulScale/out", cmo, []float32{2, 2, 0, 8, 5, 0}},
		{"ColSum", cs, []float32{15, 7, 9}},
		{"ColSumMul", csm, []float32{5, 5, 12}},
		{"RowSum", rs, []float32{6, 15}},
		{"Sum/SumSquares", st, []float32{21, 91}},
		{"ScaleCols", sc, []float32{1, 0, -3, 4, 0, -6}},
		{"ScaleRows", sr, []float32{2, 4, 6, -4, -5, -6}},
		{"BroadcastCols", bc, []float32{1, 1, 1, 2, 2, 2}},
		{"BroadcastRows", br, []float32{1, 2, 3, 1, 2, 3}},
	} {
		for i := range c.want {
			if c.got[i] != c.want[i] {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				break
			}
		}
	}
}

func TestAdamWMatchesTorchFormula(t *testing.T) {
	be := New()
	p, g := []float32{1, -2}, []float32{0.5, -0.25}
	m, v := make([]float32, 2), make([]float32, 2)
	stats := []float32{1}
	h := tensor.AdamW{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	P := []float64{1, -2}
	M, Vv := make([]float64, 2), make([]float64, 2)
	for step := 1; step <= 3; step++ {
		h.Step = step
		be.AdamWStep(From(p), From(g), From(m), From(v), 2, h, From(stats), 0)
		for i := range P {
			gi := float64(g[i])
			P[i] *= 1 - 0.1*0.01
			M[i] = 0.9*M[i] + 0.1*gi
			Vv[i] = 0.999*Vv[i] + 0.001*gi*gi
			mh := M[i] / (1 - math.Pow(0.9, float64(step)))
			vh := Vv[i] / (1 - math.Pow(0.999, float64(step)))
			P[i] -= 0.1 * mh / (math.Sqrt(vh) + 1e-8)
		}
	}
	for i := range P {
		if math.Abs(float64(p[i])-P[i]) > 1e-5 {
			t.Fatalf("p = %v, want %v", p, P)
		}
	}
	// Clipping: a norm of 5 clipped to 1 scales by ~0.2.
	st := []float32{0, 25}
	be.ClipScale(From(st), 0, 1, 1)
	if math.Abs(float64(st[0])-0.2) > 1e-6 {
		t.Fatalf("clip scale %v", st[0])
	}
}

func TestKVAttentionMatchesAttention(t *testing.T) {
	be := New()
	r := rand.New(rand.NewPCG(14, 15))
	B, T, C, NH := 2, 6, 8, 2
	qkv := randn(r, B*T*3*C, 1)
	out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
	be.Attention(From(out), From(att), From(qkv), tensor.AttnSpec{B: B, T: T, C: C, NH: NH, Causal: true})
	// Feed the same tokens through the cache: 4 at once, then 1, then 1.
	Tmax := 8
	kc, vc := make([]float32, B*NH*Tmax*C/NH), make([]float32, B*NH*Tmax*C/NH)
	got := make([]float32, B*T*C)
	pos := 0
	for _, tn := range []int{4, 1, 1} {
		q := make([]float32, B*tn*3*C)
		for b := 0; b < B; b++ {
			copy(q[b*tn*3*C:(b+1)*tn*3*C], qkv[(b*T+pos)*3*C:(b*T+pos+tn)*3*C])
		}
		o := make([]float32, B*tn*C)
		be.KVAttention(From(o), From(q), From(kc), From(vc), nil, B, tn, C, NH, pos, Tmax)
		for b := 0; b < B; b++ {
			copy(got[(b*T+pos)*C:(b*T+pos+tn)*C], o[b*tn*C:(b+1)*tn*C])
		}
		pos += tn
	}
	for i := range out {
		if math.Abs(float64(out[i]-got[i])) > 1e-5 {
			t.Fatalf("KV attention differs at %d: %v vs %v", i, got[i], out[i])
		}
	}
}

// TestColumnReductionsLarge runs the column reductions at training sizes
// (more columns than one work block, enough work to run in parallel)
// against float64 sums, and checks that one and two workers give the same
// bits.
func TestColumnReductionsLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, sh := range []struct{ N, C int }{{256, 768}, {64, 3072}, {37, 1100}, {8, 513}} {
		N, C := sh.N, sh.C
		x, y, s := make([]float32, N*C), make([]float32, N*C), make([]float32, C)
		for i := range x {
			x[i], y[i] = r.Float32()*2-1, r.Float32()*2-1
		}
		for i := range s {
			s[i] = r.Float32()*2 - 1
		}
		want := func(prod bool) []float64 {
			w := make([]float64, C)
			for n := 0; n < N; n++ {
				for c := 0; c < C; c++ {
					v := float64(x[n*C+c])
					if prod {
						v *= float64(y[n*C+c])
					}
					w[c] += v
				}
			}
			return w
		}
		var prev [][]float32
		for _, threads := range []int{1, 2} {
			be := &Backend{threads: threads}
			cs, csm, cms := make([]float32, C), make([]float32, C), make([]float32, C)
			out := make([]float32, N*C)
			be.ColSum(From(cs), From(x), N, C)
			be.ColSumMul(From(csm), From(x), From(y), N, C)
			be.ColSumMulScale(From(cms), From(out), From(x), From(y), From(s), N, C)
			for _, c := range []struct {
				name string
				got  []float32
				want []float64
			}{{"ColSum", cs, want(false)}, {"ColSumMul", csm, want(true)}, {"ColSumMulScale/sum", cms, want(true)}} {
				for i, w := range c.want {
					if math.Abs(float64(c.got[i])-w) > 1e-4*float64(N) {
						t.Fatalf("%dx%d, %d threads: %s[%d] = %v, want %v", N, C, threads, c.name, i, c.got[i], w)
					}
				}
			}
			for i := range out {
				if out[i] != x[i]*s[i%C] {
					t.Fatalf("%dx%d: ColSumMulScale/out[%d] = %v, want %v", N, C, i, out[i], x[i]*s[i%C])
				}
			}
			got := [][]float32{cs, csm, cms}
			if prev != nil {
				for k := range got {
					for i := range got[k] {
						if got[k][i] != prev[k][i] {
							t.Fatalf("%dx%d: reduction %d differs between 1 and 2 threads at %d", N, C, k, i)
						}
					}
				}
			}
			prev = got
		}
	}
}
