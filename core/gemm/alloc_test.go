package gemm

import "testing"

// TestSmallCallAllocs checks that a small product does not allocate per
// call once the scratch space is warm.
func TestSmallCallAllocs(t *testing.T) {
	defer SetMaxThreads(SetMaxThreads(1))
	m, n, k := 16, 24, 32
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	allocs := testing.AllocsPerRun(100, func() {
		Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n)
	})
	t.Logf("%.1f allocs per call", allocs)
	if allocs > 4 {
		t.Errorf("%.1f allocs per call, want <= 4", allocs)
	}
}
