//go:build js && wasm

package webgpu

import (
	"fmt"
	"math/rand/v2"
	"syscall/js"

	"github.com/hutml/hut/core/tensor"
)

// rowsPerChunk is the number of rowLen-rows per chunk of a split buffer (0
// for an unsplit one).
func rowsPerChunk(b *Buf, rowLen int) int {
	if len(b.chunks) <= 1 || rowLen <= 0 {
		return 0
	}
	return b.cs / rowLen
}

// MatMul computes C = alpha·op(A)·op(B) + beta·C (see tensor.Backend).
// Split operands are handled by cutting the problem along m, n and k at
// their chunk boundaries (k pieces accumulate with beta = 1).
func (be *Backend) MatMul(c, a, b tensor.Buf, m, n, k int, transA, transB bool, alpha, beta float32) {
	A, B, C := be.buf("MatMul", "a", a), be.buf("MatMul", "b", b), be.buf("MatMul", "c", c)
	if A == nil || B == nil || C == nil {
		return
	}
	if m < 0 || n < 0 || k < 0 || A.n < m*k || B.n < k*n || C.n < m*n {
		be.failf("MatMul(m=%d n=%d k=%d transA=%v transB=%v): buffers too small or negative shape (a %d, b %d, c %d floats)",
			m, n, k, transA, transB, A.n, B.n, C.n)
		return
	}
	if m == 0 || n == 0 {
		return
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	// A buffer passed for several operands needs chunks that hold whole
	// rows of each of its row lengths.
	rowA, rowB, rowC := lda, ldb, n
	if A == B {
		rowA = lcm(lda, ldb)
		rowB = rowA
	}
	if A == C {
		rowA = lcm(rowA, n)
		rowC = rowA
	}
	if B == C {
		rowB = lcm(rowB, rowC)
		rowC = rowB
	}
	if !be.ensureRows("MatMul", "a", A, rowA) || !be.ensureRows("MatMul", "b", B, rowB) || !be.ensureRows("MatMul", "c", C, rowC) {
		return
	}
	tiled := be.info.MatMulKernel == MatMulTiled
	span := 32 // rows/cols of C per workgroup
	if tiled {
		span = 64
	}
	maxSpan := span * be.lim.MaxComputeWorkgroupsPerDim
	mSteps := []int{rowsPerChunk(C, n), maxSpan}
	var nSteps, kSteps []int
	nSteps = append(nSteps, maxSpan)
	if transA {
		kSteps = append(kSteps, rowsPerChunk(A, lda))
	} else {
		mSteps = append(mSteps, rowsPerChunk(A, lda))
	}
	if transB {
		nSteps = append(nSteps, rowsPerChunk(B, ldb))
	} else {
		kSteps = append(kSteps, rowsPerChunk(B, ldb))
	}
	ms, ns := splits(m, mSteps...), splits(n, nSteps...)
	ks := []int{0, 0}
	if k > 0 {
		ks = splits(k, kSteps...)
	}
	A.touched, B.touched, C.touched = true, true, true
	for mi := 0; mi+1 < len(ms); mi++ {
		m0, m1 := ms[mi], ms[mi+1]
		for ni := 0; ni+1 < len(ns); ni++ {
			n0, n1 := ns[ni], ns[ni+1]
			for ki := 0; ki+1 < len(ks); ki++ {
				k0, k1 := ks[ki], ks[ki+1]
				aoff, boff := m0*lda+k0, k0*ldb+n0
				if transA {
					aoff = k0*lda + m0
				}
				if transB {
					boff = n0*ldb + k0
				}
				ac, al, _ := A.where(aoff)
				bc, bl, _ := B.where(boff)
				cc, cl, _ := C.where(m0*n + n0)
				bt, hb := beta, beta != 0
				if ki > 0 {
					bt, hb = 1, true
				}
				be.matmul(tiled, cc, cl, ac, al, bc, bl, m1-m0, n1-n0, k1-k0, lda, ldb, n, transA, transB, alpha, bt, hb)
			}
		}
	}
}

func (be *Backend) matmul(tiled bool, cc *chunk, coff int, ac *chunk, aoff int, bc *chunk, boff int,
	m, n, k, lda, ldb, ldc int, transA, transB bool, alpha, beta float32, hasBeta bool) {
	var c call
	var defs uint32
	if transA {
		defs |= mmTA
	}
	if transB {
		defs |= mmTB
	}
	gx, gy := (n+63)/64, (m+63)/64
	c.k = kMatMulTiled
	if !tiled {
		c.k = kMatMulBlocked
		if lda%4 == 0 && aoff%4 == 0 {
			defs |= mmVA
		}
		if ldb%4 == 0 && boff%4 == 0 {
			defs |= mmVB
		}
		gx, gy = ((n+3)/4+7)/8, ((m+3)/4+7)/8
	}
	c.key.defs = defs
	hb := 0
	if hasBeta {
		hb = 1
	}
	c.b(cc).b(ac).b(bc)
	c.ui(m).ui(n).ui(k).ui(lda).ui(ldb).ui(ldc).ui(aoff).ui(boff).ui(coff).f(alpha).f(beta).ui(hb)
	be.run(&c, gx, gy, 1)
}

// BenchMatMul times reps calls of MatMul(m, n, k) on random data (after one
// warm-up call) and returns the rate in GFLOP/s (2·m·n·k per call) and the
// mean milliseconds per call. It allocates and frees its own buffers. Not
// part of tensor.Backend; used by the benchmark page and tests.
func (be *Backend) BenchMatMul(m, n, k int, transA, transB bool, reps int) (gflops, msPerCall float64, err error) {
	if m <= 0 || n <= 0 || k <= 0 || reps <= 0 {
		return 0, 0, fmt.Errorf("webgpu: BenchMatMul: bad size m=%d n=%d k=%d reps=%d", m, n, k, reps)
	}
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) tensor.Buf {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32()*2 - 1
		}
		b := be.NewBuf(n)
		be.Write(b, 0, x)
		return b
	}
	A, B, C := fill(m*k), fill(k*n), be.NewBuf(m*n)
	defer func() { be.Free(A); be.Free(B); be.Free(C) }()
	be.MatMul(C, A, B, m, n, k, transA, transB, 1, 0)
	if err := be.Sync(); err != nil {
		return 0, 0, err
	}
	perf := js.Global().Get("performance")
	t0 := perf.Call("now").Float()
	for i := 0; i < reps; i++ {
		be.MatMul(C, A, B, m, n, k, transA, transB, 1, 0)
	}
	if err := be.Sync(); err != nil {
		return 0, 0, err
	}
	ms := (perf.Call("now").Float() - t0) / float64(reps)
	return 2 * float64(m) * float64(n) * float64(k) / (ms * 1e6), ms, nil
}

// MatMulScaled computes C = alpha·op(A)·diag(s)·op(B) + beta·C by scaling
// the inner dimension of A into a pooled temporary and running MatMul (two
// dispatches; the CPU backend folds the scaling into GEMM packing).
func (be *Backend) MatMulScaled(c, a, b, s tensor.Buf, m, n, k int, transA, transB bool, alpha, beta float32) {
	if s == nil {
		be.MatMul(c, a, b, m, n, k, transA, transB, alpha, beta)
		return
	}
	if m <= 0 || n <= 0 || k <= 0 {
		be.MatMul(c, a, b, m, n, k, transA, transB, alpha, beta)
		return
	}
	tmp := be.NewBuf(m * k)
	if transA {
		be.ScaleRows(tmp, a, s, k, m) // A is stored [k, m]
	} else {
		be.ScaleCols(tmp, a, s, m, k)
	}
	be.MatMul(c, tmp, b, m, n, k, transA, transB, alpha, beta)
	be.Free(tmp)
}
