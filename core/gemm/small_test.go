package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmTri: for every kernel, orientation and triangle, SgemmTri gives
// Sgemm's bits on what it promises — every element for Full, LowerA and
// UpperA (op(A) zero in its triangle; an exact zero may differ in sign),
// the elements on and below the diagonal for LowerC — on square attention
// shapes, edge tiles, strided operands, beta ≠ 0, and k above the kernel's
// k block.
func TestSgemmTri(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	saved := active
	defer func() { active = saved }()
	for _, im := range impls() {
		active = im
		for _, o := range orients {
			for _, d := range [][4]int{{64, 64, 64, 0}, {64, 64, 64, 2304}, {37, 50, 45, 0}, {5, 3, 2, 0}, {70, 40, 300, 0}, {1, 1, 1, 0}} {
				m, n, k := d[0], d[1], d[2]
				for _, tri := range []Tri{Full, LowerC, LowerA, UpperA} {
					for _, beta := range []float32{0, 0.5} {
						ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
						lda, ldb := max(ac, d[3]), max(bc, d[3])
						A, B := newMat(rng, ar, ac, lda), newMat(rng, br, bc, ldb)
						// op(A)[i][p] is A[i][p], or A[p][i] when transposed.
						for i := 0; i < m; i++ {
							for p := 0; p < k; p++ {
								if (tri == LowerA && p > i) || (tri == UpperA && p < i) {
									if o[0] {
										A.data[p*lda+i] = 0
									} else {
										A.data[i*lda+p] = 0
									}
								}
							}
						}
						C := newMat(rng, m, n, n)
						want := append([]float32(nil), C.data...)
						got := append([]float32(nil), C.data...)
						Sgemm(o[0], o[1], m, n, k, 1.5, A.data, lda, B.data, ldb, beta, want, n)
						SgemmTri(tri, o[0], o[1], m, n, k, 1.5, A.data, lda, B.data, ldb, beta, got, n)
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								if tri == LowerC && j > i {
									continue
								}
								g, w := got[i*n+j], want[i*n+j]
								if math.Float32bits(g) != math.Float32bits(w) && !(g == 0 && w == 0) {
									t.Fatalf("%s tA=%v tB=%v %v tri=%d beta=%v: c[%d][%d] = %g, Sgemm %g", im.name, o[0], o[1], d, tri, beta, i, j, g, w)
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestSgemmTriSkipsUpperTiles: with LowerC, a tile wholly above the
// diagonal keeps what C held there.
func TestSgemmTriSkipsUpperTiles(t *testing.T) {
	im := active
	m, n, k := 2*im.mr, 2*im.nr+im.mr, 16
	rng := rand.New(rand.NewPCG(43, 44))
	A, B := newMat(rng, m, k, k), newMat(rng, n, k, k)
	c := make([]float32, m*n)
	for i := range c {
		c[i] = sentinel
	}
	SgemmTri(LowerC, false, true, m, n, k, 1, A.data, k, B.data, k, 0, c, n)
	// Columns from 2·nr on lie right of every row of the first row tile
	// (rows < mr ≤ 2·nr).
	for i := 0; i < im.mr; i++ {
		for j := 2 * im.nr; j < n; j++ {
			if c[i*n+j] != sentinel {
				t.Fatalf("%s: c[%d][%d] = %g, want untouched", im.name, i, j, c[i*n+j])
			}
		}
	}
	if c[0] == sentinel || c[(m-1)*n] == sentinel {
		t.Fatalf("%s: the diagonal tiles were not computed", im.name)
	}
}

// BenchmarkAttentionProducts times the four products of one head of causal
// attention at GPT-2's T = 64, head size 64 (strided in the qkv rows of
// C = 768): full Sgemm against SgemmTri with the triangle left out.
//
//	go test -run XXX -bench AttentionProducts ./core/gemm
func BenchmarkAttentionProducts(b *testing.B) {
	T, hs, ld := 64, 64, 3*768
	rng := rand.New(rand.NewPCG(45, 46))
	q := newMat(rng, T, ld, ld).data
	p := newMat(rng, T, T, T).data
	for i := 0; i < T; i++ {
		for j := i + 1; j < T; j++ {
			p[i*T+j] = 0
		}
	}
	s := make([]float32, T*T)
	o := make([]float32, T*ld)
	for _, c := range []struct {
		name string
		run  func(tri bool)
	}{
		{"QK", func(tri bool) {
			if tri {
				SgemmTri(LowerC, false, true, T, T, hs, 0.125, q, ld, q[768:], ld, 0, s, T)
			} else {
				Sgemm(false, true, T, T, hs, 0.125, q, ld, q[768:], ld, 0, s, T)
			}
		}},
		{"PV", func(tri bool) {
			if tri {
				SgemmTri(LowerA, false, false, T, hs, T, 1, p, T, q[1536:], ld, 0, o, ld)
			} else {
				Sgemm(false, false, T, hs, T, 1, p, T, q[1536:], ld, 0, o, ld)
			}
		}},
		{"PtdO", func(tri bool) {
			if tri {
				SgemmTri(UpperA, true, false, T, hs, T, 1, p, T, q, ld, 0, o, ld)
			} else {
				Sgemm(true, false, T, hs, T, 1, p, T, q, ld, 0, o, ld)
			}
		}},
	} {
		for _, tri := range []bool{false, true} {
			name := c.name + "/sgemm"
			if tri {
				name = c.name + "/tri"
			}
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					c.run(tri)
				}
			})
		}
	}
}
