//go:build js && wasm

package webgpu

import (
	"math"

	"github.com/hutml/hut/core/tensor"
)

// attnCheck validates an AttnSpec and returns the head size.
func (be *Backend) attnCheck(op string, s tensor.AttnSpec) (int, bool) {
	if s.B <= 0 || s.T <= 0 || s.C <= 0 || s.NH <= 0 || s.C%s.NH != 0 {
		be.failf("%s: bad shape B=%d T=%d C=%d NH=%d (C must be a positive multiple of NH)", op, s.B, s.T, s.C, s.NH)
		return 0, false
	}
	if s.PDrop >= 1 {
		be.failf("%s: attention dropout %v must be below 1", op, s.PDrop)
		return 0, false
	}
	return s.C / s.NH, true
}

// Attention computes multi-head attention over a fused qkv (see
// tensor.Backend). att may be split across GPU buffers (whole T×T blocks
// per chunk); the other operands must fit one binding each.
func (be *Backend) Attention(out, att, qkv tensor.Buf, s tensor.AttnSpec) {
	const op = "Attention"
	hs, ok := be.attnCheck(op, s)
	if !ok {
		return
	}
	B, T, C, NH := s.B, s.T, s.C, s.NH
	oc, qc := be.vec(op, "out", out, B*T*C), be.vec(op, "qkv", qkv, B*T*3*C)
	ab := be.buf(op, "att", att)
	if oc == nil || qc == nil || ab == nil || !be.need(op, "att", ab, 0, B*NH*T*T) {
		return
	}
	mc, hasMask := be.dummy(3), 0
	if s.KeyMask != nil {
		if mc = be.rowsIdx(op, "KeyMask", s.KeyMask, B*T); mc == nil {
			return
		}
		hasMask = 1
	}
	if !be.ensureRows(op, "att", ab, T*T) {
		return
	}
	causal := 0
	if s.Causal {
		causal = 1
	}
	scale := float32(1 / math.Sqrt(float64(hs)))
	thr := tensor.DropThreshold(s.PDrop)
	pieces(B*NH*T*T, []operand{{b: ab}}, func(lo, hi int, ops []operand) {
		bh0, nbh := lo/(T*T), (hi-lo)/(T*T)
		var c call
		c.k = kAttention
		c.b(oc).b(ops[0].c).b(qc).b(mc)
		c.ui(T).ui(C).ui(NH).ui(hs)
		c.f(scale).ui(causal).ui(hasMask).uu(thr)
		c.uu(tensor.Hash32(s.Seed)).f(1 / (1 - s.PDrop)).ui(bh0).ui(nbh * T)
		c.ui(ops[0].lo).ui(0).ui(0).ui(0)
		be.runRowsK(&c, kAttentionSeq, nbh*T)
	})
}

// AttentionBackward overwrites dqkv with the gradient of Attention. scratch
// (B·NH·T·T floats) holds the softmax-input gradient between the two
// passes; att and scratch may be split across GPU buffers.
func (be *Backend) AttentionBackward(dqkv, scratch, dout, qkv, att tensor.Buf, s tensor.AttnSpec) {
	const op = "AttentionBackward"
	hs, ok := be.attnCheck(op, s)
	if !ok {
		return
	}
	B, T, C, NH := s.B, s.T, s.C, s.NH
	dqc, doc, qc := be.vec(op, "dqkv", dqkv, B*T*3*C), be.vec(op, "dout", dout, B*T*C), be.vec(op, "qkv", qkv, B*T*3*C)
	ab, sb := be.buf(op, "att", att), be.buf(op, "scratch", scratch)
	if dqc == nil || doc == nil || qc == nil || ab == nil || sb == nil ||
		!be.need(op, "att", ab, 0, B*NH*T*T) || !be.need(op, "scratch", sb, 0, B*NH*T*T) {
		return
	}
	if !be.ensureRows(op, "att", ab, T*T) || !be.ensureRows(op, "scratch", sb, T*T) {
		return
	}
	causal := 0
	if s.Causal {
		causal = 1
	}
	scale := float32(1 / math.Sqrt(float64(hs)))
	thr := tensor.DropThreshold(s.PDrop)
	pieces(B*NH*T*T, []operand{{b: ab}, {b: sb}}, func(lo, hi int, ops []operand) {
		bh0, nbh := lo/(T*T), (hi-lo)/(T*T)
		var c call
		c.k = kAttnBwdRows
		c.b(dqc).b(ops[1].c).b(doc).b(qc).b(ops[0].c)
		c.ui(T).ui(C).ui(NH).ui(hs)
		c.f(scale).ui(causal).uu(thr).uu(tensor.Hash32(s.Seed))
		c.f(1 / (1 - s.PDrop)).ui(bh0).ui(nbh * T).ui(ops[0].lo)
		c.ui(ops[1].lo).ui(0).ui(0).ui(0)
		be.runRowsK(&c, kAttnBwdRowsSeq, nbh*T)
		c.k = kAttnBwdCols
		be.runRowsK(&c, kAttnBwdColsSeq, nbh*T)
	})
}

// KVAttention is cached inference attention (see tensor.Backend).
func (be *Backend) KVAttention(out, qkv, kc, vc tensor.Buf, keyMask tensor.IBuf, B, Tn, C, NH, pos, Tmax int) {
	const op = "KVAttention"
	if B <= 0 || Tn <= 0 || C <= 0 || NH <= 0 || C%NH != 0 || pos < 0 || pos+Tn > Tmax {
		be.failf("%s: bad shape B=%d Tn=%d C=%d NH=%d pos=%d Tmax=%d (need C a multiple of NH and pos+Tn ≤ Tmax)", op, B, Tn, C, NH, pos, Tmax)
		return
	}
	hs := C / NH
	oc, qc := be.vec(op, "out", out, B*Tn*C), be.vec(op, "qkv", qkv, B*Tn*3*C)
	kcc, vcc := be.vec(op, "kc", kc, B*Tmax*C), be.vec(op, "vc", vc, B*Tmax*C)
	if oc == nil || qc == nil || kcc == nil || vcc == nil {
		return
	}
	mc, hasMask := be.dummy(4), 0
	if keyMask != nil {
		if mc = be.rowsIdx(op, "keyMask", keyMask, B*Tmax); mc == nil {
			return
		}
		hasMask = 1
	}
	L := pos + Tn
	rows := B * NH * Tn
	sc := be.scratchChunk("kvatt", rows*L)
	if sc == nil {
		return
	}
	var c call
	c.k = kKVStore
	c.b(oc).b(kcc).b(vcc).b(qc).b(mc).b(sc)
	c.ui(Tn).ui(C).ui(NH).ui(hs).ui(pos).ui(Tmax).ui(L).f(float32(1 / math.Sqrt(float64(hs))))
	c.ui(hasMask).ui(rows).ui(B * Tn * C).ui(0)
	be.run1D(&c, B*Tn*C)
	c.k = kKVAttend
	be.runRowsK(&c, kKVAttendSeq, rows)
}
