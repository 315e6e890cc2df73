package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/tensor"
)

// TestAttentionTriangles: causal attention, forward and backward, gives
// the bits of the full products when its products leave out the masked
// triangle (an exact zero may differ in sign) — with dropout and a key
// mask, at sizes where whole tiles and k ranges are left out, and with the
// outputs and the probabilities' buffer holding NaN beforehand, so that a
// value read from a part not computed would show.
func TestAttentionTriangles(t *testing.T) {
	be := New()
	defer func() { skipTriangles = true }()
	for _, c := range []struct {
		B, T, C, NH int
		pdrop       float32
		mask        bool
	}{{2, 48, 32, 2, 0, false}, {1, 64, 128, 2, 0.2, false}, {2, 40, 16, 1, 0.1, true}, {1, 70, 64, 4, 0, false}} {
		t.Run(fmt.Sprintf("B%d_T%d_C%d_NH%d_drop%v_mask%v", c.B, c.T, c.C, c.NH, c.pdrop, c.mask), func(t *testing.T) {
			r := rand.New(rand.NewPCG(21, 22))
			B, T, C, NH := c.B, c.T, c.C, c.NH
			qkv := randn(r, B*T*3*C, 1)
			dout := randn(r, B*T*C, 1)
			s := tensor.AttnSpec{B: B, T: T, C: C, NH: NH, Causal: true, PDrop: c.pdrop, Seed: 5}
			if c.mask {
				m := make([]int32, B*T)
				for i := range m {
					m[i] = int32(r.IntN(4) % 3) // about a third masked
				}
				s.KeyMask = FromI(m)
			}
			run := func(skip bool) (out, att, dqkv []float32) {
				skipTriangles = skip
				nan := float32(math.NaN())
				out, att, dqkv = make([]float32, B*T*C), make([]float32, B*NH*T*T), make([]float32, B*T*3*C)
				for _, x := range [][]float32{out, att, dqkv} {
					for i := range x {
						x[i] = nan
					}
				}
				be.Attention(From(out), From(att), From(qkv), s)
				be.AttentionBackward(From(dqkv), nil, From(dout), From(qkv), From(att), s)
				return out, att, dqkv
			}
			o1, a1, d1 := run(false)
			o2, a2, d2 := run(true)
			for _, x := range []struct {
				name      string
				full, tri []float32
			}{{"out", o1, o2}, {"att", a1, a2}, {"dqkv", d1, d2}} {
				for i := range x.full {
					f, g := x.full[i], x.tri[i]
					if math.Float32bits(f) != math.Float32bits(g) && !(f == 0 && g == 0) {
						t.Fatalf("%s[%d] = %g with the triangles left out, %g with the full products", x.name, i, g, f)
					}
				}
			}
		})
	}
}
