package cpu

import (
	"math"

	"github.com/hutml/hut/core/tensor"
)

func (be *Backend) Embed(out tensor.Buf, tok, pos, typ tensor.IBuf, wte, wpe, tte tensor.Buf, N, C int) {
	O, T, P, WTE, WPE := F(out)[:N*C], I(tok), I(pos), F(wte), F(wpe)
	var Y []int32
	var TTE []float32
	if tte != nil {
		Y, TTE = I(typ), F(tte)
	}
	be.parallel(N, C, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			o := O[n*C : (n+1)*C]
			e := WTE[int(T[n])*C : int(T[n]+1)*C]
			p := WPE[int(P[n])*C : int(P[n]+1)*C]
			for c := range o {
				o[c] = e[c] + p[c]
			}
			if TTE != nil {
				t := TTE[int(Y[n])*C : int(Y[n]+1)*C]
				for c := range o {
					o[c] += t[c]
				}
			}
		}
	})
}

// EmbedBackward splits channels across workers; within a channel range the
// rows are visited in order, so repeated tokens add up deterministically.
func (be *Backend) EmbedBackward(dwte, dwpe, dtte tensor.Buf, dout tensor.Buf, tok, pos, typ tensor.IBuf, N, C int) {
	D := F(dout)[:N*C]
	scatter := func(dst tensor.Buf, idx tensor.IBuf) {
		if dst == nil {
			return
		}
		W, X := F(dst), I(idx)
		be.parallel(C, N, func(lo, hi int) {
			for n := 0; n < N; n++ {
				w := W[int(X[n])*C+lo : int(X[n])*C+hi]
				d := D[n*C+lo : n*C+hi]
				for c := range w {
					w[c] += d[c]
				}
			}
		})
	}
	scatter(dwte, tok)
	scatter(dwpe, pos)
	scatter(dtte, typ)
}

func (be *Backend) GatherRows(out, x tensor.Buf, idx tensor.IBuf, n, C int) {
	O, X, ID := F(out), F(x), I(idx)
	for i := 0; i < n; i++ {
		copy(O[i*C:(i+1)*C], X[int(ID[i])*C:int(ID[i]+1)*C])
	}
}

func (be *Backend) ScatterAddRows(dx, dout tensor.Buf, idx tensor.IBuf, n, C int) {
	DX, D, ID := F(dx), F(dout), I(idx)
	for i := 0; i < n; i++ {
		d := DX[int(ID[i])*C : int(ID[i]+1)*C]
		for c, v := range D[i*C : (i+1)*C] {
			d[c] += v
		}
	}
}

func (be *Backend) LayerNorm(out, mean, rstd, x, w, b tensor.Buf, N, C int, eps float32) {
	O, M, R, X, W, B := F(out)[:N*C], F(mean)[:N], F(rstd)[:N], F(x)[:N*C], F(w)[:C], F(b)[:C]
	be.parallel(N, C, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			M[n], R[n] = lnRowFwd(O[n*C:(n+1)*C], X[n*C:(n+1)*C], W, B, eps)
		}
	})
}

// lnRowFwdGo is the portable lnRowFwd: o = (x−mu)·rs·g + b for one row,
// with its mean mu and 1/√(variance + eps) rs.
func lnRowFwdGo(o, x, g, b []float32, eps float32) (mu, rs float32) {
	C := len(x)
	mu = partSum(x, false) / float32(C)
	v2 := sqDevSum(x, mu)
	rs = 1 / float32(math.Sqrt(float64(v2/float32(C)+eps)))
	o, g, b = o[:C], g[:C], b[:C]
	for c, v := range x {
		o[c] = (v-mu)*rs*g[c] + b[c]
	}
	return mu, rs
}

// lnRowBwdGo is the portable lnRowBwd: the input gradient d of one row
// from its output gradient do (x̂ = (x−mu)·rs, g = do·w):
// d = (g − mean(g) − x̂·mean(g·x̂))·rs.
func lnRowBwdGo(d, do, x, w []float32, mu, rs float32) {
	C := float32(len(do))
	dm, dmn := lnGradSums(do, x, w, mu, rs)
	dm /= C
	dmn /= C
	x, d, w = x[:len(do)], d[:len(do)], w[:len(do)]
	for c := range do {
		norm := (x[c] - mu) * rs
		d[c] = (do[c]*w[c] - dm - norm*dmn) * rs
	}
}

func (be *Backend) LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd tensor.Buf, N, C int) {
	DX, DO, X, W, M, R := F(dx)[:N*C], F(dout)[:N*C], F(x)[:N*C], F(w)[:C], F(mean)[:N], F(rstd)[:N]
	be.parallel(N, C, func(lo, hi int) {
		for n := lo; n < hi; n++ {
			lnRowBwd(DX[n*C:(n+1)*C], DO[n*C:(n+1)*C], X[n*C:(n+1)*C], W, M[n], R[n])
		}
	})
	if dw == nil && db == nil {
		return
	}
	var DW, DB []float32
	if dw != nil {
		DW = F(dw)[:C]
	}
	if db != nil {
		DB = F(db)[:C]
	}
	be.parallel(C, N, func(lo, hi int) {
		sp := workBuf(2 * (hi - lo))
		defer putWorkBuf(sp)
		aw, ab := (*sp)[:hi-lo], (*sp)[hi-lo:]
		clear(*sp)
		for n := 0; n < N; n++ {
			do, xr := DO[n*C+lo:n*C+hi], X[n*C+lo:n*C+hi]
			mu, rs := M[n], R[n]
			for c := range aw {
				aw[c] += do[c] * (xr[c] - mu) * rs
				ab[c] += do[c]
			}
		}
		for c := range aw {
			if DW != nil {
				DW[lo+c] += aw[c]
			}
			if DB != nil {
				DB[lo+c] += ab[c]
			}
		}
	})
}

const sqrt2OverPi = 0.7978845608028654

func (be *Backend) GELU(out, x tensor.Buf, n int, kind tensor.GELUKind) {
	O, X := F(out)[:n], F(x)[:n]
	be.parallel(n, 8, func(lo, hi int) { geluRow(O[lo:hi], X[lo:hi], kind) })
}

func geluF(x float32, kind tensor.GELUKind) float32 {
	if kind == tensor.GELUErf {
		xd := float64(x)
		return float32(0.5 * xd * (1 + math.Erf(xd/math.Sqrt2)))
	}
	return 0.5 * x * (1 + tanhf(sqrt2OverPi*(x+0.044715*x*x*x)))
}

func geluGrad(x float32, kind tensor.GELUKind) float32 {
	if kind == tensor.GELUErf {
		xd := float64(x)
		return float32(0.5*(1+math.Erf(xd/math.Sqrt2)) + xd*math.Exp(-0.5*xd*xd)/math.Sqrt(2*math.Pi))
	}
	t := tanhf(sqrt2OverPi * (x + 0.044715*x*x*x))
	return 0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OverPi*(1+3*0.044715*x*x)
}

func (be *Backend) GELUBackward(dx, dout, x tensor.Buf, n int, kind tensor.GELUKind) {
	DX, DO, X := F(dx)[:n], F(dout)[:n], F(x)[:n]
	be.parallel(n, 8, func(lo, hi int) { geluGradRow(DX[lo:hi], DO[lo:hi], X[lo:hi], kind) })
}

// geluSeg is the row segment GELUScaled forms its pre-activation in.
const geluSeg = 1024

// preAct sets t = z⊙s[c0:] + bias[c0:] (s, bias nil: skipped); it is
// ScaleColsBias's row, and AddBias's when s is nil, so the fused GELU sees
// their bits.
func preAct(t, z, s, bias []float32, c0 int) {
	if s != nil && bias != nil {
		mulAddVec(t, z, s[c0:c0+len(t)], bias[c0:c0+len(t)])
		return
	}
	if s != nil {
		mulVec(t, z, s[c0:c0+len(t)])
	} else {
		copy(t, z)
	}
	if bias != nil {
		addVec(t, bias[c0:c0+len(t)])
	}
}

func geluRow(out, x []float32, kind tensor.GELUKind) {
	if kind == tensor.GELUTanh {
		geluTanhVec(out, x)
		return
	}
	for i, v := range x {
		out[i] = geluF(v, kind)
	}
}

func geluGradRow(dx, dout, x []float32, kind tensor.GELUKind) {
	if kind == tensor.GELUTanh {
		geluTanhGradVec(dx, dout, x)
		return
	}
	for i, v := range x {
		dx[i] = dout[i] * geluGrad(v, kind)
	}
}

// GELUScaled implements tensor.ScaledGELU. Each row's pre-activation is
// formed segment by segment in a work buffer that stays in L1, so it is
// never written to memory.
func (be *Backend) GELUScaled(out, z, s, bias tensor.Buf, N, C int, kind tensor.GELUKind) {
	O, Z := F(out)[:N*C], F(z)[:N*C]
	S, B := optF(s, C), optF(bias, C)
	be.parallel(N, 8*C, func(lo, hi int) {
		sp := workBuf(min(C, geluSeg))
		defer putWorkBuf(sp)
		for n := lo; n < hi; n++ {
			for c0 := 0; c0 < C; c0 += geluSeg {
				c1 := min(c0+geluSeg, C)
				t := (*sp)[:c1-c0]
				preAct(t, Z[n*C+c0:n*C+c1], S, B, c0)
				geluRow(O[n*C+c0:n*C+c1], t, kind)
			}
		}
	})
}

// GELUScaledBackward implements tensor.ScaledGELU. With ds, the channels
// are split across workers as in ColSumMul (each channel's sum runs over n
// in order, the same sums as ColSumMul(ds, dx, z)); without, the rows.
func (be *Backend) GELUScaledBackward(dx, ds, dout, z, s, bias tensor.Buf, N, C int, kind tensor.GELUKind) {
	DX, DO, Z := F(dx)[:N*C], F(dout)[:N*C], F(z)[:N*C]
	S, B := optF(s, C), optF(bias, C)
	if ds == nil {
		be.parallel(N, 8*C, func(lo, hi int) {
			sp := workBuf(min(C, geluSeg))
			defer putWorkBuf(sp)
			for n := lo; n < hi; n++ {
				for c0 := 0; c0 < C; c0 += geluSeg {
					c1, r := min(c0+geluSeg, C), n*C
					t := (*sp)[:c1-c0]
					preAct(t, Z[r+c0:r+c1], S, B, c0)
					geluGradRow(DX[r+c0:r+c1], DO[r+c0:r+c1], t, kind)
				}
			}
		})
		return
	}
	D := F(ds)[:C]
	be.parallel(C, 8*N, func(lo, hi int) {
		sp, ap := workBuf(hi-lo), workBuf(hi-lo)
		defer putWorkBuf(sp)
		defer putWorkBuf(ap)
		t, acc := *sp, *ap
		clear(acc)
		for n := 0; n < N; n++ {
			r := n * C
			preAct(t, Z[r+lo:r+hi], S, B, lo)
			geluGradRow(DX[r+lo:r+hi], DO[r+lo:r+hi], t, kind)
			fmaVec(acc, DX[r+lo:r+hi], Z[r+lo:r+hi])
		}
		addVec(D[lo:hi], acc)
	})
}

// GELUScaledBackwardIn implements tensor.ScaledGELU. The channels are
// split across workers as in GELUScaledBackward with ds and as in
// ColSumMulScale: each channel's sums run over n in order. For the tanh
// form with AVX2 one vector kernel takes each row segment
// (geluTanhGradInVec); otherwise the separate row helpers do.
func (be *Backend) GELUScaledBackwardIn(dx, ds, dsIn, h, sIn, z, s, bias tensor.Buf, N, C int, kind tensor.GELUKind) {
	DX, H, Z := F(dx)[:N*C], F(h)[:N*C], F(z)[:N*C]
	S, B, SI, DI, D := optF(s, C), optF(bias, C), F(sIn)[:C], F(dsIn)[:C], optF(ds, C)
	be.parallel(C, 8*N, func(lo, hi int) {
		bufs := make([]*[]float32, 5)
		for i := range bufs {
			bufs[i] = workBuf(hi - lo)
			defer putWorkBuf(bufs[i])
		}
		t, acc, accIn, g, d := *bufs[0], *bufs[1], *bufs[2], *bufs[3], *bufs[4]
		clear(acc)
		clear(accIn)
		si := SI[lo:hi]
		for n := 0; n < N; n++ {
			r := n * C
			hr, dxr, zr := H[r+lo:r+hi], DX[r+lo:r+hi], Z[r+lo:r+hi]
			preAct(t, zr, S, B, lo)
			if kind == tensor.GELUTanh && haveGELUIn {
				geluTanhGradInVec(dxr, accIn, hr, si, t)
			} else {
				geluRow(g, t, kind)
				fmaVec(accIn, hr, g)
				mulVec(d, hr, si)
				geluGradRow(dxr, d, t, kind)
			}
			if D != nil {
				fmaVec(acc, dxr, zr)
			}
		}
		addVec(DI[lo:hi], accIn)
		if D != nil {
			addVec(D[lo:hi], acc)
		}
	})
}

func (be *Backend) Tanh(out, x tensor.Buf, n int) {
	O, X := F(out)[:n], F(x)[:n]
	be.parallel(n, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			O[i] = float32(math.Tanh(float64(X[i])))
		}
	})
}

func (be *Backend) TanhBackward(dx, dout, y tensor.Buf, n int) {
	DX, DO, Y := F(dx)[:n], F(dout)[:n], F(y)[:n]
	be.parallel(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			DX[i] = DO[i] * (1 - Y[i]*Y[i])
		}
	})
}

func (be *Backend) Dropout(out, x tensor.Buf, n int, p float32, seed uint32) {
	dropout(be, F(out)[:n], F(x)[:n], p, seed)
}

func (be *Backend) DropoutBackward(dx, dout tensor.Buf, n int, p float32, seed uint32) {
	dropout(be, F(dx)[:n], F(dout)[:n], p, seed)
}

// dropout applies the shared keep mask; forward and backward are the same
// map (scale kept elements by 1/(1-p), zero the rest).
func dropout(be *Backend, out, x []float32, p float32, seed uint32) {
	if p <= 0 {
		copy(out, x)
		return
	}
	thr := tensor.DropThreshold(p)
	hs := tensor.Hash32(seed)
	scale := 1 / (1 - p)
	be.parallel(len(out), 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if tensor.Hash32(hs+uint32(i)) >= thr {
				out[i] = x[i] * scale
			} else {
				out[i] = 0
			}
		}
	})
}

// sqDevSum returns Σ (x−mu)² in four interleaved partial sums (the
// additions of one running sum would wait on one another).
func sqDevSum(x []float32, mu float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-mu, x[i+1]-mu, x[i+2]-mu, x[i+3]-mu
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - mu
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// lnGradSums returns Σ g and Σ g·x̂ over a row, g = dout⊙w and
// x̂ = (x−mu)·rs, in four interleaved partial sums each.
func lnGradSums(do, x, w []float32, mu, rs float32) (dm, dmn float32) {
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	x, w = x[:len(do)], w[:len(do)]
	i := 0
	for ; i+4 <= len(do); i += 4 {
		g0, g1, g2, g3 := do[i]*w[i], do[i+1]*w[i+1], do[i+2]*w[i+2], do[i+3]*w[i+3]
		a0 += g0
		a1 += g1
		a2 += g2
		a3 += g3
		b0 += g0 * ((x[i] - mu) * rs)
		b1 += g1 * ((x[i+1] - mu) * rs)
		b2 += g2 * ((x[i+2] - mu) * rs)
		b3 += g3 * ((x[i+3] - mu) * rs)
	}
	for ; i < len(do); i++ {
		g := do[i] * w[i]
		a0 += g
		b0 += g * ((x[i] - mu) * rs)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}
