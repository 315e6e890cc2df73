//go:build js && wasm

package webgpu

import (
	"github.com/hutml/hut/core/tensor"
)

// gather records out[i,:] (=|+=) table[idx[i],:] for i < n; the table may be
// split (one dispatch per chunk, each handling the indices it holds).
func (be *Backend) gather(op string, oc *chunk, ic *chunk, table *Buf, tname string, n, C int, add bool) {
	if !be.ensureRows(op, tname, table, C) {
		return
	}
	rows := table.n / C
	rpc := rows
	if len(table.chunks) > 1 {
		rpc = table.cs / C
	}
	a := uint32(0)
	if add {
		a = 1
	}
	table.touched = true
	for ci, ch := range table.chunks {
		r0 := ci * rpc
		var c call
		c.k = kGather
		c.key.consts[0] = a
		c.b(oc).b(ic).b(ch).ui(n).ui(C).ui(r0).ui(min(r0+rpc, rows))
		be.run1D(&c, n*C)
	}
}

// scatter records dst[idx[i],:] += src[i,:] for i < n in order; dst may be
// split.
func (be *Backend) scatter(op string, dst *Buf, dname string, ic *chunk, sc *chunk, n, C int) {
	if !be.ensureRows(op, dname, dst, C) {
		return
	}
	rows := dst.n / C
	rpc := rows
	if len(dst.chunks) > 1 {
		rpc = dst.cs / C
	}
	groups := min(max((16384+C-1)/C, 1), 64)
	dst.touched = true
	for ci, ch := range dst.chunks {
		r0 := ci * rpc
		var c call
		c.k = kScatter
		c.b(ch).b(ic).b(sc).ui(n).ui(C).ui(r0).ui(min(r0+rpc, rows)).ui(groups).ui(0).ui(0).ui(0)
		be.run(&c, (C+63)/64, groups, 1)
	}
}

// rowsIdx validates an index buffer of n entries and returns its chunk.
func (be *Backend) rowsIdx(op, name string, idx tensor.IBuf, n int) *chunk {
	ib := be.ibuf(op, name, idx)
	if ib == nil || !be.need(op, name, ib, 0, n) {
		return nil
	}
	c, _, ok := be.one(op, name, ib, 0, n)
	if !ok {
		return nil
	}
	return c
}

// table validates an embedding table with rows of C floats.
func (be *Backend) table(op, name string, t tensor.Buf, C int) *Buf {
	tb := be.buf(op, name, t)
	if tb == nil {
		return nil
	}
	if C <= 0 || tb.n < C {
		be.failf("%s: %s has %d floats, fewer than one row of %d", op, name, tb.n, C)
		return nil
	}
	return tb
}

// Embed computes out[n,:] = wte[tok[n],:] + wpe[pos[n],:] (+ tte[typ[n],:]).
func (be *Backend) Embed(out tensor.Buf, tok, pos, typ tensor.IBuf, wte, wpe, tte tensor.Buf, N, C int) {
	const op = "Embed"
	if N < 0 || C <= 0 {
		be.failf("%s: bad shape N=%d C=%d", op, N, C)
		return
	}
	o := be.buf(op, "out", out)
	if o == nil || !be.need(op, "out", o, 0, N*C) {
		return
	}
	oc, _, ok := be.one(op, "out", o, 0, N*C)
	tc, pc := be.rowsIdx(op, "tok", tok, N), be.rowsIdx(op, "pos", pos, N)
	te, pe := be.table(op, "wte", wte, C), be.table(op, "wpe", wpe, C)
	if !ok || tc == nil || pc == nil || te == nil || pe == nil {
		return
	}
	var yc *chunk
	var tt *Buf
	if tte != nil {
		yc, tt = be.rowsIdx(op, "typ", typ, N), be.table(op, "tte", tte, C)
		if yc == nil || tt == nil {
			return
		}
	}
	if N == 0 {
		return
	}
	be.gather(op, oc, tc, te, "wte", N, C, false)
	be.gather(op, oc, pc, pe, "wpe", N, C, true)
	if tt != nil {
		be.gather(op, oc, yc, tt, "tte", N, C, true)
	}
}

// EmbedBackward scatter-adds dout into the rows of dwte, dwpe, dtte (each
// may be nil).
func (be *Backend) EmbedBackward(dwte, dwpe, dtte tensor.Buf, dout tensor.Buf, tok, pos, typ tensor.IBuf, N, C int) {
	const op = "EmbedBackward"
	if N < 0 || C <= 0 {
		be.failf("%s: bad shape N=%d C=%d", op, N, C)
		return
	}
	d := be.buf(op, "dout", dout)
	if d == nil || !be.need(op, "dout", d, 0, N*C) {
		return
	}
	dc, _, ok := be.one(op, "dout", d, 0, N*C)
	if !ok || N == 0 {
		return
	}
	for _, t := range []struct {
		name  string
		dst   tensor.Buf
		idx   tensor.IBuf
		iname string
	}{{"dwte", dwte, tok, "tok"}, {"dwpe", dwpe, pos, "pos"}, {"dtte", dtte, typ, "typ"}} {
		if t.dst == nil {
			continue
		}
		if b, ok := t.dst.(*Buf); ok && b == nil {
			continue
		}
		tb := be.table(op, t.name, t.dst, C)
		ic := be.rowsIdx(op, t.iname, t.idx, N)
		if tb == nil || ic == nil {
			return
		}
		be.scatter(op, tb, t.name, ic, dc, N, C)
	}
}

// GatherRows computes out[i,:] = x[idx[i],:] for i < n.
func (be *Backend) GatherRows(out, x tensor.Buf, idx tensor.IBuf, n, C int) {
	const op = "GatherRows"
	if n < 0 || C <= 0 {
		be.failf("%s: bad shape n=%d C=%d", op, n, C)
		return
	}
	o := be.buf(op, "out", out)
	if o == nil || !be.need(op, "out", o, 0, n*C) {
		return
	}
	oc, _, ok := be.one(op, "out", o, 0, n*C)
	ic, xb := be.rowsIdx(op, "idx", idx, n), be.table(op, "x", x, C)
	if !ok || ic == nil || xb == nil || n == 0 {
		return
	}
	be.gather(op, oc, ic, xb, "x", n, C, false)
}

// ScatterAddRows computes dx[idx[i],:] += dout[i,:] for i < n, in order.
func (be *Backend) ScatterAddRows(dx, dout tensor.Buf, idx tensor.IBuf, n, C int) {
	const op = "ScatterAddRows"
	if n < 0 || C <= 0 {
		be.failf("%s: bad shape n=%d C=%d", op, n, C)
		return
	}
	d := be.buf(op, "dout", dout)
	if d == nil || !be.need(op, "dout", d, 0, n*C) {
		return
	}
	dc, _, ok := be.one(op, "dout", d, 0, n*C)
	ic, xb := be.rowsIdx(op, "idx", idx, n), be.table(op, "dx", dx, C)
	if !ok || ic == nil || xb == nil || n == 0 {
		return
	}
	be.scatter(op, xb, "dx", ic, dc, n, C)
}

// vec validates a single-binding operand of n floats and returns its chunk.
func (be *Backend) vec(op, name string, b tensor.Buf, n int) *chunk {
	bb := be.buf(op, name, b)
	if bb == nil || !be.need(op, name, bb, 0, n) {
		return nil
	}
	c, _, ok := be.one(op, name, bb, 0, n)
	if !ok {
		return nil
	}
	return c
}

// LayerNorm normalises the rows of x [N, C] (see tensor.Backend).
func (be *Backend) LayerNorm(out, mean, rstd, x, w, b tensor.Buf, N, C int, eps float32) {
	const op = "LayerNorm"
	if N < 0 || C <= 0 {
		be.failf("%s: bad shape N=%d C=%d", op, N, C)
		return
	}
	oc, mc, rc := be.vec(op, "out", out, N*C), be.vec(op, "mean", mean, N), be.vec(op, "rstd", rstd, N)
	xc, wc, bc := be.vec(op, "x", x, N*C), be.vec(op, "w", w, C), be.vec(op, "b", b, C)
	if oc == nil || mc == nil || rc == nil || xc == nil || wc == nil || bc == nil || N == 0 {
		return
	}
	var c call
	c.k = kLayerNorm
	c.b(oc).b(mc).b(rc).b(xc).b(wc).b(bc).ui(N).ui(C).f(eps).ui(0)
	be.runRowsK(&c, kLayerNormSeq, N)
}

// LayerNormBackward overwrites dx and accumulates dw, db (either may be
// nil). dout may be the same buffer as dx.
func (be *Backend) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd tensor.Buf, N, C int) {
	const op = "LayerNormBackward"
	if N < 0 || C <= 0 {
		be.failf("%s: bad shape N=%d C=%d", op, N, C)
		return
	}
	dxc, doc, xc := be.vec(op, "dx", dx, N*C), be.vec(op, "dout", dout, N*C), be.vec(op, "x", x, N*C)
	wc, mc, rc := be.vec(op, "w", w, C), be.vec(op, "mean", mean, N), be.vec(op, "rstd", rstd, N)
	if dxc == nil || doc == nil || xc == nil || wc == nil || mc == nil || rc == nil {
		return
	}
	dwb, ok1 := be.optBuf(op, "dw", dw)
	dbb, ok2 := be.optBuf(op, "db", db)
	if !ok1 || !ok2 || N == 0 {
		return
	}
	// dw and db first: dx may overwrite dout.
	if dwb != nil || dbb != nil {
		dwc, dbc := be.dummy(0), be.dummy(1)
		hasW, hasB := uint32(0), uint32(0)
		if dwb != nil {
			if dwc = be.vec(op, "dw", dw, C); dwc == nil {
				return
			}
			hasW = 1
		}
		if dbb != nil {
			if dbc = be.vec(op, "db", db, C); dbc == nil {
				return
			}
			hasB = 1
		}
		rows, nseg := colSegments(N)
		tc := be.dummy(6)
		if nseg > 1 {
			if tc = be.scratchChunk("lndwdb", 2*nseg*C); tc == nil {
				return
			}
		}
		var c call
		c.k = kLNDwDbPartial
		c.key.consts = [2]uint32{hasW, hasB}
		c.b(dwc).b(dbc).b(doc).b(xc).b(mc).b(rc).b(tc).ui(N).ui(C).ui(rows).ui(nseg)
		be.run(&c, (C+63)/64, nseg, 1)
		if nseg > 1 {
			c.k = kLNDwDbFinish
			be.run(&c, (C+63)/64, 1, 1)
		}
	}
	var c call
	c.k = kLayerNormBwd
	c.b(dxc).b(doc).b(xc).b(wc).b(mc).b(rc).ui(N).ui(C).ui(0).ui(0)
	be.runRowsK(&c, kLayerNormBwdSeq, N)
}
