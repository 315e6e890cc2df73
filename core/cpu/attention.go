package cpu

import (
	"math"

	"github.com/hutml/hut/core/tensor"
)

// Attention computes multi-head scaled dot-product attention. Work is split
// over (batch, head) pairs; each pair owns its rows of att and its channels
// of out, so the split never changes a result.
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
	be.parallel(B*NH, T*T*hs, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for t := 0; t < T; t++ {
				q := Q[(b*T+t)*3*C+h*hs : (b*T+t)*3*C+(h+1)*hs]
				row := A[(bh*T+t)*T : (bh*T+t+1)*T]
				last := T
				if s.Causal {
					last = t + 1
				}
				maxv := float32(math.Inf(-1))
				for t2 := 0; t2 < last; t2++ {
					if mask != nil && mask[b*T+t2] == 0 {
						row[t2] = float32(math.Inf(-1))
						continue
					}
					k := Q[(b*T+t2)*3*C+C+h*hs : (b*T+t2)*3*C+C+(h+1)*hs]
					var d float32
					for i := range q {
						d += q[i] * k[i]
					}
					d *= scale
					row[t2] = d
					if d > maxv {
						maxv = d
					}
				}
				var sum float32
				for t2 := 0; t2 < last; t2++ {
					if math.IsInf(float64(row[t2]), -1) {
						row[t2] = 0
						continue
					}
					e := float32(math.Exp(float64(row[t2] - maxv)))
					row[t2] = e
					sum += e
				}
				inv := float32(0)
				if sum > 0 {
					inv = 1 / sum
				}
				for t2 := 0; t2 < last; t2++ {
					row[t2] *= inv
				}
				for t2 := last; t2 < T; t2++ {
					row[t2] = 0
				}
				o := O[(b*T+t)*C+h*hs : (b*T+t)*C+(h+1)*hs]
				clear(o)
				for t2 := 0; t2 < last; t2++ {
					p := row[t2]
					if thr != 0 {
						if tensor.Hash32(hseed+uint32((bh*T+t)*T+t2)) < thr {
							continue
						}
						p *= dscale
					}
					if p == 0 {
						continue
					}
					v := Q[(b*T+t2)*3*C+2*C+h*hs : (b*T+t2)*3*C+2*C+(h+1)*hs]
					for i := range o {
						o[i] += p * v[i]
					}
				}
			}
		}
	})
}

// AttentionBackward is the backward of Attention (the CPU version keeps its
// own small scratch rows and does not need the scratch buffer).
func (be *Backend) AttentionBackward(dqkv, scratch, dout, qkv, att tensor.Buf, s tensor.AttnSpec) {
	B, T, C, NH := s.B, s.T, s.C, s.NH
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	DQ, DO, Q, A := F(dqkv)[:B*T*3*C], F(dout)[:B*T*C], F(qkv)[:B*T*3*C], F(att)[:B*NH*T*T]
	thr := tensor.DropThreshold(s.PDrop)
	hseed := tensor.Hash32(s.Seed)
	dscale := 1 / (1 - s.PDrop)
	be.parallel(B*NH, T*T*hs, func(lo, hi int) {
		datt := make([]float32, T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for t := 0; t < T; t++ {
				base := (b*T + t) * 3 * C
				clear(DQ[base+h*hs : base+(h+1)*hs])
				clear(DQ[base+C+h*hs : base+C+(h+1)*hs])
				clear(DQ[base+2*C+h*hs : base+2*C+(h+1)*hs])
			}
			for t := 0; t < T; t++ {
				row := A[(bh*T+t)*T : (bh*T+t+1)*T]
				last := T
				if s.Causal {
					last = t + 1
				}
				do := DO[(b*T+t)*C+h*hs : (b*T+t)*C+(h+1)*hs]
				// d(probabilities) and the value gradient.
				for t2 := 0; t2 < last; t2++ {
					keep := float32(1)
					if thr != 0 {
						if tensor.Hash32(hseed+uint32((bh*T+t)*T+t2)) < thr {
							keep = 0
						} else {
							keep = dscale
						}
					}
					v := Q[(b*T+t2)*3*C+2*C+h*hs : (b*T+t2)*3*C+2*C+(h+1)*hs]
					dv := DQ[(b*T+t2)*3*C+2*C+h*hs : (b*T+t2)*3*C+2*C+(h+1)*hs]
					var d float32
					p := row[t2] * keep
					for i := range do {
						d += do[i] * v[i]
						dv[i] += p * do[i]
					}
					datt[t2] = d * keep
				}
				// Softmax backward: dpre = p·(datt − Σ p·datt).
				var dot float32
				for t2 := 0; t2 < last; t2++ {
					dot += row[t2] * datt[t2]
				}
				q := Q[(b*T+t)*3*C+h*hs : (b*T+t)*3*C+(h+1)*hs]
				dq := DQ[(b*T+t)*3*C+h*hs : (b*T+t)*3*C+(h+1)*hs]
				for t2 := 0; t2 < last; t2++ {
					dpre := row[t2] * (datt[t2] - dot) * scale
					if dpre == 0 {
						continue
					}
					k := Q[(b*T+t2)*3*C+C+h*hs : (b*T+t2)*3*C+C+(h+1)*hs]
					dk := DQ[(b*T+t2)*3*C+C+h*hs : (b*T+t2)*3*C+C+(h+1)*hs]
					for i := range q {
						dq[i] += dpre * k[i]
						dk[i] += dpre * q[i]
					}
				}
			}
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
	be.parallel(B*NH, Tn*(pos+Tn)*hs, func(lo, hi int) {
		row := make([]float32, pos+Tn)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			for i := 0; i < Tn; i++ {
				src := (b*Tn + i) * 3 * C
				dst := (bh*Tmax + pos + i) * hs
				copy(K[dst:dst+hs], Q[src+C+h*hs:src+C+(h+1)*hs])
				copy(V[dst:dst+hs], Q[src+2*C+h*hs:src+2*C+(h+1)*hs])
			}
			for i := 0; i < Tn; i++ {
				q := Q[(b*Tn+i)*3*C+h*hs : (b*Tn+i)*3*C+(h+1)*hs]
				last := pos + i + 1
				maxv := float32(math.Inf(-1))
				for t2 := 0; t2 < last; t2++ {
					if mask != nil && mask[b*Tmax+t2] == 0 {
						row[t2] = float32(math.Inf(-1))
						continue
					}
					k := K[(bh*Tmax+t2)*hs : (bh*Tmax+t2+1)*hs]
					var d float32
					for j := range q {
						d += q[j] * k[j]
					}
					d *= scale
					row[t2] = d
					if d > maxv {
						maxv = d
					}
				}
				var sum float32
				for t2 := 0; t2 < last; t2++ {
					if math.IsInf(float64(row[t2]), -1) {
						row[t2] = 0
						continue
					}
					e := float32(math.Exp(float64(row[t2] - maxv)))
					row[t2] = e
					sum += e
				}
				o := O[(b*Tn+i)*C+h*hs : (b*Tn+i)*C+(h+1)*hs]
				clear(o)
				if sum == 0 {
					continue
				}
				inv := 1 / sum
				for t2 := 0; t2 < last; t2++ {
					p := row[t2] * inv
					if p == 0 {
						continue
					}
					v := V[(bh*Tmax+t2)*hs : (bh*Tmax+t2+1)*hs]
					for j := range o {
						o[j] += p * v[j]
					}
				}
			}
		}
	})
}
