package peft

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/tensor"
)

// plainBackend hides the CPU backend's optional interfaces (tensor.ScaledGELU
// among them), so ForwardGELU and BackwardGELU take the unfused path.
type plainBackend struct{ tensor.Backend }

// randVec returns n normal samples times sc.
func randVec(r *rand.Rand, n int, sc float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * sc)
	}
	return v
}

// readBuf copies b out of be.
func readBuf(be tensor.Backend, b tensor.Buf) []float32 {
	v := make([]float32, b.Len())
	be.Read(b, 0, v)
	return v
}

// sameBits fails t unless got and want hold the same results, bit for bit.
func sameBits(t *testing.T, got, want [][]float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for k := range want {
		for i := range want[k] {
			if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
				t.Fatalf("result %d [%d] = %v fused, %v plain", k, i, got[k][i], want[k][i])
			}
		}
	}
}

// testLinear builds the layer h.0.<path> [out, in] on be for the fused-path
// tests: its weight, and its bias when bias is set, drawn from r at scales
// wS and bS; then method's adapter ("frozen": none; "hut-merged": HUT,
// merged at the end) with every adapter parameter drawn again at scale adS,
// away from its initial value.
func testLinear(t *testing.T, be tensor.Backend, r *rand.Rand, path string, in, out int, bias bool, method string, wS, bS, adS float64) *Linear {
	t.Helper()
	l := &Linear{Name: "h.0." + path, In: in, Out: out, W: tensor.NewParam(be, "weight", out, in)}
	be.Write(l.W.W, 0, randVec(r, out*in, wS))
	if bias {
		l.Bias = tensor.NewParam(be, "bias", out)
		be.Write(l.Bias.W, 0, randVec(r, out, bS))
	}
	if method == "frozen" {
		return l
	}
	m := strings.TrimSuffix(method, "-merged")
	module := path[strings.LastIndex(path, ".")+1:]
	if err := Attach(be, []*Linear{l}, &Config{Method: m, R: 3, Targets: []string{module}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Ad.Params() {
		be.Write(p.W, 0, randVec(r, p.Size(), adS))
	}
	if m != method {
		if err := l.Ad.Merge(be, l); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// adapterGrads reads the gradients of the layers' adapter parameters, layer
// by layer in Params order (nothing for a layer without an adapter).
func adapterGrads(be tensor.Backend, ls ...*Linear) [][]float32 {
	var g [][]float32
	for _, l := range ls {
		if l.Ad != nil {
			for _, p := range l.Ad.Params() {
				g = append(g, readBuf(be, p.G))
			}
		}
	}
	return g
}

// TestForwardGELUFusedMatchesPlain runs a linear layer and its GELU through
// ForwardGELU/BackwardGELU on the CPU backend (fused for frozen, merged and
// HUT layers) and on the same backend with its ScaledGELU hidden (the
// separate Forward, GELU, GELUBackward and Backward): the outputs, the
// gradients of the input and of the pre-activation and the parameter
// gradients must be the same bits.
func TestForwardGELUFusedMatchesPlain(t *testing.T) {
	const N, In, Out = 5, 24, 1037 // Out: more than one GELU segment, not a multiple of 8
	for _, method := range []string{"frozen", "hut", "hut-merged", "lora", "hira"} {
		for _, withBias := range []bool{true, false} {
			for _, kind := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
				t.Run(fmt.Sprintf("%s/bias=%v/kind%d", method, withBias, kind), func(t *testing.T) {
					type result struct {
						h, pre, dx, dpre []float32
						grads            [][]float32
					}
					run := func(be tensor.Backend) (result, bool) {
						r := rand.New(rand.NewPCG(1, 2))
						rnd := func(n int, s float64) []float32 { return randVec(r, n, s) }
						l := testLinear(t, be, r, "mlp.c_fc", In, Out, withBias, method, 0.2, 0.5, 0.5)
						c := &Ctx{Be: be, WS: NewWorkspace(be), Train: true}
						x, dh := be.NewBuf(N*In), be.NewBuf(N*Out)
						be.Write(x, 0, rnd(N*In, 1))
						be.Write(dh, 0, rnd(N*Out, 1))
						h, pre := be.NewBuf(N*Out), be.NewBuf(N*Out)
						l.ForwardGELU(c, h, pre, x, N, kind)
						read := func(b tensor.Buf) []float32 { return readBuf(be, b) }
						res := result{h: read(h), pre: read(pre)}
						if method == "hut-merged" { // no backward through a merged adapter
							return res, false
						}
						dx, dpre := be.NewBuf(N*In), be.NewBuf(N*Out)
						l.BackwardGELU(c, dx, dpre, dh, pre, x, N, kind)
						res.dx, res.dpre = read(dx), read(dpre)
						res.grads = adapterGrads(be, l)
						_, _, fused := l.fusedGELU(be)
						return res, fused
					}
					fusedRes, fused := run(cpu.New())
					plainRes, plainFused := run(plainBackend{cpu.New()})
					if wantFused := method != "lora" && method != "hira"; method != "hut-merged" && fused != wantFused {
						t.Fatalf("fused path taken: %v, want %v", fused, wantFused)
					}
					if plainFused {
						t.Fatal("the fused path was taken without ScaledGELU")
					}
					same := func(what string, got, want []float32) {
						t.Helper()
						if len(got) != len(want) {
							t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
						}
						for i := range want {
							if got[i] != want[i] {
								t.Fatalf("%s[%d] = %v fused, %v plain", what, i, got[i], want[i])
							}
						}
					}
					same("h", fusedRes.h, plainRes.h)
					same("dx", fusedRes.dx, plainRes.dx)
					same("dpre", fusedRes.dpre, plainRes.dpre)
					if len(fusedRes.grads) != len(plainRes.grads) {
						t.Fatalf("%d parameter gradients, want %d", len(fusedRes.grads), len(plainRes.grads))
					}
					for i := range plainRes.grads {
						same(fmt.Sprintf("grad %d", i), fusedRes.grads[i], plainRes.grads[i])
					}
				})
			}
		}
	}
}

// TestFusedLinearMatchesPlain runs a linear layer's Forward and Backward on
// the CPU backend (whose tensor.FusedLinear finishes the frozen and HUT
// products in the GEMM) and on the same backend with it hidden: the output,
// the input gradient and the parameter gradients must be the same bits. The
// shapes take both kinds of GEMM plan (the epilogue per block, and once).
func TestFusedLinearMatchesPlain(t *testing.T) {
	for _, sh := range [][3]int{{5, 24, 1037}, {40, 24, 16}} {
		N, In, Out := sh[0], sh[1], sh[2]
		for _, method := range []string{"frozen", "hut", "hut-merged", "lora", "full"} {
			t.Run(fmt.Sprintf("%dx%dx%d/%s", N, In, Out, method), func(t *testing.T) {
				run := func(be tensor.Backend) [][]float32 {
					r := rand.New(rand.NewPCG(3, 4))
					rnd := func(n int) []float32 { return randVec(r, n, 1) }
					l := testLinear(t, be, r, "attn.c_attn", In, Out, true, method, 1, 1, 1)
					read := func(b tensor.Buf) []float32 { return readBuf(be, b) }
					c := &Ctx{Be: be, WS: NewWorkspace(be), Train: true}
					x, dy, y, dx := be.NewBuf(N*In), be.NewBuf(N*Out), be.NewBuf(N*Out), be.NewBuf(N*In)
					be.Write(x, 0, rnd(N*In))
					be.Write(dy, 0, rnd(N*Out))
					l.Forward(c, y, x, N)
					res := [][]float32{read(y)}
					if method == "hut-merged" {
						return res
					}
					l.Backward(c, dx, dy, x, N)
					res = append(res, read(dx))
					return append(res, adapterGrads(be, l)...)
				}
				sameBits(t, run(cpu.New()), run(plainBackend{cpu.New()}))
			})
		}
	}
}

// TestBackwardMLPMatchesPlain runs an MLP block (fc, GELU, proj) forward
// and through BackwardMLP on the CPU backend — fused for an unmerged HUT
// proj: its ∂b and the GELU's input gradient in one pass — and through the
// separate Backward and BackwardGELU calls on the backend with its optional
// interfaces hidden: the input gradient, fc's output gradient and every
// parameter gradient must be the same bits, for each method on each layer.
func TestBackwardMLPMatchesPlain(t *testing.T) {
	const N, C, Inner = 5, 24, 1037
	for _, fcM := range []string{"frozen", "hut", "lora"} {
		for _, projM := range []string{"frozen", "hut", "lora"} {
			for _, kind := range []tensor.GELUKind{tensor.GELUTanh, tensor.GELUErf} {
				t.Run(fmt.Sprintf("fc=%s/proj=%s/kind%d", fcM, projM, kind), func(t *testing.T) {
					run := func(be tensor.Backend) [][]float32 {
						r := rand.New(rand.NewPCG(5, 6))
						rnd := func(n int) []float32 { return randVec(r, n, 0.5) }
						fc := testLinear(t, be, r, "mlp.c_fc", C, Inner, true, fcM, 0.5, 0.5, 0.5)
						proj := testLinear(t, be, r, "mlp.c_proj", Inner, C, true, projM, 0.5, 0.5, 0.5)
						c := &Ctx{Be: be, WS: NewWorkspace(be), Train: true}
						buf := func(n int, v []float32) tensor.Buf {
							b := be.NewBuf(n)
							if v != nil {
								be.Write(b, 0, v)
							}
							return b
						}
						x, dy := buf(N*C, rnd(N*C)), buf(N*C, rnd(N*C))
						pre, h, y := buf(N*Inner, nil), buf(N*Inner, nil), buf(N*C, nil)
						fc.ForwardGELU(c, h, pre, x, N, kind)
						proj.Forward(c, y, h, N)
						dx, dpre, dh := buf(N*C, nil), buf(N*Inner, nil), buf(N*Inner, nil)
						BackwardMLP(c, fc, proj, dx, dpre, dh, dy, pre, h, x, N, kind, 1, 2)
						read := func(b tensor.Buf) []float32 { return readBuf(be, b) }
						res := [][]float32{read(y), read(dx), read(dpre)}
						return append(res, adapterGrads(be, fc, proj)...)
					}
					sameBits(t, run(cpu.New()), run(plainBackend{cpu.New()}))
				})
			}
		}
	}
}

// TestPackedWeightFollowsMerge: the frozen weight that a backward pass had
// the CPU backend pack ahead (packW) is dropped when a merge changes it, so
// that a backward pass after Merge and Unmerge multiplies by the weight as
// it is then — the bits of the same sequence on the backend with its
// optional interfaces hidden, which never packs. And attaching full
// fine-tuning drops it too (a trainable weight is never packed).
func TestPackedWeightFollowsMerge(t *testing.T) {
	const N, In, Out = 6, 40, 56
	for _, method := range []string{"hut", "lora", "hira"} {
		t.Run(method, func(t *testing.T) {
			run := func(be tensor.Backend) [][]float32 {
				r := rand.New(rand.NewPCG(7, 8))
				rnd := func(n int) []float32 { return randVec(r, n, 1) }
				l := testLinear(t, be, r, "attn.c_attn", In, Out, true, method, 1, 1, 1)
				c := &Ctx{Be: be, WS: NewWorkspace(be), Train: true}
				x, dy, y, dx := be.NewBuf(N*In), be.NewBuf(N*Out), be.NewBuf(N*Out), be.NewBuf(N*In)
				be.Write(x, 0, rnd(N*In))
				be.Write(dy, 0, rnd(N*Out))
				var res [][]float32
				for pass := 0; pass < 2; pass++ {
					l.Forward(c, y, x, N)
					l.Backward(c, dx, dy, x, N)
					res = append(res, readBuf(be, y), readBuf(be, dx))
					if err := l.Ad.Merge(be, l); err != nil {
						t.Fatal(err)
					}
					if err := l.Ad.Unmerge(be, l); err != nil {
						t.Fatal(err)
					}
				}
				return res
			}
			be := cpu.New()
			got, want := run(be), run(plainBackend{cpu.New()})
			sameBits(t, got, want)
			// The round trip must change W's bits somewhere, or a stale
			// packed copy would go unnoticed.
			differs := false
			for i := range want[1] {
				differs = differs || math.Float32bits(want[1][i]) != math.Float32bits(want[3][i])
			}
			if !differs {
				t.Fatal("the merge round trip left dx unchanged: the test cannot see a stale packed weight")
			}
		})
	}
	be := cpu.New()
	l := &Linear{Name: "h.0.attn.c_attn", In: In, Out: Out, W: tensor.NewParam(be, "weight", Out, In)}
	be.Write(l.W.W, 0, randVec(rand.New(rand.NewPCG(9, 10)), Out*In, 1))
	c := &Ctx{Be: be, WS: NewWorkspace(be), Train: true}
	l.Backward(c, be.NewBuf(N*In), be.NewBuf(N*Out), be.NewBuf(N*In), N)
	if !l.packed {
		t.Fatal("a frozen layer's backward pass did not pack W")
	}
	if err := Attach(be, []*Linear{l}, &Config{Method: "full", Targets: []string{"all-linear"}}); err != nil {
		t.Fatal(err)
	}
	if l.packed {
		t.Fatal("attaching full fine-tuning kept W packed")
	}
}

// TestRecomputeOutput: an unmerged HUT layer rebuilds its training
// output from the Z it keeps, bit for bit, on the fused CPU path and on
// the plain one; other layers do not offer to.
func TestRecomputeOutput(t *testing.T) {
	for _, tc := range []struct {
		method string
		bias   bool
		want   bool
	}{
		{"hut", true, true},
		{"hut", false, true},
		{"hut-merged", true, false},
		{"lora", true, false},
		{"hira", true, false},
		{"frozen", true, false},
	} {
		for _, plain := range []bool{false, true} {
			name := fmt.Sprintf("%s/bias=%v/plain=%v", tc.method, tc.bias, plain)
			var be tensor.Backend = cpu.New()
			if plain {
				be = plainBackend{be}
			}
			r := rand.New(rand.NewPCG(7, 8))
			N, in, out := 37, 24, 40
			l := testLinear(t, be, r, "attn.c_attn", in, out, tc.bias, tc.method, 0.2, 0.5, 0.3)
			if got := l.RecomputesOutput(); got != tc.want {
				t.Errorf("%s: RecomputesOutput = %v, want %v", name, got, tc.want)
				continue
			}
			if !tc.want {
				continue
			}
			x, y, y2 := be.NewBuf(N*in), be.NewBuf(N*out), be.NewBuf(N*out)
			be.Write(x, 0, randVec(r, N*in, 1))
			c := &Ctx{Be: be, WS: NewWorkspace(be), Train: true}
			l.Forward(c, y, x, N)
			l.RecomputeOutput(c, y2, N)
			sameBits(t, [][]float32{readBuf(be, y2)}, [][]float32{readBuf(be, y)})
		}
	}
}
