package peft

import (
	"fmt"
	"math/rand/v2"

	"github.com/hutml/hut/core/tensor"
)

// LoRA (Hu et al. 2021): W' = W0 + (α/r)·B·A with A = lora_A [r, in]
// (Kaiming-uniform) and B = lora_B [out, r] (zero), dropout on the input of
// the low-rank branch, as Hugging Face PEFT does.
type loraMethod struct{}

func init() { register(loraMethod{}) }

func (loraMethod) Name() string     { return "lora" }
func (loraMethod) PEFTType() string { return "LORA" }

func (loraMethod) Defaults(cfg *Config) {
	if cfg.R == 0 {
		cfg.R = 8
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = float32(2 * cfg.R)
	}
	if len(cfg.Targets) == 0 {
		cfg.Targets = []string{"c_attn"}
	}
}

type loraAdapter struct {
	A, B   *tensor.Param
	r      int
	scale  float32
	p      float32
	u      tensor.Buf // saved dropout(x)·Aᵀ [N, r]
	merged bool
}

func (loraMethod) New(be tensor.Backend, l *Linear, cfg *Config, rng *rand.Rand) (Adapter, error) {
	r := cfg.R
	return &loraAdapter{
		A:     newTrainable(be, "lora_A.weight", kaimingUniform(rng, r, l.In), r, l.In),
		B:     newTrainable(be, "lora_B.weight", make([]float32, l.Out*r), l.Out, r),
		r:     r,
		scale: cfg.Alpha / float32(r),
		p:     cfg.Dropout,
	}, nil
}

func (a *loraAdapter) Params() []*tensor.Param { return []*tensor.Param{a.A, a.B} }
func (a *loraAdapter) Merged() bool            { return a.merged }

// input returns dropout(x) in training mode (into slot), else x.
func (a *loraAdapter) input(c *Ctx, x tensor.Buf, N, in, slot int) tensor.Buf {
	if !c.Train || a.p == 0 {
		return x
	}
	xd := c.WS.Get(slot, N*in)
	c.Be.Dropout(xd, x, N*in, a.p, c.Seed)
	return xd
}

// Forward: Y = X·W0ᵀ + c + s·(drop(X)·Aᵀ)·Bᵀ.
func (a *loraAdapter) Forward(c *Ctx, l *Linear, y, x tensor.Buf, N int) {
	be := c.Be
	BaseForward(be, l, y, x, N)
	xd := a.input(c, x, N, l.In, wsA)
	var u tensor.Buf
	if c.Train {
		a.u = grow(be, a.u, N*a.r)
		u = a.u
	} else {
		u = c.WS.Get(wsB, N*a.r)
	}
	be.MatMul(u, xd, a.A.W, N, a.r, l.In, false, true, 1, 0)
	be.MatMul(y, u, a.B.W, N, l.Out, a.r, false, true, a.scale, 1)
}

// Backward: ∂B += s·Gᵀ·U, ∂U = s·G·B, ∂A += ∂Uᵀ·drop(X),
// ∂X = G·W0 + drop'(∂U·A).
func (a *loraAdapter) Backward(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int) {
	be := c.Be
	be.MatMul(a.B.G, dy, a.u, l.Out, a.r, N, true, false, a.scale, 1)
	du := c.WS.Get(wsA, N*a.r)
	be.MatMul(du, dy, a.B.W, N, a.r, l.Out, false, false, a.scale, 0)
	xd := a.input(c, x, N, l.In, wsB)
	be.MatMul(a.A.G, du, xd, a.r, l.In, N, true, false, 1, 1)
	if dx == nil {
		return
	}
	l.packW(be)
	be.MatMul(dx, dy, l.W.W, N, l.In, l.Out, false, false, 1, 0)
	if !c.Train || a.p == 0 {
		be.MatMul(dx, du, a.A.W, N, l.In, a.r, false, false, 1, 1)
		return
	}
	dxd := c.WS.Get(wsC, N*l.In)
	be.MatMul(dxd, du, a.A.W, N, l.In, a.r, false, false, 1, 0)
	dxx := c.WS.Get(wsD, N*l.In)
	be.DropoutBackward(dxx, dxd, N*l.In, a.p, c.Seed)
	be.AddInPlace(dx, dxx, N*l.In)
}

// Merge adds s·B·A to W.
func (a *loraAdapter) Merge(be tensor.Backend, l *Linear) error {
	if a.merged {
		return fmt.Errorf("%s: already merged", l.Name)
	}
	l.unpackW(be)
	be.MatMul(l.W.W, a.B.W, a.A.W, l.Out, l.In, a.r, false, false, a.scale, 1)
	a.merged = true
	return nil
}

// Unmerge subtracts s·B·A from W.
func (a *loraAdapter) Unmerge(be tensor.Backend, l *Linear) error {
	if !a.merged {
		return fmt.Errorf("%s: not merged", l.Name)
	}
	l.unpackW(be)
	be.MatMul(l.W.W, a.B.W, a.A.W, l.Out, l.In, a.r, false, false, -a.scale, 1)
	a.merged = false
	return nil
}
