package cpu

import (
	"math"

	"github.com/hutml/hut/core/tensor"
)

// CrossEntropy is the fused softmax + (label-smoothed) cross-entropy; see
// tensor.Backend. Rows run in parallel and their losses are summed in row
// order afterwards.
func (be *Backend) CrossEntropy(stats tensor.Buf, statOff int, dlogits, logits tensor.Buf, targets tensor.IBuf, weight tensor.Buf, N, V int, smoothing float32) {
	L, T, W := F(logits)[:N*V], I(targets)[:N], F(weight)[:N]
	var D []float32
	if dlogits != nil {
		D = F(dlogits)[:N*V]
	}
	losses := make([]float64, N)
	eps := float64(smoothing)
	be.parallel(N, V, func(lo, hi int) {
		var work []float32
		if D == nil {
			sp := workBuf(V)
			defer putWorkBuf(sp)
			work = *sp
		}
		for n := lo; n < hi; n++ {
			w := W[n]
			row := L[n*V : (n+1)*V]
			if w == 0 {
				if D != nil {
					clear(D[n*V : (n+1)*V])
				}
				continue
			}
			// Max and sum over blocks of 256 (sums added in float64).
			maxv := row[0]
			var zsum float64
			for lo := 0; lo < V; lo += 256 {
				m, zs := maxSum(row[lo:min(lo+256, V)])
				maxv = max(maxv, m)
				zsum += float64(zs)
			}
			t := int(T[n])
			zt := row[t]
			// One exp per logit: e = exp(z - max) goes into the gradient row
			// (which may be the logits row itself) and is scaled in place.
			out := work
			if D != nil {
				out = D[n*V : (n+1)*V]
			}
			var sum float64
			for lo := 0; lo < V; lo += 256 {
				hi := min(lo+256, V)
				sum += float64(expSubSum(out[lo:hi], row[lo:hi], maxv))
			}
			lse := float64(maxv) + math.Log(sum)
			nll := lse - float64(zt)
			loss := (1-eps)*nll + eps*(lse-zsum/float64(V))
			losses[n] = float64(w) * loss
			if D != nil {
				scale := w * float32(1/sum)
				off := w * float32(eps/float64(V))
				scaleShift(out, scale, -off)
				out[t] -= w * float32(1-eps)
			}
		}
	})
	var total float64
	for _, l := range losses {
		total += l
	}
	F(stats)[statOff] += float32(total)
}

// MSE is the squared-error loss for regression heads.
func (be *Backend) MSE(stats tensor.Buf, statOff int, dpred, pred, target, weight tensor.Buf, N int) {
	P, T, W := F(pred)[:N], F(target)[:N], F(weight)[:N]
	var total float64
	for n := 0; n < N; n++ {
		d := P[n] - T[n]
		total += float64(W[n]) * float64(d) * float64(d)
		if dpred != nil {
			F(dpred)[n] = 2 * W[n] * d
		}
	}
	F(stats)[statOff] += float32(total)
}

// ClipScale follows torch.nn.utils.clip_grad_norm_: the coefficient is
// maxNorm/(‖g‖+1e-6), clamped to 1.
func (be *Backend) ClipScale(stats tensor.Buf, dstOff, normSqOff int, maxNorm float32) {
	S := F(stats)
	if maxNorm <= 0 {
		S[dstOff] = 1
		return
	}
	norm := math.Sqrt(float64(S[normSqOff]))
	c := float64(maxNorm) / (norm + 1e-6)
	if c > 1 || math.IsNaN(c) {
		c = 1
	}
	S[dstOff] = float32(c)
}

// AdamWStep follows torch.optim.AdamW: decoupled decay p -= lr·wd·p, then
// p -= (lr/bc1)·m / (√v/√bc2 + eps).
func (be *Backend) AdamWStep(p, g, m, v tensor.Buf, n int, h tensor.AdamW, stats tensor.Buf, scaleOff int) {
	P, G, M, Vv := F(p)[:n], F(g)[:n], F(m)[:n], F(v)[:n]
	gs := F(stats)[scaleOff]
	bc1 := 1 - math.Pow(float64(h.Beta1), float64(h.Step))
	bc2 := 1 - math.Pow(float64(h.Beta2), float64(h.Step))
	c := &adamConsts{
		gs: gs, b1: h.Beta1, omb1: 1 - h.Beta1, b2: h.Beta2, omb2: 1 - h.Beta2,
		decay:    1 - h.LR*h.WeightDecay,
		stepSize: float32(float64(h.LR) / bc1),
		sbc2:     float32(math.Sqrt(bc2)),
		eps:      h.Eps,
	}
	be.parallel(n, 8, func(lo, hi int) {
		adamw(P[lo:hi], G[lo:hi], M[lo:hi], Vv[lo:hi], c)
	})
}
