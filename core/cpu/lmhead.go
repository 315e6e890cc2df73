package cpu

import (
	"math"
	"sync"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/par"
)

// LinearCrossEntropy's vocabulary is cut into lceParts contiguous parts,
// each reduced on its own (a running maximum, sums of exponentials and the
// gradient's accumulator per row, flash-attention style) and merged at the
// end. The parts, not the threads, fix the order of the sums, so results
// do not depend on the number of threads; up to lceParts cores take part.
// Each part walks its vocabulary in blocks of lceBlock rows of w: the
// block's logits Z = x·w_bᵀ (N×lceBlock) stay in cache, become
// exponentials there, and dx's accumulator takes Z·w_b while w_b is still
// in cache, so w streams from memory once instead of twice.
const (
	lceParts = 4
	lceBlock = 256
)

// packedAPool recycles LinearCrossEntropy's packed copies of x.
var packedAPool = sync.Pool{New: func() any { return new(gemm.PackedA) }}

// lcePart is the running reduction of one part of the vocabulary.
type lcePart struct {
	v0, v1 int        // the part's vocabulary rows
	m      []float32  // per row: the running maximum logit
	s      []float64  // Σ exp(z − m) over the part
	sNot   []float64  // the same sum without the target's term
	zsum   []float64  // Σ z (label smoothing)
	zt     []float32  // the target's logit, when the target is in this part
	acc    []float32  // [N, C]: Σ_{v≠t} exp(z_v − m)·w_v (with the gradient)
	accp   *[]float32 // acc's pooled buffer
	wsum   []float32  // [C]: Σ_v w_v (with the gradient and smoothing)
}

// LinearCrossEntropy implements tensor.LinearCrossEntropy.
func (be *Backend) LinearCrossEntropy(stats tensor.Buf, statOff int, dx, x, w tensor.Buf, targets tensor.IBuf, weight tensor.Buf, N, V, C int, smoothing float32) {
	X, W, T, Wn := F(x)[:N*C], F(w)[:V*C], I(targets)[:N], F(weight)[:N]
	grad := dx != nil
	eps := float64(smoothing)
	nblk := (V + lceBlock - 1) / lceBlock
	parts := make([]lcePart, min(lceParts, nblk))
	workers := min(be.threads, len(parts))
	// x multiplies every block of w: it is packed for the products once.
	xa := packedAPool.Get().(*gemm.PackedA)
	defer func() {
		xa.Release()
		packedAPool.Put(xa)
	}()
	xa.Pack(false, N, C, X, C)
	par.Run(workers, par.Func(func(wk int) {
		zp := workBuf(N * lceBlock)
		defer putWorkBuf(zp)
		for p := wk; p < len(parts); p += workers {
			q := &parts[p]
			q.v0, q.v1 = p*nblk/len(parts)*lceBlock, min((p+1)*nblk/len(parts)*lceBlock, V)
			q.run(*zp, xa, W, T, Wn, N, C, grad, grad && eps > 0)
		}
	}))
	// Merge the parts row by row.
	var D []float32
	if grad {
		D = F(dx)[:N*C]
	}
	losses := make([]float64, N)
	be.parallel(N, C*len(parts), func(lo, hi int) {
		f := make([]float64, len(parts))
		for n := lo; n < hi; n++ {
			wn := Wn[n]
			if wn == 0 {
				if grad {
					clear(D[n*C : (n+1)*C])
				}
				continue
			}
			mx := float32(math.Inf(-1))
			for p := range parts {
				mx = max(mx, parts[p].m[n])
			}
			var s, sNot, zsum float64
			var zt float32
			t := int(T[n])
			for p := range parts {
				q := &parts[p]
				f[p] = math.Exp(float64(q.m[n] - mx))
				s += f[p] * q.s[n]
				sNot += f[p] * q.sNot[n]
				zsum += q.zsum[n]
				if t >= q.v0 && t < q.v1 {
					zt = q.zt[n]
				}
			}
			lse := float64(mx) + math.Log(s)
			loss := (1-eps)*(lse-float64(zt)) + eps*(lse-zsum/float64(V))
			losses[n] = float64(wn) * loss
			if !grad {
				continue
			}
			// dx = w·[acc/S − (S_{≠t}/S − ε)·w_t − (ε/V)·Σ_v w_v]: the
			// target's term is kept out of acc, so a confident prediction
			// (p_t ≈ 1) does not cancel two large numbers.
			d := D[n*C : (n+1)*C]
			clear(d)
			for p := range parts {
				axpy(d, parts[p].acc[n*C:(n+1)*C], float32(float64(wn)*f[p]/s))
			}
			axpy(d, W[t*C:(t+1)*C], -float32(float64(wn)*(sNot/s-eps)))
			if eps > 0 {
				for p := range parts {
					axpy(d, parts[p].wsum, -float32(float64(wn)*eps/float64(V)))
				}
			}
		}
	})
	for p := range parts {
		parts[p].free()
	}
	var total float64
	for _, l := range losses {
		total += l
	}
	F(stats)[statOff] += float32(total)
}

// run reduces rows [v0, v1) of w for every row of x, a block at a time.
func (q *lcePart) run(zbuf []float32, xa *gemm.PackedA, W []float32, T []int32, Wn []float32, N, C int, grad, smooth bool) {
	q.m, q.zt = make([]float32, N), make([]float32, N)
	q.s, q.sNot, q.zsum = make([]float64, N), make([]float64, N), make([]float64, N)
	for n := range q.m {
		q.m[n] = float32(math.Inf(-1))
	}
	if grad {
		q.accp = workBuf(N * C)
		q.acc = *q.accp
		clear(q.acc)
	}
	if smooth {
		q.wsum = make([]float32, C)
	}
	for lo := q.v0; lo < q.v1; lo += lceBlock {
		nb := min(lceBlock, q.v1-lo)
		Z := zbuf[:N*nb]
		wb := W[lo*C : (lo+nb)*C]
		xa.SgemmSerial(true, nb, 1, wb, C, 0, Z, nb)
		for n := 0; n < N; n++ {
			row := Z[n*nb : (n+1)*nb]
			if Wn[n] == 0 {
				clear(row) // its dx row is zero; acc gathers nothing for it
				continue
			}
			t := int(T[n]) - lo
			own := t >= 0 && t < nb
			if own {
				q.zt[n] = row[t]
			}
			bm, zs := maxSum(row)
			q.zsum[n] += float64(zs)
			if bm > q.m[n] {
				if q.s[n] > 0 { // rescale what was summed against the old maximum
					r := expf(q.m[n] - bm)
					q.s[n] *= float64(r)
					q.sNot[n] *= float64(r)
					if grad {
						scaleShift(q.acc[n*C:(n+1)*C], r, 0)
					}
				}
				q.m[n] = bm
			}
			bs := float64(expSubSum(row, row, q.m[n]))
			q.s[n] += bs
			if !own {
				q.sNot[n] += bs
				continue
			}
			// The target's term stays out of sNot and acc.
			row[t] = 0
			var rest float64
			for _, e := range row {
				rest += float64(e)
			}
			q.sNot[n] += rest
		}
		if grad {
			// While w_b is multiplied, the next block is fetched.
			next := W[min(lo+nb, q.v1)*C : min(lo+nb+lceBlock, q.v1)*C]
			gemm.SgemmSerialThen(next, false, false, N, C, nb, 1, Z, nb, wb, C, 1, q.acc, C)
		}
		if smooth {
			for v := 0; v < nb; v++ {
				addVec(q.wsum, wb[v*C:(v+1)*C])
			}
		}
	}
}

func (q *lcePart) free() {
	if q.accp != nil {
		putWorkBuf(q.accp)
		q.accp, q.acc = nil, nil
	}
}
