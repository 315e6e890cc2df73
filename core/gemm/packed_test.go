package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPacked: SgemmPacked gives SgemmScaled's bits for every implementation,
// orientation and scaling, for shapes with partial panels, several k blocks,
// several column chunks, m > n (the packed copy as the plan's shared B),
// and n = 0 or k = 0, with one packed matrix reused across products.
func TestPacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, im := range impls() {
		saved := active
		active = im
		for _, tb := range []bool{false, true} {
			for _, d := range [][2]int{{1, 1}, {19, 33}, {1100, 600}, {2100, 70}, {40, 1030}, {0, 7}, {9, 0}} {
				n, k := d[0], d[1]
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				B := newMat(rng, br, bc, bc+3)
				pb := PackB(tb, n, k, B.data, B.ld)
				for _, m := range []int{1, 9, 64, 257} {
					for _, ta := range []bool{false, true} {
						for _, scaled := range []bool{false, true} {
							ar, ac := m, k
							if ta {
								ar, ac = k, m
							}
							A := newMat(rng, ar, ac, ac+1)
							var s []float32
							if scaled {
								s = make([]float32, k)
								for i := range s {
									s[i] = float32(rng.NormFloat64())
								}
							}
							C := newMat(rng, m, n, n+2)
							c1 := append([]float32(nil), C.data...)
							c2 := append([]float32(nil), C.data...)
							SgemmPacked(ta, m, 0.5, A.data, A.ld, s, pb, 0.25, c1, C.ld)
							SgemmScaled(ta, tb, m, n, k, 0.5, A.data, A.ld, s, B.data, B.ld, 0.25, c2, C.ld)
							for i := range c1 {
								if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
									t.Fatalf("%s tA=%v tB=%v m=%d n=%d k=%d scaled=%v: c[%d] = %g, want %g", im.name, ta, tb, m, n, k, scaled, i, c1[i], c2[i])
								}
							}
						}
					}
				}
			}
		}
		active = saved
	}
}

// TestPackedOtherImpl: a matrix packed for one implementation still gives
// the right product after UseImpl switched to another (from the source).
func TestPackedOtherImpl(t *testing.T) {
	all := impls()
	if len(all) < 2 {
		t.Skip("one implementation only")
	}
	rng := rand.New(rand.NewPCG(23, 24))
	m, n, k := 8, 300, 70
	A, B := newMat(rng, m, k, k), newMat(rng, n, k, k)
	saved := active
	defer func() { active = saved }()
	active = all[0]
	pb := PackB(true, n, k, B.data, B.ld)
	active = all[len(all)-1]
	c1, c2 := make([]float32, m*n), make([]float32, m*n)
	SgemmPacked(false, m, 1, A.data, A.ld, nil, pb, 0, c1, n)
	Sgemm(false, true, m, n, k, 1, A.data, A.ld, B.data, B.ld, 0, c2, n)
	for i := range c1 {
		if c1[i] != c2[i] {
			t.Fatalf("c[%d] = %g, want %g", i, c1[i], c2[i])
		}
	}
}

// TestPackedA: PackedA's products give Sgemm's bits for every
// implementation and orientation, for shapes with partial panels, several
// k blocks, several column chunks, and m > n (served from the source), with
// one packed matrix reused across products and packed again in place.
func TestPackedA(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, im := range impls() {
		saved := active
		active = im
		var pa PackedA
		for _, ta := range []bool{false, true} {
			for _, d := range [][2]int{{1, 1}, {19, 33}, {257, 600}, {64, 1030}} {
				m, k := d[0], d[1]
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				A := newMat(rng, ar, ac, ac+1)
				pa.Pack(ta, m, k, A.data, A.ld)
				if gm, gk := pa.Dims(); gm != m || gk != k {
					t.Fatalf("Dims() = %d, %d, want %d, %d", gm, gk, m, k)
				}
				if ta { // packing again after Release reuses the storage
					pa.Release()
					if pa.a != nil || cap(pa.data) == 0 && m*k > 0 {
						t.Fatal("Release kept the source or dropped the storage")
					}
					pa.Pack(ta, m, k, A.data, A.ld)
				}
				for _, n := range []int{1, 40, 300, 1100} {
					for _, tb := range []bool{false, true} {
						for _, serial := range []bool{false, true} {
							br, bc := k, n
							if tb {
								br, bc = n, k
							}
							B := newMat(rng, br, bc, bc+3)
							C := newMat(rng, m, n, n+2)
							c1 := append([]float32(nil), C.data...)
							c2 := append([]float32(nil), C.data...)
							if serial {
								pa.SgemmSerial(tb, n, 0.5, B.data, B.ld, 0.25, c1, C.ld)
							} else {
								pa.Sgemm(tb, n, 0.5, B.data, B.ld, 0.25, c1, C.ld)
							}
							Sgemm(ta, tb, m, n, k, 0.5, A.data, A.ld, B.data, B.ld, 0.25, c2, C.ld)
							for i := range c1 {
								if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
									t.Fatalf("%s tA=%v tB=%v m=%d n=%d k=%d serial=%v: c[%d] = %g, want %g", im.name, ta, tb, m, n, k, serial, i, c1[i], c2[i])
								}
							}
						}
					}
				}
			}
		}
		active = saved
	}
}
