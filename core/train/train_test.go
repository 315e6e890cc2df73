package train_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/train"
)

func tiny() gpt2.Config {
	return gpt2.Config{NLayer: 2, NHead: 2, NEmbd: 16, NPositions: 32, VocabSize: 23, LayerNormEps: 1e-5,
		Activation: "gelu_new", ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1, EOSTokenID: 22}
}

func corpus() []int32 {
	ids := make([]int32, 400)
	for i := range ids {
		ids[i] = int32((i*7 + i/5) % 22)
	}
	return ids
}

func setup(t *testing.T, method string) (*gpt2.Model, *train.LMBatcher) {
	t.Helper()
	m := gpt2.New(cpu.New(), tiny())
	m.Init(1)
	if err := m.Attach(&peft.Config{Method: method, R: 2, Targets: []string{"all-linear"}, Dropout: 0.1, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	b := &train.LMBatcher{Examples: train.ChunkCorpus(corpus(), 8), B: 2, T: 8, Accum: 2, Seed: 5, Pad: 22, Shuffle: true}
	return m, b
}

func cfg(dir string) train.Config {
	return train.Config{Steps: 6, GradAccum: 2, LR: 1e-2, Warmup: 2, WeightDecay: 0.01, ClipNorm: 1, Seed: 9,
		CheckpointDir: dir, CheckpointEvery: 2, Keep: 2}
}

func adapterValues(m *gpt2.Model) map[string][]float32 {
	out := map[string][]float32{}
	for n, p := range m.TrainableNamed() {
		out[n] = p.ReadAll(m.Be)
	}
	return out
}

// TestResumeIsBitIdentical kills a run after its step-4 checkpoint (the
// micro-batch of step 5 fails) and resumes it; the final adapter must equal
// that of an uninterrupted run bit for bit.
func TestResumeIsBitIdentical(t *testing.T) {
	for _, method := range []string{"hut", "lora", "full"} {
		t.Run(method, func(t *testing.T) {
			m1, b1 := setup(t, method)
			res, err := train.Run(context.Background(), cfg(t.TempDir()), m1.Job(b1, 0.1, nil, "tiny"), train.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := adapterValues(m1)

			dir := t.TempDir()
			m2, b2 := setup(t, method)
			job := m2.Job(b2, 0.1, nil, "tiny")
			micro := job.Micro
			crash := errors.New("simulated crash")
			job.Micro = func(s, k int, seed uint32, st tensor.Buf) (int, error) {
				if s == 4 {
					return 0, crash
				}
				return micro(s, k, seed, st)
			}
			if _, err := train.Run(context.Background(), cfg(dir), job, train.Options{}); !errors.Is(err, crash) {
				t.Fatalf("want the simulated crash, got %v", err)
			}
			// A fresh process: new model, same flags, --resume.
			m3, b3 := setup(t, method)
			res3, err := train.Run(context.Background(), cfg(dir), m3.Job(b3, 0.1, nil, "tiny"), train.Options{Resume: true})
			if err != nil {
				t.Fatal(err)
			}
			if res3.StartStep != 4 {
				t.Fatalf("resumed from step %d, want 4", res3.StartStep)
			}
			got := adapterValues(m3)
			for n, w := range want {
				for i := range w {
					if math.Float32bits(w[i]) != math.Float32bits(got[n][i]) {
						t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", n, i, got[n][i], w[i])
					}
				}
			}
			if res.FinalLoss != res3.FinalLoss {
				t.Fatalf("final loss %v vs %v", res3.FinalLoss, res.FinalLoss)
			}
			ents, _ := os.ReadDir(dir)
			var cps []string
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "checkpoint-") {
					cps = append(cps, e.Name())
				}
			}
			if len(cps) != 2 || cps[1] != "checkpoint-000006" {
				t.Fatalf("checkpoints kept: %v", cps)
			}
		})
	}
}

func TestResumeRejectsOtherRun(t *testing.T) {
	dir := t.TempDir()
	m, b := setup(t, "hut")
	c := cfg(dir)
	if _, err := train.Run(context.Background(), c, m.Job(b, 0, nil, "tiny"), train.Options{}); err != nil {
		t.Fatal(err)
	}
	c.LR = 5e-3
	m2, b2 := setup(t, "hut")
	_, err := train.Run(context.Background(), c, m2.Job(b2, 0, nil, "tiny"), train.Options{Resume: true})
	if err == nil || !strings.Contains(err.Error(), "lr") {
		t.Fatalf("want a settings mismatch error, got %v", err)
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	dir := t.TempDir()
	m, b := setup(t, "hut")
	job := m.Job(b, 0, nil, "tiny")
	micro := job.Micro
	var before map[string][]float32
	job.Micro = func(s, k int, seed uint32, st tensor.Buf) (int, error) {
		n, err := micro(s, k, seed, st)
		if s == 3 {
			before = adapterValues(m)
			m.Be.Write(st, train.StatLoss, []float32{float32(math.Inf(1))})
		}
		return n, err
	}
	_, err := train.Run(context.Background(), cfg(dir), job, train.Options{})
	if !errors.Is(err, train.ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	if !strings.Contains(err.Error(), "checkpoint-000002") {
		t.Fatalf("error does not name the last good checkpoint: %v", err)
	}
	after := adapterValues(m)
	for n := range before {
		for i := range before[n] {
			if before[n][i] != after[n][i] {
				t.Fatalf("the non-finite step changed %s", n)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoint-000002", "adapter_model.safetensors")); err != nil {
		t.Fatal(err)
	}
}

func TestLossFalls(t *testing.T) {
	m, b := setup(t, "full")
	c := cfg("")
	c.Steps = 30
	c.LR = 3e-2
	var first, last float64
	_, err := train.Run(context.Background(), c, m.Job(b, 0, nil, "tiny"), train.Options{OnStep: func(s train.StepInfo) {
		if s.Step == 1 {
			first = s.Loss
		}
		last = s.Loss
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !(last < first-0.2) {
		t.Fatalf("loss did not fall: %v -> %v", first, last)
	}
}

func TestSchedule(t *testing.T) {
	c := train.Config{Steps: 10, LR: 1, Warmup: 4, Schedule: "linear"}
	want := []float32{0, 0.25, 0.5, 0.75, 1, 5.0 / 6, 4.0 / 6, 3.0 / 6, 2.0 / 6, 1.0 / 6}
	for s, w := range want {
		if got := c.LRAt(s); math.Abs(float64(got-w)) > 1e-6 {
			t.Errorf("step %d: lr %v want %v", s, got, w)
		}
	}
	c.Schedule = "cosine"
	if got := c.LRAt(4); got != 1 {
		t.Errorf("cosine at end of warm-up: %v", got)
	}
	if got := c.LRAt(7); math.Abs(float64(got)-0.5) > 1e-6 {
		t.Errorf("cosine half-way: %v", got)
	}
}

func TestBadConfig(t *testing.T) {
	for _, c := range []train.Config{{Steps: 0, LR: 1}, {Steps: 1, LR: -1}, {Steps: 1, LR: 1, Schedule: "step"}, {Steps: 1, LR: float32(math.NaN())}} {
		c.Defaults()
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
