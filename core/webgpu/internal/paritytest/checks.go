//go:build js && wasm

package main

import (
	"context"
	"fmt"
	"strings"
	"syscall/js"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/webgpu"
)

// The checks. Shapes are small (SwiftShader runs about 1 GFLOP/s) and odd
// on purpose: not multiples of 4, of the workgroup sizes, or of each other.

func init() {
	register("memory", checkMemory)
	register("matmul", checkMatMul, "default", "blocked")
	register("matmul-tiled", checkMatMulQuick, "tiled")
	register("matmul-scaled", checkMatMulScaled)
	register("elementwise", checkElementwise)
	register("broadcast", checkBroadcast, "default", "tree")
	register("reduce", checkReduce, "default", "tree")
	register("embed", checkEmbed)
	register("layernorm", checkLayerNorm, "default", "tree")
	register("gelu-tanh-dropout", checkActivations)
	register("attention", checkAttention, "default", "tree")
	register("kvattention", checkKVAttention, "default", "tree")
	register("crossentropy", checkCrossEntropy, "default", "tree")
	register("mse", checkMSE)
	register("optimizer", checkOptimizer, "default", "tree")
	register("errors", checkErrors)
	register("unavailable", checkUnavailable)
	register("device-lost", checkDeviceLost)

	register("split-layout", checkSplitLayout, "split")
	register("split-memory", checkMemory, "split")
	register("split-elementwise", checkSplitElementwise, "split")
	register("split-matmul", checkSplitMatMul, "split")
	register("split-embed", checkSplitEmbed, "split")
	register("split-crossentropy", checkSplitCrossEntropy, "split")
	register("split-attention", checkSplitAttention, "split")
	register("split-optimizer", checkSplitOptimizer, "split")
}

func checkMemory(e *env) {
	n := 5003
	x := e.randv(n, 1)
	p := e.zeros(n)
	e.both(func(s sel) {
		s.Be.Write(s.B(p), 0, x[:n-10])
		s.Be.Write(s.B(p), n-10, x[n-10:]) // tail write at an offset
	})
	e.cmp("Write", fmt.Sprint(n), p)

	// Read at an offset across the whole range.
	got := make([]float32, 2500)
	e.gpu.Read(p.g, 1234, got)
	e.record("Read(off=1234)", "2500", x[1234:3734], got)

	e.both(func(s sel) { s.Be.Zero(s.B(p), 1001, 1500) })
	e.cmp("Zero(off=1001,n=1500)", fmt.Sprint(n), p)

	q := e.randn(n, 1)
	e.both(func(s sel) { s.Be.Copy(s.B(q), 7, s.B(p), 1000, 3000) })
	e.cmp("Copy(other buffer)", "3000", q)
	e.both(func(s sel) { s.Be.Copy(s.B(p), 10, s.B(p), 3000, 1500) })
	e.cmp("Copy(same buffer, disjoint)", "1500", p)
	e.both(func(s sel) { s.Be.Copy(s.B(p), 100, s.B(p), 0, 2000) })
	e.cmp("Copy(same buffer, overlap forward)", "2000", p)
	e.both(func(s sel) { s.Be.Copy(s.B(p), 0, s.B(p), 50, 2000) })
	e.cmp("Copy(same buffer, overlap backward)", "2000", p)

	// A freed buffer handed out again must come back zero-filled.
	e.gpu.Write(q.g, 0, x)
	e.gpu.Free(q.g)
	r := e.gpu.NewBuf(n)
	back := make([]float32, n)
	e.gpu.Read(r, 0, back)
	e.record("NewBuf after Free (zero-filled)", fmt.Sprint(n), make([]float32, n), back)

	ib := e.gpu.NewIBuf(37)
	iv := make([]int32, 37)
	for i := range iv {
		iv[i] = int32(i*7919 - 100000)
	}
	e.gpu.WriteI(ib, 0, iv)
	ig := make([]int32, 37)
	e.gpu.ReadI(ib, 0, ig)
	same := true
	for i := range iv {
		same = same && iv[i] == ig[i]
	}
	e.expect("WriteI/ReadI", same, "int round trip differs: %v vs %v", iv[:5], ig[:5])
}

type mmShape struct{ m, n, k int }

func (e *env) matmulCase(sh mmShape, tA, tB bool, alpha, beta float32) {
	a := e.randn(sh.m*sh.k, 1)
	b := e.randn(sh.k*sh.n, 1)
	c := e.randn(sh.m*sh.n, 1)
	e.both(func(s sel) { s.Be.MatMul(s.B(c), s.B(a), s.B(b), sh.m, sh.n, sh.k, tA, tB, alpha, beta) })
	e.cmp("MatMul", fmt.Sprintf("m=%d n=%d k=%d tA=%v tB=%v alpha=%g beta=%g", sh.m, sh.n, sh.k, tA, tB, alpha, beta), c)
}

func checkMatMul(e *env) {
	shapes := []mmShape{{1, 1, 1}, {4, 4, 4}, {5, 7, 3}, {33, 17, 29}, {64, 64, 64}, {37, 50, 64}, {8, 132, 12}, {70, 9, 130}}
	for _, sh := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				e.matmulCase(sh, tA, tB, 1, 0)
			}
		}
	}
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			e.matmulCase(mmShape{13, 12, 17}, tA, tB, 0.5, 0.7)
			e.matmulCase(mmShape{16, 20, 8}, tA, tB, -1.5, 1)
		}
	}
	// k = 0: C = beta·C. Checked against the host (the CPU gemm rejects
	// a zero leading dimension).
	c0 := e.randv(30, 1)
	c := e.gpu.NewBuf(30)
	e.gpu.Write(c, 0, c0)
	e.gpu.MatMul(c, e.gpu.NewBuf(0), e.gpu.NewBuf(0), 6, 5, 0, false, false, 1, 0.3)
	got := make([]float32, 30)
	e.gpu.Read(c, 0, got)
	for i := range c0 {
		c0[i] *= 0.3
	}
	e.record("MatMul(k=0)", "m=6 n=5 k=0 beta=0.3", c0, got)
}

// checkMatMulScaled checks C = alpha·op(A)·diag(s)·op(B) + beta·C, HUT's
// scaled products, in every orientation.
func checkMatMulScaled(e *env) {
	for _, sh := range []mmShape{{5, 7, 3}, {33, 17, 29}, {64, 48, 40}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				m, n, k := sh.m, sh.n, sh.k
				a, b, sc := e.randn(m*k, 1), e.randn(k*n, 1), e.randn(k, 1)
				c := e.randn(m*n, 1)
				e.both(func(s sel) {
					s.Be.MatMulScaled(s.B(c), s.B(a), s.B(b), s.B(sc), m, n, k, tA, tB, 0.5, 0.25)
				})
				e.cmp("MatMulScaled", fmt.Sprintf("m=%d n=%d k=%d transA=%v transB=%v", m, n, k, tA, tB), c)
			}
		}
	}
}

// checkMatMulQuick is the MatMul check for the workgroup-tiled kernel,
// which SwiftShader runs 7-10x slower: fewer shapes, every orientation.
func checkMatMulQuick(e *env) {
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			e.matmulCase(mmShape{70, 9, 130}, tA, tB, 1, 0)
			e.matmulCase(mmShape{13, 66, 17}, tA, tB, 0.5, 0.7)
		}
	}
}

func checkElementwise(e *env) {
	for _, n := range []int{1, 257, 1000} {
		sh := fmt.Sprint(n)
		a, b := e.randn(n, 1), e.randn(n, 1)
		out := e.zeros(n)
		e.both(func(s sel) { s.Be.Add(s.B(out), s.B(a), s.B(b), n) })
		e.cmp("Add", sh, out)
		e.both(func(s sel) { s.Be.Mul(s.B(out), s.B(a), s.B(b), n) })
		e.cmp("Mul", sh, out)
		e.both(func(s sel) { s.Be.Scale(s.B(out), s.B(a), -2.5, n) })
		e.cmp("Scale", sh, out)
		e.both(func(s sel) { s.Be.AXPY(s.B(out), s.B(b), 0.3, n) })
		e.cmp("AXPY", sh, out)
		e.both(func(s sel) { s.Be.AddInPlace(s.B(out), s.B(a), n) })
		e.cmp("AddInPlace", sh, out)
		// In place: the output is an input.
		e.both(func(s sel) { s.Be.Add(s.B(a), s.B(a), s.B(b), n) })
		e.cmp("Add(out=a)", sh, a)
		e.both(func(s sel) { s.Be.Mul(s.B(b), s.B(a), s.B(b), n) })
		e.cmp("Mul(out=b)", sh, b)
		e.both(func(s sel) { s.Be.Scale(s.B(a), s.B(a), 0.5, n) })
		e.cmp("Scale(out=x)", sh, a)
		e.both(func(s sel) { s.Be.AddInPlace(s.B(a), s.B(a), n) })
		e.cmp("AddInPlace(acc=x)", sh, a)
		e.both(func(s sel) { s.Be.Mul(s.B(out), s.B(a), s.B(a), n) })
		e.cmp("Mul(a=b)", sh, out)
	}
}

func checkBroadcast(e *env) {
	for _, sh := range [][2]int{{7, 13}, {1, 300}, {300, 1}} {
		N, C := sh[0], sh[1]
		name := fmt.Sprintf("N=%d C=%d", N, C)
		x, sc, sr := e.randn(N*C, 1), e.randn(C, 1), e.randn(N, 1)
		out := e.randn(N*C, 1)
		e.both(func(s sel) { s.Be.ScaleCols(s.B(out), s.B(x), s.B(sc), N, C) })
		e.cmp("ScaleCols", name, out)
		e.both(func(s sel) { s.Be.ScaleRows(s.B(out), s.B(x), s.B(sr), N, C) })
		e.cmp("ScaleRows", name, out)
		e.both(func(s sel) { s.Be.AddBias(s.B(out), s.B(sc), N, C) })
		e.cmp("AddBias", name, out)
		e.both(func(s sel) { s.Be.BroadcastCols(s.B(out), s.B(sr), N, C) })
		e.cmp("BroadcastCols", name, out)
		e.both(func(s sel) { s.Be.BroadcastRows(s.B(out), s.B(sc), N, C) })
		e.cmp("BroadcastRows", name, out)
		e.both(func(s sel) { s.Be.ScaleCols(s.B(x), s.B(x), s.B(sc), N, C) })
		e.cmp("ScaleCols(out=x)", name, x)
		e.both(func(s sel) { s.Be.ScaleRows(s.B(x), s.B(x), s.B(sr), N, C) })
		e.cmp("ScaleRows(out=x)", name, x)
	}
}

func checkReduce(e *env) {
	for _, sh := range [][2]int{{5, 13}, {300, 7}, {129, 65}} {
		N, C := sh[0], sh[1]
		name := fmt.Sprintf("N=%d C=%d", N, C)
		x, y := e.randn(N*C, 1), e.randn(N*C, 1)
		dc, dr := e.randn(C, 1), e.randn(N, 1) // accumulate into non-zero
		e.both(func(s sel) { s.Be.ColSum(s.B(dc), s.B(x), N, C) })
		e.cmp("ColSum", name, dc)
		e.both(func(s sel) { s.Be.ColSumMul(s.B(dc), s.B(x), s.B(y), N, C) })
		e.cmp("ColSumMul", name, dc)
		sc, bias, out := e.randn(C, 1), e.randn(C, 1), e.randn(N*C, 1)
		e.both(func(s sel) { s.Be.ColSumMulScale(s.B(dc), s.B(out), s.B(x), s.B(y), s.B(sc), N, C) })
		e.cmp("ColSumMulScale/sum", name, dc)
		e.cmp("ColSumMulScale/out", name, out)
		e.both(func(s sel) { s.Be.ScaleColsBias(s.B(out), s.B(x), s.B(sc), s.B(bias), N, C) })
		e.cmp("ScaleColsBias", name, out)
		e.both(func(s sel) { s.Be.RowSum(s.B(dr), s.B(x), N, C) })
		e.cmp("RowSum", name, dr)
	}
	for _, n := range []int{1, 10, 4096, 10001} {
		x := e.randn(n, 1)
		st := e.randn(8, 1)
		e.both(func(s sel) {
			s.Be.SumSquares(s.B(st), 3, s.B(x), n)
			s.Be.Sum(s.B(st), 5, s.B(x), n)
		})
		e.cmp("SumSquares+Sum(stats offsets 3,5)", fmt.Sprint(n), st)
	}
}

func (e *env) embedCase(V, P, C, N int, withType bool) {
	name := fmt.Sprintf("V=%d C=%d N=%d types=%v", V, C, N, withType)
	wte, wpe := e.randn(V*C, 1), e.randn(P*C, 1)
	tokv := make([]int32, N)
	for i := range tokv {
		tokv[i] = int32(e.r.IntN(V))
	}
	tokv[N-1], tokv[N/2] = tokv[0], tokv[0] // repeated tokens
	tok, pos := e.ints(tokv), e.randInts(N, P)
	var tte *pair
	var typ *ipair
	if withType {
		tte, typ = e.randn(2*C, 1), e.randInts(N, 2)
	}
	out := e.randn(N*C, 1)
	e.both(func(s sel) {
		s.Be.Embed(s.B(out), s.I(tok), s.I(pos), s.I(typ), s.B(wte), s.B(wpe), s.B(tte), N, C)
	})
	e.cmp("Embed", name, out)
	dout := e.randn(N*C, 1)
	dwte, dwpe := e.randn(V*C, 1), e.randn(P*C, 1)
	var dtte *pair
	if withType {
		dtte = e.randn(2*C, 1)
	}
	e.both(func(s sel) {
		s.Be.EmbedBackward(s.B(dwte), s.B(dwpe), s.B(dtte), s.B(dout), s.I(tok), s.I(pos), s.I(typ), N, C)
	})
	if withType {
		e.cmpNamed("EmbedBackward", name, []string{"dwte", "dwpe", "dtte"}, dwte, dwpe, dtte)
	} else {
		e.cmpNamed("EmbedBackward", name, []string{"dwte", "dwpe"}, dwte, dwpe)
	}
	e.both(func(s sel) {
		s.Be.EmbedBackward(nil, s.B(dwpe), nil, s.B(dout), s.I(tok), s.I(pos), nil, N, C)
	})
	e.cmp("EmbedBackward(dwte=nil)", name, dwpe)
	g := e.randn(N*C, 1)
	e.both(func(s sel) { s.Be.GatherRows(s.B(g), s.B(wte), s.I(tok), N, C) })
	e.cmp("GatherRows", name, g)
	e.both(func(s sel) { s.Be.ScatterAddRows(s.B(wte), s.B(dout), s.I(tok), N, C) })
	e.cmp("ScatterAddRows", name, wte)
}

func checkEmbed(e *env) {
	e.embedCase(50, 11, 24, 13, false)
	e.embedCase(37, 9, 13, 9, true)
	e.embedCase(7, 300, 5, 300, false) // many repeats per row, more tokens than channels
}

func checkLayerNorm(e *env) {
	for _, sh := range [][2]int{{5, 13}, {3, 300}, {70, 8}} {
		N, C := sh[0], sh[1]
		name := fmt.Sprintf("N=%d C=%d", N, C)
		x, w, b := e.randn(N*C, 2), e.randn(C, 1), e.randn(C, 1)
		out, mean, rstd := e.zeros(N*C), e.zeros(N), e.zeros(N)
		e.both(func(s sel) { s.Be.LayerNorm(s.B(out), s.B(mean), s.B(rstd), s.B(x), s.B(w), s.B(b), N, C, 1e-5) })
		e.cmpNamed("LayerNorm", name, []string{"out", "mean", "rstd"}, out, mean, rstd)
		dout := e.randn(N*C, 1)
		dx, dw, db := e.randn(N*C, 1), e.randn(C, 1), e.randn(C, 1)
		e.both(func(s sel) {
			s.Be.LayerNormBackward(s.B(dx), s.B(dw), s.B(db), s.B(dout), s.B(x), s.B(w), s.B(mean), s.B(rstd), N, C)
		})
		e.cmpNamed("LayerNormBackward", name, []string{"dx", "dw", "db"}, dx, dw, db)
		e.both(func(s sel) {
			s.Be.LayerNormBackward(s.B(dx), nil, s.B(db), s.B(dout), s.B(x), s.B(w), s.B(mean), s.B(rstd), N, C)
		})
		e.cmpNamed("LayerNormBackward(dw=nil)", name, []string{"dx", "db"}, dx, db)
		e.both(func(s sel) {
			s.Be.LayerNormBackward(s.B(dout), nil, nil, s.B(dout), s.B(x), s.B(w), s.B(mean), s.B(rstd), N, C)
		})
		e.cmp("LayerNormBackward(dx=dout, frozen)", name, dout)
		e.both(func(s sel) { s.Be.LayerNorm(s.B(x), s.B(mean), s.B(rstd), s.B(x), s.B(w), s.B(b), N, C, 1e-5) })
		e.cmpNamed("LayerNorm(out=x)", name, []string{"out", "mean", "rstd"}, x, mean, rstd)
	}
}

func checkActivations(e *env) {
	n := 1031
	xv := e.randv(n, 3)
	copy(xv, []float32{0, 1e-6, -1e-6, 20, -20, 50, -50, 9, -9, 100, -100})
	x := e.vals(xv)
	dout := e.randn(n, 1)
	out := e.zeros(n)
	for _, k := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
		kn := map[tensor.GELUKind]string{tensor.GELUTanh: "tanh", tensor.GELUErf: "erf"}[k]
		e.both(func(s sel) { s.Be.GELU(s.B(out), s.B(x), n, k) })
		e.cmp("GELU("+kn+")", fmt.Sprint(n), out)
		e.both(func(s sel) { s.Be.GELUBackward(s.B(out), s.B(dout), s.B(x), n, k) })
		e.cmp("GELUBackward("+kn+")", fmt.Sprint(n), out)
		d2 := e.vals(e.randv(n, 1))
		e.both(func(s sel) { s.Be.GELUBackward(s.B(d2), s.B(d2), s.B(x), n, k) })
		e.cmp("GELUBackward("+kn+", dx=dout)", fmt.Sprint(n), d2)
		x2 := e.vals(xv)
		e.both(func(s sel) { s.Be.GELU(s.B(x2), s.B(x2), n, k) })
		e.cmp("GELU("+kn+", out=x)", fmt.Sprint(n), x2)
	}
	e.both(func(s sel) { s.Be.Tanh(s.B(out), s.B(x), n) })
	e.cmp("Tanh (|x| up to 100)", fmt.Sprint(n), out)
	e.both(func(s sel) { s.Be.TanhBackward(s.B(dout), s.B(dout), s.B(out), n) })
	e.cmp("TanhBackward(dx=dout)", fmt.Sprint(n), dout)
	for _, p := range []float32{0, 0.1, 0.5} {
		for _, seed := range []uint32{0, 12345} {
			sh := fmt.Sprintf("n=%d p=%g seed=%d", n, p, seed)
			e.both(func(s sel) { s.Be.Dropout(s.B(out), s.B(x), n, p, seed) })
			e.cmp("Dropout", sh, out)
			e.both(func(s sel) { s.Be.DropoutBackward(s.B(dout), s.B(dout), n, p, seed) })
			e.cmp("DropoutBackward(dx=dout)", sh, dout)
		}
	}
}

func (e *env) attentionCase(spec tensor.AttnSpec, maskv []int32) {
	B, T, C, NH := spec.B, spec.T, spec.C, spec.NH
	name := fmt.Sprintf("B=%d T=%d C=%d NH=%d causal=%v mask=%v pdrop=%g", B, T, C, NH, spec.Causal, maskv != nil, spec.PDrop)
	qkv := e.randn(B*T*3*C, 1)
	out, att := e.randn(B*T*C, 1), e.randn(B*NH*T*T, 1)
	var mask *ipair
	if maskv != nil {
		mask = e.ints(maskv)
	}
	run := func(s sel) tensor.AttnSpec {
		sp := spec
		if mask != nil {
			sp.KeyMask = s.I(mask)
		}
		return sp
	}
	e.both(func(s sel) { s.Be.Attention(s.B(out), s.B(att), s.B(qkv), run(s)) })
	e.cmpNamed("Attention", name, []string{"out", "att"}, out, att)
	dout := e.randn(B*T*C, 1)
	dqkv, scratch := e.randn(B*T*3*C, 1), e.zeros(B*NH*T*T)
	e.both(func(s sel) { s.Be.AttentionBackward(s.B(dqkv), s.B(scratch), s.B(dout), s.B(qkv), s.B(att), run(s)) })
	e.cmp("AttentionBackward", name, dqkv)
}

func checkAttention(e *env) {
	e.attentionCase(tensor.AttnSpec{B: 2, T: 7, C: 12, NH: 3, Causal: true}, nil)
	e.attentionCase(tensor.AttnSpec{B: 2, T: 7, C: 12, NH: 3, Causal: true, PDrop: 0.2, Seed: 99}, nil)
	mask := []int32{1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0} // batch 1 fully masked
	e.attentionCase(tensor.AttnSpec{B: 2, T: 7, C: 12, NH: 3}, mask)
	e.attentionCase(tensor.AttnSpec{B: 2, T: 7, C: 12, NH: 3, PDrop: 0.1, Seed: 5}, mask)
	e.attentionCase(tensor.AttnSpec{B: 1, T: 70, C: 10, NH: 2, Causal: true, PDrop: 0.1, Seed: 3}, nil)
	m2 := make([]int32, 70)
	for i := range m2 {
		m2[i] = int32(i % 3 % 2)
	}
	e.attentionCase(tensor.AttnSpec{B: 1, T: 70, C: 10, NH: 2}, m2)
}

func checkKVAttention(e *env) {
	for _, c := range []struct{ B, Tn, C, NH, pos, Tmax int }{{2, 3, 12, 3, 4, 10}, {1, 1, 8, 2, 0, 5}, {1, 5, 6, 1, 65, 70}} {
		name := fmt.Sprintf("B=%d Tn=%d C=%d NH=%d pos=%d Tmax=%d", c.B, c.Tn, c.C, c.NH, c.pos, c.Tmax)
		qkv := e.randn(c.B*c.Tn*3*c.C, 1)
		kc, vc := e.randn(c.B*c.Tmax*c.C, 1), e.randn(c.B*c.Tmax*c.C, 1)
		out := e.randn(c.B*c.Tn*c.C, 1)
		mv := make([]int32, c.B*c.Tmax)
		for i := range mv {
			mv[i] = 1
			if i%4 == 1 {
				mv[i] = 0
			}
		}
		mask := e.ints(mv)
		e.both(func(s sel) {
			s.Be.KVAttention(s.B(out), s.B(qkv), s.B(kc), s.B(vc), s.I(mask), c.B, c.Tn, c.C, c.NH, c.pos, c.Tmax)
		})
		e.cmpNamed("KVAttention", name, []string{"out", "kc", "vc"}, out, kc, vc)
		e.both(func(s sel) {
			s.Be.KVAttention(s.B(out), s.B(qkv), s.B(kc), s.B(vc), nil, c.B, c.Tn, c.C, c.NH, c.pos, c.Tmax)
		})
		e.cmp("KVAttention(no mask)", name, out)
	}
}

func (e *env) ceCase(N, V int, eps float32, mode string) {
	name := fmt.Sprintf("N=%d V=%d eps=%g dlogits=%s", N, V, eps, mode)
	logits := e.randn(N*V, 3)
	targets := e.randInts(N, V)
	wv := make([]float32, N)
	for i := range wv {
		wv[i] = float32(e.r.IntN(3)) * 0.5 // some rows weigh 0
	}
	wv[0] = 1
	weight := e.vals(wv)
	stats := e.randn(6, 1)
	var dl *pair
	switch mode {
	case "separate":
		dl = e.randn(N*V, 1)
	case "aliased":
		dl = logits
	}
	e.both(func(s sel) {
		s.Be.CrossEntropy(s.B(stats), 3, s.B(dl), s.B(logits), s.I(targets), s.B(weight), N, V, eps)
	})
	e.cmp("CrossEntropy.stats(off=3)", name, stats)
	if dl != nil {
		e.cmp("CrossEntropy.dlogits", name, dl)
	}
}

func checkCrossEntropy(e *env) {
	for _, mode := range []string{"separate", "nil", "aliased"} {
		e.ceCase(6, 37, 0, mode)
		e.ceCase(6, 37, 0.1, mode)
	}
	e.ceCase(3, 1000, 0.1, "aliased")
	e.ceCase(300, 5, 0, "separate")
}

func checkMSE(e *env) {
	for _, N := range []int{1, 10, 300} {
		pred, target := e.randn(N, 1), e.randn(N, 1)
		wv := make([]float32, N)
		for i := range wv {
			wv[i] = float32(i%3) * 0.5
		}
		weight := e.vals(wv)
		stats, dpred := e.randn(4, 1), e.randn(N, 1)
		e.both(func(s sel) { s.Be.MSE(s.B(stats), 2, s.B(dpred), s.B(pred), s.B(target), s.B(weight), N) })
		e.cmpNamed("MSE", fmt.Sprint(N), []string{"stats", "dpred"}, stats, dpred)
		e.both(func(s sel) { s.Be.MSE(s.B(stats), 1, nil, s.B(pred), s.B(target), s.B(weight), N) })
		e.cmp("MSE(dpred=nil)", fmt.Sprint(N), stats)
	}
}

func checkOptimizer(e *env) {
	for _, tc := range []struct {
		normSq, maxNorm float32
	}{{4, 1}, {0.25, 1}, {4, 0}, {0, 1}} {
		stats := e.vals([]float32{0, tc.normSq, 0, 0})
		e.both(func(s sel) { s.Be.ClipScale(s.B(stats), 2, 1, tc.maxNorm) })
		e.cmp("ClipScale", fmt.Sprintf("normSq=%g maxNorm=%g", tc.normSq, tc.maxNorm), stats)
	}
	n := 1001
	p, g := e.randn(n, 1), e.randn(n, 1)
	m, v := e.zeros(n), e.zeros(n)
	stats := e.vals([]float32{0, 9, 0})
	h := tensor.AdamW{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	for step := 1; step <= 3; step++ {
		h.Step = step
		e.both(func(s sel) {
			s.Be.ClipScale(s.B(stats), 2, 1, 1)
			s.Be.AdamWStep(s.B(p), s.B(g), s.B(m), s.B(v), n, h, s.B(stats), 2)
		})
	}
	e.cmpNamed("AdamWStep x3 (clipped)", fmt.Sprint(n), []string{"p", "m", "v"}, p, m, v)
}

func checkErrors(e *env) {
	be := e.gpu
	small := be.NewBuf(3)
	be.MatMul(small, small, small, 4, 4, 4, false, false, 1, 0)
	err := be.Err()
	e.expect("MatMul(too small)", err != nil && strings.Contains(err.Error(), "MatMul"), "want an error naming MatMul, got %v", err)
	be.ClearErr()
	be.Add(small, cpu.From(make([]float32, 3)), small, 3)
	err = be.Err()
	e.expect("Add(cpu buffer)", err != nil && strings.Contains(err.Error(), "not a webgpu buffer"), "want a foreign-buffer error, got %v", err)
	be.ClearErr()
	be.Free(small)
	be.Scale(small, small, 2, 3)
	err = be.Err()
	e.expect("Scale(freed buffer)", err != nil && strings.Contains(err.Error(), "freed"), "want a freed-buffer error, got %v", err)
	be.ClearErr()
	x := be.NewBuf(10)
	be.LayerNorm(x, x, x, x, x, x, 2, 5, 1e-5)
	err = be.Err()
	e.expect("LayerNorm(same output thrice)", err != nil, "want an aliasing error, got nil")
	be.ClearErr()
	be.Attention(x, x, x, tensor.AttnSpec{B: 1, T: 2, C: 3, NH: 2})
	err = be.Err()
	e.expect("Attention(C not a multiple of NH)", err != nil && strings.Contains(err.Error(), "Attention"), "want a shape error, got %v", err)
	be.ClearErr()
	be.Free(x)
}

// checkUnavailable hides navigator.gpu and expects New to fail clearly.
func checkUnavailable(e *env) {
	nav := js.Global().Get("navigator")
	js.Global().Get("Object").Call("defineProperty", nav, "gpu", map[string]any{"value": js.Undefined(), "configurable": true})
	_, err := webgpu.New(context.Background())
	js.Global().Get("Reflect").Call("deleteProperty", nav, "gpu")
	e.expect("New(no navigator.gpu)", err != nil && strings.Contains(err.Error(), "WebGPU unavailable") && strings.Contains(err.Error(), "using the CPU path"),
		"want a WebGPU-unavailable error, got %v", err)
}

// checkDeviceLost destroys the device under a second backend and expects
// the loss to surface as an error while nothing panics.
func checkDeviceLost(e *env) {
	be, err := webgpu.New(context.Background())
	if err != nil {
		e.expect("New", false, "%v", err)
		return
	}
	defer be.Close()
	x := be.NewBuf(16)
	be.GPUDevice().Destroy()
	out := make([]float32, 16)
	be.Scale(x, x, 2, 16)
	be.Read(x, 0, out)
	_ = be.Sync()
	err = be.Err()
	e.expect("device lost", err != nil && strings.Contains(err.Error(), "lost"), "want a device-lost error, got %v", err)
}

// ---- split-buffer checks (config "split": 4 KiB GPU buffers) ----

func checkSplitLayout(e *env) {
	b := e.gpu.NewBuf(5000).(*webgpu.Buf)
	e.expect("NewBuf(5000) is split", b.Chunks() > 1, "a 20000-byte buffer has %d chunks under a 4 KiB cap", b.Chunks())
	r := e.gpu.NewBufRows(97, 24).(*webgpu.Buf)
	e.expect("NewBufRows(97,24) is split", r.Chunks() > 1, "got %d chunks", r.Chunks())
	info := e.gpu.Info()
	e.expect("default limits", info.Limits.MaxStorageBufferBindingSize <= 128<<20 && info.Limits.ChunkBytes == 4096,
		"limits %+v", info.Limits)
}

func checkSplitElementwise(e *env) {
	n := 5003
	a, b, out := e.randn(n, 1), e.randn(n, 1), e.zeros(n)
	e.both(func(s sel) { s.Be.Add(s.B(out), s.B(a), s.B(b), n) })
	e.cmp("Add", fmt.Sprint(n), out)
	e.both(func(s sel) { s.Be.AXPY(s.B(out), s.B(a), -0.7, n) })
	e.cmp("AXPY", fmt.Sprint(n), out)
	e.both(func(s sel) { s.Be.GELU(s.B(a), s.B(a), n, tensor.GELUErf) })
	e.cmp("GELU(erf, in place)", fmt.Sprint(n), a)
	e.both(func(s sel) { s.Be.Dropout(s.B(out), s.B(b), n, 0.3, 77) })
	e.cmp("Dropout", fmt.Sprint(n), out)
	st := e.randn(3, 1)
	e.both(func(s sel) {
		s.Be.SumSquares(s.B(st), 1, s.B(b), n)
		s.Be.Sum(s.B(st), 2, s.B(b), n)
	})
	e.cmp("SumSquares+Sum", fmt.Sprint(n), st)
	e.both(func(s sel) { s.Be.Mul(s.B(out), s.B(out), s.B(out), n) })
	e.cmp("Mul(all aliased)", fmt.Sprint(n), out)
}

func checkSplitMatMul(e *env) {
	// Every operand larger than one 1024-float buffer, all orientations.
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			e.matmulCase(mmShape{40, 37, 33}, tA, tB, 1, 0)
			e.matmulCase(mmShape{41, 36, 32}, tA, tB, 0.5, 0.25)
		}
	}
	// One split buffer as both operands with different row lengths:
	// x viewed as [50, 24] times x viewed as [24, 50] (chunks must hold
	// whole rows of 24 and of 50).
	x2 := e.randn(50*24, 1)
	sq := e.zeros(50 * 50)
	e.both(func(s sel) { s.Be.MatMul(s.B(sq), s.B(x2), s.B(x2), 50, 50, 24, false, false, 1, 0) })
	e.cmp("MatMul(a = b, rows of 24 and 50)", "50x50x24 NN", sq)
	// The LM head: logits = x·wteᵀ with wte [V, C] split, its input
	// gradient dx = dlogits·wte and its weight gradient dwte += dlogitsᵀ·x.
	V, C, N := 97, 24, 6
	wte, x := e.randn(V*C, 1), e.randn(N*C, 1)
	logits := e.zeros(N * V)
	e.both(func(s sel) { s.Be.MatMul(s.B(logits), s.B(x), s.B(wte), N, V, C, false, true, 1, 0) })
	e.cmp("MatMul(LM head, B=wte split)", "6x97x24 NT", logits)
	dx := e.zeros(N * C)
	e.both(func(s sel) { s.Be.MatMul(s.B(dx), s.B(logits), s.B(wte), N, C, V, false, false, 1, 0) })
	e.cmp("MatMul(dx = dlogits·wte, k split)", "6x24x97 NN", dx)
	dwte := e.randn(V*C, 1)
	e.both(func(s sel) { s.Be.MatMul(s.B(dwte), s.B(logits), s.B(x), V, C, N, true, false, 1, 1) })
	e.cmp("MatMul(dwte += dlogitsᵀ·x, C split)", "97x24x6 TN", dwte)
}

func checkSplitEmbed(e *env) {
	e.embedCase(97, 11, 24, 13, false)
	e.embedCase(150, 10, 13, 20, true)
}

func checkSplitCrossEntropy(e *env) {
	e.ceCase(13, 97, 0.1, "aliased")
	e.ceCase(13, 97, 0, "separate")
	e.ceCase(13, 97, 0.1, "nil")
}

func checkSplitAttention(e *env) {
	e.attentionCase(tensor.AttnSpec{B: 2, T: 13, C: 8, NH: 4, Causal: true, PDrop: 0.1, Seed: 11}, nil)
	mask := make([]int32, 26)
	for i := range mask {
		if i%5 != 2 {
			mask[i] = 1
		}
	}
	e.attentionCase(tensor.AttnSpec{B: 2, T: 13, C: 8, NH: 4}, mask)
}

func checkSplitOptimizer(e *env) {
	n := 5003
	p, g := e.randn(n, 1), e.randn(n, 1)
	m, v := e.randn(n, 0.1), e.vals(make([]float32, n))
	stats := e.vals([]float32{0, 0, 0})
	h := tensor.AdamW{LR: 3e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1, Step: 7}
	e.both(func(s sel) {
		s.Be.SumSquares(s.B(stats), 1, s.B(g), n)
		s.Be.ClipScale(s.B(stats), 2, 1, 1)
		s.Be.AdamWStep(s.B(p), s.B(g), s.B(m), s.B(v), n, h, s.B(stats), 2)
	})
	e.cmpNamed("AdamWStep (clip from the device)", fmt.Sprint(n), []string{"p", "m", "v", "stats"}, p, m, v, stats)
}
