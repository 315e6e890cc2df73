//go:build js && wasm

package webgpu

import (
	"math"

	"github.com/hutml/hut/core/tensor"
)

// CrossEntropy is the fused softmax + label-smoothed cross-entropy (see
// tensor.Backend). logits and dlogits may be split across GPU buffers
// (whole rows per chunk) and dlogits may be the logits buffer itself. The
// per-row losses go to a scratch buffer and are summed into
// stats[statOff] by a fixed-order reduction, without a read-back.
func (be *Backend) CrossEntropy(stats tensor.Buf, statOff int, dlogits, logits tensor.Buf, targets tensor.IBuf, weight tensor.Buf, N, V int, smoothing float32) {
	const op = "CrossEntropy"
	if N < 0 || V <= 0 {
		be.failf("%s: bad shape N=%d V=%d", op, N, V)
		return
	}
	sb, lb := be.buf(op, "stats", stats), be.buf(op, "logits", logits)
	if sb == nil || lb == nil || !be.need(op, "stats", sb, statOff, 1) || !be.need(op, "logits", lb, 0, N*V) {
		return
	}
	db, ok := be.optBuf(op, "dlogits", dlogits)
	if !ok || (db != nil && !be.need(op, "dlogits", db, 0, N*V)) {
		return
	}
	tc, wc := be.rowsIdx(op, "targets", targets, N), be.vec(op, "weight", weight, N)
	if tc == nil || wc == nil || N == 0 {
		return
	}
	if !be.ensureRows(op, "logits", lb, V) || (db != nil && !be.ensureRows(op, "dlogits", db, V)) {
		return
	}
	lc := be.scratchChunk("celoss", N)
	if lc == nil {
		return
	}
	dlog := uint32(1)
	dsrc := db
	if db == nil {
		dlog, dsrc = 0, lb
	}
	eps := float64(smoothing)
	pieces(N*V, []operand{{b: lb}, {b: dsrc}}, func(lo, hi int, ops []operand) {
		dc := ops[1].c
		if dlog == 0 {
			dc = be.dummy(0)
		}
		rows := (hi - lo) / V
		var c call
		c.k = kCrossEntropy
		c.key.consts[0] = dlog
		c.b(dc).b(ops[0].c).b(tc).b(wc).b(lc)
		c.ui(V).ui(rows).ui(lo / V).ui(ops[0].lo)
		c.f(smoothing).f(float32(1 - eps)).f(float32(eps / float64(V))).ui(0)
		be.runRowsK(&c, kCrossEntropySeq, rows)
	})
	be.reduceInto(op, sb, statOff, &Buf{n: N, cs: N, chunks: []*chunk{lc}, label: "celoss"}, 0, N, false)
}

// MSE adds Σ weight·(pred-target)² to stats[statOff] and writes
// dpred = 2·weight·(pred-target) when dpred is non-nil.
func (be *Backend) MSE(stats tensor.Buf, statOff int, dpred, pred, target, weight tensor.Buf, N int) {
	const op = "MSE"
	if N < 0 {
		be.failf("%s: bad shape N=%d", op, N)
		return
	}
	sb := be.buf(op, "stats", stats)
	if sb == nil || !be.need(op, "stats", sb, statOff, 1) {
		return
	}
	sc, soff, ok := be.one(op, "stats", sb, statOff, 1)
	pc, tc, wc := be.vec(op, "pred", pred, N), be.vec(op, "target", target, N), be.vec(op, "weight", weight, N)
	if !ok || pc == nil || tc == nil || wc == nil || N == 0 {
		return
	}
	dc, dp := be.dummy(1), uint32(0)
	if db, ok := be.optBuf(op, "dpred", dpred); !ok {
		return
	} else if db != nil {
		if dc = be.vec(op, "dpred", dpred, N); dc == nil {
			return
		}
		dp = 1
	}
	var c call
	c.k = kMSE
	c.key.consts[0] = dp
	c.b(sc).b(dc).b(pc).b(tc).b(wc).ui(N).ui(soff).ui(0).ui(0)
	be.run(&c, 1, 1, 1)
}

// ClipScale writes min(1, maxNorm/(√stats[normSqOff]+1e-6)) into
// stats[dstOff] on the device (1 when maxNorm ≤ 0).
func (be *Backend) ClipScale(stats tensor.Buf, dstOff, normSqOff int, maxNorm float32) {
	op := "ClipScale"
	sb := be.buf(op, "stats", stats)
	if sb == nil || !be.need(op, "stats", sb, dstOff, 1) || !be.need(op, "stats", sb, normSqOff, 1) {
		return
	}
	dc, dl, ok1 := be.one(op, "stats", sb, dstOff, 1)
	nc, nl, ok2 := be.one(op, "stats", sb, normSqOff, 1)
	if !ok1 || !ok2 {
		return
	}
	if dc != nc {
		be.failf("%s: stats[%d] and stats[%d] lie in different GPU buffers", op, dstOff, normSqOff)
		return
	}
	var c call
	c.k = kClipScale
	c.b(dc).ui(dl).ui(nl).f(maxNorm).ui(0)
	be.run(&c, 1, 1, 1)
}

// AdamWStep updates p (and m, v) with the gradient g scaled by
// stats[scaleOff], read on the device. All of p, g, m, v may be split.
func (be *Backend) AdamWStep(p, g, m, v tensor.Buf, n int, h tensor.AdamW, stats tensor.Buf, scaleOff int) {
	const op = "AdamWStep"
	pb, gb, mb, vb := be.buf(op, "p", p), be.buf(op, "g", g), be.buf(op, "m", m), be.buf(op, "v", v)
	sb := be.buf(op, "stats", stats)
	if pb == nil || gb == nil || mb == nil || vb == nil || sb == nil ||
		!be.need(op, "p", pb, 0, n) || !be.need(op, "g", gb, 0, n) || !be.need(op, "m", mb, 0, n) ||
		!be.need(op, "v", vb, 0, n) || !be.need(op, "stats", sb, scaleOff, 1) {
		return
	}
	sc, sl, ok := be.one(op, "stats", sb, scaleOff, 1)
	if !ok || n == 0 {
		return
	}
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	stepSize := float32(float64(h.LR) / bc1)
	sbc2 := float32(math.Sqrt(bc2))
	decay := 1 - h.LR*h.WeightDecay
	ops := []operand{{b: pb}, {b: gb}, {b: mb}, {b: vb}}
	pieces(n, ops, func(lo, hi int, ops []operand) {
		var c call
		c.k = kAdamW
		c.b(ops[0].c).b(ops[1].c).b(ops[2].c).b(ops[3].c).b(sc)
		c.ui(hi - lo).ui(ops[0].lo).ui(ops[1].lo).ui(ops[2].lo)
		c.ui(ops[3].lo).ui(sl).f(h.Beta1).f(h.Beta2)
		c.f(stepSize).f(sbc2).f(h.Eps).f(decay)
		be.run1D(&c, hi-lo)
	})
}
