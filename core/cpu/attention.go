package cpu

import (
	"math"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/core/tensor"
)

// Attention computes multi-head scaled dot-product attention with small
// GEMMs per (batch, head): S = Q·Kᵀ/√hs, P = softmax(S) (masked), O = P̃·V
// where P̃ is P after dropout. Work is split over (batch, head) pairs; each
// pair owns its rows of att and its channels of out. Causal attention
// leaves out of its products the triangle the mask zeroes (gemm.SgemmTri):
// the scores above the diagonal are not formed, and the zeros of P above it
// are not multiplied — the full products' bits, up to the sign of an exact
// zero.
func (be *Backend) Attention(out, att, qkv tensor.Buf, s tensor.AttnSpec) {
	B, T, C, NH := s.B, s.T, s.C, s.NH
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	O, A, Q := F(out)[:B*T*C], F(att)[:B*NH*T*T], F(qkv)[:B*T*3*C]
	var mask []int32
	if s.KeyMask != nil {
		mask = I(s.KeyMask)[:B*T]
	}
	thr := tensor.DropThreshold(s.PDrop)
	hseed := tensor.Hash32(s.Seed)
	dscale := 1 / (1 - s.PDrop)
	lowC, lowA, _ := triangles(s.Causal)
	be.parallel(B*NH, T*T*hs, func(lo, hi int) {
		var pd []float32
		if thr != 0 {
			sp := workBuf(T * T)
			defer putWorkBuf(sp)
			pd = *sp
		}
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b * T * 3 * C
			P := A[bh*T*T : (bh+1)*T*T]
			gemm.SgemmTri(lowC, false, true, T, T, hs, scale, Q[base+h*hs:], 3*C, Q[base+C+h*hs:], 3*C, 0, P, T)
			for t := 0; t < T; t++ {
				last := T
				if s.Causal {
					last = t + 1
				}
				var km []int32
				if mask != nil {
					km = mask[b*T : b*T+last]
				}
				softmaxRow(P[t*T:(t+1)*T], last, km)
			}
			pv := P
			if thr != 0 {
				for i := range pd {
					if tensor.Hash32(hseed+uint32(bh*T*T+i)) < thr {
						pd[i] = 0
					} else {
						pd[i] = P[i] * dscale
					}
				}
				pv = pd
			}
			gemm.SgemmTri(lowA, false, false, T, hs, T, 1, pv, T, Q[base+2*C+h*hs:], 3*C, 0, O[b*T*C+h*hs:], C)
		}
	})
}

// triangles returns the gemm.Tri of causal attention's products: the
// scores wanted on and below the diagonal only (lowC), a left operand zero
// above it (lowA) or, transposed, below it (upA); all Full without the
// causal mask (or with skipTriangles off).
func triangles(causal bool) (lowC, lowA, upA gemm.Tri) {
	if !causal || !skipTriangles {
		return gemm.Full, gemm.Full, gemm.Full
	}
	return gemm.LowerC, gemm.LowerA, gemm.UpperA
}

// skipTriangles is turned off only by the test that holds the causal
// products to the full products' bits.
var skipTriangles = true

// softmaxRow turns row[:last] into probabilities (keys with km[j] == 0 get
// 0; a row with no visible key is all zero) and zeroes row[last:].
func softmaxRow(row []float32, last int, km []int32) {
	if km == nil {
		if last > 0 {
			maxv, _ := maxSum(row[:last])
			if sum := expSubSum(row[:last], row[:last], maxv); sum > 0 {
				scaleShift(row[:last], 1/sum, 0)
			}
		}
		clear(row[last:])
		return
	}
	maxv := float32(math.Inf(-1))
	for j := 0; j < last; j++ {
		if km[j] != 0 && row[j] > maxv {
			maxv = row[j]
		}
	}
	var sum float32
	for j := 0; j < last; j++ {
		if km[j] == 0 {
			row[j] = 0
			continue
		}
		e := expf(row[j] - maxv)
		row[j] = e
		sum += e
	}
	inv := float32(0)
	if sum > 0 {
		inv = 1 / sum
	}
	for j := 0; j < last; j++ {
		row[j] *= inv
	}
	clear(row[last:])
}

// AttentionBackward is the backward of Attention:
//
//	∂P̃ = ∂O·Vᵀ,  ∂V = P̃ᵀ·∂O,  ∂P = ∂P̃ ⊙ keep/(1-p),
//	∂S = P ⊙ (∂P − rowsum(P⊙∂P)) / √hs,  ∂Q = ∂S·K,  ∂K = ∂Sᵀ·Q.
//
// The CPU version keeps per-worker T×T scratch and ignores scratch. As in
// Attention, causal attention's products leave out the triangle above the
// diagonal (∂P̃ there is not formed; ∂S and P̃ are zero there).
func (be *Backend) AttentionBackward(dqkv, scratch, dout, qkv, att tensor.Buf, s tensor.AttnSpec) {
	B, T, C, NH := s.B, s.T, s.C, s.NH
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	DQ, DO, Q, A := F(dqkv)[:B*T*3*C], F(dout)[:B*T*C], F(qkv)[:B*T*3*C], F(att)[:B*NH*T*T]
	thr := tensor.DropThreshold(s.PDrop)
	hseed := tensor.Hash32(s.Seed)
	dscale := 1 / (1 - s.PDrop)
	lowC, lowA, upA := triangles(s.Causal)
	be.parallel(B*NH, T*T*hs, func(lo, hi int) {
		sp := workBuf(2 * T * T)
		defer putWorkBuf(sp)
		dP := (*sp)[:T*T]
		var pd []float32
		if thr != 0 {
			pd = (*sp)[T*T:]
		}
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b * T * 3 * C
			P := A[bh*T*T : (bh+1)*T*T]
			do := DO[b*T*C+h*hs:]
			// ∂P̃ = ∂O·Vᵀ
			gemm.SgemmTri(lowC, false, true, T, T, hs, 1, do, C, Q[base+2*C+h*hs:], 3*C, 0, dP, T)
			pv := P
			if thr != 0 {
				for i := range pd {
					if tensor.Hash32(hseed+uint32(bh*T*T+i)) < thr {
						pd[i] = 0
						dP[i] = 0
					} else {
						pd[i] = P[i] * dscale
						dP[i] *= dscale
					}
				}
				pv = pd
			}
			// ∂V = P̃ᵀ·∂O
			gemm.SgemmTri(upA, true, false, T, hs, T, 1, pv, T, do, C, 0, DQ[base+2*C+h*hs:], 3*C)
			// ∂S (in place in dP)
			for t := 0; t < T; t++ {
				last := T
				if s.Causal {
					last = t + 1
				}
				p, d := P[t*T:t*T+last], dP[t*T:t*T+last]
				var dot float32
				for j := range p {
					dot += p[j] * d[j]
				}
				for j := range p {
					d[j] = p[j] * (d[j] - dot) * scale
				}
				clear(dP[t*T+last : (t+1)*T])
			}
			// ∂Q = ∂S·K, ∂K = ∂Sᵀ·Q
			gemm.SgemmTri(lowA, false, false, T, hs, T, 1, dP, T, Q[base+C+h*hs:], 3*C, 0, DQ[base+h*hs:], 3*C)
			gemm.SgemmTri(upA, true, false, T, hs, T, 1, dP, T, Q[base+h*hs:], 3*C, 0, DQ[base+C+h*hs:], 3*C)
		}
	})
}

// KVAttention is cached inference attention; see tensor.Backend.
func (be *Backend) KVAttention(out, qkv, kc, vc tensor.Buf, keyMask tensor.IBuf, B, Tn, C, NH, pos, Tmax int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	O, Q, K, V := F(out)[:B*Tn*C], F(qkv)[:B*Tn*3*C], F(kc), F(vc)
	var mask []int32
	if keyMask != nil {
		mask = I(keyMask)[:B*Tmax]
	}
	L := pos + Tn
	be.parallel(B*NH, Tn*L*hs, func(lo, hi int) {
		sp := workBuf(Tn * L)
		defer putWorkBuf(sp)
		S := *sp
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for i := 0; i < Tn; i++ {
				src := (b*Tn + i) * 3 * C
				dst := (bh*Tmax + pos + i) * hs
				copy(K[dst:dst+hs], Q[src+C+h*hs:src+C+(h+1)*hs])
				copy(V[dst:dst+hs], Q[src+2*C+h*hs:src+2*C+(h+1)*hs])
			}
			kb := K[bh*Tmax*hs:]
			gemm.Sgemm(false, true, Tn, L, hs, scale, Q[b*Tn*3*C+h*hs:], 3*C, kb, hs, 0, S, L)
			var km []int32
			if mask != nil {
				km = mask[b*Tmax : b*Tmax+L]
			}
			for i := 0; i < Tn; i++ {
				softmaxRow(S[i*L:(i+1)*L], pos+i+1, km)
			}
			gemm.Sgemm(false, false, Tn, hs, L, 1, S, L, V[bh*Tmax*hs:], hs, 0, O[b*Tn*C+h*hs:], C)
		}
	})
}
