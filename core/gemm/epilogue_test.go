package gemm

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestEpilogue: SgemmEpilogue hands over every element of C exactly once,
// each block already holding Sgemm's final bits; for every column the
// blocks come in increasing order of rows; and the product is Sgemm's. For
// plans that share A (column chunks, several k blocks and row blocks),
// plans that share B (row chunks), and alpha = 0; and the same with op(B)
// packed ahead (SgemmPackedEpilogue).
func TestEpilogue(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	type call struct{ i0, rows, j0, cols int }
	for _, im := range impls() {
		saved := active
		active = im
		for _, d := range [][3]int{{300, 700, 600}, {8, 1100, 40}, {700, 90, 300}, {5, 3, 2}} {
			m, n, k := d[0], d[1], d[2]
			for _, c := range []struct {
				packed bool
				alpha  float32
			}{{false, 0.5}, {false, 0}, {true, 0.5}} {
				alpha := c.alpha
				A, B, C := newMat(rng, m, k, k), newMat(rng, n, k, k), newMat(rng, m, n, n)
				want := append([]float32(nil), C.data...)
				Sgemm(false, true, m, n, k, alpha, A.data, A.ld, B.data, B.ld, 0.25, want, n)
				got := append([]float32(nil), C.data...)
				var mu sync.Mutex
				var calls []call
				seen := make([]int, m*n)
				lastRow := make([]int, n)
				ep := func(i0, rows, j0, cols int) {
					mu.Lock()
					defer mu.Unlock()
					calls = append(calls, call{i0, rows, j0, cols})
					for i := i0; i < i0+rows; i++ {
						for j := j0; j < j0+cols; j++ {
							if math.Float32bits(got[i*n+j]) != math.Float32bits(want[i*n+j]) {
								t.Fatalf("%s %v alpha=%v: c[%d,%d] not final when handed over", im.name, d, alpha, i, j)
							}
							seen[i*n+j]++
						}
					}
					for j := j0; j < j0+cols; j++ {
						if i0 < lastRow[j] {
							t.Fatalf("%s %v: column %d handed rows from %d after rows up to %d", im.name, d, j, i0, lastRow[j])
						}
						lastRow[j] = i0 + rows
					}
				}
				if c.packed {
					SgemmPackedEpilogue(false, m, alpha, A.data, A.ld, nil, PackB(true, n, k, B.data, B.ld), 0.25, got, n, ep)
				} else {
					SgemmEpilogue(false, true, m, n, k, alpha, A.data, A.ld, nil, B.data, B.ld, 0.25, got, n, ep)
				}
				for i, c := range seen {
					if c != 1 {
						t.Fatalf("%s %v alpha=%v: c[%d] handed over %d times (calls %v)", im.name, d, alpha, i, c, calls)
					}
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s %v alpha=%v: c[%d] = %g, want %g", im.name, d, alpha, i, got[i], want[i])
					}
				}
			}
		}
		active = saved
	}
}
