package gpt2

import (
	"fmt"

	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
)

// Batch is one micro-batch of B sequences of T tokens. Targets[n] is the
// token that position n must predict and Weights[n] its weight in the loss
// (0 for prompt tokens and padding; the host normalises the weights so that
// their sum over an optimizer step is 1, which makes stats[StatLoss] the mean
// loss).
type Batch struct {
	B, T    int
	Tokens  []int32
	Targets []int32
	Weights []float32
}

// Indices into the stats buffer that a step reads back once.
const (
	StatLoss   = 0 // Σ weight·loss
	StatNormSq = 1 // ‖g‖² over trainable parameters
	StatClip   = 2 // gradient clip factor
	NumStats   = 4
)

// layerActs holds what a block's backward pass needs.
type layerActs struct {
	ln1, ln1m, ln1r tensor.Buf
	qkv, att, atty  tensor.Buf
	res2            tensor.Buf
	ln2, ln2m, ln2r tensor.Buf
	fch, fchg       tensor.Buf
}

// activations are allocated once per (B, T) shape, llm.c style.
type activations struct {
	B, T              int
	tok, pos, tgt     tensor.IBuf
	w                 tensor.Buf
	res               []tensor.Buf // res[0] = embeddings, res[l+1] = block l output
	layers            []layerActs
	lnf, lnfm, lnfr   tensor.Buf
	logits            tensor.Buf // [N, V], allocated when first needed
	dlnDone           bool       // Forward left ∂L/∂lnf in dln (fused LM head)
	tmpA, tmpB        tensor.Buf // [N, C] scratch: projections before dropout
	dres, dres2, dtmp tensor.Buf // [N, C]
	dln               tensor.Buf // [N, C]
	dqkv              tensor.Buf // [N, 3C]
	qkvWS             tensor.Buf // [N, 3C] scratch: a layer's qkv rebuilt by its c_attn (RecomputesOutput)
	dfch, dfchg       tensor.Buf // [N, inner]
	attScratch        tensor.Buf
}

func (m *Model) ensureActs(B, T int) *activations {
	if a := m.acts; a != nil && a.B == B && a.T == T {
		return a
	}
	m.freeActs()
	be, cfg := m.Be, m.Cfg
	N, C, NH, I := B*T, cfg.NEmbd, cfg.NHead, cfg.Inner()
	a := &activations{B: B, T: T}
	a.tok, a.pos, a.tgt = be.NewIBuf(N), be.NewIBuf(N), be.NewIBuf(N)
	a.w = be.NewBuf(N)
	for l := 0; l <= cfg.NLayer; l++ {
		a.res = append(a.res, be.NewBuf(N*C))
	}
	for l := 0; l < cfg.NLayer; l++ {
		a.layers = append(a.layers, layerActs{
			ln1: be.NewBuf(N * C), ln1m: be.NewBuf(N), ln1r: be.NewBuf(N),
			att: be.NewBuf(B * NH * T * T), atty: be.NewBuf(N * C), // qkv: allocated when first kept
			res2: be.NewBuf(N * C),
			ln2:  be.NewBuf(N * C), ln2m: be.NewBuf(N), ln2r: be.NewBuf(N),
			fch: be.NewBuf(N * I), fchg: be.NewBuf(N * I),
		})
	}
	a.lnf, a.lnfm, a.lnfr = be.NewBuf(N*C), be.NewBuf(N), be.NewBuf(N)
	a.tmpA, a.tmpB = be.NewBuf(N*C), be.NewBuf(N*C)
	a.dres, a.dres2, a.dtmp, a.dln = be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C)
	a.dqkv, a.qkvWS = be.NewBuf(N*3*C), be.NewBuf(N*3*C)
	a.dfch, a.dfchg = be.NewBuf(N*I), be.NewBuf(N*I)
	a.attScratch = be.NewBuf(B * NH * T * T)
	m.acts = a
	return a
}

// FreeActivations releases the activation memory.
func (m *Model) freeActs() {
	a := m.acts
	if a == nil {
		return
	}
	be := m.Be
	be.FreeI(a.tok)
	be.FreeI(a.pos)
	be.FreeI(a.tgt)
	if a.logits != nil {
		be.Free(a.logits)
	}
	bufs := []tensor.Buf{a.w, a.lnf, a.lnfm, a.lnfr, a.tmpA, a.tmpB, a.dres, a.dres2, a.dtmp, a.dln, a.dqkv, a.qkvWS, a.dfch, a.dfchg, a.attScratch}
	bufs = append(bufs, a.res...)
	for _, l := range a.layers {
		bufs = append(bufs, l.ln1, l.ln1m, l.ln1r, l.qkv, l.att, l.atty, l.res2, l.ln2, l.ln2m, l.ln2r, l.fch, l.fchg)
	}
	for _, b := range bufs {
		if b != nil {
			be.Free(b)
		}
	}
	m.acts = nil
}

// NewStats allocates a zeroed stats buffer.
func (m *Model) NewStats() tensor.Buf { return m.Be.NewBuf(NumStats) }

// Validate checks a batch against the model's limits.
func (m *Model) Validate(b *Batch) error {
	N := b.B * b.T
	if b.B <= 0 || b.T <= 0 {
		return fmt.Errorf("gpt2: batch shape B=%d T=%d", b.B, b.T)
	}
	if b.T > m.Cfg.NPositions {
		return fmt.Errorf("gpt2: sequence length %d exceeds n_positions = %d", b.T, m.Cfg.NPositions)
	}
	if len(b.Tokens) != N || len(b.Targets) != N || len(b.Weights) != N {
		return fmt.Errorf("gpt2: batch arrays must have B·T = %d entries (tokens %d, targets %d, weights %d)", N, len(b.Tokens), len(b.Targets), len(b.Weights))
	}
	for i := 0; i < N; i++ {
		if b.Tokens[i] < 0 || int(b.Tokens[i]) >= m.Cfg.VocabSize {
			return fmt.Errorf("gpt2: token id %d at position %d is outside the vocabulary [0, %d)", b.Tokens[i], i, m.Cfg.VocabSize)
		}
		if b.Weights[i] != 0 && (b.Targets[i] < 0 || int(b.Targets[i]) >= m.Cfg.VocabSize) {
			return fmt.Errorf("gpt2: target id %d at position %d is outside the vocabulary [0, %d)", b.Targets[i], i, m.Cfg.VocabSize)
		}
	}
	return nil
}

// Seeds derives the dropout seeds of one forward/backward call.
type Seeds = tensor.Seeds

const (
	siteEmbd = iota
	siteAttn
	siteAttnResid
	siteMLPResid
	siteAdAttn
	siteAdAttnProj
	siteAdFC
	siteAdProj
)

// Forward runs the model on a batch and adds Σ weight·loss into
// stats[StatLoss] (stats has NumStats entries). With train set, dropout is
// on and everything the backward pass needs is kept; with grad set the
// logits buffer is overwritten by ∂L/∂logits for Backward — or, on a backend
// with tensor.LinearCrossEntropy and wte frozen, the LM head and the loss
// run fused: the logits are not stored and Backward starts from ∂L/∂lnf.
func (m *Model) Forward(b *Batch, stats tensor.Buf, train, grad bool, seeds Seeds, smoothing float32) {
	be, cfg := m.Be, m.Cfg
	a := m.ensureActs(b.B, b.T)
	B, T, C, V := b.B, b.T, cfg.NEmbd, cfg.VocabSize
	N := B * T
	pos := make([]int32, N)
	for i := range pos {
		pos[i] = int32(i % T)
	}
	be.WriteI(a.tok, 0, b.Tokens)
	be.WriteI(a.pos, 0, pos)
	be.WriteI(a.tgt, 0, b.Targets)
	be.Write(a.w, 0, b.Weights)

	drop := func(p float32) float32 {
		if train {
			return p
		}
		return 0
	}
	if p := drop(cfg.EmbdPdrop); p > 0 {
		be.Embed(a.tmpA, a.tok, a.pos, nil, m.WTE.W, m.WPE.W, nil, N, C)
		be.Dropout(a.res[0], a.tmpA, N*C, p, seeds.Site(0, siteEmbd))
	} else {
		be.Embed(a.res[0], a.tok, a.pos, nil, m.WTE.W, m.WPE.W, nil, N, C)
	}
	ctx := &peft.Ctx{Be: be, WS: m.ws, Train: train}
	gelu := m.geluKind()
	for l, ly := range m.Layers {
		la := &a.layers[l]
		res := a.res[l]
		be.LayerNorm(la.ln1, la.ln1m, la.ln1r, res, ly.LN1W.W, ly.LN1B.W, N, C, cfg.LayerNormEps)
		ctx.Seed = seeds.Site(l, siteAdAttn)
		// A layer that can rebuild qkv from what it keeps for its own
		// backward pass (HUT keeps Z; qkv = Z⊙a + bias) writes it to
		// scratch, and Backward rebuilds it there: the layer then keeps as
		// much as the frozen layer does, and qkv makes no round trip to
		// memory.
		qkv := a.qkvWS
		if !train || !ly.Attn.RecomputesOutput() {
			if la.qkv == nil {
				la.qkv = be.NewBuf(N * 3 * C)
			}
			qkv = la.qkv
		}
		ly.Attn.Forward(ctx, qkv, la.ln1, N)
		be.Attention(la.atty, la.att, qkv, tensor.AttnSpec{B: B, T: T, C: C, NH: cfg.NHead, Causal: true,
			PDrop: drop(cfg.AttnPdrop), Seed: seeds.Site(l, siteAttn)})
		ctx.Seed = seeds.Site(l, siteAdAttnProj)
		ly.AttnProj.Forward(ctx, a.tmpA, la.atty, N)
		if p := drop(cfg.ResidPdrop); p > 0 {
			be.Dropout(a.tmpB, a.tmpA, N*C, p, seeds.Site(l, siteAttnResid))
			be.Add(la.res2, res, a.tmpB, N*C)
		} else {
			be.Add(la.res2, res, a.tmpA, N*C)
		}
		be.LayerNorm(la.ln2, la.ln2m, la.ln2r, la.res2, ly.LN2W.W, ly.LN2B.W, N, C, cfg.LayerNormEps)
		ctx.Seed = seeds.Site(l, siteAdFC)
		ly.FC.ForwardGELU(ctx, la.fchg, la.fch, la.ln2, N, gelu)
		ctx.Seed = seeds.Site(l, siteAdProj)
		ly.Proj.Forward(ctx, a.tmpA, la.fchg, N)
		if p := drop(cfg.ResidPdrop); p > 0 {
			be.Dropout(a.tmpB, a.tmpA, N*C, p, seeds.Site(l, siteMLPResid))
			be.Add(a.res[l+1], la.res2, a.tmpB, N*C)
		} else {
			be.Add(a.res[l+1], la.res2, a.tmpA, N*C)
		}
	}
	be.LayerNorm(a.lnf, a.lnfm, a.lnfr, a.res[cfg.NLayer], m.LNFW.W, m.LNFB.W, N, C, cfg.LayerNormEps)
	a.dlnDone = false
	if lce, ok := be.(tensor.LinearCrossEntropy); ok && grad && !m.WTE.Trainable() {
		// The tied LM head fused with the loss: the logits are never
		// stored, wte is read once, and ∂L/∂lnf is ready for Backward.
		lce.LinearCrossEntropy(stats, StatLoss, a.dln, a.lnf, m.WTE.W, a.tgt, a.w, N, V, C, smoothing)
		a.dlnDone = true
		return
	}
	if a.logits == nil {
		a.logits = be.NewBuf(N * V)
	}
	be.MatMul(a.logits, a.lnf, m.WTE.W, N, V, C, false, true, 1, 0)
	var dlogits tensor.Buf
	if grad {
		dlogits = a.logits
	}
	be.CrossEntropy(stats, StatLoss, dlogits, a.logits, a.tgt, a.w, N, V, smoothing)
}

func (m *Model) geluKind() tensor.GELUKind {
	if m.Cfg.Activation == "gelu" {
		return tensor.GELUErf
	}
	return tensor.GELUTanh
}

// Backward runs the backward pass of the last Forward (called with
// train and grad set, and the same seeds), accumulating gradients into
// the trainable parameters.
func (m *Model) Backward(b *Batch, seeds Seeds) {
	be, cfg, a := m.Be, m.Cfg, m.acts
	B, T, C, V := b.B, b.T, cfg.NEmbd, cfg.VocabSize
	N := B * T
	// LM head (tied): dlnf = dlogits·WTE, dWTE += dlogitsᵀ·lnf, unless the
	// fused head of Forward has left dlnf in a.dln (wte is then frozen).
	if !a.dlnDone {
		be.MatMul(a.dln, a.logits, m.WTE.W, N, C, V, false, false, 1, 0)
		if m.WTE.Trainable() {
			be.MatMul(m.WTE.G, a.logits, a.lnf, V, C, N, true, false, 1, 1)
		}
	}
	be.LayerNormBackward(a.dres, gradOf(m.LNFW), gradOf(m.LNFB), a.dln, a.res[cfg.NLayer], m.LNFW.W, a.lnfm, a.lnfr, N, C)
	ctx := &peft.Ctx{Be: be, WS: m.ws, Train: true}
	gelu := m.geluKind()
	for l := cfg.NLayer - 1; l >= 0; l-- {
		ly, la := m.Layers[l], &a.layers[l]
		// a.dres holds ∂L/∂res[l+1]. MLP branch.
		dproj := a.dres
		if cfg.ResidPdrop > 0 {
			be.DropoutBackward(a.dtmp, a.dres, N*C, cfg.ResidPdrop, seeds.Site(l, siteMLPResid))
			dproj = a.dtmp
		}
		peft.BackwardMLP(ctx, ly.FC, ly.Proj, a.dln, a.dfch, a.dfchg, dproj, la.fch, la.fchg, la.ln2, N, gelu,
			seeds.Site(l, siteAdFC), seeds.Site(l, siteAdProj))
		// ∂res2 = ∂res[l+1] + LN2 backward.
		be.LayerNormBackward(a.dres2, gradOf(ly.LN2W), gradOf(ly.LN2B), a.dln, la.res2, ly.LN2W.W, la.ln2m, la.ln2r, N, C)
		be.AddInPlace(a.dres2, a.dres, N*C)
		// Attention branch.
		dap := a.dres2
		if cfg.ResidPdrop > 0 {
			be.DropoutBackward(a.dtmp, a.dres2, N*C, cfg.ResidPdrop, seeds.Site(l, siteAttnResid))
			dap = a.dtmp
		}
		ctx.Seed = seeds.Site(l, siteAdAttnProj)
		ly.AttnProj.Backward(ctx, a.dln, dap, la.atty, N)
		qkv := la.qkv
		if ly.Attn.RecomputesOutput() {
			ly.Attn.RecomputeOutput(ctx, a.qkvWS, N)
			qkv = a.qkvWS
		}
		be.AttentionBackward(a.dqkv, a.attScratch, a.dln, qkv, la.att, tensor.AttnSpec{B: B, T: T, C: C, NH: cfg.NHead, Causal: true,
			PDrop: cfg.AttnPdrop, Seed: seeds.Site(l, siteAttn)})
		ctx.Seed = seeds.Site(l, siteAdAttn)
		ly.Attn.Backward(ctx, a.dln, a.dqkv, la.ln1, N)
		be.LayerNormBackward(a.dres, gradOf(ly.LN1W), gradOf(ly.LN1B), a.dln, a.res[l], ly.LN1W.W, la.ln1m, la.ln1r, N, C)
		be.AddInPlace(a.dres, a.dres2, N*C)
	}
	// a.dres = ∂L/∂res[0].
	if m.WTE.Trainable() || m.WPE.Trainable() {
		d := a.dres
		if cfg.EmbdPdrop > 0 {
			be.DropoutBackward(a.dtmp, a.dres, N*C, cfg.EmbdPdrop, seeds.Site(0, siteEmbd))
			d = a.dtmp
		}
		be.EmbedBackward(gradOf(m.WTE), gradOf(m.WPE), nil, d, a.tok, a.pos, nil, N, C)
	}
}

func gradOf(p *tensor.Param) tensor.Buf {
	if p.Trainable() {
		return p.G
	}
	return nil
}

// Logits runs the model in inference mode on one sequence and returns the
// logits of every position ([T, V], row-major) and the mean next-token
// cross-entropy over the sequence (NaN for a single token).
func (m *Model) Logits(tokens []int32) ([]float32, float64, error) {
	T := len(tokens)
	if T == 0 {
		return nil, 0, fmt.Errorf("gpt2: no tokens")
	}
	b := &Batch{B: 1, T: T, Tokens: tokens, Targets: make([]int32, T), Weights: make([]float32, T)}
	for i := 0; i+1 < T; i++ {
		b.Targets[i] = tokens[i+1]
		b.Weights[i] = 1 / float32(T-1)
	}
	if err := m.Validate(b); err != nil {
		return nil, 0, err
	}
	stats := m.NewStats()
	defer m.Be.Free(stats)
	m.Forward(b, stats, false, false, 0, 0)
	logits := make([]float32, T*m.Cfg.VocabSize)
	m.Be.Read(m.acts.logits, 0, logits)
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	loss := float64(st[0])
	if T == 1 {
		loss = nan()
	}
	return logits, loss, nil
}
