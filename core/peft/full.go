package peft

import (
	"math/rand/v2"

	"github.com/hutml/hut/core/tensor"
)

// Full fine-tuning: every weight and bias of every linear is trainable
// (the model makes its embeddings and norms trainable too). It needs the
// weight-gradient GEMM ∂W = Gᵀ·X and AdamW state for all of W: the
// reference ceiling for quality and cost.
type fullMethod struct{}

func init() { register(fullMethod{}) }

func (fullMethod) Name() string     { return "full" }
func (fullMethod) PEFTType() string { return "FULL" }
func (fullMethod) Defaults(*Config) {}

type fullAdapter struct{ params []*tensor.Param }

func (fullMethod) New(be tensor.Backend, l *Linear, cfg *Config, rng *rand.Rand) (Adapter, error) {
	l.unpackW(be)
	l.W.MakeTrainable(be)
	f := &fullAdapter{params: []*tensor.Param{l.W}}
	if l.Bias != nil {
		l.Bias.MakeTrainable(be)
		l.Bias.NoDecay = true
		f.params = append(f.params, l.Bias)
	}
	return f, nil
}

func (f *fullAdapter) Params() []*tensor.Param { return f.params }
func (f *fullAdapter) Merged() bool            { return false }

func (f *fullAdapter) Forward(c *Ctx, l *Linear, y, x tensor.Buf, N int) {
	BaseForward(c.Be, l, y, x, N)
}

// Backward: ∂X = G·W, ∂W += Gᵀ·X, ∂c += Σ_n G.
func (f *fullAdapter) Backward(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int) {
	be := c.Be
	if dx != nil {
		be.MatMul(dx, dy, l.W.W, N, l.In, l.Out, false, false, 1, 0)
	}
	be.MatMul(l.W.G, dy, x, l.Out, l.In, N, true, false, 1, 1)
	if l.Bias != nil {
		be.ColSum(l.Bias.G, dy, N, l.Out)
	}
}

// The trained weights are the model's own: merging is a no-op.
func (f *fullAdapter) Merge(tensor.Backend, *Linear) error   { return nil }
func (f *fullAdapter) Unmerge(tensor.Backend, *Linear) error { return nil }
