package peft

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/hutml/hut/core/tensor"
)

// HiRA (Huang et al., ICLR 2025): W' = W0 ⊙ (1 + B·A), a Hadamard high-rank
// update, with A = hira_A [r, in] (Kaiming-uniform) and B = hira_B [out, r]
// (zero) and no α/r scale, as Hugging Face PEFT's hira tuner defines it.
// Dropout, when set, applies to the input of the update branch only:
// Y = X·W0ᵀ + c + drop(X)·(W0⊙BA)ᵀ. Training forms the dense update and
// needs the weight-gradient GEMM ∂W' = Gᵀ·X, so a step costs about what a
// full fine-tuning step of the adapted matrix costs.
type hiraMethod struct{}

func init() { register(hiraMethod{}) }

func (hiraMethod) Name() string     { return "hira" }
func (hiraMethod) PEFTType() string { return "HIRA" }

func (hiraMethod) Defaults(cfg *Config) {
	if cfg.R == 0 {
		cfg.R = 8
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = []string{"c_attn"}
	}
}

type hiraAdapter struct {
	A, B   *tensor.Param
	r      int
	p      float32
	merged bool
}

func (hiraMethod) New(be tensor.Backend, l *Linear, cfg *Config, rng *rand.Rand) (Adapter, error) {
	r := cfg.R
	return &hiraAdapter{
		A: newTrainable(be, "hira_A", kaimingUniform(rng, r, l.In), r, l.In),
		B: newTrainable(be, "hira_B", make([]float32, l.Out*r), l.Out, r),
		r: r,
		p: cfg.Dropout,
	}, nil
}

func (h *hiraAdapter) Params() []*tensor.Param { return []*tensor.Param{h.A, h.B} }
func (h *hiraAdapter) Merged() bool            { return h.merged }

// delta writes W0⊙(B·A) into slot dst, using slot tmp.
func (h *hiraAdapter) delta(c *Ctx, l *Linear, dst, tmp int) tensor.Buf {
	n := l.Out * l.In
	d := c.WS.Get(tmp, n)
	c.Be.MatMul(d, h.B.W, h.A.W, l.Out, l.In, h.r, false, false, 1, 0)
	wd := c.WS.Get(dst, n)
	c.Be.Mul(wd, l.W.W, d, n)
	return wd
}

// effective writes W' = W0 + W0⊙(B·A) into slot wsC (uses wsD).
func (h *hiraAdapter) effective(c *Ctx, l *Linear) tensor.Buf {
	wd := h.delta(c, l, wsD, wsC)
	wp := c.WS.Get(wsC, l.Out*l.In)
	c.Be.Add(wp, l.W.W, wd, l.Out*l.In)
	return wp
}

func (h *hiraAdapter) dropped(c *Ctx) bool { return c.Train && h.p > 0 }

func (h *hiraAdapter) Forward(c *Ctx, l *Linear, y, x tensor.Buf, N int) {
	be := c.Be
	if !h.dropped(c) {
		wp := h.effective(c, l)
		be.MatMul(y, x, wp, N, l.Out, l.In, false, true, 1, 0)
	} else {
		be.MatMul(y, x, l.W.W, N, l.Out, l.In, false, true, 1, 0)
		xd := c.WS.Get(wsA, N*l.In)
		be.Dropout(xd, x, N*l.In, h.p, c.Seed)
		wd := h.delta(c, l, wsD, wsC)
		be.MatMul(y, xd, wd, N, l.Out, l.In, false, true, 1, 1)
	}
	if l.Bias != nil {
		be.AddBias(y, l.Bias.W, N, l.Out)
	}
}

// Backward: ∂Δ = (Gᵀ·X̃)⊙W0 with X̃ the (dropped) branch input,
// ∂B += ∂Δ·Aᵀ, ∂A += Bᵀ·∂Δ, ∂X = G·W' (or G·W0 + drop'(G·(W0⊙BA))).
func (h *hiraAdapter) Backward(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int) {
	be := c.Be
	n := l.Out * l.In
	xin := x
	if h.dropped(c) {
		xin = c.WS.Get(wsA, N*l.In)
		be.Dropout(xin, x, N*l.In, h.p, c.Seed)
	}
	gw := c.WS.Get(wsC, n)
	be.MatMul(gw, dy, xin, l.Out, l.In, N, true, false, 1, 0)
	gd := c.WS.Get(wsD, n)
	be.Mul(gd, gw, l.W.W, n)
	be.MatMul(h.B.G, gd, h.A.W, l.Out, h.r, l.In, false, true, 1, 1)
	be.MatMul(h.A.G, h.B.W, gd, h.r, l.In, l.Out, true, false, 1, 1)
	if dx == nil {
		return
	}
	if !h.dropped(c) {
		wp := h.effective(c, l)
		be.MatMul(dx, dy, wp, N, l.In, l.Out, false, false, 1, 0)
		return
	}
	l.packW(be)
	be.MatMul(dx, dy, l.W.W, N, l.In, l.Out, false, false, 1, 0)
	wd := h.delta(c, l, wsD, wsC)
	dxd := c.WS.Get(wsA, N*l.In)
	be.MatMul(dxd, dy, wd, N, l.In, l.Out, false, false, 1, 0)
	dxx := c.WS.Get(wsC, N*l.In)
	be.DropoutBackward(dxx, dxd, N*l.In, h.p, c.Seed)
	be.AddInPlace(dx, dxx, N*l.In)
}

// Merge sets W ← W0 ⊙ (1 + B·A).
func (h *hiraAdapter) Merge(be tensor.Backend, l *Linear) error {
	if h.merged {
		return fmt.Errorf("%s: already merged", l.Name)
	}
	n := l.Out * l.In
	d := be.NewBuf(n)
	be.MatMul(d, h.B.W, h.A.W, l.Out, l.In, h.r, false, false, 1, 0)
	wd := be.NewBuf(n)
	be.Mul(wd, l.W.W, d, n)
	l.unpackW(be)
	be.AddInPlace(l.W.W, wd, n)
	be.Free(d)
	be.Free(wd)
	h.merged = true
	return nil
}

// Unmerge divides by (1 + B·A) on the host; it fails where 1 + (B·A)_ij ≈ 0.
func (h *hiraAdapter) Unmerge(be tensor.Backend, l *Linear) error {
	if !h.merged {
		return fmt.Errorf("%s: not merged", l.Name)
	}
	n := l.Out * l.In
	d := be.NewBuf(n)
	be.MatMul(d, h.B.W, h.A.W, l.Out, l.In, h.r, false, false, 1, 0)
	dv := make([]float32, n)
	be.Read(d, 0, dv)
	be.Free(d)
	w := make([]float32, n)
	be.Read(l.W.W, 0, w)
	for i := range w {
		s := 1 + dv[i]
		if math.Abs(float64(s)) < 1e-6 {
			return fmt.Errorf("%s: cannot un-merge, 1 + (B·A)[%d] = %g (≈ 0)", l.Name, i, s)
		}
		w[i] /= s
	}
	l.unpackW(be)
	be.Write(l.W.W, 0, w)
	h.merged = false
	return nil
}
