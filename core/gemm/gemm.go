// Package gemm is the CPU single-precision matrix multiply behind the cpu
// backend's MatMul: C = alpha·op(A)·op(B) + beta·C, row-major, for the three
// orientations training needs (A·B, A·Bᵀ, Aᵀ·B) and Aᵀ·Bᵀ, without
// materialised transposes.
//
// # Algorithm
//
// Sgemm is a packed, cache-blocked GEMM in the style of BLIS/GotoBLAS. The k
// dimension is cut into blocks of at most kcMax; for each block the operands
// are copied ("packed") into contiguous micro-panels — mr rows of op(A) laid
// out column by column, nr columns of op(B) laid out row by row — so that a
// register-tiled micro-kernel can stream them. Transposition is handled by
// the packing routines, so all four orientations run the same kernel.
//
// On amd64 the micro-kernel is Go assembly chosen at start-up from CPUID:
// an 8×32 AVX-512 tile (kernel_avx512_amd64.s, 16 zmm accumulators) where
// AVX-512F is available, else a 6×16 AVX2+FMA tile (kernel_amd64.s, 12 ymm
// accumulators, VFMADD231PS). Elsewhere (wasm, arm64, amd64 without
// AVX2/FMA, or with the purego build tag) a register-tiled pure-Go 3×4
// kernel runs. The blocking (k blocks of at most 256) is the same for all.
//
// A product whose op(B) is a weight streamed from memory would wait on that
// memory while packing it; so while a worker multiplies one k block, its
// tiles also prefetch, a few cache lines each, the op(B) source of the block
// it packs next (prefetch.go). PackedA and PackedB hold an operand packed
// ahead for matrices that take part in many products. SgemmTri runs the
// small products of causal attention without the triangle its mask makes
// zero (small.go).
//
// # Threads and determinism
//
// The smaller of the two operands is packed once into a shared buffer, on
// demand, by whichever worker first needs each part. The output C is cut
// into independent chunks (column or row strips, large first and smaller
// towards the end) that worker goroutines take from a shared counter; each
// chunk packs its own slice of the other operand. Work is split over blocks
// of C only: every element of C is produced by the same sequence of
// floating-point operations — its k-sum accumulated in index order within
// each k block, k blocks added in order, then alpha and beta applied — no
// matter which goroutine computes it or how many there are. Results are
// therefore bit-identical for any thread count and across runs. The two
// assembly kernels compute every element the same way (a chain of FMAs in k
// order), so AVX2 and AVX-512 machines agree bit for bit; the pure-Go
// kernel rounds products separately and differs in the last bits.
//
// The number of goroutines is at most runtime.GOMAXPROCS(0) (see
// SetMaxThreads): the calling goroutine and the persistent helpers of
// internal/par, which poll briefly between calls so that the next product
// starts without waking a thread. Small products run on the calling
// goroutine.
package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/hutml/hut/internal/par"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C where C is m×n with row
// stride ldc, op(A) is m×k and op(B) is k×n. With transA, A is stored k×m
// (row stride lda), otherwise m×k; with transB, B is stored n×k (row stride
// ldb), otherwise k×n. beta = 0 overwrites C without reading it (NaNs in C
// are not propagated); alpha = 0 or k = 0 only scales C by beta, without
// reading A or B. Only the elements of a, b and c that the matrices occupy
// are accessed. It panics if a dimension or stride is invalid or a slice is
// too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	SgemmScaled(transA, transB, m, n, k, alpha, a, lda, nil, b, ldb, beta, c, ldc)
}

// SgemmScaled computes C = alpha·op(A)·diag(s)·op(B) + beta·C: s has length
// k and scales column p of op(A) — the inner dimension — by s[p]. With
// A = X (tokens × channels) and transB, it is (X⊙s)·Wᵀ where s broadcasts
// over the rows of X. The scaling is folded into the packing of A: each
// product op(A)[i][p]·s[p] is rounded to float32 before it enters the dot
// product, so the result is bit-identical to Sgemm on the explicitly scaled
// matrix, without writing that matrix. s = nil is Sgemm. Other arguments
// are as for Sgemm; it panics if len(s) < k.
func SgemmScaled(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, s []float32, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras{scaleA: s})
}

// SgemmSerial is Sgemm on the calling goroutine alone, for callers that run
// independent products on workers of their own (a product that started its
// own workers there would oversubscribe the cores). The result is Sgemm's.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras{serial: true})
}

// SgemmSerialThen is SgemmSerial that also brings the memory of next into
// cache while it computes, a little after each tile, for a caller that
// reads next right after the product (the fused LM head's next block of
// weights). The hint changes no result.
func SgemmSerialThen(next []float32, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras{serial: true, then: next})
}

// Epilogue finishes a block of C in cache: it is called with rows
// [i0, i0+rows) and columns [j0, j0+cols) of C once they hold their final
// values, before the block leaves the cache. The calls cover every element
// of C exactly once, and the calls that cover a column all come from one
// goroutine, in increasing order of rows — so an epilogue may accumulate
// per-column sums in a buffer indexed by column, without locks, in the
// order of a plain loop over the rows. Calls for different columns run
// concurrently.
type Epilogue func(i0, rows, j0, cols int)

// SgemmEpilogue is SgemmScaled (s may be nil) that hands each finished
// block of C to ep (see Epilogue): a pass over the product that would read
// C back from memory runs while C is in cache instead.
func SgemmEpilogue(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, s []float32, b []float32, ldb int, beta float32, c []float32, ldc int, ep Epilogue) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, extras{scaleA: s, ep: ep})
}

// extras are a product's optional inputs.
type extras struct {
	scaleA  []float32 // SgemmScaled's scales of op(A)'s columns, or nil
	packedB *PackedB  // op(B) packed ahead (SgemmPacked)
	packedA *PackedA  // op(A) packed ahead (PackedA.Sgemm; m ≤ n only)
	then    []float32 // memory to prefetch for the caller (SgemmSerialThen)
	ep      Epilogue  // SgemmEpilogue's
	serial  bool      // on the calling goroutine alone
}

// sgemm checks the arguments and runs the product.
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, x extras) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if x.scaleA != nil && len(x.scaleA) < k {
		panic(fmt.Sprintf("gemm: len(s)=%d < k=%d", len(x.scaleA), k))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		if x.ep != nil {
			x.ep(0, m, 0, n)
		}
		return
	}
	p := problem{
		transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc,
		extras: x,
	}
	run(active, &p)
}

// Ref is the plain triple-loop reference used by tests.
func Ref(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Impl names the micro-kernel in use: "avx512-8x32", "avx2-6x16" or
// "go-3x4".
func Impl() string { return active.name }

// Impls lists the micro-kernels this machine can run, the default first.
func Impls() []string {
	var l []string
	for _, im := range available() {
		l = append(l, im.name)
	}
	return l
}

// UseImpl selects a micro-kernel by name, for benchmarks and tests; ""
// restores the default. It must not be called while Sgemm runs. The
// assembly kernels give bit-identical results; the pure-Go one does not.
func UseImpl(name string) error {
	if name == "" {
		active = available()[0]
		return nil
	}
	for _, im := range available() {
		if im.name == name {
			active = im
			return nil
		}
	}
	return fmt.Errorf("gemm: kernel %q not available here (have %v)", name, Impls())
}

var maxThreads atomic.Int32

// SetMaxThreads caps the number of goroutines one Sgemm call uses; n <= 0
// means runtime.GOMAXPROCS(0) (the default). It returns the previous
// setting. Results do not depend on it.
func SetMaxThreads(n int) int {
	if n < 0 {
		n = 0
	}
	return int(maxThreads.Swap(int32(n)))
}

func threadCap() int {
	t := runtime.GOMAXPROCS(0)
	if mt := int(maxThreads.Load()); mt > 0 && mt < t {
		t = mt
	}
	return t
}

// minFlopsPerThread is the work below which another goroutine does not pay
// for its start-up and wake-up latency.
const minFlopsPerThread = 4 << 20

func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac, br, bc := storedDims(transA, transB, m, n, k)
	checkMat("a", a, ar, ac, lda, m > 0 && n > 0 && k > 0)
	checkMat("b", b, br, bc, ldb, m > 0 && n > 0 && k > 0)
	checkMat("c", c, m, n, ldc, m > 0 && n > 0)
}

// storedDims returns the stored shapes of A (ar×ac) and B (br×bc) of an
// m×n×k product: op(A) = Aᵀ with transA, op(B) = Bᵀ with transB.
func storedDims(transA, transB bool, m, n, k int) (ar, ac, br, bc int) {
	ar, ac, br, bc = m, k, k, n
	if transA {
		ar, ac = k, m
	}
	if transB {
		br, bc = n, k
	}
	return ar, ac, br, bc
}

func checkMat(name string, s []float32, rows, cols, ld int, used bool) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("gemm: ld%s=%d < max(1, %d)", name, ld, cols))
	}
	if used && rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("gemm: len(%s)=%d < %d for a %d×%d matrix with stride %d", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
	}
}

// scaleC sets C = beta·C (beta = 0: C = 0, C not read).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// impl is one micro-kernel with its packing routines and block sizes.
type impl struct {
	name   string
	mr, nr int // register tile
	kcMax  int // k block (micro-panels stay in L1)
	mcMax  int // rows of packed A reused from L2, multiple of mr
	ncMax  int // columns of packed B per chunk, multiple of nr

	// packA packs rows [i0, i0+rows) and columns [p0, p0+kc) of op(A) into
	// ceil(rows/mr) micro-panels of mr×kc, column-major within a panel,
	// zero-padded to a multiple of mr rows.
	packA func(dst []float32, trans bool, a []float32, lda, i0, rows, p0, kc int)
	// packB packs rows [p0, p0+kc) and columns [j0, j0+cols) of op(B) into
	// ceil(cols/nr) micro-panels of kc×nr, row-major within a panel,
	// zero-padded to a multiple of nr columns.
	packB func(dst []float32, trans bool, b []float32, ldb, j0, cols, p0, kc int)
	// packAScaled, when set, packs like packA without transposition,
	// multiplying column p of op(A) by s[p-p0] on the way, for the full
	// mr-row panels only; it returns the rows it packed (SgemmScaled's
	// fast path; the rest is packed, then scaled, by problem.packA).
	packAScaled func(dst, a []float32, lda, i0, rows, p0, kc int, s []float32) int
	// tile computes the full mr×nr tile C = alpha·Ap·Bp + beta·C from one
	// packed micro-panel of each operand; beta = 0 does not read C. It
	// also prefetches up to pfn cache lines from address pf on (see
	// prefetch) and returns how many it asked for.
	tile func(kc int, ap, bp, c []float32, ldc int, alpha, beta float32, pf uintptr, pfn int) int
}

// active is the implementation Sgemm uses: available()[0] unless UseImpl
// changed it.
var active = available()[0]

// problem is one Sgemm call.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	scaleE         []float32 // scaleA expanded (expandScales)
	extras
}

// packA packs op(A) like impl.packA and applies SgemmScaled's scaling.
func (p *problem) packA(im *impl, dst []float32, i0, rows, p0, kc int) {
	done := 0
	if p.scaleA != nil && !p.transA && im.packAScaled != nil {
		done = im.packAScaled(dst, p.a, p.lda, i0, rows, p0, kc, p.scaleA[p0:p0+kc])
		if done == rows {
			return
		}
	}
	rest := dst[done*kc:]
	im.packA(rest, p.transA, p.a, p.lda, i0+done, rows-done, p0, kc)
	if p.scaleA != nil {
		scalePanels(rest[:roundUp(rows-done, im.mr)*kc], p.scaleE[p0*im.mr:(p0+kc)*im.mr])
	}
}

// expandScales returns s laid out like one packed A panel of the whole k
// range — e[p·mr+i] = s[p] — so that scaling a packed panel of k block
// [p0, p0+kc) is one element-wise product with e[p0·mr:(p0+kc)·mr]. It is
// built once per call, in buf when that is large enough.
func expandScales(buf, s []float32, mr int) []float32 {
	n := len(s) * mr
	if cap(buf) < n {
		buf = make([]float32, n)
	}
	e := buf[:n]
	for p, v := range s {
		col := e[p*mr : p*mr+mr]
		for i := range col {
			col[i] = v
		}
	}
	return e
}

// scalePanels multiplies entry p of every packed A column by s[p], given
// the scales expanded to one panel's layout (e, len mr·kc): one vectorised
// element-wise product per panel, the same float32 roundings as a scalar
// loop's.
func scalePanels(dst, e []float32) {
	n := len(e)
	if n == 0 {
		return
	}
	for len(dst) >= n {
		MulVec(dst[:n], dst[:n], e)
		dst = dst[n:]
	}
}

// worker holds one goroutine's scratch space.
type worker struct {
	im      *impl
	pack    []float32 // the chunk's own packed operand
	tmp     []float32 // mr×nr edge tile
	pf      prefetch  // op(B)'s source to bring into cache while computing
	claimed int       // the chunk this worker takes next, or -1
}

// Scratch space is recycled through small free lists rather than sync.Pool,
// which is emptied at every garbage collection and would make the next call
// allocate and zero megabytes again. The lists only grow to the number of
// buffers in use at once, and are capped: workers hold at most ~1 MiB each,
// shared buffers at most maxShared floats (8 MiB) each.
const (
	maxFreeWorkers = 64
	maxFreeShared  = 4
)

var (
	freeMu      sync.Mutex
	freeWorkers []*worker
	freeShared  [][]float32
)

func getWorker(im *impl, packLen int) *worker {
	var w *worker
	freeMu.Lock()
	if n := len(freeWorkers); n > 0 {
		w = freeWorkers[n-1]
		freeWorkers = freeWorkers[:n-1]
	}
	freeMu.Unlock()
	if w == nil || w.im != im {
		w = &worker{im: im, tmp: make([]float32, im.mr*im.nr)}
	}
	if cap(w.pack) < packLen {
		w.pack = make([]float32, packLen)
	}
	w.pack = w.pack[:packLen]
	return w
}

func putWorker(w *worker) {
	freeMu.Lock()
	if len(freeWorkers) < maxFreeWorkers {
		freeWorkers = append(freeWorkers, w)
	}
	freeMu.Unlock()
}

// getShared returns a buffer of n floats (contents undefined).
func getShared(n int) []float32 {
	freeMu.Lock()
	defer freeMu.Unlock()
	best := -1
	for i, b := range freeShared {
		if cap(b) >= n && (best < 0 || cap(b) < cap(freeShared[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]float32, n)
	}
	b := freeShared[best]
	freeShared = append(freeShared[:best], freeShared[best+1:]...)
	return b[:n]
}

func putShared(b []float32) {
	freeMu.Lock()
	defer freeMu.Unlock()
	if len(freeShared) < maxFreeShared {
		freeShared = append(freeShared, b)
		return
	}
	// Replace the smallest one if this one is larger.
	small := 0
	for i, x := range freeShared {
		if cap(x) < cap(freeShared[small]) {
			small = i
		}
	}
	if cap(b) > cap(freeShared[small]) {
		freeShared[small] = b
	}
}

// maxShared bounds the shared packed operand (floats) per k super-block:
// a larger operand is packed and consumed one super-block of k at a time
// (a variable for tests).
var maxShared = 1 << 21

func roundUp(x, r int) int { return (x + r - 1) / r * r }

// kBlocks returns the k block size and the number of k blocks for inner
// dimension k (k = 0 is blocked like k = 1: an empty operand packed ahead
// needs a layout too). The blocks are balanced, and a multiple of 8 keeps
// the packing fast paths. The k blocking depends on k only: it alone fixes
// the arithmetic.
func kBlocks(im *impl, k int) (kcb, nkb int) {
	k = max(k, 1)
	nkb = (k + im.kcMax - 1) / im.kcMax
	kcb = min(roundUp((k+nkb-1)/nkb, 8), im.kcMax)
	return kcb, (k + kcb - 1) / kcb
}

// plan is how one call is cut up.
type plan struct {
	packAShared bool  // A is packed once and shared; chunks are column strips of C
	kcb         int   // k block size; the last block may be shorter
	nkb         int   // number of k blocks
	superKB     int   // k blocks per super-block (bounded by maxShared)
	dimPad      int   // rows of A (or columns of B) of the shared operand, padded
	bounds      []int // chunk c covers columns (or rows) [bounds[c], bounds[c+1])
	maxChunk    int   // largest chunk
	threads     int
}

func (pl *plan) nchunks() int { return len(pl.bounds) - 1 }

// makePlan fills pl (reusing pl.bounds' storage) for problem p.
func makePlan(im *impl, p *problem, pl *plan) {
	pl.kcb, pl.nkb = kBlocks(im, p.k)
	pl.packAShared = p.m <= p.n
	var other, step, maxChunk int
	if pl.packAShared {
		pl.dimPad = roundUp(p.m, im.mr)
		other, step, maxChunk = p.n, im.nr, im.ncMax
	} else {
		pl.dimPad = roundUp(p.n, im.nr)
		other, step, maxChunk = p.m, im.mr, im.mcMax
	}
	pl.superKB = max(1, min(pl.nkb, maxShared/(pl.dimPad*pl.kcb)))

	flops := 2 * float64(p.m) * float64(p.n) * float64(p.k)
	t := min(threadCap(), int(flops/minFlopsPerThread)+1)
	if p.serial {
		t = 1
	}
	// Guided chunks: each takes 1/(2t) of what is left, so they start large
	// and end small, and a core that loses time to a neighbour (or a
	// goroutine that starts late) delays the end by one small chunk only.
	pl.bounds = append(pl.bounds[:0], 0)
	pl.maxChunk = 0
	for off := 0; off < other; {
		c := maxChunk
		if t > 1 {
			c = min(maxChunk, max(roundUp((other-off+2*t-1)/(2*t), step), 2*step))
		}
		c = min(c, other-off)
		pl.maxChunk = max(pl.maxChunk, c)
		off += c
		pl.bounds = append(pl.bounds, off)
	}
	pl.threads = max(1, min(t, pl.nchunks()))
}

// job is one Sgemm call in flight; jobs are recycled so that a call does
// not allocate.
type job struct {
	p        problem
	im       *impl
	pl       plan
	r        int // panel width of the shared operand (mr or nr)
	packLen  int // per-worker packing buffer (floats)
	group    int // panels per packing task of the shared operand
	gpb      int // packing tasks per k block
	sp       []float32
	scaleBuf []float32 // storage of p.scaleE, kept with the recycled job
	kb0      int       // first k block of the current super-block
	nkb      int       // k blocks in the current super-block
	// state of each packing task of the current super-block: 0 not
	// started, 1 being packed, 2 packed.
	state []atomic.Int32
	next  atomic.Int64 // next chunk to hand out
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// run executes problem p with implementation im.
func run(im *impl, p *problem) {
	j := jobPool.Get().(*job)
	j.p, j.im = *p, im
	// The expanded scales serve the panels the packing cannot scale itself:
	// all of them without packAScaled or with op(A) transposed, else only
	// a last panel of fewer than mr rows.
	if p.scaleA != nil && (p.transA || im.packAScaled == nil || p.m%im.mr != 0) {
		j.scaleBuf = expandScales(j.scaleBuf, p.scaleA[:p.k], im.mr)
		j.p.scaleE = j.scaleBuf
	}
	makePlan(im, &j.p, &j.pl)
	pl := &j.pl
	if pl.packAShared {
		j.r = im.mr
		j.packLen = roundUp(pl.maxChunk, im.nr) * pl.kcb
	} else {
		j.r = im.nr
		j.packLen = roundUp(pl.maxChunk, im.mr) * pl.kcb
	}
	// Packing tasks of the shared operand: about 64 KiB of packed data each.
	j.group = max(1, (16<<10)/(j.r*pl.kcb))
	j.gpb = (pl.dimPad/j.r + j.group - 1) / j.group
	// With op(A) packed ahead of time, all its k blocks are one
	// super-block, already packed; so with op(B) packed ahead when the
	// plan shares B (m > n), whose layout is the shared one.
	var ready int32
	switch {
	case p.packedA != nil:
		pl.superKB = pl.nkb
		j.sp = p.packedA.data
		ready = 2
	case p.packedB != nil && !pl.packAShared:
		pl.superKB = pl.nkb
		j.sp = p.packedB.data
		ready = 2
	default:
		j.sp = getShared(pl.dimPad * pl.kcb * min(pl.superKB, pl.nkb))
	}
	if n := pl.superKB * j.gpb; cap(j.state) < n {
		j.state = make([]atomic.Int32, n)
	} else {
		j.state = j.state[:n]
	}
	for j.kb0 = 0; j.kb0 < pl.nkb; j.kb0 += pl.superKB {
		j.nkb = min(pl.superKB, pl.nkb-j.kb0)
		for i := range j.state {
			j.state[i].Store(ready)
		}
		j.next.Store(0)
		par.Run(pl.threads, j)
	}
	if p.ep != nil && !pl.packAShared {
		// Row chunks share columns: the epilogue runs once, at the end.
		p.ep(0, p.m, 0, p.n)
	}
	if ready == 0 {
		putShared(j.sp)
	}
	j.sp = nil
	j.p = problem{} // drop references to the caller's slices
	jobPool.Put(j)
}

// Do is one of the job's workers (par.Task).
func (j *job) Do(int) { j.work() }

// work takes chunks of C from the shared counter until none is left.
func (j *job) work() {
	w := getWorker(j.im, j.packLen)
	ch := int(j.next.Add(1) - 1)
	for ch < j.pl.nchunks() {
		w.claimed = -1
		j.chunk(w, ch)
		if w.claimed >= 0 {
			ch = w.claimed
		} else {
			ch = int(j.next.Add(1) - 1)
		}
	}
	w.pf = prefetch{}
	putWorker(w)
}

// ensurePacked makes sure k block q of the current super-block of the
// shared operand is packed: it packs every part that no one has claimed
// yet, then waits for the parts that other workers are packing.
func (j *job) ensurePacked(q int) {
	st := j.state[q*j.gpb : (q+1)*j.gpb]
	waiting := false
	for g := range st {
		switch st[g].Load() {
		case 2:
		case 0:
			if st[g].CompareAndSwap(0, 1) {
				j.packShared(q, g)
				st[g].Store(2)
				continue
			}
			waiting = true
		default:
			waiting = true
		}
	}
	if !waiting {
		return
	}
	for g := range st {
		for st[g].Load() != 2 {
			runtime.Gosched()
		}
	}
}

// packShared packs task g of k block q of the shared operand.
func (j *job) packShared(q, g int) {
	p, pl, im := &j.p, &j.pl, j.im
	p0 := (j.kb0 + q) * pl.kcb
	kc := min(pl.kcb, p.k-p0)
	first := g * j.group * j.r
	dst := j.sp[q*pl.dimPad*pl.kcb+first*kc:]
	if pl.packAShared {
		p.packA(im, dst, first, min(j.group*j.r, p.m-first), p0, kc)
	} else {
		im.packB(dst, p.transB, p.b, p.ldb, first, min(j.group*j.r, p.n-first), p0, kc)
	}
}

// chunk computes chunk ch of C (a strip of columns when A is shared, of
// rows when B is shared) over the current super-block of k.
func (j *job) chunk(w *worker, ch int) {
	p, pl, im := &j.p, &j.pl, j.im
	for q := 0; q < j.nkb; q++ {
		j.ensurePacked(q)
		p0 := (j.kb0 + q) * pl.kcb
		kc := min(pl.kcb, p.k-p0)
		beta := p.beta
		if p0 > 0 {
			beta = 1
		}
		blk := j.sp[q*pl.dimPad*pl.kcb:]
		if pl.packAShared {
			j0, nc := pl.bounds[ch], pl.bounds[ch+1]-pl.bounds[ch]
			var bp []float32
			if p.packedB != nil {
				bp = p.packedB.panels(j.kb0+q, j0, nc, kc)
			} else {
				bp = w.pack[:roundUp(nc, im.nr)*kc]
				im.packB(bp, p.transB, p.b, p.ldb, j0, nc, p0, kc)
			}
			j.prefetchNext(w, ch, q)
			last := p.ep != nil && j.kb0+q == pl.nkb-1
			for ic := 0; ic < p.m; ic += im.mcMax {
				mc := min(im.mcMax, p.m-ic)
				w.macro(mc, nc, kc, blk[ic*kc:], bp, p.c, ic*p.ldc+j0, p.ldc, p.alpha, beta)
				if last {
					p.ep(ic, mc, j0, nc)
				}
			}
		} else {
			i0, mc := pl.bounds[ch], pl.bounds[ch+1]-pl.bounds[ch]
			ap := w.pack[:roundUp(mc, im.mr)*kc]
			p.packA(im, ap, i0, mc, p0, kc)
			for jc := 0; jc < p.n; jc += im.ncMax {
				nc := min(im.ncMax, p.n-jc)
				w.macro(mc, nc, kc, ap, blk[jc*kc:], p.c, i0*p.ldc+jc, p.ldc, p.alpha, beta)
			}
		}
	}
}

// prefetchNext sets up the prefetch, while worker w multiplies k block q
// of column chunk ch, of the op(B) source it packs next: block q+1 of the
// chunk, or else the first block of the chunk it claims now — when enough
// chunks are left that claiming one ahead cannot leave another worker idle.
func (j *job) prefetchNext(w *worker, ch, q int) {
	p, pl, im := &j.p, &j.pl, j.im
	j0, nc := pl.bounds[ch], pl.bounds[ch+1]-pl.bounds[ch]
	tiles := ((nc + im.nr - 1) / im.nr) * ((p.m + im.mr - 1) / im.mr)
	if q+1 < j.nkb {
		p0 := (j.kb0 + q + 1) * pl.kcb
		w.pf.setB(p, j.kb0+q+1, j0, nc, p0, min(pl.kcb, p.k-p0), tiles)
		return
	}
	w.pf = prefetch{}
	if int(j.next.Load())+pl.threads >= pl.nchunks() {
		if p.then != nil && j.kb0+j.nkb == pl.nkb && int(j.next.Load()) >= pl.nchunks() {
			// The last block of the product: prefetch what the caller
			// reads next.
			w.pf.set(p.then, len(p.then), 0, 1, 0, len(p.then), tiles)
		}
		return
	}
	nx := int(j.next.Add(1) - 1)
	w.claimed = nx
	if nx < pl.nchunks() {
		p0 := j.kb0 * pl.kcb
		w.pf.setB(p, j.kb0, pl.bounds[nx], pl.bounds[nx+1]-pl.bounds[nx], p0, min(pl.kcb, p.k-p0), tiles)
	}
}

// macro multiplies an mc×kc block of packed A by a kc×nc block of packed B
// into C[off:] (row stride ldc): for each nr-wide micro-panel of B (kept in
// L1), all mr-high micro-panels of A (kept in L2).
func (w *worker) macro(mc, nc, kc int, ap, bp, c []float32, off, ldc int, alpha, beta float32) {
	im := w.im
	mr, nr := im.mr, im.nr
	for jr := 0; jr < nc; jr += nr {
		bpan := bp[jr*kc : (jr+nr)*kc]
		nn := min(nr, nc-jr)
		for ir := 0; ir < mc; ir += mr {
			apan := ap[ir*kc : (ir+mr)*kc]
			mm := min(mr, mc-ir)
			pf, pfn := w.pf.next(kc)
			w.pf.cur += w.tileAt(kc, apan, bpan, c, off+ir*ldc+jr, ldc, mm, nn, alpha, beta, pf, pfn)
		}
	}
}

// tileAt runs the micro-kernel for the mm×nn tile of C at c[o:] (row
// stride ldc) from an A and a B micro-panel of depth kc, and returns the
// cache lines it prefetched from pf (pfn asked for).
func (w *worker) tileAt(kc int, apan, bpan, c []float32, o, ldc, mm, nn int, alpha, beta float32, pf uintptr, pfn int) int {
	im := w.im
	mr, nr := im.mr, im.nr
	if mm == mr && nn == nr {
		return im.tile(kc, apan, bpan, c[o:], ldc, alpha, beta, pf, pfn)
	}
	// Edge tile: run the same kernel on a scratch tile so that every
	// element gets the same arithmetic as in a full tile.
	t := w.tmp
	if beta != 0 {
		for i := 0; i < mm; i++ {
			copy(t[i*nr:i*nr+nn], c[o+i*ldc:o+i*ldc+nn])
		}
	}
	n := im.tile(kc, apan, bpan, t, nr, alpha, beta, pf, pfn)
	for i := 0; i < mm; i++ {
		copy(c[o+i*ldc:o+i*ldc+nn], t[i*nr:i*nr+nn])
	}
	return n
}
