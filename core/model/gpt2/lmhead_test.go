package gpt2

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
)

// plainBackend hides the CPU backend's optional fused operations
// (tensor.LinearCrossEntropy, tensor.ScaledGELU): the model then runs the
// separate passes.
type plainBackend struct{ tensor.Backend }

// TestFusedLMHead: a training step whose LM head and loss run fused
// (tensor.LinearCrossEntropy, wte frozen) gives the loss and gradients of the
// separate passes to float32 rounding, without ever allocating the logits;
// with wte trained (full fine-tuning) the step takes the separate passes and
// gives their bits. Dropout and label smoothing are on.
func TestFusedLMHead(t *testing.T) {
	cfg := tinyConfig()
	r := rand.New(rand.NewPCG(5, 6))
	batch := tinyBatch(r, cfg, 2, 8)
	step := func(be tensor.Backend, method string) (*Model, []float32) {
		m := New(be, cfg)
		m.Init(1)
		if err := m.Attach(&peft.Config{Method: method, R: 4, Targets: []string{"all-linear"}}); err != nil {
			t.Fatal(err)
		}
		randomize(m, rand.New(rand.NewPCG(7, 8)), 0.1)
		stats := m.NewStats()
		m.Forward(batch, stats, true, true, 3, 0.1)
		m.Backward(batch, 3)
		out := make([]float32, 1)
		m.Be.Read(stats, StatLoss, out)
		for _, p := range m.Trainable() {
			g := make([]float32, p.Size())
			m.Be.Read(p.G, 0, g)
			out = append(out, g...)
		}
		return m, out
	}
	for _, method := range []string{"hut", "lora", "full"} {
		t.Run(method, func(t *testing.T) {
			fm, fused := step(cpu.New(), method)
			_, plain := step(plainBackend{cpu.New()}, method)
			wantFused := method != "full"
			if fm.acts.dlnDone != wantFused || (fm.acts.logits == nil) != wantFused {
				t.Fatalf("fused head: %v, logits allocated: %v; want fused %v", fm.acts.dlnDone, fm.acts.logits != nil, wantFused)
			}
			// fused[0] is the loss, the rest the gradients.
			var scale float64
			for _, v := range plain[1:] {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			if scale == 0 {
				t.Fatal("all gradients are zero")
			}
			for i := range plain {
				d, tol := math.Abs(float64(fused[i])-float64(plain[i])), 1e-5*scale
				if i == 0 {
					tol = 1e-6 * math.Abs(float64(plain[0]))
				}
				if !wantFused && d != 0 || d > tol {
					t.Fatalf("value %d (0: the loss): %v fused, %v separate (largest gradient %v)", i, fused[i], plain[i], scale)
				}
			}
		})
	}
}

// TestPackedWeightsSameSteps: three training steps (forward, backward,
// AdamW) with the frozen weights packed for the backward GEMM from the
// first step on give the losses and trained parameters of the same steps
// with packing off, bit for bit, for every method with a frozen W0.
func TestPackedWeightsSameSteps(t *testing.T) {
	cfg := tinyConfig()
	batch := tinyBatch(rand.New(rand.NewPCG(9, 10)), cfg, 2, 8)
	run := func(pack bool, method string) []float32 {
		be := cpu.New()
		be.SetWeightPacking(pack)
		m := New(be, cfg)
		m.Init(1)
		if err := m.Attach(&peft.Config{Method: method, R: 4, Targets: []string{"all-linear"}}); err != nil {
			t.Fatal(err)
		}
		randomize(m, rand.New(rand.NewPCG(11, 12)), 0.1)
		var out []float32
		for s := 0; s < 3; s++ {
			stats := m.NewStats()
			for _, p := range m.Trainable() {
				be.Zero(p.G, 0, p.Size())
			}
			m.Forward(batch, stats, true, true, Seeds(s), 0)
			m.Backward(batch, Seeds(s))
			for _, p := range m.Trainable() {
				be.AdamWStep(p.W, p.G, p.M, p.V, p.Size(), tensor.AdamW{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: s + 1}, stats, StatLoss)
			}
			l := make([]float32, 1)
			be.Read(stats, StatLoss, l)
			out = append(out, l[0])
		}
		for _, p := range m.Trainable() {
			out = append(out, p.ReadAll(be)...)
		}
		return out
	}
	for _, method := range []string{"hut", "lora", "hira"} {
		t.Run(method, func(t *testing.T) {
			got, want := run(true, method), run(false, method)
			if len(got) != len(want) {
				t.Fatalf("%d values, want %d", len(got), len(want))
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("value %d (losses first) = %v with packing, %v without", i, got[i], want[i])
				}
			}
		})
	}
}
