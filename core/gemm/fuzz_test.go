package gemm

import (
	"math/rand/v2"
	"testing"
)

// FuzzSgemm compares every implementation with a float64 reference on
// fuzzer-chosen shapes, strides and scalars (go test -fuzz FuzzSgemm).
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint16(1), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(7), uint8(33), uint16(257), uint8(3), uint8(5), uint64(2))
	f.Add(uint8(64), uint8(17), uint16(600), uint8(14), uint8(0), uint64(3))
	f.Fuzz(func(t *testing.T, m, n uint8, k uint16, flags, pads uint8, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 99))
		scal := []float32{0, 1, -1, 0.5}
		g := gcase{
			transA: flags&1 != 0, transB: flags&2 != 0,
			m: int(m % 80), n: int(n % 80), k: int(k % 700),
			padA: int(pads & 3), padB: int(pads >> 2 & 3), padC: int(pads >> 4 & 3),
			alpha: scal[1+int(flags>>2)%3], beta: scal[int(flags>>4)%4],
		}
		for _, im := range impls() {
			check(t, im, rng, g)
		}
	})
}
