// Package cpu is the reference Backend: every operation of tensor.Backend
// in plain Go over []float32, parallel across cores where the work is
// large. Work is always split over independent outputs (rows, channels,
// GEMM blocks) and every sum runs in a fixed order, so results are
// bit-identical across runs and thread counts.
//
// The matrix multiply goes through package gemm (AVX2+FMA assembly on amd64,
// pure Go elsewhere, including wasm).
package cpu

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/par"
)

// Buf is the CPU buffer type.
type Buf struct {
	D []float32
	// packed is D as a frozen weight [Out, In] packed ahead for the
	// products ·D (tensor.WeightPacker), or nil.
	packed *gemm.PackedB
}

// Len returns the number of elements.
func (b *Buf) Len() int { return len(b.D) }

// IBuf is the CPU int32 buffer type.
type IBuf struct{ D []int32 }

// Len returns the number of elements.
func (b *IBuf) Len() int { return len(b.D) }

// Backend is the CPU backend. The zero value is not usable; call New.
type Backend struct {
	threads int
	noPack  bool // SetWeightPacking(false)
}

var (
	_ tensor.Backend            = (*Backend)(nil)
	_ tensor.ScaledGELU         = (*Backend)(nil)
	_ tensor.LinearCrossEntropy = (*Backend)(nil)
	_ tensor.WeightPacker       = (*Backend)(nil)
)

// New returns a CPU backend using all cores (GOMAXPROCS). Weight packing
// (PackWeight) is on unless the environment sets HUT_PACK_WEIGHTS=0.
func New() *Backend {
	return &Backend{threads: runtime.GOMAXPROCS(0), noPack: os.Getenv("HUT_PACK_WEIGHTS") == "0"}
}

// Name returns "cpu".
func (be *Backend) Name() string { return "cpu" }

// Err is always nil: the CPU backend fails synchronously (it panics on
// programming errors such as too-small buffers).
func (be *Backend) Err() error { return nil }

// F returns the host slice behind a Buf of this backend. Code outside the
// engine (tests, the teaching view) may use it; model code must not.
func F(b tensor.Buf) []float32 {
	if b == nil {
		return nil
	}
	return b.(*Buf).D
}

// I returns the host slice behind an IBuf of this backend.
func I(b tensor.IBuf) []int32 {
	if b == nil {
		return nil
	}
	return b.(*IBuf).D
}

// optF is F(b)[:n], or nil for a nil b.
func optF(b tensor.Buf, n int) []float32 {
	if b == nil {
		return nil
	}
	return F(b)[:n]
}

// From wraps a host slice as a Buf without copying.
func From(d []float32) *Buf { return &Buf{D: d} }

// FromI wraps a host int32 slice as an IBuf without copying.
func FromI(d []int32) *IBuf { return &IBuf{D: d} }

func (be *Backend) NewBuf(n int) tensor.Buf   { return &Buf{D: make([]float32, n)} }
func (be *Backend) NewIBuf(n int) tensor.IBuf { return &IBuf{D: make([]int32, n)} }
func (be *Backend) Free(b tensor.Buf)         { *b.(*Buf) = Buf{} }
func (be *Backend) FreeI(b tensor.IBuf)       { b.(*IBuf).D = nil }

func (be *Backend) Write(dst tensor.Buf, off int, src []float32) {
	dst.(*Buf).packed = nil
	copy(F(dst)[off:off+len(src)], src)
}
func (be *Backend) WriteI(dst tensor.IBuf, off int, src []int32) { copy(I(dst)[off:off+len(src)], src) }
func (be *Backend) Read(src tensor.Buf, off int, dst []float32)  { copy(dst, F(src)[off:off+len(dst)]) }
func (be *Backend) Zero(b tensor.Buf, off, n int) {
	b.(*Buf).packed = nil
	clear(F(b)[off : off+n])
}
func (be *Backend) Copy(dst tensor.Buf, dstOff int, src tensor.Buf, srcOff int, n int) {
	dst.(*Buf).packed = nil
	copy(F(dst)[dstOff:dstOff+n], F(src)[srcOff:srcOff+n])
}

// PackWeight implements tensor.WeightPacker with gemm.PackB: op(B) = w,
// k = Out, n = In. It does nothing when packing is off (SetWeightPacking).
func (be *Backend) PackWeight(w tensor.Buf, Out, In int) {
	b := w.(*Buf)
	if be.noPack || Out <= 0 || In <= 0 || len(b.D) < Out*In {
		return
	}
	if pb := b.packed; pb != nil {
		if n, k := pb.Dims(); n == In && k == Out {
			return
		}
	}
	b.packed = gemm.PackB(false, In, Out, b.D[:Out*In], In)
}

// UnpackWeight implements tensor.WeightPacker.
func (be *Backend) UnpackWeight(w tensor.Buf) { w.(*Buf).packed = nil }

// SetWeightPacking turns PackWeight on (the default) or off; off, it also
// packs nothing new but keeps the copies made already. Off saves the memory
// of the frozen weights' packed copies (as much as the weights) at the cost
// of packing them in every backward pass.
func (be *Backend) SetWeightPacking(on bool) { be.noPack = !on }

// WeightPacking reports whether PackWeight packs.
func (be *Backend) WeightPacking() bool { return !be.noPack }

// packedB returns b's packed copy if it serves the product ·b with
// op(B) = b (not transposed) k×n and row stride ldb, else nil.
func packedB(b tensor.Buf, transB bool, n, k, ldb int) *gemm.PackedB {
	pb := b.(*Buf).packed
	if pb == nil || transB || ldb != n {
		return nil
	}
	if pn, pk := pb.Dims(); pn != n || pk != k {
		return nil
	}
	return pb
}

// workPool holds the work buffers of the parallel loops (see workBuf).
var workPool sync.Pool

// workBuf returns a work buffer of n floats with undefined contents, to be
// handed back with putWorkBuf. The loops that need one per worker take it
// from a pool: a fresh heap slice per call cost more than the loop's own
// work in a training step (a 3 KiB column-sum buffer: 66 µs a call).
func workBuf(n int) *[]float32 {
	p, _ := workPool.Get().(*[]float32)
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func putWorkBuf(p *[]float32) { workPool.Put(p) }

// parallel runs fn over [0,n) split into contiguous chunks, one per worker,
// when the total work (n·cost) is large enough to pay for the hand-over to
// internal/par's helpers.
func (be *Backend) parallel(n int, cost int, fn func(lo, hi int)) {
	workers := be.threads
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*cost < 1<<15 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	par.Run((n+chunk-1)/chunk, par.Func(func(c int) {
		fn(c*chunk, min((c+1)*chunk, n))
	}))
}

// MatMul implements tensor.Backend.
func (be *Backend) MatMul(c, a, b tensor.Buf, m, n, k int, transA, transB bool, alpha, beta float32) {
	be.MatMulScaled(c, a, b, nil, m, n, k, transA, transB, alpha, beta)
}

// MatMulScaled implements tensor.Backend: the scaling is folded into the
// packing of A (gemm.SgemmScaled).
func (be *Backend) MatMulScaled(c, a, b, s tensor.Buf, m, n, k int, transA, transB bool, alpha, beta float32) {
	lda, ldb := max(k, 1), max(n, 1)
	if transA {
		lda = max(m, 1)
	}
	if transB {
		ldb = max(k, 1)
	}
	A, B, C := F(a), F(b), F(c)
	if len(A) < m*k || len(B) < k*n || len(C) < m*n {
		panic(fmt.Sprintf("cpu.MatMul: buffers too small for %dx%dx%d (a %d, b %d, c %d)", m, n, k, len(A), len(B), len(C)))
	}
	var S []float32
	if s != nil {
		S = F(s)[:k]
	}
	if pb := packedB(b, transB, n, k, ldb); pb != nil {
		gemm.SgemmPacked(transA, m, alpha, A, lda, S, pb, beta, C, max(n, 1))
		return
	}
	gemm.SgemmScaled(transA, transB, m, n, k, alpha, A, lda, S, B, ldb, beta, C, max(n, 1))
}
