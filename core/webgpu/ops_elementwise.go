//go:build js && wasm

package webgpu

import (
	"github.com/hutml/hut/core/tensor"
)

// ew records the element-wise op code over n elements of out, a and b (b
// may be nil for unary ops). Split buffers are handled piece by piece;
// index is the element's index within the op (the dropout mask uses it).
func (be *Backend) ew(name string, code int, n int, out, a, b tensor.Buf, alpha float32, hseed, thr uint32) {
	o := be.buf(name, "out", out)
	x := be.buf(name, "x", a)
	if o == nil || x == nil || !be.need(name, "out", o, 0, n) || !be.need(name, "x", x, 0, n) {
		return
	}
	y := x
	if b != nil {
		if y = be.buf(name, "y", b); y == nil || !be.need(name, "y", y, 0, n) {
			return
		}
	}
	if n == 0 {
		return
	}
	ops := []operand{{b: o}, {b: x}, {b: y}}
	pieces(n, ops, func(lo, hi int, ops []operand) {
		var c call
		c.k = kEW
		c.key.consts[0] = uint32(code)
		c.b(ops[0].c).b(ops[1].c).b(ops[2].c)
		c.ui(hi - lo).ui(ops[0].lo).ui(ops[1].lo).ui(ops[2].lo)
		c.f(alpha).uu(hseed).uu(thr).ui(lo)
		be.run1D(&c, hi-lo)
	})
}

// Add computes out = a + b.
func (be *Backend) Add(out, a, b tensor.Buf, n int) { be.ew("Add", ewAdd, n, out, a, b, 0, 0, 0) }

// AddInPlace computes acc += x.
func (be *Backend) AddInPlace(acc, x tensor.Buf, n int) {
	be.ew("AddInPlace", ewAddInPlace, n, acc, x, nil, 0, 0, 0)
}

// Mul computes out = a ⊙ b.
func (be *Backend) Mul(out, a, b tensor.Buf, n int) { be.ew("Mul", ewMul, n, out, a, b, 0, 0, 0) }

// Scale computes out = alpha·x.
func (be *Backend) Scale(out, x tensor.Buf, alpha float32, n int) {
	be.ew("Scale", ewScale, n, out, x, nil, alpha, 0, 0)
}

// AXPY computes y += alpha·x.
func (be *Backend) AXPY(y, x tensor.Buf, alpha float32, n int) {
	be.ew("AXPY", ewAXPY, n, y, x, nil, alpha, 0, 0)
}

func geluCode(kind tensor.GELUKind, grad bool) (int, bool) {
	switch kind {
	case tensor.GELUTanh:
		if grad {
			return ewGELUTanhGrad, true
		}
		return ewGELUTanh, true
	case tensor.GELUErf:
		if grad {
			return ewGELUErfGrad, true
		}
		return ewGELUErf, true
	}
	return 0, false
}

// GELU computes out = gelu(x) with the tanh or the erf formula.
func (be *Backend) GELU(out, x tensor.Buf, n int, kind tensor.GELUKind) {
	code, ok := geluCode(kind, false)
	if !ok {
		be.failf("GELU: unknown GELUKind %d", kind)
		return
	}
	be.ew("GELU", code, n, out, x, nil, 0, 0, 0)
}

// GELUBackward computes dx = dout·gelu'(x).
func (be *Backend) GELUBackward(dx, dout, x tensor.Buf, n int, kind tensor.GELUKind) {
	code, ok := geluCode(kind, true)
	if !ok {
		be.failf("GELUBackward: unknown GELUKind %d", kind)
		return
	}
	be.ew("GELUBackward", code, n, dx, dout, x, 0, 0, 0)
}

// Tanh computes out = tanh(x).
func (be *Backend) Tanh(out, x tensor.Buf, n int) { be.ew("Tanh", ewTanh, n, out, x, nil, 0, 0, 0) }

// TanhBackward computes dx = dout·(1-y²) for y = tanh(x).
func (be *Backend) TanhBackward(dx, dout, y tensor.Buf, n int) {
	be.ew("TanhBackward", ewTanhGrad, n, dx, dout, y, 0, 0, 0)
}

func (be *Backend) dropout(name string, out, x tensor.Buf, n int, p float32, seed uint32) {
	if p <= 0 {
		o, s := be.buf(name, "out", out), be.buf(name, "x", x)
		if o == nil || s == nil || !be.need(name, "out", o, 0, n) || !be.need(name, "x", s, 0, n) {
			return
		}
		be.copyBufs(o, 0, s, 0, n)
		return
	}
	be.ew(name, ewDropout, n, out, x, nil, 1/(1-p), tensor.Hash32(seed), tensor.DropThreshold(p))
}

// Dropout computes out = x·keep/(1-p) with keep = tensor.DropoutKeep.
func (be *Backend) Dropout(out, x tensor.Buf, n int, p float32, seed uint32) {
	be.dropout("Dropout", out, x, n, p, seed)
}

// DropoutBackward computes dx = dout·keep/(1-p) (the same mask).
func (be *Backend) DropoutBackward(dx, dout tensor.Buf, n int, p float32, seed uint32) {
	be.dropout("DropoutBackward", dx, dout, n, p, seed)
}

// ---- broadcasts over [N, C] ----

// bcast records a broadcast op: out/x need N·C elements, s needs sLen.
func (be *Backend) bcast(name string, code int, out, x, s tensor.Buf, N, C, sLen int) {
	if N < 0 || C < 0 {
		be.failf("%s: negative shape [%d, %d]", name, N, C)
		return
	}
	shape := name
	o, v := be.buf(shape, "out", out), be.buf(shape, "v", s)
	if o == nil || v == nil || !be.need(shape, "out", o, 0, N*C) || !be.need(shape, "v", v, 0, sLen) {
		return
	}
	xc := (*chunk)(nil)
	if x != nil {
		xb := be.buf(shape, "x", x)
		if xb == nil || !be.need(shape, "x", xb, 0, N*C) {
			return
		}
		var ok bool
		if xc, _, ok = be.one(shape, "x", xb, 0, N*C); !ok {
			return
		}
	}
	oc, _, ok1 := be.one(shape, "out", o, 0, N*C)
	vc, _, ok2 := be.one(shape, "v", v, 0, sLen)
	if !ok1 || !ok2 || N*C == 0 {
		return
	}
	if xc == nil {
		xc = vc
	}
	var c call
	c.k = kBcast
	c.key.consts[0] = uint32(code)
	c.b(oc).b(xc).b(vc).ui(N).ui(C).ui(0).ui(0)
	be.run1D(&c, N*C)
}

// ScaleCols computes out[n,c] = x[n,c]·s[c].
func (be *Backend) ScaleCols(out, x, s tensor.Buf, N, C int) {
	be.bcast("ScaleCols", bcScaleCols, out, x, s, N, C, C)
}

// ScaleRows computes out[n,c] = x[n,c]·s[n].
func (be *Backend) ScaleRows(out, x, s tensor.Buf, N, C int) {
	be.bcast("ScaleRows", bcScaleRows, out, x, s, N, C, N)
}

// AddBias computes y[n,c] += bias[c].
func (be *Backend) AddBias(y, bias tensor.Buf, N, C int) {
	be.bcast("AddBias", bcAddCols, y, nil, bias, N, C, C)
}

// BroadcastCols computes dst[n,c] += v[n].
func (be *Backend) BroadcastCols(dst, v tensor.Buf, N, C int) {
	be.bcast("BroadcastCols", bcAddRows, dst, nil, v, N, C, N)
}

// BroadcastRows computes dst[n,c] += v[c].
func (be *Backend) BroadcastRows(dst, v tensor.Buf, N, C int) {
	be.bcast("BroadcastRows", bcAddCols, dst, nil, v, N, C, C)
}

// ---- reductions ----

func (be *Backend) colsum(name string, dst, x, y tensor.Buf, N, C int) {
	if N < 0 || C < 0 {
		be.failf("%s: negative shape [%d, %d]", name, N, C)
		return
	}
	shape := name
	d, xb := be.buf(shape, "dst", dst), be.buf(shape, "x", x)
	if d == nil || xb == nil || !be.need(shape, "dst", d, 0, C) || !be.need(shape, "x", xb, 0, N*C) {
		return
	}
	yb := xb
	mul := uint32(0)
	if y != nil {
		if yb = be.buf(shape, "y", y); yb == nil || !be.need(shape, "y", yb, 0, N*C) {
			return
		}
		mul = 1
	}
	dc, _, ok1 := be.one(shape, "dst", d, 0, C)
	xc, _, ok2 := be.one(shape, "x", xb, 0, N*C)
	yc, _, ok3 := be.one(shape, "y", yb, 0, N*C)
	if !ok1 || !ok2 || !ok3 || N == 0 || C == 0 {
		return
	}
	rows, nseg := colSegments(N)
	tc := be.dummy(3)
	if nseg > 1 {
		if tc = be.scratchChunk("colsum", nseg*C); tc == nil {
			return
		}
	}
	var c call
	c.k = kColSumPartial
	c.key.consts[0] = mul
	c.b(dc).b(xc).b(yc).b(tc).ui(N).ui(C).ui(rows).ui(nseg)
	be.run(&c, (C+63)/64, nseg, 1)
	if nseg > 1 {
		c.k = kColSumFinish
		be.run(&c, (C+63)/64, 1, 1)
	}
}

// ColSum computes dst[c] += Σ_n x[n,c].
func (be *Backend) ColSum(dst, x tensor.Buf, N, C int) { be.colsum("ColSum", dst, x, nil, N, C) }

// ColSumMul computes dst[c] += Σ_n x[n,c]·y[n,c].
func (be *Backend) ColSumMul(dst, x, y tensor.Buf, N, C int) {
	be.colsum("ColSumMul", dst, x, y, N, C)
}

// RowSum computes dst[n] += Σ_c x[n,c].
func (be *Backend) RowSum(dst, x tensor.Buf, N, C int) {
	if N < 0 || C < 0 {
		be.failf("RowSum: negative shape [%d, %d]", N, C)
		return
	}
	const shape = "RowSum"
	d, xb := be.buf(shape, "dst", dst), be.buf(shape, "x", x)
	if d == nil || xb == nil || !be.need(shape, "dst", d, 0, N) || !be.need(shape, "x", xb, 0, N*C) {
		return
	}
	dc, _, ok1 := be.one(shape, "dst", d, 0, N)
	xc, _, ok2 := be.one(shape, "x", xb, 0, N*C)
	if !ok1 || !ok2 || N == 0 {
		return
	}
	var c call
	c.k = kRowSum
	c.b(dc).b(xc).ui(N).ui(C).ui(0).ui(0)
	be.runRowsK(&c, kRowSumSeq, N)
}

// reduceInto adds Σ x (or Σ x²) over x[0, n) into stats[off]; x may be
// split.
func (be *Backend) reduceInto(name string, stats *Buf, off int, x *Buf, xoff, n int, square bool) {
	sc, soff, ok := be.one(name, "dst", stats, off, 1)
	if !ok || n <= 0 {
		return
	}
	sq := uint32(0)
	if square {
		sq = 1
	}
	const block = 4096
	blocks := 0
	pieces(n, []operand{{b: x, off: xoff}}, func(lo, hi int, _ []operand) { blocks += (hi - lo + block - 1) / block })
	tc := be.dummy(2)
	direct := blocks == 1
	if !direct {
		if tc = be.scratchChunk("reduce", blocks); tc == nil {
			return
		}
	}
	poff := 0
	pieces(n, []operand{{b: x, off: xoff}}, func(lo, hi int, ops []operand) {
		nb := (hi - lo + block - 1) / block
		var c call
		c.k = kReducePartial
		if be.rowSeq {
			c.k = kReducePartialSeq
		}
		c.key.consts[0] = sq
		d := 0
		if direct {
			d = 1
		}
		c.b(sc).b(ops[0].c).b(tc).ui(hi - lo).ui(ops[0].lo).ui(poff).ui(soff).ui(d).ui(0).ui(0).ui(0)
		gx, gy := be.grid(nb)
		be.run(&c, gx, gy, 1)
		poff += nb
	})
	if !direct {
		var c call
		c.k = kReduceFinish
		if be.rowSeq {
			c.k = kReduceFinishSeq
		}
		c.key.consts[0] = sq
		c.b(sc).b(be.dummy(1)).b(tc).ui(0).ui(0).ui(0).ui(soff).ui(0).ui(blocks).ui(0).ui(0)
		be.run(&c, 1, 1, 1)
	}
}

func (be *Backend) sumOp(name string, dst tensor.Buf, dstOff int, x tensor.Buf, n int, square bool) {
	d, xb := be.buf(name, "dst", dst), be.buf(name, "x", x)
	if d == nil || xb == nil || !be.need(name, "dst", d, dstOff, 1) || !be.need(name, "x", xb, 0, n) {
		return
	}
	be.reduceInto(name, d, dstOff, xb, 0, n, square)
}

// SumSquares computes dst[dstOff] += Σ x².
func (be *Backend) SumSquares(dst tensor.Buf, dstOff int, x tensor.Buf, n int) {
	be.sumOp("SumSquares", dst, dstOff, x, n, true)
}

// Sum computes dst[dstOff] += Σ x.
func (be *Backend) Sum(dst tensor.Buf, dstOff int, x tensor.Buf, n int) {
	be.sumOp("Sum", dst, dstOff, x, n, false)
}

// ScaleColsBias is ScaleCols followed by AddBias (two dispatches).
func (be *Backend) ScaleColsBias(out, x, s, bias tensor.Buf, N, C int) {
	be.ScaleCols(out, x, s, N, C)
	if bias != nil {
		be.AddBias(out, bias, N, C)
	}
}

// ColSumMulScale is ColSumMul followed by ScaleCols (two dispatches).
func (be *Backend) ColSumMulScale(dst, out, h, x, s tensor.Buf, N, C int) {
	be.ColSumMul(dst, h, x, N, C)
	if out != nil {
		be.ScaleCols(out, h, s, N, C)
	}
}
