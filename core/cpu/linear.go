package cpu

import (
	"fmt"

	"github.com/hutml/hut/core/gemm"
	"github.com/hutml/hut/core/tensor"
)

var _ tensor.FusedLinear = (*Backend)(nil)

// LinearForward implements tensor.FusedLinear: the output's scaling and
// bias are applied to each block of the product as the GEMM finishes it
// (gemm.SgemmEpilogue), row by row with the same vector operations as
// ScaleColsBias and AddBias.
func (be *Backend) LinearForward(y, p, x, w, sIn, sOut, bias tensor.Buf, N, Out, In int) {
	Y, X, W := F(y)[:N*Out], F(x)[:N*In], F(w)[:Out*In]
	SI, SO, B := optF(sIn, In), optF(sOut, Out), optF(bias, Out)
	P := Y
	var ep gemm.Epilogue
	switch {
	case p != nil && SO != nil && B != nil && streamKeep:
		// The GEMM writes the product into y, where the epilogue turns it
		// into Y in place; the copy kept in p, read again only in the
		// backward pass, goes around the caches.
		Z := F(p)[:N*Out]
		ep = func(i0, rows, j0, cols int) {
			for n := i0; n < i0+rows; n++ {
				r := n*Out + j0
				mulAddVecKeep(Y[r:r+cols], Z[r:r+cols], Y[r:r+cols], SO[j0:j0+cols], B[j0:j0+cols])
			}
			storeFence()
		}
	case p != nil:
		P = F(p)[:N*Out]
		ep = func(i0, rows, j0, cols int) {
			for n := i0; n < i0+rows; n++ {
				r := n*Out + j0
				preAct(Y[r:r+cols], P[r:r+cols], SO, B, j0)
			}
		}
	case SO != nil:
		panic(fmt.Sprintf("cpu.LinearForward: an output scale needs a buffer for the product (%dx%d)", N, Out))
	case B != nil:
		ep = func(i0, rows, j0, cols int) {
			for n := i0; n < i0+rows; n++ {
				r := n*Out + j0
				addVec(Y[r:r+cols], B[j0:j0+cols])
			}
		}
	}
	gemm.SgemmEpilogue(false, true, N, Out, In, 1, X, max(In, 1), SI, W, max(In, 1), 0, P, max(Out, 1), ep)
}

// streamKeep is turned off only by BenchmarkLinear/forward/cold, which
// times LinearForward keeping Z with and without the non-temporal stores.
var streamKeep = true

// LinearBackwardInput implements tensor.FusedLinear: each block of H is
// turned into its share of ds and into dx as the GEMM finishes it, in
// place (H is written into dx's buffer), with ColSumMulScale's vector
// operations in its order — each column's sum runs over the rows in order.
// A weight packed ahead (PackWeight) is multiplied from its packed copy.
func (be *Backend) LinearBackwardInput(dx, ds, dy, w, x, sOut, sIn tensor.Buf, N, Out, In int) {
	DY, W, X, D := F(dy)[:N*Out], F(w)[:Out*In], F(x)[:N*In], F(ds)[:In]
	SO, SI := optF(sOut, Out), optF(sIn, In)
	var H []float32
	if dx != nil {
		H = F(dx)[:N*In]
	} else {
		hp := workBuf(N * In)
		defer putWorkBuf(hp)
		H = *hp
	}
	ap := workBuf(In)
	defer putWorkBuf(ap)
	acc := *ap
	clear(acc)
	ep := func(i0, rows, j0, cols int) {
		a := acc[j0 : j0+cols]
		for n := i0; n < i0+rows; n++ {
			r := n*In + j0
			h := H[r : r+cols]
			fmaVec(a, h, X[r:r+cols])
			if dx != nil && SI != nil {
				mulVec(h, h, SI[j0:j0+cols])
			}
		}
	}
	if pb := packedB(w, false, In, Out, max(In, 1)); pb != nil {
		gemm.SgemmPackedEpilogue(false, N, 1, DY, max(Out, 1), SO, pb, 0, H, max(In, 1), ep)
	} else {
		gemm.SgemmEpilogue(false, false, N, In, Out, 1, DY, max(Out, 1), SO, W, max(In, 1), 0, H, max(In, 1), ep)
	}
	addVec(D, acc)
}
