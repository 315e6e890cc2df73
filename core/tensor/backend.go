// Package tensor defines the compute seam of the engine: the Backend
// interface that the models and the PEFT methods call for every heavy
// operation, and the opaque buffers those operations read and write.
//
// A backend owns its memory. On the CPU a Buf is a []float32; on WebGPU it
// is a GPU buffer that never leaves the device. Model code therefore never
// touches element data directly: it allocates buffers, uploads inputs with
// Write, calls operations, and reads back only what it must (the loss) with
// Read. Operations on one backend run in program order; Read waits for all
// earlier work.
//
// Conventions (llm.c style, everything row-major and contiguous):
//   - N is a number of rows (tokens, N = B·T), C a number of channels.
//   - A linear weight W is stored [out, in] (PyTorch nn.Linear orientation).
//   - Ops that produce gradients of parameters ACCUMULATE into them (+=), so
//     gradient accumulation over micro-batches is free; ops that produce
//     activations or activation gradients OVERWRITE their output, unless the
//     doc says otherwise.
//   - Scalar outputs (loss sums, norms) are written at an element offset of
//     a small stats buffer so that a step reads back once.
//   - An output buffer must not be the same Buf as an input of the same
//     call unless the op's doc allows it (WebGPU forbids binding a buffer
//     both read-only and writable in one dispatch). Accumulating ops
//     (AddInPlace, AXPY, ColSum, …) read and write their destination.
//
// Every operation has a reference implementation in package cpu; other
// backends are held to it by parity tests.
package tensor

// Buf is an opaque float32 buffer owned by a Backend.
type Buf interface {
	Len() int // number of float32 elements
}

// IBuf is an opaque int32 buffer owned by a Backend (token ids, targets,
// positions, masks).
type IBuf interface {
	Len() int
}

// GELUKind selects the GELU formula.
type GELUKind int

const (
	GELUTanh GELUKind = iota // GPT-2's gelu_new: 0.5x(1+tanh(√(2/π)(x+0.044715x³)))
	GELUErf                  // exact: 0.5x(1+erf(x/√2)), BERT/RoBERTa
)

// AttnSpec describes a multi-head self-attention call over a fused qkv
// input of shape [B, T, 3C] laid out as [q | k | v] along the channels.
type AttnSpec struct {
	B, T, C, NH int
	Causal      bool
	// KeyMask, if non-nil, is an IBuf of B·T entries: 1 where a key position
	// may be attended to, 0 for padding. Masked keys get probability 0. A
	// query row whose keys are all masked gets all-zero probabilities.
	KeyMask IBuf
	// Dropout on the attention probabilities (train time only); the mask
	// is a pure function of (Seed, element index), see DropoutKeep.
	PDrop float32
	Seed  uint32
}

// AdamW holds the hyper-parameters of one AdamW update.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int // 1-based step, for bias correction
}

// Backend is the set of operations the engine needs. All sizes are in
// elements. See the package comment for the conventions.
type Backend interface {
	Name() string
	// Err returns the first asynchronous failure of the backend (device
	// lost, out of memory, an invalid call), or nil. Operations after a
	// failure may be skipped; callers check Err after Read.
	Err() error

	// ---- memory ----
	NewBuf(n int) Buf   // zero-filled
	NewIBuf(n int) IBuf // zero-filled
	Free(b Buf)
	FreeI(b IBuf)
	Write(dst Buf, off int, src []float32)
	WriteI(dst IBuf, off int, src []int32)
	// Read copies n = len(dst) elements starting at off into dst, after all
	// earlier operations have completed. In the browser Read blocks its
	// goroutine until the GPU is done: call it from a goroutine, never
	// directly inside a js.FuncOf callback.
	Read(src Buf, off int, dst []float32)
	Zero(b Buf, off, n int)
	Copy(dst Buf, dstOff int, src Buf, srcOff int, n int)

	// ---- GEMM ----
	// MatMul computes C = alpha·op(A)·op(B) + beta·C with C [m, n],
	// op(A) [m, k], op(B) [k, n]; op(X) = Xᵀ when the flag is set (A is then
	// stored [k, m], B stored [n, k]). beta = 0 overwrites C.
	MatMul(c, a, b Buf, m, n, k int, transA, transB bool, alpha, beta float32)
	// MatMulScaled is MatMul with the inner dimension scaled:
	// C = alpha·op(A)·diag(s)·op(B) + beta·C, s of k entries (nil: MatMul).
	// It computes (X⊙s)·Wᵀ without forming X⊙s, HUT's forward and
	// input-gradient products; the result equals MatMul on the scaled A.
	MatMulScaled(c, a, b, s Buf, m, n, k int, transA, transB bool, alpha, beta float32)

	// ---- element-wise ----
	Add(out, a, b Buf, n int)               // out = a + b
	AddInPlace(acc, x Buf, n int)           // acc += x
	Mul(out, a, b Buf, n int)               // out = a ⊙ b
	Scale(out, x Buf, alpha float32, n int) // out = alpha·x
	AXPY(y, x Buf, alpha float32, n int)    // y += alpha·x

	// ---- broadcasts and reductions over [N, C] ----
	ScaleCols(out, x, s Buf, N, C int) // out[n,c] = x[n,c]·s[c]
	// ScaleColsBias: out[n,c] = x[n,c]·s[c] + bias[c] (bias may be nil),
	// HUT's output scaling and bias in one pass.
	ScaleColsBias(out, x, s, bias Buf, N, C int)
	// ColSumMulScale: dst[c] += Σ_n h[n,c]·x[n,c] and, when out is not
	// nil, out[n,c] = h[n,c]·s[c] — HUT's ∂b and ∂X in one pass over H.
	ColSumMulScale(dst, out, h, x, s Buf, N, C int)
	ScaleRows(out, x, s Buf, N, C int)            // out[n,c] = x[n,c]·s[n]
	AddBias(y, bias Buf, N, C int)                // y[n,c] += bias[c]
	ColSum(dst, x Buf, N, C int)                  // dst[c] += Σ_n x[n,c]
	RowSum(dst, x Buf, N, C int)                  // dst[n] += Σ_c x[n,c]
	ColSumMul(dst, x, y Buf, N, C int)            // dst[c] += Σ_n x[n,c]·y[n,c]
	BroadcastCols(dst, v Buf, N, C int)           // dst[n,c] += v[n]  (v has N entries)
	BroadcastRows(dst, v Buf, N, C int)           // dst[n,c] += v[c]  (v has C entries)
	SumSquares(dst Buf, dstOff int, x Buf, n int) // dst[dstOff] += Σ x²
	Sum(dst Buf, dstOff int, x Buf, n int)        // dst[dstOff] += Σ x

	// ---- embeddings ----
	// Embed: out[n,:] = wte[tok[n],:] + wpe[pos[n],:] (+ tte[typ[n],:] when
	// tte != nil). Token ids must be in range (callers validate).
	Embed(out Buf, tok, pos, typ IBuf, wte, wpe, tte Buf, N, C int)
	// EmbedBackward scatter-adds dout into the rows of dwte, dwpe, dtte
	// (each may be nil to skip it).
	EmbedBackward(dwte, dwpe, dtte Buf, dout Buf, tok, pos, typ IBuf, N, C int)
	// GatherRows: out[i,:] = x[idx[i],:] for i < n; ScatterAddRows is its
	// backward: dx[idx[i],:] += dout[i,:].
	GatherRows(out, x Buf, idx IBuf, n, C int)
	ScatterAddRows(dx, dout Buf, idx IBuf, n, C int)

	// ---- layers ----
	// LayerNorm: out = (x-μ)/σ·w + b over the last dimension, saving μ and
	// 1/σ (each N entries) for the backward pass.
	LayerNorm(out, mean, rstd, x, w, b Buf, N, C int, eps float32)
	// LayerNormBackward overwrites dx and accumulates dw, db (dw/db may be
	// nil for a frozen norm).
	LayerNormBackward(dx, dw, db, dout, x, w, mean, rstd Buf, N, C int)
	GELU(out, x Buf, n int, kind GELUKind)
	GELUBackward(dx, dout, x Buf, n int, kind GELUKind) // dx = dout·gelu'(x)
	Tanh(out, x Buf, n int)
	TanhBackward(dx, dout, y Buf, n int) // y = tanh(x); dx = dout·(1-y²)
	// Dropout: out = x·keep/(1-p); DropoutBackward: dx = dout·keep/(1-p),
	// with keep = DropoutKeep(seed, i, p). p = 0 copies.
	Dropout(out, x Buf, n int, p float32, seed uint32)
	DropoutBackward(dx, dout Buf, n int, p float32, seed uint32)

	// Attention over a fused qkv [B,T,3C]: out [B,T,C]; att [B,NH,T,T]
	// holds the softmax probabilities (before dropout) for the backward.
	Attention(out, att, qkv Buf, s AttnSpec)
	// AttentionBackward overwrites dqkv. scratch must hold B·NH·T·T floats.
	AttentionBackward(dqkv, scratch, dout, qkv, att Buf, s AttnSpec)
	// KVAttention is inference attention with a cache: the Tn new tokens of
	// qkv [B,Tn,3C] sit at positions pos…pos+Tn-1; their k and v are stored
	// into kc, vc [B,NH,Tmax,hs], and each new query attends causally to
	// cache positions 0…its own position, skipping keys whose KeyMask entry
	// ([B,Tmax]) is 0. out is [B,Tn,C].
	KVAttention(out, qkv, kc, vc Buf, keyMask IBuf, B, Tn, C, NH, pos, Tmax int)

	// ---- losses ----
	// CrossEntropy over logits [N,V] (a row-major matrix with row stride V):
	// for rows with weight[n] ≠ 0, the loss is
	//   (1-ε)·(-log p[target]) + ε·mean_v(-log p[v])     (PyTorch label smoothing)
	// It adds Σ_n weight[n]·loss_n to stats[statOff] and, when dlogits is
	// non-nil, writes dlogits[n,:] = weight[n]·(p - (1-ε)·onehot - ε/V)
	// (dlogits may alias logits). Rows with weight 0 get zero gradient.
	CrossEntropy(stats Buf, statOff int, dlogits, logits Buf, targets IBuf, weight Buf, N, V int, smoothing float32)
	// MSE for regression heads: adds Σ_n weight[n]·(pred[n]-target[n])² to
	// stats[statOff] and writes dpred = 2·weight·(pred-target).
	MSE(stats Buf, statOff int, dpred, pred, target, weight Buf, N int)

	// ---- optimisation ----
	// ClipScale writes into stats[dstOff] the factor min(1, maxNorm/(√stats[normSqOff]+1e-6))
	// (1 when maxNorm ≤ 0), so clipping needs no read-back.
	ClipScale(stats Buf, dstOff, normSqOff int, maxNorm float32)
	// AdamWStep updates p with gradient g·stats[scaleOff] (decoupled weight
	// decay, bias-corrected moments m, v).
	AdamWStep(p, g, m, v Buf, n int, h AdamW, stats Buf, scaleOff int)
}

// DropoutKeep is the dropout mask shared by every backend: element i of a
// dropout site with seed s is kept iff hash(hash(s)+i) ≥ p·2³². The hash is
// the PCG output permutation (RXS-M-XS), cheap in WGSL and bit-exact
// everywhere.
func DropoutKeep(seed uint32, i uint32, p float32) bool {
	return Hash32(Hash32(seed)+i) >= DropThreshold(p)
}

// DropThreshold converts a probability to the uint32 threshold used by
// DropoutKeep.
func DropThreshold(p float32) uint32 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return 0xffffffff
	}
	return uint32(float64(p) * 4294967296.0)
}

// Hash32 is PCG's RXS-M-XS output function applied to one LCG step of x.
func Hash32(x uint32) uint32 {
	state := x*747796405 + 2891336453
	word := ((state >> ((state >> 28) + 4)) ^ state) * 277803737
	return (word >> 22) ^ word
}

// Seeds derives the dropout seeds of one forward/backward call of a model:
// Site gives the seed of dropout site number site in layer layer (at most
// 16 sites per layer), the same in the forward and the backward pass.
type Seeds uint32

// Site returns the seed of one dropout site.
func (s Seeds) Site(layer, site int) uint32 {
	return Hash32(uint32(s) ^ Hash32(uint32(layer*16+site+1)))
}

// ScaledGELU is implemented by backends that can finish a linear layer's
// output inside the GELU that consumes it (the CPU backend), so that the
// pre-activation Y = Z⊙s + bias is never written: the layer stores Z and
// the GELU recomputes Y on the fly. The results are those of ScaleColsBias
// (or AddBias) followed by GELU, bit for bit.
type ScaledGELU interface {
	// GELUScaled: out[n,c] = gelu(z[n,c]·s[c] + bias[c]) over [N, C]; s and
	// bias may each be nil (no scaling, no bias).
	GELUScaled(out, z, s, bias Buf, N, C int, kind GELUKind)
	// GELUScaledBackward: dx[n,c] = dout[n,c]·gelu'(z[n,c]·s[c] + bias[c]),
	// the gradient of the pre-activation, and, when ds is not nil,
	// ds[c] += Σ_n dx[n,c]·z[n,c], the gradient of s (accumulated).
	GELUScaledBackward(dx, ds, dout, z, s, bias Buf, N, C int, kind GELUKind)
	// GELUScaledBackwardIn is GELUScaledBackward for a GELU whose output
	// h = gelu(z⊙s + bias) fed a layer with input scale sIn ([C]) whose
	// input-gradient product was H ([N, C]): the gradient of h is H⊙sIn,
	// and dsIn[c] += Σ_n H[n,c]·h[n,c] (that layer's ∂sIn) comes out of the
	// same pass, h recomputed on the fly — the bits of ColSumMulScale(dsIn,
	// dh, H, h, sIn) then GELUScaledBackward(dx, ds, dh, …).
	GELUScaledBackwardIn(dx, ds, dsIn, h, sIn, z, s, bias Buf, N, C int, kind GELUKind)
}

// FusedLinear is implemented by backends that finish a linear layer's
// product while it is still in cache (the CPU backend), so that the pass
// which would read the product back from memory is saved. The results are
// those of the unfused operations named below, bit for bit.
type FusedLinear interface {
	// LinearForward forms the layer's product P = (x⊙sIn)·wᵀ (x [N, In],
	// w [Out, In], sIn [In] or nil) and its output y = P⊙sOut + bias (sOut
	// and bias [Out], each may be nil). With p not nil P is kept in p, as
	// MatMulScaled then ScaleColsBias would leave it; with p nil P is
	// formed in y, as MatMul then AddBias.
	LinearForward(y, p, x, w, sIn, sOut, bias Buf, N, Out, In int)
	// LinearBackwardInput forms H = (dy⊙sOut)·w (dy [N, Out], sOut [Out]
	// or nil) and from it ds[c] += Σ_n H[n,c]·x[n,c] and dx = H⊙sIn
	// (x, dx [N, In]), as MatMulScaled then ColSumMulScale; dx may be nil
	// (ds only) and must not alias x or dy.
	LinearBackwardInput(dx, ds, dy, w, x, sOut, sIn Buf, N, Out, In int)
}

// WeightPacker is implemented by backends that can keep a frozen weight
// w [Out, In] packed ahead, in the layout their matrix products read, for
// the products that multiply by it from the right — the input gradient
// dx = dy·w of MatMul, MatMulScaled and FusedLinear.LinearBackwardInput —
// which then skip packing it on every call (the CPU backend). The results
// are the same bits. The packed copy is a cache of w and as large: it must
// be dropped with UnpackWeight before w changes through any operation but
// Write, Zero, Copy and Free, which drop it themselves.
type WeightPacker interface {
	PackWeight(w Buf, Out, In int)
	UnpackWeight(w Buf)
}

// LinearCrossEntropy is implemented by backends that fuse a tied LM head
// with the cross-entropy after it (the CPU backend): the logits x·wᵀ are
// formed one block of the vocabulary at a time and never stored whole, w is
// read once, and the gradient of x comes out of the same pass.
type LinearCrossEntropy interface {
	// LinearCrossEntropy adds Σ_n weight[n]·loss_n to stats[statOff], with
	// loss_n the (label-smoothed) cross-entropy of the logits row x[n]·wᵀ
	// (x [N, C], w [V, C]) against targets[n], as CrossEntropy does; when dx
	// is not nil it writes dx = ∂L/∂x = (∂L/∂logits)·w [N, C]. The results
	// are those of MatMul, CrossEntropy and MatMul up to rounding (the sums
	// run in another order), and do not depend on the number of threads.
	LinearCrossEntropy(stats Buf, statOff int, dx, x, w Buf, targets IBuf, weight Buf, N, V, C int, smoothing float32)
}
