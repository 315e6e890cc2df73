package peft

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hutml/hut/core/tensor"
)

// HUT, the Hadamard Updated Transformation, as reconstructed from the
// published formula (see docs/method.md):
//
//	W' = (M_A·1_A) ⊙ W0 ⊙ (1_B·M_B) = diag(a)·W0·diag(b),
//	a_i = Σ_t M_A[i,t],  b_j = Σ_t M_B[t,j],
//
// with M_A = hut_A [out, r] and M_B = hut_B [r, in]. Training never forms
// W': the forward pass scales the input columns by b, runs the frozen GEMM
// and scales the output columns by a; the backward pass needs only the
// input-gradient GEMM a frozen layer needs anyway plus two column
// reductions. There is no weight-gradient GEMM.
type hutMethod struct{}

func init() { register(hutMethod{}) }

func (hutMethod) Name() string     { return "hut" }
func (hutMethod) PEFTType() string { return "HUT" }

func (hutMethod) Defaults(cfg *Config) {
	if cfg.R == 0 {
		cfg.R = 8
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = []string{"all-linear"}
	}
}

type hutAdapter struct {
	A, B   *tensor.Param // hut_A [out, r], hut_B [r, in]
	r      int
	a, b   tensor.Buf // row sums of A [out], column sums of B [in]
	ga, gb tensor.Buf // ∂L/∂a, ∂L/∂b
	z      tensor.Buf // saved (x⊙b)·W0ᵀ [N, out] for ∂a
	merged bool
}

func (hutMethod) New(be tensor.Backend, l *Linear, cfg *Config, rng *rand.Rand) (Adapter, error) {
	r := cfg.R
	ainit := make([]float32, l.Out*r)
	binit := make([]float32, r*l.In)
	for i := range ainit {
		ainit[i] = 1 / float32(r)
	}
	for i := range binit {
		binit[i] = 1 / float32(r)
	}
	if cfg.InitNoise > 0 && r > 1 {
		// Zero-sum noise along the summed dimension keeps a = b = 1.
		zeroSumNoise(rng, ainit, l.Out, r, 1, r, cfg.InitNoise)
		zeroSumNoise(rng, binit, l.In, r, l.In, 1, cfg.InitNoise)
	}
	h := &hutAdapter{
		A: newTrainable(be, "hut_A", ainit, l.Out, r),
		B: newTrainable(be, "hut_B", binit, r, l.In),
		r: r,
		a: be.NewBuf(l.Out), b: be.NewBuf(l.In),
		ga: be.NewBuf(l.Out), gb: be.NewBuf(l.In),
	}
	// Weight decay would pull M_A and M_B, and so a and b, towards 0 — that
	// is towards W' = 0, not towards W0 — so HUT's factors are not decayed.
	h.A.NoDecay, h.B.NoDecay = true, true
	return h, nil
}

// zeroSumNoise adds noise to groups of r elements (group g, element t at
// g·gstride + t·tstride) and removes each group's mean.
func zeroSumNoise(rng *rand.Rand, w []float32, groups, r, tstride, gstride int, std float32) {
	noise := make([]float64, r)
	for g := 0; g < groups; g++ {
		var mean float64
		for t := range noise {
			noise[t] = rng.NormFloat64() * float64(std)
			mean += noise[t]
		}
		mean /= float64(r)
		for t := range noise {
			w[g*gstride+t*tstride] += float32(noise[t] - mean)
		}
	}
}

func (h *hutAdapter) Params() []*tensor.Param { return []*tensor.Param{h.A, h.B} }
func (h *hutAdapter) Merged() bool            { return h.merged }

// sums recomputes a and b from the parameters.
func (h *hutAdapter) sums(be tensor.Backend, l *Linear) {
	be.Zero(h.a, 0, l.Out)
	be.RowSum(h.a, h.A.W, l.Out, h.r)
	be.Zero(h.b, 0, l.In)
	be.ColSum(h.b, h.B.W, h.r, l.In)
}

// Forward: Z = (X⊙bᵀ)·W0ᵀ, Y = Z⊙aᵀ + c.
func (h *hutAdapter) Forward(c *Ctx, l *Linear, y, x tensor.Buf, N int) {
	var z tensor.Buf
	if c.Train {
		h.z = grow(c.Be, h.z, N*l.Out)
		z = h.z
	} else {
		z = c.WS.Get(wsB, N*l.Out)
	}
	if fl, ok := c.Be.(tensor.FusedLinear); ok {
		h.sums(c.Be, l)
		fl.LinearForward(y, z, x, l.W.W, h.b, h.a, l.bias(), N, l.Out, l.In)
		return
	}
	a := h.forwardZ(c, l, z, x, N)
	c.Be.ScaleColsBias(y, z, a, l.bias(), N, l.Out)
}

// forwardZ implements scaledOutput: z = (X⊙bᵀ)·W0ᵀ, with the scaling
// folded into the GEMM; it returns a.
func (h *hutAdapter) forwardZ(c *Ctx, l *Linear, z, x tensor.Buf, N int) tensor.Buf {
	h.sums(c.Be, l)
	c.Be.MatMulScaled(z, x, l.W.W, h.b, N, l.Out, l.In, false, true, 1, 0)
	return h.a
}

// Backward, with G = ∂L/∂Y:
//
//	∂a = Σ_n G⊙Z,  H = (G⊙aᵀ)·W0,  ∂b = Σ_n H⊙X,  ∂X = H⊙bᵀ,
//	∂M_A[i,t] = ∂a_i,  ∂M_B[t,j] = ∂b_j.
func (h *hutAdapter) Backward(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int) {
	c.Be.ColSumMul(h.gradA(c.Be, l), dy, h.z, N, l.Out)
	h.backwardZ(c, l, dx, dy, x, N)
}

// recomputeOutput implements outputRecomputer: Y = Z⊙a + bias from the Z
// the last training Forward kept, by the same operation as Forward's
// (the fused linear's epilogue computes each element the same way).
func (h *hutAdapter) recomputeOutput(c *Ctx, l *Linear, y tensor.Buf, N int) {
	c.Be.ScaleColsBias(y, h.z, h.a, l.bias(), N, l.Out)
}

// scale and gradA implement scaledOutput: a, and ∂a zeroed for the
// consumer of Z to accumulate Σ_n G⊙Z into.
func (h *hutAdapter) scale() tensor.Buf { return h.a }

func (h *hutAdapter) gradA(be tensor.Backend, l *Linear) tensor.Buf {
	be.Zero(h.ga, 0, l.Out)
	return h.ga
}

// backwardZ implements scaledOutput: Backward after ∂a.
func (h *hutAdapter) backwardZ(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int) {
	be := c.Be
	be.Zero(h.gb, 0, l.In)
	l.packW(be)
	if fl, ok := be.(tensor.FusedLinear); ok {
		fl.LinearBackwardInput(dx, h.gb, dy, l.W.W, x, h.a, h.b, N, l.Out, l.In)
	} else {
		H := c.WS.Get(wsB, N*l.In)
		be.MatMulScaled(H, dy, l.W.W, h.a, N, l.In, l.Out, false, false, 1, 0) // (G⊙aᵀ)·W0
		be.ColSumMulScale(h.gb, dx, H, x, h.b, N, l.In)                        // ∂b and ∂X = H⊙bᵀ in one pass
	}
	h.broadcastGrads(be, l)
}

// broadcastGrads adds ∂a and ∂b to the gradients of their r copies:
// ∂M_A[i,t] = ∂a_i, ∂M_B[t,j] = ∂b_j.
func (h *hutAdapter) broadcastGrads(be tensor.Backend, l *Linear) {
	be.BroadcastCols(h.A.G, h.ga, l.Out, h.r)
	be.BroadcastRows(h.B.G, h.gb, h.r, l.In)
}

// Merge replaces W0 by diag(a)·W0·diag(b).
func (h *hutAdapter) Merge(be tensor.Backend, l *Linear) error {
	if h.merged {
		return fmt.Errorf("%s: already merged", l.Name)
	}
	h.sums(be, l)
	scaleWeight(be, l, h.a, h.b)
	h.merged = true
	return nil
}

// Unmerge divides the scaling back out; it fails when some a_i or b_j is
// too close to zero for the division to recover W0.
func (h *hutAdapter) Unmerge(be tensor.Backend, l *Linear) error {
	if !h.merged {
		return fmt.Errorf("%s: not merged", l.Name)
	}
	h.sums(be, l)
	a := make([]float32, l.Out)
	b := make([]float32, l.In)
	be.Read(h.a, 0, a)
	be.Read(h.b, 0, b)
	for _, v := range [][]float32{a, b} {
		for i, s := range v {
			if math.Abs(float64(s)) < 1e-6 {
				return fmt.Errorf("%s: cannot un-merge, scale %d is %g (≈ 0)", l.Name, i, s)
			}
			v[i] = 1 / s
		}
	}
	ia, ib := be.NewBuf(l.Out), be.NewBuf(l.In)
	be.Write(ia, 0, a)
	be.Write(ib, 0, b)
	scaleWeight(be, l, ia, ib)
	be.Free(ia)
	be.Free(ib)
	h.merged = false
	return nil
}

// scaleWeight sets W ← diag(rows)·W·diag(cols).
func scaleWeight(be tensor.Backend, l *Linear, rows, cols tensor.Buf) {
	l.unpackW(be)
	tmp := be.NewBuf(l.Out * l.In)
	be.ScaleRows(tmp, l.W.W, rows, l.Out, l.In)
	be.ScaleCols(l.W.W, tmp, cols, l.Out, l.In)
	be.Free(tmp)
}
