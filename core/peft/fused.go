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

// outputRecomputer is an adapter that can write its layer's output again
// from what it keeps for its own backward pass.
type outputRecomputer interface {
	recomputeOutput(c *Ctx, l *Linear, y tensor.Buf, N int)
}

// RecomputesOutput reports whether, after a training Forward, the layer
// can write its output again, bit for bit (RecomputeOutput), from what it
// keeps for its backward pass anyway: an unmerged HUT layer keeps Z, and
// y = Z⊙a + bias. A caller that needs y in the backward pass can then take
// it in scratch and rebuild it there instead of keeping it.
func (l *Linear) RecomputesOutput() bool {
	if l.Ad == nil || l.Ad.Merged() {
		return false
	}
	_, ok := l.Ad.(outputRecomputer)
	return ok
}

// RecomputeOutput writes into y the output of the layer's last training
// Forward; only when RecomputesOutput.
func (l *Linear) RecomputeOutput(c *Ctx, y tensor.Buf, N int) {
	l.Ad.(outputRecomputer).recomputeOutput(c, l, y, N)
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

// BackwardMLP is the backward pass of an MLP block — fc, its GELU, then
// proj — that is, proj.Backward followed by fc.BackwardGELU, from dy, the
// gradient of proj's output. h is the GELU's output (proj's input) and pre
// what fc.ForwardGELU stored; dh and dpre are scratch for the gradients of h
// and of fc's output, and dx receives the gradient of fc's input x. fcSeed
// and projSeed are the layers' Ctx.Seed. When proj is an unmerged HUT layer
// and the backend has tensor.ScaledGELU, proj's ∂b and the gradient of h
// come out of the GELU's backward pass (GELUScaledBackwardIn), which
// recomputes h instead of reading it back, and dh holds proj's
// input-gradient product H rather than ∂h. Either way the results are the
// bits of the separate calls.
func BackwardMLP(c *Ctx, fc, proj *Linear, dx, dpre, dh, dy, pre, h, x tensor.Buf, N int, kind tensor.GELUKind, fcSeed, projSeed uint32) {
	sg, so, ok := fc.fusedGELU(c.Be)
	ph, isHUT := proj.Ad.(*hutAdapter)
	if !ok || !isHUT || ph.merged {
		c.Seed = projSeed
		proj.Backward(c, dh, dy, h, N)
		c.Seed = fcSeed
		fc.BackwardGELU(c, dx, dpre, dh, pre, x, N, kind)
		return
	}
	be := c.Be
	c.Seed = projSeed
	be.ColSumMul(ph.gradA(be, proj), dy, ph.z, N, proj.Out) // proj's ∂a
	proj.packW(be)
	be.MatMulScaled(dh, dy, proj.W.W, ph.a, N, proj.In, proj.Out, false, false, 1, 0) // H = (G⊙aᵀ)·W0
	be.Zero(ph.gb, 0, proj.In)
	var ds, s tensor.Buf
	if so != nil {
		ds, s = so.gradA(be, fc), so.scale()
	}
	sg.GELUScaledBackwardIn(dpre, ds, ph.gb, dh, ph.b, pre, s, fc.bias(), N, fc.Out, kind)
	ph.broadcastGrads(be, proj)
	c.Seed = fcSeed
	if so != nil {
		so.backwardZ(c, fc, dx, dpre, x, N)
	} else {
		fc.Backward(c, dx, dpre, x, N)
	}
}
