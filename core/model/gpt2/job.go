package gpt2

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/train"
)

// Job wires the model into the training loop: micro-batches come from
// batcher, the loss uses label smoothing, and evaluation (if eval is not
// empty) reports the mean loss on eval as "eval_loss".
func (m *Model) Job(batcher *train.LMBatcher, smoothing float32, eval []*train.LMBatch, baseModel string) *train.Job {
	job := &train.Job{
		Be:     m.Be,
		Params: m.TrainableNamed(),
		Micro: func(s, k int, seed uint32, stats tensor.Buf) (int, error) {
			lb := batcher.Step(s)[k]
			b := (*Batch)(lb)
			if err := m.Validate(b); err != nil {
				return 0, err
			}
			m.Forward(b, stats, true, true, Seeds(seed), smoothing)
			m.Backward(b, Seeds(seed))
			return b.B * b.T, nil
		},
		SaveModel: func(dir string) error { return m.SaveAdapter(dir, baseModel) },
		LoadModel: m.LoadTrainable,
	}
	if len(eval) > 0 {
		job.Eval = func() (map[string]float64, error) {
			l, err := m.EvalLoss(eval)
			return map[string]float64{"eval_loss": l}, err
		}
	}
	return job
}

// EvalLoss returns the mean loss over batches prepared by train.EvalBatches.
func (m *Model) EvalLoss(batches []*train.LMBatch) (float64, error) {
	stats := m.NewStats()
	defer m.Be.Free(stats)
	for _, lb := range batches {
		b := (*Batch)(lb)
		if err := m.Validate(b); err != nil {
			return 0, err
		}
		m.Forward(b, stats, false, false, 0, 0)
	}
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return float64(st[0]), nil
}

// LoadTrainable restores the trainable values saved by SaveAdapter into the
// already attached adapter (or, for full fine-tuning, the whole model).
func (m *Model) LoadTrainable(dir string) error {
	if m.PEFT == nil {
		return fmt.Errorf("gpt2: no adapter attached")
	}
	if m.PEFT.Method == "full" {
		sd, err := hf.LoadDir(dir)
		if err != nil {
			return err
		}
		return m.LoadStateDict(sd)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, peft.WeightsFile))
	if err != nil {
		return err
	}
	for _, l := range m.linears {
		if l.Ad == nil {
			continue
		}
		for _, p := range l.Ad.Params() {
			key := peft.AdapterKey(l, p)
			v, shape, err := f.Float32(key)
			if err != nil {
				return err
			}
			if !slices.Equal(shape, p.Shape) {
				return fmt.Errorf("gpt2: %s: tensor %q has shape %v, want %v", dir, key, shape, p.Shape)
			}
			m.Be.Write(p.W, 0, v)
		}
	}
	return nil
}
