package gpt2

import (
	"math/rand/v2"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
)

// BenchmarkStep124M times one training step (forward, backward, AdamW) of
// GPT-2 124M with B=4, T=64 for each method; "frozen" is the floor: the
// forward pass plus the input-gradient backward pass with nothing trainable.
//
//	go test -run XXX -bench Step124M -benchtime 3x ./core/model/gpt2
func BenchmarkStep124M(b *testing.B) {
	for _, method := range []string{"frozen", "hut", "lora", "hira", "full"} {
		b.Run(method, func(b *testing.B) {
			m, batch := benchSetup(b, method)
			stats := m.NewStats()
			step := func() {
				m.Be.Zero(stats, 0, NumStats)
				for _, p := range m.Trainable() {
					m.Be.Zero(p.G, 0, p.Size())
				}
				m.Forward(batch, stats, true, true, 1, 0)
				m.Backward(batch, 1)
				for _, p := range m.Trainable() {
					m.Be.AdamWStep(p.W, p.G, p.M, p.V, p.Size(), tensor.AdamW{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}, stats, StatLoss)
				}
			}
			step() // warm up: allocates activations
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.ReportMetric(float64(batch.B*batch.T)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

func benchSetup(b testing.TB, method string) (*Model, *Batch) {
	cfg := Small()
	cfg.ResidPdrop, cfg.EmbdPdrop, cfg.AttnPdrop = 0, 0, 0 // as hut bench and the PyTorch peer
	m := New(cpu.New(), cfg)
	m.Init(1)
	if method != "frozen" {
		pc := &peft.Config{Method: method, R: 8}
		if method == "hut" {
			pc.Targets = []string{"all-linear"}
		}
		if err := m.Attach(pc); err != nil {
			b.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	B, T := 4, 64
	batch := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Targets: make([]int32, B*T), Weights: make([]float32, B*T)}
	for i := range batch.Tokens {
		batch.Tokens[i] = int32(r.IntN(cfg.VocabSize))
		batch.Targets[i] = int32(r.IntN(cfg.VocabSize))
		batch.Weights[i] = 1 / float32(B*T)
	}
	return m, batch
}
