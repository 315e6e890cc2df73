package engine

import (
	"github.com/hutml/hut/core/tensor"
)

// tracked wraps a backend and keeps the set of live buffers, so that the
// engine can report its memory and free everything a model, an adapter and
// a training run allocated (the models keep some buffers in unexported
// fields) when the page attaches a new method.
//
// In skeleton mode NewBuf hands out placeholders that own no memory: the
// engine builds a fresh model structure that way and moves the base
// weights of the previous one into it, without allocating or uploading
// them again.
type tracked struct {
	tensor.Backend
	bufs     map[tensor.Buf]bool // value: pinned (survives release)
	ibufs    map[tensor.IBuf]bool
	bytes    int64
	skeleton bool
}

func newTracked(be tensor.Backend) *tracked {
	return &tracked{Backend: be, bufs: map[tensor.Buf]bool{}, ibufs: map[tensor.IBuf]bool{}}
}

// placeholder is a buffer of skeleton mode.
type placeholder struct{ n int }

func (p *placeholder) Len() int { return p.n }

type iplaceholder struct{ n int }

func (p *iplaceholder) Len() int { return p.n }

func (t *tracked) NewBuf(n int) tensor.Buf {
	if t.skeleton {
		return &placeholder{n}
	}
	b := t.Backend.NewBuf(n)
	t.bufs[b] = false
	t.bytes += 4 * int64(n)
	return b
}

func (t *tracked) NewIBuf(n int) tensor.IBuf {
	if t.skeleton {
		return &iplaceholder{n}
	}
	b := t.Backend.NewIBuf(n)
	t.ibufs[b] = false
	t.bytes += 4 * int64(n)
	return b
}

func (t *tracked) Free(b tensor.Buf) {
	if b == nil {
		return
	}
	if _, ok := b.(*placeholder); ok {
		return
	}
	if _, ok := t.bufs[b]; !ok {
		return // freed already (by release) or not ours
	}
	delete(t.bufs, b)
	t.bytes -= 4 * int64(b.Len())
	t.Backend.Free(b)
}

func (t *tracked) FreeI(b tensor.IBuf) {
	if b == nil {
		return
	}
	if _, ok := b.(*iplaceholder); ok {
		return
	}
	if _, ok := t.ibufs[b]; !ok {
		return
	}
	delete(t.ibufs, b)
	t.bytes -= 4 * int64(b.Len())
	t.Backend.FreeI(b)
}

// pin marks buffers that release must keep.
func (t *tracked) pin(bs ...tensor.Buf) {
	for _, b := range bs {
		if _, ok := t.bufs[b]; ok {
			t.bufs[b] = true
		}
	}
}

// unpinAll clears every pin.
func (t *tracked) unpinAll() {
	for b := range t.bufs {
		t.bufs[b] = false
	}
}

// release frees every buffer that is not pinned.
func (t *tracked) release() {
	for b, pinned := range t.bufs {
		if !pinned {
			t.Free(b)
		}
	}
	for b, pinned := range t.ibufs {
		if !pinned {
			t.FreeI(b)
		}
	}
}

// ---- a backend that computes nothing, for estimates ----

// nullBackend runs model code without doing any work: buffers own no
// memory and reads return zeros. It counts the floating-point operations of
// the GEMMs and attention products the code issues, which is how
// hut.estimate sizes a step of any method without attaching it.
type nullBackend struct {
	flops float64
}

type nullBuf struct{ n int }

func (b *nullBuf) Len() int { return b.n }

func (nb *nullBackend) Name() string                                        { return "null" }
func (nb *nullBackend) Err() error                                          { return nil }
func (nb *nullBackend) NewBuf(n int) tensor.Buf                             { return &nullBuf{n} }
func (nb *nullBackend) NewIBuf(n int) tensor.IBuf                           { return &nullBuf{n} }
func (nb *nullBackend) Free(tensor.Buf)                                     {}
func (nb *nullBackend) FreeI(tensor.IBuf)                                   {}
func (nb *nullBackend) Write(tensor.Buf, int, []float32)                    {}
func (nb *nullBackend) WriteI(tensor.IBuf, int, []int32)                    {}
func (nb *nullBackend) Read(_ tensor.Buf, _ int, dst []float32)             { clear(dst) }
func (nb *nullBackend) Zero(tensor.Buf, int, int)                           {}
func (nb *nullBackend) Copy(tensor.Buf, int, tensor.Buf, int, int)          {}
func (nb *nullBackend) Add(_, _, _ tensor.Buf, _ int)                       {}
func (nb *nullBackend) AddInPlace(_, _ tensor.Buf, _ int)                   {}
func (nb *nullBackend) Mul(_, _, _ tensor.Buf, _ int)                       {}
func (nb *nullBackend) Scale(_, _ tensor.Buf, _ float32, _ int)             {}
func (nb *nullBackend) AXPY(_, _ tensor.Buf, _ float32, _ int)              {}
func (nb *nullBackend) ScaleCols(_, _, _ tensor.Buf, _, _ int)              {}
func (nb *nullBackend) ScaleRows(_, _, _ tensor.Buf, _, _ int)              {}
func (nb *nullBackend) AddBias(_, _ tensor.Buf, _, _ int)                   {}
func (nb *nullBackend) ColSum(_, _ tensor.Buf, _, _ int)                    {}
func (nb *nullBackend) RowSum(_, _ tensor.Buf, _, _ int)                    {}
func (nb *nullBackend) ColSumMul(_, _, _ tensor.Buf, _, _ int)              {}
func (nb *nullBackend) ScaleColsBias(_, _, _, _ tensor.Buf, _, _ int)       {}
func (nb *nullBackend) ColSumMulScale(_, _, _, _, _ tensor.Buf, _, _ int)   {}
func (nb *nullBackend) BroadcastCols(_, _ tensor.Buf, _, _ int)             {}
func (nb *nullBackend) BroadcastRows(_, _ tensor.Buf, _, _ int)             {}
func (nb *nullBackend) SumSquares(_ tensor.Buf, _ int, _ tensor.Buf, _ int) {}
func (nb *nullBackend) Sum(_ tensor.Buf, _ int, _ tensor.Buf, _ int)        {}
func (nb *nullBackend) Embed(_ tensor.Buf, _, _, _ tensor.IBuf, _, _, _ tensor.Buf, _, _ int) {
}
func (nb *nullBackend) EmbedBackward(_, _, _, _ tensor.Buf, _, _, _ tensor.IBuf, _, _ int) {}
func (nb *nullBackend) GatherRows(_, _ tensor.Buf, _ tensor.IBuf, _, _ int)                {}
func (nb *nullBackend) ScatterAddRows(_, _ tensor.Buf, _ tensor.IBuf, _, _ int)            {}
func (nb *nullBackend) LayerNorm(_, _, _, _, _, _ tensor.Buf, _, _ int, _ float32)         {}
func (nb *nullBackend) LayerNormBackward(_, _, _, _, _, _, _, _ tensor.Buf, _, _ int)      {}
func (nb *nullBackend) GELU(_, _ tensor.Buf, _ int, _ tensor.GELUKind)                     {}
func (nb *nullBackend) GELUBackward(_, _, _ tensor.Buf, _ int, _ tensor.GELUKind)          {}
func (nb *nullBackend) Tanh(_, _ tensor.Buf, _ int)                                        {}
func (nb *nullBackend) TanhBackward(_, _, _ tensor.Buf, _ int)                             {}
func (nb *nullBackend) Dropout(_, _ tensor.Buf, _ int, _ float32, _ uint32)                {}
func (nb *nullBackend) DropoutBackward(_, _ tensor.Buf, _ int, _ float32, _ uint32)        {}
func (nb *nullBackend) ClipScale(_ tensor.Buf, _, _ int, _ float32)                        {}
func (nb *nullBackend) AdamWStep(_, _, _, _ tensor.Buf, _ int, _ tensor.AdamW, _ tensor.Buf, _ int) {
}
func (nb *nullBackend) MSE(_ tensor.Buf, _ int, _, _, _, _ tensor.Buf, _ int) {}
func (nb *nullBackend) CrossEntropy(_ tensor.Buf, _ int, _, _ tensor.Buf, _ tensor.IBuf, _ tensor.Buf, _, _ int, _ float32) {
}

func (nb *nullBackend) MatMul(_, _, _ tensor.Buf, m, n, k int, _, _ bool, _, _ float32) {
	nb.flops += 2 * float64(m) * float64(n) * float64(k)
}

func (nb *nullBackend) MatMulScaled(_, _, _, _ tensor.Buf, m, n, k int, _, _ bool, _, _ float32) {
	nb.flops += 2 * float64(m) * float64(n) * float64(k)
}

// attnPairs is the number of (query, key) pairs a call scores.
func attnPairs(s tensor.AttnSpec) float64 {
	T := float64(s.T)
	if s.Causal {
		return T * (T + 1) / 2
	}
	return T * T
}

// Attention: q·kᵀ and p·v, 2 FLOPs per multiply-add over the head size.
func (nb *nullBackend) Attention(_, _, _ tensor.Buf, s tensor.AttnSpec) {
	nb.flops += 4 * float64(s.B) * attnPairs(s) * float64(s.C)
}

// AttentionBackward: dp = dout·vᵀ, dv = pᵀ·dout, dq = ds·k, dk = dsᵀ·q.
func (nb *nullBackend) AttentionBackward(_, _, _, _, _ tensor.Buf, s tensor.AttnSpec) {
	nb.flops += 8 * float64(s.B) * attnPairs(s) * float64(s.C)
}

func (nb *nullBackend) KVAttention(_, _, _, _ tensor.Buf, _ tensor.IBuf, B, Tn, C, NH, pos, Tmax int) {
	nb.flops += 4 * float64(B) * float64(Tn) * float64(pos+Tn) * float64(C)
}

var _ tensor.Backend = (*nullBackend)(nil)
