package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// impls lists the implementations this machine can run: the assembly ones
// the CPU supports, then the pure-Go one.
func impls() []*impl { return available() }

func TestUseImpl(t *testing.T) {
	def := Impl()
	for _, name := range Impls() {
		if err := UseImpl(name); err != nil || Impl() != name {
			t.Fatalf("UseImpl(%q): %v, Impl() = %q", name, err, Impl())
		}
	}
	if UseImpl("nope") == nil {
		t.Fatal("UseImpl accepted an unknown kernel")
	}
	if UseImpl(""); Impl() != def {
		t.Fatalf("UseImpl(\"\") gave %q, want %q", Impl(), def)
	}
}

// sgemmWith is Sgemm forced onto one implementation.
func sgemmWith(im *impl, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	saved := active
	active = im
	defer func() { active = saved }()
	Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

type mat struct {
	rows, cols, ld int
	data           []float32
}

const sentinel = float32(-12345.5)

// newMat makes a rows×cols matrix with stride ld whose slice ends exactly at
// the last element; the stride gaps hold a sentinel.
func newMat(rng *rand.Rand, rows, cols, ld int) mat {
	n := 0
	if rows > 0 && cols > 0 {
		n = (rows-1)*ld + cols
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = sentinel
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			d[i*ld+j] = float32(rng.NormFloat64())
		}
	}
	return mat{rows, cols, ld, d}
}

type gcase struct {
	transA, transB bool
	m, n, k        int
	padA, padB     int // extra stride
	padC           int
	alpha, beta    float32
}

func (g gcase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,pad=%d/%d/%d,alpha=%g,beta=%g", g.transA, g.transB, g.m, g.n, g.k, g.padA, g.padB, g.padC, g.alpha, g.beta)
}

// check runs one case on implementation im and compares with a float64
// reference: |C - Cref| <= 4·(sqrt(k)+1)·eps·(|alpha|·Σ|a||b| + |beta·c|).
func check(t *testing.T, im *impl, rng *rand.Rand, g gcase) {
	t.Helper()
	ar, ac := g.m, g.k
	if g.transA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.transB {
		br, bc = g.n, g.k
	}
	A := newMat(rng, ar, ac, max(1, ac)+g.padA)
	B := newMat(rng, br, bc, max(1, bc)+g.padB)
	C := newMat(rng, g.m, g.n, max(1, g.n)+g.padC)
	c0 := append([]float32(nil), C.data...)
	if g.beta == 0 {
		// beta = 0 must not read C.
		for i := 0; i < g.m; i++ {
			for j := 0; j < g.n; j++ {
				C.data[i*C.ld+j] = float32(math.NaN())
			}
		}
	}
	sgemmWith(im, g.transA, g.transB, g.m, g.n, g.k, g.alpha, A.data, A.ld, B.data, B.ld, g.beta, C.data, C.ld)
	const eps = 1.0 / (1 << 23)
	at := func(x mat, r, c int) float64 { return float64(x.data[r*x.ld+c]) }
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s, sa float64
			for p := 0; p < g.k; p++ {
				var av, bv float64
				if g.transA {
					av = at(A, p, i)
				} else {
					av = at(A, i, p)
				}
				if g.transB {
					bv = at(B, j, p)
				} else {
					bv = at(B, p, j)
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			want := float64(g.alpha) * s
			mag := math.Abs(float64(g.alpha)) * sa
			if g.beta != 0 {
				cv := float64(c0[i*C.ld+j])
				want += float64(g.beta) * cv
				mag += math.Abs(float64(g.beta) * cv)
			}
			got := float64(C.data[i*C.ld+j])
			tol := 4*(math.Sqrt(float64(g.k))+1)*eps*mag + 1e-30
			if !(math.Abs(got-want) <= tol) {
				t.Fatalf("%s %v: C[%d][%d] = %g, want %g (tol %g)", im.name, g, i, j, got, want, tol)
			}
		}
	}
	// The gaps between rows of C are untouched.
	for i := 0; i < len(C.data); i++ {
		if i%C.ld >= g.n && C.data[i] != sentinel {
			t.Fatalf("%s %v: wrote C gap at %d", im.name, g, i)
		}
	}
}

var orients = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

func TestShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dims := [][3]int{
		{1, 1, 1}, {1, 1, 7}, {2, 3, 4}, {5, 7, 11}, {6, 16, 8}, {7, 17, 9},
		{12, 32, 256}, {13, 31, 257}, {1, 50, 3}, {50, 1, 3}, {37, 41, 43},
		{64, 64, 64}, {97, 101, 103}, {6, 16, 0}, {3, 5, 0}, {150, 40, 300},
		{40, 150, 520}, {0, 5, 5}, {5, 0, 5}, {17, 1030, 19}, {300, 23, 40},
	}
	for _, im := range impls() {
		for _, o := range orients {
			for _, d := range dims {
				abs := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}}
				if d[0]*d[1]*d[2] > 100000 {
					abs = abs[:1] // big shapes: one alpha/beta besides the padded case below
				}
				for _, ab := range abs {
					check(t, im, rng, gcase{transA: o[0], transB: o[1], m: d[0], n: d[1], k: d[2], alpha: ab[0], beta: ab[1]})
				}
				check(t, im, rng, gcase{transA: o[0], transB: o[1], m: d[0], n: d[1], k: d[2], padA: 3, padB: 5, padC: 2, alpha: 1.5, beta: 0.25})
			}
		}
	}
}

// TestRandom is a quick randomized sweep over shapes, strides and scalars.
func TestRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	iters := 150
	if testing.Short() {
		iters = 40
	}
	scal := []float32{0, 1, -1, 0.5, 3}
	for it := 0; it < iters; it++ {
		g := gcase{
			transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
			m: rng.IntN(70), n: rng.IntN(90), k: rng.IntN(300),
			padA: rng.IntN(3) * rng.IntN(9), padB: rng.IntN(3) * rng.IntN(9), padC: rng.IntN(3) * rng.IntN(9),
			alpha: scal[1+rng.IntN(4)], beta: scal[rng.IntN(5)],
		}
		for _, im := range impls() {
			check(t, im, rng, g)
		}
	}
}

func TestAlphaZeroAndKZero(t *testing.T) {
	for _, im := range impls() {
		for _, k := range []int{0, 5} {
			a := []float32{float32(math.NaN()), 1, 2, 3, 4, 5, 6, 7, 8, 9}
			b := []float32{float32(math.Inf(1)), 1, 2, 3, 4, 5, 6, 7, 8, 9}
			c := []float32{1, 2, float32(math.NaN()), 4}
			alpha := float32(0)
			if k == 0 {
				alpha = 1
			}
			sgemmWith(im, false, false, 2, 2, k, alpha, a, max(k, 1), b, 2, 0, c, 2)
			for i, v := range c {
				if v != 0 {
					t.Fatalf("%s k=%d beta=0: c[%d]=%g, want 0", im.name, k, i, v)
				}
			}
			c = []float32{1, 2, 3, 4}
			sgemmWith(im, false, false, 2, 2, k, alpha, a, max(k, 1), b, 2, 2, c, 2)
			for i, v := range c {
				if v != float32(2*(i+1)) {
					t.Fatalf("%s k=%d beta=2: c[%d]=%g, want %d", im.name, k, i, v, 2*(i+1))
				}
			}
		}
	}
}

func TestPanics(t *testing.T) {
	cases := []func(){
		func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 1, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		func() { Sgemm(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) },
		func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		},
	}
	for i, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d did not panic", i)
				}
			}()
			f()
		}()
	}
}

// TestDeterminism checks that results are bit-identical for 1 and 2+
// threads and across repeated runs, on shapes that split into many chunks
// and k blocks.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{200, 330, 520}, {400, 70, 300}, {61, 500, 513}, {130, 97, 700}}
	procs := runtime.GOMAXPROCS(0)
	if procs < 4 {
		// More goroutines than cores still exercises other partitions.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	}
	defer SetMaxThreads(SetMaxThreads(0))
	for _, im := range impls() {
		for _, o := range orients {
			for _, s := range shapes {
				m, n, k := s[0], s[1], s[2]
				ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
				A := newMat(rng, ar, ac, ac)
				B := newMat(rng, br, bc, bc)
				C0 := newMat(rng, m, n, n)
				var ref []float32
				for _, th := range []int{1, 2, 3, 4, 1} {
					SetMaxThreads(th)
					c := append([]float32(nil), C0.data...)
					sgemmWith(im, o[0], o[1], m, n, k, 0.75, A.data, A.ld, B.data, B.ld, 0.5, c, n)
					if ref == nil {
						ref = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
							t.Fatalf("%s tA=%v tB=%v %v threads=%d: c[%d]=%x differs from 1-thread %x", im.name, o[0], o[1], s, th, i, math.Float32bits(c[i]), math.Float32bits(ref[i]))
						}
					}
				}
			}
		}
	}
}

// TestChunkingInvariance checks that the k blocking alone decides the
// result: forcing tiny chunks, cache blocks and k super-blocks gives the
// same bits.
func TestChunkingInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	savedMax := maxShared
	defer func() { maxShared = savedMax }()
	for _, base := range impls() {
		small := *base
		small.mcMax = small.mr
		small.ncMax = small.nr
		for _, o := range orients {
			m, n, k := 53, 71, 600
			ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
			A := newMat(rng, ar, ac, ac)
			B := newMat(rng, br, bc, bc)
			C := newMat(rng, m, n, n)
			c1 := append([]float32(nil), C.data...)
			c2 := append([]float32(nil), C.data...)
			maxShared = savedMax
			sgemmWith(base, o[0], o[1], m, n, k, 1, A.data, A.ld, B.data, B.ld, 0.5, c1, n)
			maxShared = 1 // one k block per super-block
			sgemmWith(&small, o[0], o[1], m, n, k, 1, A.data, A.ld, B.data, B.ld, 0.5, c2, n)
			for i := range c1 {
				if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
					t.Fatalf("%s tA=%v tB=%v: blocking changed c[%d]", base.name, o[0], o[1], i)
				}
			}
		}
	}
}

func TestPackers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls() {
		for _, trans := range []bool{false, true} {
			for _, rows := range []int{1, 5, 6, 7, 16, 17, 33} {
				for _, kc := range []int{1, 3, 8, 9, 17, 64} {
					ld := 70 + rng.IntN(5)
					src := make([]float32, 80*ld)
					for i := range src {
						src[i] = float32(i)
					}
					for _, isA := range []bool{true, false} {
						r := im.mr
						if !isA {
							r = im.nr
						}
						dst := make([]float32, roundUp(rows, r)*kc+1)
						dst[len(dst)-1] = sentinel
						i0, p0 := 2, 3
						var elem func(i, p int) float32
						if isA {
							im.packA(dst, trans, src, ld, i0, rows, p0, kc)
							elem = func(i, p int) float32 {
								if trans {
									return src[(p0+p)*ld+i0+i]
								}
								return src[(i0+i)*ld+p0+p]
							}
						} else {
							im.packB(dst, !trans, src, ld, i0, rows, p0, kc)
							elem = func(j, p int) float32 {
								if !trans {
									return src[(i0+j)*ld+p0+p]
								}
								return src[(p0+p)*ld+i0+j]
							}
						}
						for i := 0; i < roundUp(rows, r); i++ {
							for p := 0; p < kc; p++ {
								got := dst[(i/r)*r*kc+p*r+i%r]
								want := float32(0)
								if i < rows {
									want = elem(i, p)
								}
								if got != want {
									t.Fatalf("%s A=%v trans=%v rows=%d kc=%d: [%d,%d]=%g want %g", im.name, isA, trans, rows, kc, i, p, got, want)
								}
							}
						}
						if dst[len(dst)-1] != sentinel {
							t.Fatalf("%s packer wrote past its panels", im.name)
						}
					}
				}
			}
		}
	}
}

// TestScaled checks that SgemmScaled equals Sgemm on the explicitly scaled
// A, bit for bit.
func TestScaled(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls() {
		saved := active
		active = im
		for _, o := range orients {
			for _, d := range [][3]int{{1, 1, 1}, {7, 19, 33}, {300, 40, 600}, {40, 300, 600}} {
				m, n, k := d[0], d[1], d[2]
				ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
				A := newMat(rng, ar, ac, ac+1)
				B := newMat(rng, br, bc, bc)
				s := make([]float32, k)
				for i := range s {
					s[i] = float32(rng.NormFloat64())
				}
				As := append([]float32(nil), A.data...)
				for r := 0; r < ar; r++ {
					for c := 0; c < ac; c++ {
						p := c
						if o[0] {
							p = r
						}
						As[r*A.ld+c] *= s[p]
					}
				}
				c1 := make([]float32, m*n)
				c2 := make([]float32, m*n)
				SgemmScaled(o[0], o[1], m, n, k, 0.5, A.data, A.ld, s, B.data, B.ld, 0, c1, n)
				Sgemm(o[0], o[1], m, n, k, 0.5, As, A.ld, B.data, B.ld, 0, c2, n)
				for i := range c1 {
					if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
						t.Fatalf("%s tA=%v tB=%v %v: c[%d] = %g, want %g", im.name, o[0], o[1], d, i, c1[i], c2[i])
					}
				}
			}
		}
		active = saved
	}
}

// TestSerial: SgemmSerial and SgemmSerialThen (with memory to prefetch of
// several sizes, or none) give Sgemm's bits in every orientation, and the
// serial plan has one thread for a product that Sgemm would split.
func TestSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	m, n, k := 130, 300, 520
	next := make([]float32, 1<<18)
	for _, o := range orients {
		ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
		A, B, C0 := newMat(rng, ar, ac, ac), newMat(rng, br, bc, bc), newMat(rng, m, n, n)
		want := append([]float32(nil), C0.data...)
		Sgemm(o[0], o[1], m, n, k, 0.75, A.data, A.ld, B.data, B.ld, 0.5, want, n)
		for _, then := range []int{-1, 0, 1, 1000, len(next)} {
			got := append([]float32(nil), C0.data...)
			if then < 0 {
				SgemmSerial(o[0], o[1], m, n, k, 0.75, A.data, A.ld, B.data, B.ld, 0.5, got, n)
			} else {
				SgemmSerialThen(next[:then], o[0], o[1], m, n, k, 0.75, A.data, A.ld, B.data, B.ld, 0.5, got, n)
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("tA=%v tB=%v then=%d: c[%d] = %v, Sgemm %v", o[0], o[1], then, i, got[i], want[i])
				}
			}
		}
	}
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	if runtime.GOMAXPROCS(0) < 2 {
		return // one thread only here (js/wasm): no plan to split
	}
	for _, serial := range []bool{false, true} {
		var pl plan
		makePlan(active, &problem{m: 256, n: 768, k: 768, extras: extras{serial: serial}}, &pl)
		if want := map[bool]int{false: 2, true: 1}[serial]; pl.threads != want {
			t.Errorf("serial=%v: the plan has %d threads, want %d", serial, pl.threads, want)
		}
	}
}
