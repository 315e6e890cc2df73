package peft

import "github.com/hutml/hut/core/tensor"

// scaledOutput is implemented by adapters whose output is Y = Z⊙a + c with
// Z computed without a (HUT): the GELU that consumes Y can then form it on
// the fly from the stored Z, and accumulate ∂a = Σ_n G⊙Z in the same pass.
type scaledOutput interface {
	// forwardZ writes Z for input x into z and returns a.
	forwardZ(c *Ctx, l *Linear, z, x tensor.Buf, N int) tensor.Buf
	scale() tensor.Buf
	// gradA returns ∂a's buffer, zeroed, to accumulate Σ_n G⊙Z into.
	gradA(be tensor.Backend, l *Linear) tensor.Buf
	// backwardZ is the rest of the backward pass once ∂a is in place.
	backwardZ(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int)
}

// fusedGELU says whether ForwardGELU and BackwardGELU leave the layer's
// output to the GELU on this backend: sg is the backend's ScaledGELU and
// so the adapter's scaledOutput (nil for a frozen or merged layer).
func (l *Linear) fusedGELU(be tensor.Backend) (sg tensor.ScaledGELU, so scaledOutput, ok bool) {
	sg, ok = be.(tensor.ScaledGELU)
	if !ok {
		return nil, nil, false
	}
	if l.Ad == nil || l.Ad.Merged() {
		return sg, nil, true
	}
	so, ok = l.Ad.(scaledOutput)
	return sg, so, ok
}

func (l *Linear) bias() tensor.Buf {
	if l.Bias == nil {
		return nil
	}
	return l.Bias.W
}

// ForwardGELU runs the layer and the GELU after it: h = gelu(Y) for the
// layer's output Y. pre is the layer's stored output for BackwardGELU. On a
// backend with tensor.ScaledGELU, a frozen (or merged) layer stores
// Z = X·Wᵀ and a HUT layer Z = (X⊙b)·W0ᵀ in pre, and the GELU adds the bias
// and applies a itself: the pass that would write Y (and, for HUT, the
// separate copy of Z) is saved. Elsewhere, and for the other methods, pre
// holds Y. Either way the results are the same bits.
func (l *Linear) ForwardGELU(c *Ctx, h, pre, x tensor.Buf, N int, kind tensor.GELUKind) {
	sg, so, ok := l.fusedGELU(c.Be)
	switch {
	case !ok:
		l.Forward(c, pre, x, N)
		c.Be.GELU(h, pre, N*l.Out, kind)
	case so == nil:
		c.Be.MatMul(pre, x, l.W.W, N, l.Out, l.In, false, true, 1, 0)
		sg.GELUScaled(h, pre, nil, l.bias(), N, l.Out, kind)
	default:
		a := so.forwardZ(c, l, pre, x, N)
		sg.GELUScaled(h, pre, a, l.bias(), N, l.Out, kind)
	}
}

// BackwardGELU is ForwardGELU's backward pass: from dh = ∂L/∂h it writes
// the gradient of the layer's output into dpre and the input gradient into
// dx, and accumulates the adapter's parameter gradients. pre is what
// ForwardGELU stored.
func (l *Linear) BackwardGELU(c *Ctx, dx, dpre, dh, pre, x tensor.Buf, N int, kind tensor.GELUKind) {
	sg, so, ok := l.fusedGELU(c.Be)
	switch {
	case !ok:
		c.Be.GELUBackward(dpre, dh, pre, N*l.Out, kind)
		l.Backward(c, dx, dpre, x, N)
	case so == nil:
		sg.GELUScaledBackward(dpre, nil, dh, pre, nil, l.bias(), N, l.Out, kind)
		l.Backward(c, dx, dpre, x, N)
	default:
		sg.GELUScaledBackward(dpre, so.gradA(c.Be, l), dh, pre, so.scale(), l.bias(), N, l.Out, kind)
		so.backwardZ(c, l, dx, dpre, x, N)
	}
}
