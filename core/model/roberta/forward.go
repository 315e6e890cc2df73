package roberta

import (
	"fmt"

	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
)

// Batch is one micro-batch of B right-padded sequences of T tokens.
//
// Sequence classification uses one label (or, for regression, one score)
// and one weight per row; the masked LM uses one target and one weight per
// position, and only positions with a non-zero weight are scored. The host
// normalises the weights so that their sum over an optimizer step is 1,
// which makes stats[StatLoss] the mean loss (Hugging Face's
// CrossEntropyLoss / MSELoss with reduction "mean").
type Batch struct {
	B, T   int
	Tokens []int32 // [B·T], padded with pad_token_id
	// Mask is the attention mask [B·T]: 1 for tokens that may be attended
	// to, 0 for padding. Nil: every token that is not pad_token_id.
	Mask []int32
	// Types are token_type_ids [B·T]; nil: zeros (RoBERTa's tokenizer
	// gives none).
	Types []int32

	Labels  []int32   // classifier: class id per row [B]
	Scores  []float32 // regression: target per row [B]
	Targets []int32   // masked LM: original token per position [B·T]
	Weights []float32 // classifier: per row [B]; masked LM: per position [B·T]

	// AllPositions makes the masked-LM head score every position (for
	// inference); otherwise only positions with a non-zero weight go
	// through the vocabulary projection.
	AllPositions bool
}

// Indices into the stats buffer that a step reads back once (shared with
// package train).
const (
	StatLoss   = 0 // Σ weight·loss
	StatNormSq = 1 // ‖g‖² over trainable parameters
	StatClip   = 2 // gradient clip factor
	NumStats   = 4
)

// layerActs holds what a block's backward pass needs.
type layerActs struct {
	qkv, att, atty tensor.Buf // [N,3C] packed q|k|v, [B,NH,T,T] probabilities, [N,C] attention output
	pre1, h1       tensor.Buf // residual sum before attention.output.LayerNorm, its output
	m1, r1         tensor.Buf // its mean and 1/σ [N]
	fc, fcg        tensor.Buf // intermediate.dense output before and after GELU [N,I]
	pre2           tensor.Buf // residual sum before output.LayerNorm
	m2, r2         tensor.Buf
}

// activations are allocated for a capacity of (capB, capT) and reused by
// every smaller batch, so length-bucketed batches do not reallocate.
type activations struct {
	capB, capT int
	B, T       int // shape of the last forward

	tok, pos, typ, mask tensor.IBuf
	packIdx, unpackIdx  tensor.IBuf // row permutations between [q;k;v] stacks and packed qkv
	packN               int         // N the permutations were written for

	embSum, embM, embR tensor.Buf
	h                  []tensor.Buf // h[0] = embeddings, h[l+1] = block l output
	layers             []layerActs

	q, k, v    tensor.Buf // [N,C] projections (forward) and their gradients (backward)
	stack      tensor.Buf // [3N,C] q, k, v stacked
	tmpA, tmpB tensor.Buf // [N,C]
	dres       tensor.Buf // ∂L/∂h[l]
	dA, dB, dC tensor.Buf // [N,C]
	dqkv       tensor.Buf // [N,3C]
	dfc, dfcg  tensor.Buf // [N,I]
	attScratch tensor.Buf

	// heads
	headIdx              tensor.IBuf // [B] row starts (classifier) or [M] positions (MLM)
	cls, clsD, dense, th tensor.Buf  // classifier [B,C]
	thD                  tensor.Buf
	logits, dlogits      tensor.Buf // classifier [B,L]
	tgt                  tensor.IBuf
	tgtF, w              tensor.Buf
	dcls, dclsD, ddense  tensor.Buf
	dth, dthD            tensor.Buf
	// masked LM over M scored positions
	M                   int
	mh, md, mg, mln     tensor.Buf // [M,C]
	mlnM, mlnR          tensor.Buf // [M]
	mlogits             tensor.Buf // [M,V] (overwritten by ∂L/∂logits)
	dmln, dmg, dmd, dmh tensor.Buf // [M,C]
	capM                int
}

func (m *Model) ensureActs(B, T int) *activations {
	if a := m.acts; a != nil && B <= a.capB && T <= a.capT {
		a.B, a.T = B, T
		return a
	}
	capB, capT := B, T
	if a := m.acts; a != nil {
		capB, capT = max(capB, a.capB), max(capT, a.capT)
	}
	m.freeActs()
	be, cfg := m.Be, m.Cfg
	N, C, NH, I := capB*capT, cfg.HiddenSize, cfg.NumAttentionHeads, cfg.IntermediateSize
	a := &activations{capB: capB, capT: capT, B: B, T: T}
	a.tok, a.pos, a.typ, a.mask = be.NewIBuf(N), be.NewIBuf(N), be.NewIBuf(N), be.NewIBuf(N)
	a.packIdx, a.unpackIdx = be.NewIBuf(3*N), be.NewIBuf(3*N)
	a.embSum, a.embM, a.embR = be.NewBuf(N*C), be.NewBuf(N), be.NewBuf(N)
	for l := 0; l <= cfg.NumHiddenLayers; l++ {
		a.h = append(a.h, be.NewBuf(N*C))
	}
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		a.layers = append(a.layers, layerActs{
			qkv: be.NewBuf(N * 3 * C), att: be.NewBuf(capB * NH * capT * capT), atty: be.NewBuf(N * C),
			pre1: be.NewBuf(N * C), h1: be.NewBuf(N * C), m1: be.NewBuf(N), r1: be.NewBuf(N),
			fc: be.NewBuf(N * I), fcg: be.NewBuf(N * I),
			pre2: be.NewBuf(N * C), m2: be.NewBuf(N), r2: be.NewBuf(N),
		})
	}
	a.q, a.k, a.v = be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C)
	a.stack = be.NewBuf(3 * N * C)
	a.tmpA, a.tmpB = be.NewBuf(N*C), be.NewBuf(N*C)
	a.dres, a.dA, a.dB, a.dC = be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C), be.NewBuf(N*C)
	a.dqkv = be.NewBuf(N * 3 * C)
	a.dfc, a.dfcg = be.NewBuf(N*I), be.NewBuf(N*I)
	a.attScratch = be.NewBuf(capB * NH * capT * capT)
	a.headIdx, a.tgt = be.NewIBuf(N), be.NewIBuf(N)
	a.tgtF, a.w = be.NewBuf(N), be.NewBuf(N)
	if m.ClsDense != nil {
		L := cfg.NumLabels
		for _, p := range []*tensor.Buf{&a.cls, &a.clsD, &a.dense, &a.th, &a.thD, &a.dcls, &a.dclsD, &a.ddense, &a.dth, &a.dthD} {
			*p = be.NewBuf(capB * C)
		}
		a.logits, a.dlogits = be.NewBuf(capB*L), be.NewBuf(capB*L)
	}
	m.acts = a
	return a
}

// ensureMLM sizes the masked-LM head buffers for M scored positions.
func (m *Model) ensureMLM(a *activations, M int) {
	if M <= a.capM {
		return
	}
	m.freeMLM(a)
	be, C := m.Be, m.Cfg.HiddenSize
	a.capM = M
	for _, p := range []*tensor.Buf{&a.mh, &a.md, &a.mg, &a.mln, &a.dmln, &a.dmg, &a.dmd, &a.dmh} {
		*p = be.NewBuf(M * C)
	}
	a.mlnM, a.mlnR = be.NewBuf(M), be.NewBuf(M)
	a.mlogits = be.NewBuf(M * m.Cfg.VocabSize)
}

func (m *Model) freeMLM(a *activations) {
	if a.capM == 0 {
		return
	}
	for _, b := range []tensor.Buf{a.mh, a.md, a.mg, a.mln, a.dmln, a.dmg, a.dmd, a.dmh, a.mlnM, a.mlnR, a.mlogits} {
		m.Be.Free(b)
	}
	a.capM = 0
}

// FreeActivations releases the activation memory (it is reallocated by
// the next forward pass).
func (m *Model) FreeActivations() { m.freeActs() }

func (m *Model) freeActs() {
	a := m.acts
	if a == nil {
		return
	}
	be := m.Be
	for _, b := range []tensor.IBuf{a.tok, a.pos, a.typ, a.mask, a.packIdx, a.unpackIdx, a.headIdx, a.tgt} {
		be.FreeI(b)
	}
	bufs := []tensor.Buf{a.embSum, a.embM, a.embR, a.q, a.k, a.v, a.stack, a.tmpA, a.tmpB, a.dres, a.dA, a.dB, a.dC,
		a.dqkv, a.dfc, a.dfcg, a.attScratch, a.tgtF, a.w}
	bufs = append(bufs, a.h...)
	for _, l := range a.layers {
		bufs = append(bufs, l.qkv, l.att, l.atty, l.pre1, l.h1, l.m1, l.r1, l.fc, l.fcg, l.pre2, l.m2, l.r2)
	}
	if m.ClsDense != nil {
		bufs = append(bufs, a.cls, a.clsD, a.dense, a.th, a.thD, a.dcls, a.dclsD, a.ddense, a.dth, a.dthD, a.logits, a.dlogits)
	}
	for _, b := range bufs {
		be.Free(b)
	}
	m.freeMLM(a)
	m.acts = nil
}

// NewStats allocates a zeroed stats buffer.
func (m *Model) NewStats() tensor.Buf { return m.Be.NewBuf(NumStats) }

// Validate checks a batch against the model's limits and head.
func (m *Model) Validate(b *Batch) error {
	cfg := m.Cfg
	if b.B <= 0 || b.T <= 0 {
		return fmt.Errorf("roberta: batch shape B=%d T=%d: both must be positive", b.B, b.T)
	}
	N := b.B * b.T
	if len(b.Tokens) != N {
		return fmt.Errorf("roberta: batch has %d tokens, want B·T = %d", len(b.Tokens), N)
	}
	if b.Mask != nil && len(b.Mask) != N {
		return fmt.Errorf("roberta: attention mask has %d entries, want B·T = %d", len(b.Mask), N)
	}
	if b.Types != nil && len(b.Types) != N {
		return fmt.Errorf("roberta: token_type_ids has %d entries, want B·T = %d", len(b.Types), N)
	}
	pad := int32(cfg.PadTokenID)
	for r := 0; r < b.B; r++ {
		real := 0
		for t := 0; t < b.T; t++ {
			i := r*b.T + t
			if b.Tokens[i] < 0 || int(b.Tokens[i]) >= cfg.VocabSize {
				return fmt.Errorf("roberta: token id %d at row %d position %d is outside the vocabulary [0, %d)", b.Tokens[i], r, t, cfg.VocabSize)
			}
			if b.Tokens[i] != pad {
				real++
			}
			if b.Mask != nil && b.Mask[i] != 0 && b.Mask[i] != 1 {
				return fmt.Errorf("roberta: attention mask value %d at row %d position %d, want 0 or 1", b.Mask[i], r, t)
			}
			if b.Types != nil && (b.Types[i] < 0 || int(b.Types[i]) >= cfg.TypeVocabSize) {
				return fmt.Errorf("roberta: token_type_id %d at row %d position %d is outside [0, %d)", b.Types[i], r, t, cfg.TypeVocabSize)
			}
		}
		if real > cfg.MaxSeqLen() {
			return fmt.Errorf("roberta: row %d has %d tokens, more than the %d positions of the model (max_position_embeddings %d, pad_token_id %d)", r, real, cfg.MaxSeqLen(), cfg.MaxPositionEmbeddings, cfg.PadTokenID)
		}
	}
	switch m.Head {
	case HeadClassifier:
		if len(b.Weights) != b.B {
			return fmt.Errorf("roberta: classifier batch has %d weights, want one per row (%d)", len(b.Weights), b.B)
		}
		if m.Cfg.Regression() {
			if len(b.Scores) != b.B {
				return fmt.Errorf("roberta: regression batch has %d scores, want one per row (%d)", len(b.Scores), b.B)
			}
		} else {
			if len(b.Labels) != b.B {
				return fmt.Errorf("roberta: classifier batch has %d labels, want one per row (%d)", len(b.Labels), b.B)
			}
			for r, l := range b.Labels {
				if b.Weights[r] != 0 && (l < 0 || int(l) >= cfg.NumLabels) {
					return fmt.Errorf("roberta: label %d of row %d is outside [0, %d)", l, r, cfg.NumLabels)
				}
			}
		}
	case HeadMLM:
		if len(b.Weights) != N || len(b.Targets) != N {
			return fmt.Errorf("roberta: masked-LM batch has %d targets and %d weights, want B·T = %d each", len(b.Targets), len(b.Weights), N)
		}
		for i, t := range b.Targets {
			if b.Weights[i] != 0 && (t < 0 || int(t) >= cfg.VocabSize) {
				return fmt.Errorf("roberta: target id %d at position %d is outside the vocabulary [0, %d)", t, i, cfg.VocabSize)
			}
		}
	}
	return nil
}

// PositionIDs computes Hugging Face's create_position_ids_from_input_ids
// for one batch: non-padding tokens count up from pad_token_id+1, padding
// tokens get pad_token_id.
func PositionIDs(tokens []int32, B, T int, pad int32) []int32 {
	pos := make([]int32, B*T)
	for r := 0; r < B; r++ {
		c := int32(0)
		for t := 0; t < T; t++ {
			i := r*T + t
			if tokens[i] != pad {
				c++
				pos[i] = pad + c
			} else {
				pos[i] = pad
			}
		}
	}
	return pos
}

// Seeds derives the dropout seeds of one forward/backward call.
type Seeds = tensor.Seeds

const (
	siteEmb = iota
	siteAttn
	siteAttnOut
	siteFFNOut
	siteAdQ
	siteAdK
	siteAdV
	siteAdAttnOut
	siteAdInter
	siteAdOut
	siteCls1
	siteCls2
)

// dropout applies dropout (train time, p > 0) from src into dst and
// returns dst, or returns src untouched.
func (m *Model) dropout(dst, src tensor.Buf, n int, p float32, seed uint32) tensor.Buf {
	if p <= 0 {
		return src
	}
	m.Be.Dropout(dst, src, n, p, seed)
	return dst
}

// dropoutBack is dropout's backward pass (returns dout itself when p = 0).
func (m *Model) dropoutBack(dst, dout tensor.Buf, n int, p float32, seed uint32) tensor.Buf {
	if p <= 0 {
		return dout
	}
	m.Be.DropoutBackward(dst, dout, n, p, seed)
	return dst
}

func (m *Model) gelu() tensor.GELUKind {
	if m.Cfg.geluErf() {
		return tensor.GELUErf
	}
	return tensor.GELUTanh
}

// drops are the dropout probabilities of one call (zero at inference).
type drops struct{ hidden, attn, cls float32 }

func (m *Model) drops(train bool) drops {
	if !train {
		return drops{}
	}
	return drops{m.Cfg.HiddenDropoutProb, m.Cfg.AttentionProbsDropoutProb, m.Cfg.ClassifierDrop()}
}

// Forward runs the model on a batch and adds Σ weight·loss into
// stats[StatLoss] (stats has NumStats entries). With train set, dropout is
// on and everything the backward pass needs is kept; with grad set the
// head's ∂L/∂logits is kept for Backward. Call Validate first.
func (m *Model) Forward(b *Batch, stats tensor.Buf, train, grad bool, seeds Seeds) {
	be, cfg := m.Be, m.Cfg
	a := m.ensureActs(b.B, b.T)
	B, T, C := b.B, b.T, cfg.HiddenSize
	N := B * T
	pad := int32(cfg.PadTokenID)
	mask := b.Mask
	if mask == nil {
		mask = make([]int32, N)
		for i, t := range b.Tokens {
			if t != pad {
				mask[i] = 1
			}
		}
	}
	types := b.Types
	if types == nil {
		types = make([]int32, N)
	}
	be.WriteI(a.tok, 0, b.Tokens)
	be.WriteI(a.pos, 0, PositionIDs(b.Tokens, B, T, pad))
	be.WriteI(a.typ, 0, types)
	be.WriteI(a.mask, 0, mask)
	if a.packN != N {
		// Packed qkv viewed as [3N, C] rows: row 3n+j is q, k or v (j = 0,
		// 1, 2) of token n, which sits at row j·N+n of the stack.
		pk, up := make([]int32, 3*N), make([]int32, 3*N)
		for n := 0; n < N; n++ {
			for j := 0; j < 3; j++ {
				pk[3*n+j] = int32(j*N + n)
				up[j*N+n] = int32(3*n + j)
			}
		}
		be.WriteI(a.packIdx, 0, pk)
		be.WriteI(a.unpackIdx, 0, up)
		a.packN = N
	}
	d := m.drops(train)

	// Embeddings: LayerNorm(word + position + token type), dropout.
	be.Embed(a.embSum, a.tok, a.pos, a.typ, m.WordEmb.W, m.PosEmb.W, m.TypeEmb.W, N, C)
	if d.hidden > 0 {
		be.LayerNorm(a.tmpA, a.embM, a.embR, a.embSum, m.EmbLNW.W, m.EmbLNB.W, N, C, cfg.LayerNormEps)
		be.Dropout(a.h[0], a.tmpA, N*C, d.hidden, seeds.Site(0, siteEmb))
	} else {
		be.LayerNorm(a.h[0], a.embM, a.embR, a.embSum, m.EmbLNW.W, m.EmbLNB.W, N, C, cfg.LayerNormEps)
	}
	ctx := &peft.Ctx{Be: be, WS: m.ws, Train: train}
	gelu := m.gelu()
	for l, ly := range m.Layers {
		la := &a.layers[l]
		x := a.h[l]
		ctx.Seed = seeds.Site(l, siteAdQ)
		ly.Query.Forward(ctx, a.q, x, N)
		ctx.Seed = seeds.Site(l, siteAdK)
		ly.Key.Forward(ctx, a.k, x, N)
		ctx.Seed = seeds.Site(l, siteAdV)
		ly.Value.Forward(ctx, a.v, x, N)
		be.Copy(a.stack, 0, a.q, 0, N*C)
		be.Copy(a.stack, N*C, a.k, 0, N*C)
		be.Copy(a.stack, 2*N*C, a.v, 0, N*C)
		be.GatherRows(la.qkv, a.stack, a.packIdx, 3*N, C)
		be.Attention(la.atty, la.att, la.qkv, m.attnSpec(B, T, d.attn, seeds.Site(l, siteAttn)))
		ctx.Seed = seeds.Site(l, siteAdAttnOut)
		ly.AttnOut.Forward(ctx, a.tmpA, la.atty, N)
		be.Add(la.pre1, m.dropout(a.tmpB, a.tmpA, N*C, d.hidden, seeds.Site(l, siteAttnOut)), x, N*C)
		be.LayerNorm(la.h1, la.m1, la.r1, la.pre1, ly.LN1W.W, ly.LN1B.W, N, C, cfg.LayerNormEps)
		ctx.Seed = seeds.Site(l, siteAdInter)
		ly.Inter.ForwardGELU(ctx, la.fcg, la.fc, la.h1, N, gelu)
		ctx.Seed = seeds.Site(l, siteAdOut)
		ly.Out.Forward(ctx, a.tmpA, la.fcg, N)
		be.Add(la.pre2, m.dropout(a.tmpB, a.tmpA, N*C, d.hidden, seeds.Site(l, siteFFNOut)), la.h1, N*C)
		be.LayerNorm(a.h[l+1], la.m2, la.r2, la.pre2, ly.LN2W.W, ly.LN2B.W, N, C, cfg.LayerNormEps)
	}
	switch m.Head {
	case HeadClassifier:
		m.classifierForward(a, b, stats, d, grad, seeds)
	case HeadMLM:
		m.mlmForward(a, b, stats, grad)
	}
}

func (m *Model) attnSpec(B, T int, p float32, seed uint32) tensor.AttnSpec {
	return tensor.AttnSpec{B: B, T: T, C: m.Cfg.HiddenSize, NH: m.Cfg.NumAttentionHeads, Causal: false,
		KeyMask: m.acts.mask, PDrop: p, Seed: seed}
}

// classifierForward is RobertaClassificationHead: x = h[:, 0]; dropout;
// dense; tanh; dropout; out_proj; then cross-entropy (or MSE for a
// regression head).
func (m *Model) classifierForward(a *activations, b *Batch, stats tensor.Buf, d drops, grad bool, seeds Seeds) {
	be, cfg := m.Be, m.Cfg
	B, T, C, L := b.B, b.T, cfg.HiddenSize, cfg.NumLabels
	idx := make([]int32, B)
	for r := range idx {
		idx[r] = int32(r * T)
	}
	be.WriteI(a.headIdx, 0, idx)
	be.GatherRows(a.cls, a.h[cfg.NumHiddenLayers], a.headIdx, B, C)
	top := len(m.Layers)
	x := m.dropout(a.clsD, a.cls, B*C, d.cls, seeds.Site(top, siteCls1))
	peft.BaseForward(be, m.ClsDense, a.dense, x, B)
	be.Tanh(a.th, a.dense, B*C)
	x = m.dropout(a.thD, a.th, B*C, d.cls, seeds.Site(top, siteCls2))
	peft.BaseForward(be, m.ClsOut, a.logits, x, B)
	be.Write(a.w, 0, b.Weights)
	var dl tensor.Buf
	if grad {
		dl = a.dlogits
	}
	if cfg.Regression() {
		be.Write(a.tgtF, 0, b.Scores)
		out := dl
		if out == nil {
			out = a.dlogits
		}
		be.MSE(stats, StatLoss, out, a.logits, a.tgtF, a.w, B)
		return
	}
	be.WriteI(a.tgt, 0, b.Labels)
	be.CrossEntropy(stats, StatLoss, dl, a.logits, a.tgt, a.w, B, L, 0)
}

// mlmForward is RobertaLMHead on the scored positions: dense, exact GELU,
// layer_norm, the tied decoder plus lm_head.bias, then cross-entropy.
func (m *Model) mlmForward(a *activations, b *Batch, stats tensor.Buf, grad bool) {
	be, cfg := m.Be, m.Cfg
	C, V, N := cfg.HiddenSize, cfg.VocabSize, b.B*b.T
	var idx, tgt []int32
	var w []float32
	for i := 0; i < N; i++ {
		if b.AllPositions || b.Weights[i] != 0 {
			idx = append(idx, int32(i))
			tgt = append(tgt, b.Targets[i])
			w = append(w, b.Weights[i])
		}
	}
	M := len(idx)
	a.M = M
	if M == 0 {
		return
	}
	m.ensureMLM(a, M)
	be.WriteI(a.headIdx, 0, idx)
	be.WriteI(a.tgt, 0, tgt)
	be.Write(a.w, 0, w)
	be.GatherRows(a.mh, a.h[cfg.NumHiddenLayers], a.headIdx, M, C)
	peft.BaseForward(be, m.LMDense, a.md, a.mh, M)
	be.GELU(a.mg, a.md, M*C, tensor.GELUErf)
	be.LayerNorm(a.mln, a.mlnM, a.mlnR, a.mg, m.LMLNW.W, m.LMLNB.W, M, C, cfg.LayerNormEps)
	be.MatMul(a.mlogits, a.mln, m.WordEmb.W, M, V, C, false, true, 1, 0)
	be.AddBias(a.mlogits, m.LMBias.W, M, V)
	var dl tensor.Buf
	if grad {
		dl = a.mlogits
	}
	be.CrossEntropy(stats, StatLoss, dl, a.mlogits, a.tgt, a.w, M, V, 0)
}

func gradOf(p *tensor.Param) tensor.Buf {
	if p != nil && p.Trainable() {
		return p.G
	}
	return nil
}

// linearBack is the backward pass of a head linear that has no adapter:
// dx = dy·W (dx may be nil), and, when trainable, ∂W += dyᵀ·x, ∂b += Σ dy.
func (m *Model) linearBack(l *peft.Linear, dx, dy, x tensor.Buf, N int) {
	be := m.Be
	if dx != nil {
		be.MatMul(dx, dy, l.W.W, N, l.In, l.Out, false, false, 1, 0)
	}
	if l.W.Trainable() {
		be.MatMul(l.W.G, dy, x, l.Out, l.In, N, true, false, 1, 1)
	}
	if l.Bias != nil && l.Bias.Trainable() {
		be.ColSum(l.Bias.G, dy, N, l.Out)
	}
}

// Backward runs the backward pass of the last Forward (called with train
// and grad set, and the same seeds), accumulating gradients into the
// trainable parameters.
func (m *Model) Backward(b *Batch, seeds Seeds) {
	be, cfg, a := m.Be, m.Cfg, m.acts
	B, T, C := b.B, b.T, cfg.HiddenSize
	N := B * T
	d := m.drops(true)
	top := len(m.Layers)
	// Head: ∂L/∂h[L] into a.dres.
	switch m.Head {
	case HeadClassifier:
		m.linearBack(m.ClsOut, a.dthD, a.dlogits, m.dropoutOut(a.thD, a.th, d.cls), B)
		dth := m.dropoutBack(a.dth, a.dthD, B*C, d.cls, seeds.Site(top, siteCls2))
		be.TanhBackward(a.ddense, dth, a.th, B*C)
		m.linearBack(m.ClsDense, a.dclsD, a.ddense, m.dropoutOut(a.clsD, a.cls, d.cls), B)
		dcls := m.dropoutBack(a.dcls, a.dclsD, B*C, d.cls, seeds.Site(top, siteCls1))
		be.Zero(a.dres, 0, N*C)
		be.ScatterAddRows(a.dres, dcls, a.headIdx, B, C)
	case HeadMLM:
		M, V := a.M, cfg.VocabSize
		if M == 0 {
			return
		}
		be.MatMul(a.dmln, a.mlogits, m.WordEmb.W, M, C, V, false, false, 1, 0)
		if m.WordEmb.Trainable() {
			be.MatMul(m.WordEmb.G, a.mlogits, a.mln, V, C, M, true, false, 1, 1)
		}
		if m.LMBias.Trainable() {
			be.ColSum(m.LMBias.G, a.mlogits, M, V)
		}
		be.LayerNormBackward(a.dmg, gradOf(m.LMLNW), gradOf(m.LMLNB), a.dmln, a.mg, m.LMLNW.W, a.mlnM, a.mlnR, M, C)
		be.GELUBackward(a.dmd, a.dmg, a.md, M*C, tensor.GELUErf)
		m.linearBack(m.LMDense, a.dmh, a.dmd, a.mh, M)
		be.Zero(a.dres, 0, N*C)
		be.ScatterAddRows(a.dres, a.dmh, a.headIdx, M, C)
	default:
		return // no loss, nothing to differentiate
	}
	embTrainable := m.WordEmb.Trainable() || m.PosEmb.Trainable() || m.TypeEmb.Trainable() || m.EmbLNW.Trainable() || m.EmbLNB.Trainable()
	ctx := &peft.Ctx{Be: be, WS: m.ws, Train: true}
	gelu := m.gelu()
	for l := cfg.NumHiddenLayers - 1; l >= 0; l-- {
		ly, la := m.Layers[l], &a.layers[l]
		x := a.h[l]
		// a.dres = ∂L/∂h[l+1]. output.LayerNorm, then the FFN branch.
		be.LayerNormBackward(a.dA, gradOf(ly.LN2W), gradOf(ly.LN2B), a.dres, la.pre2, ly.LN2W.W, la.m2, la.r2, N, C)
		dout := m.dropoutBack(a.dB, a.dA, N*C, d.hidden, seeds.Site(l, siteFFNOut))
		peft.BackwardMLP(ctx, ly.Inter, ly.Out, a.dC, a.dfc, a.dfcg, dout, la.fc, la.fcg, la.h1, N, gelu,
			seeds.Site(l, siteAdInter), seeds.Site(l, siteAdOut))
		be.AddInPlace(a.dC, a.dA, N*C) // ∂h1: FFN input + residual
		// attention.output.LayerNorm, then the attention branch.
		be.LayerNormBackward(a.dA, gradOf(ly.LN1W), gradOf(ly.LN1B), a.dC, la.pre1, ly.LN1W.W, la.m1, la.r1, N, C)
		dao := m.dropoutBack(a.dB, a.dA, N*C, d.hidden, seeds.Site(l, siteAttnOut))
		ctx.Seed = seeds.Site(l, siteAdAttnOut)
		ly.AttnOut.Backward(ctx, a.dC, dao, la.atty, N)
		be.AttentionBackward(a.dqkv, a.attScratch, a.dC, la.qkv, la.att, m.attnSpec(B, T, d.attn, seeds.Site(l, siteAttn)))
		be.GatherRows(a.stack, a.dqkv, a.unpackIdx, 3*N, C)
		be.Copy(a.q, 0, a.stack, 0, N*C)
		be.Copy(a.k, 0, a.stack, N*C, N*C)
		be.Copy(a.v, 0, a.stack, 2*N*C, N*C)
		var dx, dx2 tensor.Buf
		needDX := l > 0 || embTrainable
		if needDX {
			dx, dx2 = a.dres, a.dB
		}
		ctx.Seed = seeds.Site(l, siteAdQ)
		ly.Query.Backward(ctx, dx, a.q, x, N)
		ctx.Seed = seeds.Site(l, siteAdK)
		ly.Key.Backward(ctx, dx2, a.k, x, N)
		if needDX {
			be.AddInPlace(a.dres, a.dB, N*C)
		}
		ctx.Seed = seeds.Site(l, siteAdV)
		ly.Value.Backward(ctx, dx2, a.v, x, N)
		if needDX {
			be.AddInPlace(a.dres, a.dB, N*C)
			be.AddInPlace(a.dres, a.dA, N*C) // residual around the attention
		}
	}
	if !embTrainable {
		return
	}
	// a.dres = ∂L/∂h[0]: dropout, LayerNorm, embedding lookups.
	dln := m.dropoutBack(a.dB, a.dres, N*C, d.hidden, seeds.Site(0, siteEmb))
	be.LayerNormBackward(a.dA, gradOf(m.EmbLNW), gradOf(m.EmbLNB), dln, a.embSum, m.EmbLNW.W, a.embM, a.embR, N, C)
	be.EmbedBackward(gradOf(m.WordEmb), gradOf(m.PosEmb), gradOf(m.TypeEmb), a.dA, a.tok, a.pos, a.typ, N, C)
}

// dropoutOut returns the buffer that held a dropout's output in the
// forward pass (dst when p > 0, else the input).
func (m *Model) dropoutOut(dst, src tensor.Buf, p float32) tensor.Buf {
	if p > 0 {
		return dst
	}
	return src
}
