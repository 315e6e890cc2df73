package gpt2

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/peft"
)

// TestPackLMHead: with the LM head packed, a training step gives the same
// loss and gradients, bit for bit, as without; Init and LoadStateDict drop
// the packed copy (else the step would use the old weights); a trained wte
// is not packed.
func TestPackLMHead(t *testing.T) {
	cfg := Config{NLayer: 1, NHead: 2, NEmbd: 64, NPositions: 16, VocabSize: 1100, LayerNormEps: 1e-5,
		Activation: "gelu_new", EOSTokenID: 0}
	r := rand.New(rand.NewPCG(5, 6))
	batch := tinyBatch(r, cfg, 2, 8)
	build := func(seed uint64) *Model {
		m := New(cpu.New(), cfg)
		m.Init(seed)
		if err := m.Attach(&peft.Config{Method: "hut", R: 4}); err != nil {
			t.Fatal(err)
		}
		randomize(m, rand.New(rand.NewPCG(7, 8)), 0.1)
		return m
	}
	step := func(m *Model) []float32 {
		stats := m.NewStats()
		for _, p := range m.Trainable() {
			m.Be.Zero(p.G, 0, p.Size())
		}
		m.Forward(batch, stats, true, true, 3, 0)
		m.Backward(batch, 3)
		out := make([]float32, 1)
		m.Be.Read(stats, StatLoss, out)
		for _, p := range m.Trainable() {
			g := make([]float32, p.Size())
			m.Be.Read(p.G, 0, g)
			out = append(out, g...)
		}
		return out
	}
	same := func(what string, a, b []float32) {
		t.Helper()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: value %d = %g packed, %g not", what, i, b[i], a[i])
			}
		}
	}
	plain, packed := build(1), build(1)
	want := 4 * cfg.VocabSize * cfg.NEmbd
	if got := packed.PackLMHead(); got < want {
		t.Fatalf("PackLMHead holds %d bytes, want at least %d", got, want)
	}
	same("step", step(plain), step(packed))

	plain.Init(2)
	packed.Init(2)
	same("after Init", step(plain), step(packed))

	packed.PackLMHead()
	other := New(cpu.New(), cfg)
	other.Init(9)
	dir := t.TempDir()
	if err := other.SaveHF(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	sd, err := hf.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*Model{plain, packed} {
		if err := m.LoadStateDict(sd); err != nil {
			t.Fatal(err)
		}
	}
	same("after LoadStateDict", step(plain), step(packed))

	full := New(cpu.New(), cfg)
	full.Init(1)
	if err := full.Attach(&peft.Config{Method: "full"}); err != nil {
		t.Fatal(err)
	}
	if got := full.PackLMHead(); got != 0 {
		t.Errorf("PackLMHead with wte trained holds %d bytes, want 0", got)
	}
}
