package cpu

import (
	"unsafe"

	"github.com/hutml/hut/internal/cpufeat"
)

//go:noescape
func fmaVecAVX2(acc, a, b []float32)

//go:noescape
func addVecAVX2(acc, a []float32)

//go:noescape
func mulAddVecAVX2(out, a, b, c []float32)

//go:noescape
func mulAddVecKeepAVX2(out, keep, a, b, c []float32)

// storeFence orders the non-temporal stores made so far (SFENCE) before
// the stores that follow, which publish them to other goroutines.
func storeFence()

// fmaVec sets acc[i] += a[i]·b[i]. On amd64 with FMA every element is one
// fused multiply-add, the tail included (it goes through the vector kernel
// in a padded block), so a result never depends on where a slice starts or
// ends — and so not on how work is split across threads. Elsewhere it is a
// multiply then an add.
func fmaVec(acc, a, b []float32) {
	if !cpufeat.AVX2FMA {
		fmaVecGo(acc[:len(a)], a, b[:len(a)])
		return
	}
	n := len(a) &^ 31
	fmaVecAVX2(acc[:len(a)], a, b[:len(a)])
	if n == len(a) {
		return
	}
	var ta, tb, tc [32]float32
	k := copy(ta[:], a[n:])
	copy(tb[:], b[n:len(a)])
	copy(tc[:], acc[n:len(a)])
	fmaVecAVX2(tc[:], ta[:], tb[:])
	copy(acc[n:len(a)], tc[:k])
}

// addVec sets acc[i] += a[i].
func addVec(acc, a []float32) {
	n := 0
	if cpufeat.AVX2FMA {
		n = len(a) &^ 31
		addVecAVX2(acc[:len(a)], a)
	}
	addVecGo(acc[n:len(a)], a[n:])
}

// mulAddVec sets out[i] = a[i]·b[i] + c[i], the product rounded to float32
// before the sum: the bits of mulVec then addVec, in one pass.
func mulAddVec(out, a, b, c []float32) {
	n := 0
	if cpufeat.AVX2FMA {
		n = len(a) &^ 31
		mulAddVecAVX2(out[:len(a)], a, b[:len(a)], c[:len(a)])
	}
	mulAddVecGo(out[n:len(a)], a[n:], b[n:len(a)], c[n:len(a)])
}

// mulAddVecKeep copies a to keep and sets out[i] = a[i]·b[i] + c[i] (out
// may be a): mulAddVec's bits in one pass, with keep written around the
// caches where it is 32-byte aligned (non-temporal stores): a copy read
// again only in the backward pass, by when it would have been pushed out of
// the caches anyway, then costs no read of its lines beforehand and evicts
// nothing. The caller calls storeFence before another goroutine may read
// keep (one fence for many calls: a fence waits for the stores to drain).
func mulAddVecKeep(out, keep, a, b, c []float32) {
	if !cpufeat.AVX2FMA || len(a) < 32 || uintptr(unsafe.Pointer(&keep[0]))%32 != 0 {
		copy(keep[:len(a)], a)
		mulAddVec(out, a, b, c)
		return
	}
	n := len(a) &^ 31
	mulAddVecKeepAVX2(out[:len(a)], keep[:len(a)], a, b[:len(a)], c[:len(a)])
	copy(keep[n:len(a)], a[n:])
	mulAddVecGo(out[n:len(a)], a[n:], b[n:len(a)], c[n:len(a)])
}
