package cpu

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/core/tensor"
)

// BenchmarkLayerNorm times the layer norm of one GPT-2 124M training step's
// activations (N = B·T = 256 rows of C = 768), forward and input-gradient
// backward: a step runs 25 of each.
//
//	go test -run XXX -bench LayerNorm ./core/cpu
func BenchmarkLayerNorm(b *testing.B) {
	be := New()
	N, C := 256, 768
	r := rand.New(rand.NewPCG(1, 2))
	x, out, w, bias := be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(C), be.NewBuf(C)
	mean, rstd := be.NewBuf(N), be.NewBuf(N)
	for _, buf := range []*Buf{x.(*Buf), w.(*Buf), bias.(*Buf)} {
		for i := range buf.D {
			buf.D[i] = float32(r.NormFloat64())
		}
	}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			be.LayerNorm(out, mean, rstd, x, w, bias, N, C, 1e-5)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			be.LayerNormBackward(out, nil, nil, x, x, w, mean, rstd, N, C)
		}
	})
}

// BenchmarkColumnReductions times HUT's column reductions for one 768-wide
// layer of the step (∂a = Σₙ G⊙Z; ∂b and ∂X = H⊙b in one pass).
func BenchmarkColumnReductions(b *testing.B) {
	be := New()
	N, C := 256, 768
	x, y, out := be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C)
	s, d := be.NewBuf(C), be.NewBuf(C)
	b.Run("ColSumMul", func(b *testing.B) {
		for b.Loop() {
			be.ColSumMul(d, x, y, N, C)
		}
	})
	b.Run("ColSumMulScale", func(b *testing.B) {
		for b.Loop() {
			be.ColSumMulScale(d, out, x, y, s, N, C)
		}
	})
}

// BenchmarkGELUScaled times the MLP's GELU of one GPT-2 124M layer
// (256×3072) for a HUT layer, fused (GELUScaled, GELUScaledBackward with
// ∂a) against the passes it replaces (ScaleColsBias + GELU; GELUBackward +
// ColSumMul). Hot in cache here; in a step Z and the gradients are colder.
//
//	go test -run XXX -bench GELUScaled ./core/cpu
func BenchmarkGELUScaled(b *testing.B) {
	be := New()
	N, C := 256, 3072
	r := rand.New(rand.NewPCG(1, 2))
	z, pre, h, dh, dx := be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C)
	s, bias, ds := be.NewBuf(C), be.NewBuf(C), be.NewBuf(C)
	for _, buf := range []*Buf{z.(*Buf), dh.(*Buf), s.(*Buf), bias.(*Buf)} {
		for i := range buf.D {
			buf.D[i] = float32(r.NormFloat64())
		}
	}
	b.Run("forward/fused", func(b *testing.B) {
		for b.Loop() {
			be.GELUScaled(h, z, s, bias, N, C, 0)
		}
	})
	b.Run("forward/unfused", func(b *testing.B) {
		for b.Loop() {
			be.ScaleColsBias(pre, z, s, bias, N, C)
			be.GELU(h, pre, N*C, 0)
		}
	})
	b.Run("backward/fused", func(b *testing.B) {
		for b.Loop() {
			be.GELUScaledBackward(dx, ds, dh, z, s, bias, N, C, 0)
		}
	})
	b.Run("backward/unfused", func(b *testing.B) {
		for b.Loop() {
			be.GELUBackward(dx, dh, pre, N*C, 0)
			be.ColSumMul(ds, dx, z, N, C)
		}
	})
}

// BenchmarkAttention times causal attention of one GPT-2 124M layer in the
// training step (B = 4, T = 64, C = 768, 12 heads), forward and backward.
//
//	go test -run XXX -bench Attention ./core/cpu
func BenchmarkAttention(b *testing.B) {
	be := New()
	B, T, C, NH := 4, 64, 768, 12
	r := rand.New(rand.NewPCG(1, 2))
	qkv, out, att := be.NewBuf(B*T*3*C), be.NewBuf(B*T*C), be.NewBuf(B*NH*T*T)
	dqkv, dout := be.NewBuf(B*T*3*C), be.NewBuf(B*T*C)
	for _, buf := range []*Buf{qkv.(*Buf), dout.(*Buf)} {
		for i := range buf.D {
			buf.D[i] = float32(r.NormFloat64())
		}
	}
	spec := tensor.AttnSpec{B: B, T: T, C: C, NH: NH, Causal: true}
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			be.Attention(out, att, qkv, spec)
		}
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			be.AttentionBackward(dqkv, nil, dout, qkv, att, spec)
		}
	})
}

// BenchmarkLMHead times GPT-2 124M's tied LM head with its loss and input
// gradient in the training step (N = 256 rows, V = 50257, C = 768): fused
// (LinearCrossEntropy) against the separate passes the step runs without it
// (the logits from the packed LM head, CrossEntropy, the input-gradient
// product). The weights are 154 MB, more than the cache, as in a step.
//
//	go test -run XXX -bench LMHead ./core/cpu
func BenchmarkLMHead(b *testing.B) {
	be := New()
	N, V, C := 256, 50257, 768
	r := rand.New(rand.NewPCG(1, 2))
	x, w := be.NewBuf(N*C), be.NewBuf(V*C)
	for _, buf := range []*Buf{x.(*Buf), w.(*Buf)} {
		for i := range buf.D {
			buf.D[i] = float32(r.NormFloat64()) * 0.1
		}
	}
	tgt, wt := be.NewIBuf(N), be.NewBuf(N)
	for n := 0; n < N; n++ {
		tgt.(*IBuf).D[n] = int32(r.IntN(V))
		wt.(*Buf).D[n] = 1 / float32(N)
	}
	stats, dx := be.NewBuf(2), be.NewBuf(N*C)
	b.Run("fused", func(b *testing.B) {
		for b.Loop() {
			be.LinearCrossEntropy(stats, 1, dx, x, w, tgt, wt, N, V, C, 0)
		}
	})
	b.Run("unfused", func(b *testing.B) {
		logits := be.NewBuf(N * V)
		pk := gemm.PackB(true, V, C, F(w), C)
		for b.Loop() {
			gemm.SgemmPacked(false, N, 1, F(x), C, nil, pk, 0, F(logits), V)
			be.CrossEntropy(stats, 1, logits, logits, tgt, wt, N, V, 0)
			be.MatMul(dx, logits, w, N, C, V, false, false, 1, 0)
		}
	})
}

// BenchmarkLinear times one c_attn-sized linear layer of the GPT-2 124M
// step (N = 256 rows, 768 → 2304) as a HUT layer runs it against the
// frozen layer it adapts: forward (HUT: Z = (X⊙b)·W0ᵀ with the scale
// folded into the packing and Y = Z⊙a + c in the GEMM's epilogue; frozen:
// Y = X·W0ᵀ + c) and input-gradient backward (HUT: ∂a = Σₙ G⊙Z, then
// H = (G⊙a)·W0 with ∂b = Σₙ H⊙X and ∂X = H⊙b in the epilogue; frozen:
// ∂X = G·W0), W0 packed for the backward GEMM as in a step; forward/split
// and backward/split split HUT's extra over the frozen layer's into its
// parts. The operands stay in the caches there; in a step Z and X have been
// pushed out of them by the time the backward pass reads them
// (docs/benchmarks.md). forward/cold flushes the caches before each pass.
//
//	go test -run XXX -bench Linear ./core/cpu
//	go test -run XXX -bench Linear/.*/split -benchtime 300x -count 3 ./core/cpu
//	go test -run XXX -bench Linear/forward/cold -benchtime 300x -count 3 ./core/cpu
func BenchmarkLinear(b *testing.B) {
	be := New()
	N, In, Out := 256, 768, 2304
	r := rand.New(rand.NewPCG(1, 2))
	x, w, bias, dy := be.NewBuf(N*In), be.NewBuf(Out*In), be.NewBuf(Out), be.NewBuf(N*Out)
	sa, sb := be.NewBuf(Out), be.NewBuf(In)
	for _, buf := range []*Buf{x.(*Buf), w.(*Buf), bias.(*Buf), dy.(*Buf), sa.(*Buf), sb.(*Buf)} {
		for i := range buf.D {
			buf.D[i] = float32(r.NormFloat64())
		}
	}
	y, z, dx := be.NewBuf(N*Out), be.NewBuf(N*Out), be.NewBuf(N*In)
	da, db := be.NewBuf(Out), be.NewBuf(In)
	be.PackWeight(w, Out, In)
	defer be.Free(w)
	b.Run("forward/frozen", func(b *testing.B) {
		for b.Loop() {
			be.LinearForward(y, nil, x, w, nil, nil, bias, N, Out, In)
		}
	})
	b.Run("forward/hut", func(b *testing.B) {
		for b.Loop() {
			be.LinearForward(y, z, x, w, sb, sa, bias, N, Out, In)
		}
	})
	b.Run("backward/frozen", func(b *testing.B) {
		for b.Loop() {
			be.MatMul(dx, dy, w, N, In, Out, false, false, 1, 0)
		}
	})
	hutBackward := func() {
		be.Zero(da, 0, Out)
		be.ColSumMul(da, dy, z, N, Out)
		be.Zero(db, 0, In)
		be.LinearBackwardInput(dx, db, dy, w, x, sa, sb, N, Out, In)
	}
	b.Run("backward/hut", func(b *testing.B) {
		for b.Loop() {
			hutBackward()
		}
	})
	// HUT's forward and backward built up from the frozen layer's. Forward:
	// the GEMM with X scaled by b in its packing (gemm), then HUT's whole
	// forward, which also keeps Z (hut). Backward: the GEMM with G scaled by
	// a in its packing (gemm), then with ∂b and ∂X = H⊙b in its epilogue
	// (epilogue), then with ∂a (hut).
	b.Run("forward/split", func(b *testing.B) {
		splitBench(b, []func(){
			func() { be.LinearForward(y, nil, x, w, nil, nil, bias, N, Out, In) },
			func() { be.LinearForward(y, nil, x, w, sb, nil, bias, N, Out, In) },
			func() { be.LinearForward(y, z, x, w, sb, sa, bias, N, Out, In) },
		}, []string{"gemm/frozen", "hut/frozen"}, nil)
	})
	// forward/cold: the forward passes with the caches flushed before each,
	// as in a step, where x and W0 come from memory and Z is next read in
	// the backward pass; HUT's forward keeps Z with the non-temporal stores
	// it uses (hut) and as the GEMM's output, Y formed from it (plain).
	b.Run("forward/cold", func(b *testing.B) {
		defer func() { streamKeep = true }()
		zs := make([]tensor.Buf, 8) // Z of successive layers
		for i := range zs {
			zs[i] = be.NewBuf(N * Out)
		}
		// Writing 32 MiB pushes the operands out of L2 and much of the L3.
		evict := make([]float32, 8<<20)
		k := 0
		hut := func(stream bool) func() {
			return func() {
				streamKeep = stream
				be.LinearForward(y, zs[k%len(zs)], x, w, sb, sa, bias, N, Out, In)
				k++
			}
		}
		splitBench(b, []func(){
			func() { be.LinearForward(y, nil, x, w, nil, nil, bias, N, Out, In) },
			hut(false),
			hut(true),
		}, []string{"plain/frozen", "hut/frozen"}, func() {
			for i := 0; i < len(evict); i += 16 {
				evict[i]++
			}
		})
	})
	b.Run("backward/split", func(b *testing.B) {
		splitBench(b, []func(){
			func() { be.MatMul(dx, dy, w, N, In, Out, false, false, 1, 0) },
			func() { be.MatMulScaled(dx, dy, w, sa, N, In, Out, false, false, 1, 0) },
			func() {
				be.Zero(db, 0, In)
				be.LinearBackwardInput(dx, db, dy, w, x, sa, sb, N, Out, In)
			},
			hutBackward,
		}, []string{"gemm/frozen", "epilogue/frozen", "hut/frozen"}, nil)
	})
}

// splitBench runs parts[0] (the frozen layer) and the others in turn in
// every iteration, so that a drift of a shared machine's speed cancels,
// and reports, under names[i-1], the median over iterations of parts[i]'s
// time over parts[0]'s in the same iteration. before, if set, runs
// untimed before each part.
func splitBench(b *testing.B, parts []func(), names []string, before func()) {
	ratios := make([][]float64, len(parts))
	dt := make([]time.Duration, len(parts))
	i := 0
	for b.Loop() {
		for k := range parts {
			p := (i + k) % len(parts)
			if before != nil {
				before()
			}
			t0 := time.Now()
			parts[p]()
			dt[p] = time.Since(t0)
		}
		for p := 1; p < len(parts); p++ {
			ratios[p] = append(ratios[p], dt[p].Seconds()/dt[0].Seconds())
		}
		i++
	}
	for p := 1; p < len(parts); p++ {
		sort.Float64s(ratios[p])
		b.ReportMetric(ratios[p][len(ratios[p])/2], names[p-1])
	}
}

// BenchmarkAdamW times the optimizer's update of HUT's trainable
// parameters in the GPT-2 124M step (M_A and M_B of the 48 block linears
// at r = 8: 1,179,648 values) and of full fine-tuning's 124 M, in one
// call each (the step makes one call per parameter tensor).
//
//	go test -run XXX -bench AdamW ./core/cpu
func BenchmarkAdamW(b *testing.B) {
	be := New()
	stats := be.NewBuf(4)
	F(stats)[2] = 1 // the gradient scale AdamWStep reads
	h := tensor.AdamW{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1}
	for _, c := range []struct {
		name string
		n    int
	}{{"hut", 1179648}, {"full", 124439808}} {
		b.Run(c.name, func(b *testing.B) {
			p, g, m, v := be.NewBuf(c.n), be.NewBuf(c.n), be.NewBuf(c.n), be.NewBuf(c.n)
			r := rand.New(rand.NewPCG(1, 2))
			for i := range F(g) { // every page touched before the timing
				F(p)[i], F(g)[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
				F(m)[i], F(v)[i] = 0.1*F(g)[i], 0.01*F(g)[i]*F(g)[i]
			}
			b.SetBytes(int64(c.n) * 28) // p, g, m, v read; p, m, v written
			for b.Loop() {
				be.AdamWStep(p, g, m, v, c.n, h, stats, 2)
			}
		})
	}
}
