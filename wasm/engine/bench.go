package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/train"
)

// BenchConfig is the synthetic GPT-2 of hut.bench: random weights, HUT on
// every block linear, random token batches. Zero fields take the
// defaults of DefaultBench.
type BenchConfig struct {
	NLayer int `json:"nLayer"`
	NEmbd  int `json:"nEmbd"`
	NHead  int `json:"nHead"`
	Vocab  int `json:"vocab"`
	Batch  int `json:"batch"`
	Seq    int `json:"seq"`
	R      int `json:"r"`
	Steps  int `json:"steps"`
}

// DefaultBench is the tiny GPT-2 HUT step hut.bench times by default.
var DefaultBench = BenchConfig{NLayer: 2, NEmbd: 128, NHead: 4, Vocab: 2048, Batch: 4, Seq: 64, R: 8, Steps: 5}

// Fill sets the zero fields to DefaultBench's and checks the rest.
func (c *BenchConfig) Fill() error {
	d := DefaultBench
	for _, f := range []struct {
		p   *int
		def int
	}{{&c.NLayer, d.NLayer}, {&c.NEmbd, d.NEmbd}, {&c.NHead, d.NHead}, {&c.Vocab, d.Vocab}, {&c.Batch, d.Batch}, {&c.Seq, d.Seq}, {&c.R, d.R}, {&c.Steps, d.Steps}} {
		if *f.p == 0 {
			*f.p = f.def
		}
		if *f.p < 0 {
			return fmt.Errorf("bench: negative size %d", *f.p)
		}
	}
	if c.NEmbd%c.NHead != 0 {
		return fmt.Errorf("bench: nEmbd = %d is not a multiple of nHead = %d", c.NEmbd, c.NHead)
	}
	if c.NLayer*c.NEmbd*c.NEmbd > 200<<20 || c.Vocab*c.NEmbd > 100<<20 || c.Batch*c.Seq > 1<<16 || c.Steps > 1000 {
		return fmt.Errorf("bench: %+v is too large for a browser benchmark", *c)
	}
	return nil
}

// BenchResult is the timing of one backend.
type BenchResult struct {
	TokensPerSec float64 `json:"tokensPerSec"`
	MsPerStep    float64 `json:"msPerStep"`
	Steps        int     `json:"steps"`
	Tokens       int     `json:"tokens"`
	FirstStepMs  float64 `json:"firstStepMs"` // includes shader compilation
	FinalLoss    float64 `json:"finalLoss"`
	GFLOPS       float64 `json:"gflops"` // GEMM and attention FLOPs per second
}

// BenchTraining times c.Steps HUT training steps of the synthetic GPT-2 on
// be, after one warm-up step (pipeline compilation, first allocations).
// sync waits for the backend's outstanding work (nil when Read suffices).
func BenchTraining(be tensor.Backend, c BenchConfig, sync func()) (BenchResult, error) {
	if err := c.Fill(); err != nil {
		return BenchResult{}, err
	}
	cfg := gpt2.Config{NLayer: c.NLayer, NHead: c.NHead, NEmbd: c.NEmbd, NPositions: c.Seq, VocabSize: c.Vocab,
		LayerNormEps: 1e-5, Activation: "gelu_new", ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1,
		BOSTokenID: c.Vocab - 1, EOSTokenID: c.Vocab - 1}
	tb := newTracked(be)
	defer func() { tb.unpinAll(); tb.release() }()
	m := gpt2.New(tb, cfg)
	m.Init(1)
	pc := &peft.Config{Method: "hut", R: c.R, Targets: []string{"all-linear"}, Seed: 1}
	if err := m.Attach(pc); err != nil {
		return BenchResult{}, err
	}
	rng := rand.New(rand.NewPCG(7, 7))
	ids := make([]int32, (c.Seq+1)*c.Batch*4)
	for i := range ids {
		ids[i] = int32(rng.IntN(c.Vocab))
	}
	b := &train.LMBatcher{Examples: train.ChunkCorpus(ids, c.Seq), B: c.Batch, T: c.Seq, Accum: 1, Seed: 1, Shuffle: true}
	job := m.Job(b, 0, nil, "bench")
	tc := train.Config{Steps: c.Steps + 1, LR: 1e-3, Schedule: "constant", ClipNorm: 1, Seed: 1}
	var t0, tFirst time.Time
	var loss float64
	start := time.Now()
	_, err := train.Run(context.Background(), tc, job, train.Options{OnStep: func(si train.StepInfo) {
		if si.Step == 1 {
			t0 = time.Now()
			tFirst = t0
		}
		loss = si.Loss
	}})
	if err != nil {
		return BenchResult{}, fmt.Errorf("bench: %w", err)
	}
	if sync != nil {
		sync()
	}
	if err := be.Err(); err != nil {
		return BenchResult{}, fmt.Errorf("bench: %w", err)
	}
	el := time.Since(t0).Seconds()
	tokens := c.Steps * c.Batch * c.Seq
	nb := &nullBackend{}
	est := gpt2.New(nb, cfg)
	_ = est.Attach(&peft.Config{Method: "hut", R: c.R, Targets: []string{"all-linear"}, Seed: 1})
	N := c.Batch * c.Seq
	eb := &gpt2.Batch{B: c.Batch, T: c.Seq, Tokens: make([]int32, N), Targets: make([]int32, N), Weights: make([]float32, N)}
	st := nb.NewBuf(4)
	est.Forward(eb, st, true, true, 1, 0)
	est.Backward(eb, 1)
	el = math.Max(el, 1e-9)
	return BenchResult{
		TokensPerSec: float64(tokens) / el,
		MsPerStep:    el * 1000 / float64(c.Steps),
		Steps:        c.Steps,
		Tokens:       tokens,
		FirstStepMs:  tFirst.Sub(start).Seconds() * 1000,
		FinalLoss:    loss,
		GFLOPS:       nb.flops * float64(c.Steps) / el / 1e9,
	}, nil
}
