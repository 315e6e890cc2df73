package gemm

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guarded returns a slice of n floats that ends (atEnd) or starts right
// next to an inaccessible page, so that any access outside it faults.
func guarded(t *testing.T, n int, atEnd bool) []float32 {
	t.Helper()
	page := syscall.Getpagesize()
	bytes := (n*4 + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, bytes+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	if err := syscall.Mprotect(mem[page+bytes:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	off := page
	if atEnd {
		off = page + bytes - n*4
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), n)
}

// TestNoOutOfBoundsAccess runs every implementation with operands placed
// against guard pages, at both ends, so that an over-read or over-write in
// the assembly (which Go's bounds checks cannot see) crashes the test.
func TestNoOutOfBoundsAccess(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	shapes := [][3]int{{1, 1, 1}, {7, 17, 9}, {6, 16, 8}, {13, 35, 21}, {37, 5, 300}, {5, 37, 301}}
	for _, im := range impls() {
		for _, o := range orients {
			for _, s := range shapes {
				m, n, k := s[0], s[1], s[2]
				for _, atEnd := range []bool{true, false} {
					for _, pad := range []int{0, 3} {
						ar, ac, br, bc := storedDims(o[0], o[1], m, n, k)
						lda, ldb, ldc := ac+pad, bc+pad, n+pad
						a := guarded(t, (ar-1)*lda+ac, atEnd)
						b := guarded(t, (br-1)*ldb+bc, atEnd)
						c := guarded(t, (m-1)*ldc+n, atEnd)
						for i := range a {
							a[i] = float32(rng.NormFloat64())
						}
						for i := range b {
							b[i] = float32(rng.NormFloat64())
						}
						sgemmWith(im, o[0], o[1], m, n, k, 1, a, lda, b, ldb, 0.5, c, ldc)
						sgemmWith(im, o[0], o[1], m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
					}
				}
			}
		}
	}
}
