package roberta

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/train"
)

// PackMLM concatenates token sequences (each usually <s> … </s>) and cuts
// the stream into blocks of T tokens, as Hugging Face's run_mlm.py
// group_texts does; a last block shorter than T is kept when it has at
// least two tokens.
func PackMLM(seqs [][]int32, T int) [][]int32 {
	var out [][]int32
	var cur []int32
	for _, s := range seqs {
		for len(s) > 0 {
			n := min(T-len(cur), len(s))
			cur = append(cur, s[:n]...)
			s = s[n:]
			if len(cur) == T {
				out = append(out, cur)
				cur = nil
			}
		}
	}
	if len(cur) >= 2 {
		out = append(out, cur)
	}
	return out
}

// MLMBatcher deals masked-LM micro-batches with RoBERTa's dynamic masking:
// every step draws fresh masks. Each token that is not special is chosen
// with probability Prob (15%); a chosen token becomes <mask> with
// probability 0.8, a uniformly random token with probability 0.1, and
// stays as it is otherwise (Hugging Face's
// DataCollatorForLanguageModeling). Only chosen tokens are scored.
//
// Epoch e visits the examples in the order of a permutation seeded by
// (Seed, e); the masks of micro-batch k of step s depend only on (Seed, s,
// k). A step therefore depends on nothing but its number, which keeps
// resumed runs identical to uninterrupted ones.
type MLMBatcher struct {
	Examples  [][]int32 // token sequences of at most T tokens
	B, T      int
	Accum     int
	Seed      uint64
	Pad, Mask int32
	VocabSize int
	// Special ids are never chosen (<s>, </s>, <pad>, <unk>, <mask>); the
	// pad id is always special.
	Special []int32
	Prob    float64 // 0: 0.15
	Shuffle bool

	mu       sync.Mutex
	order    *train.Order
	lastStep int
	last     []*Batch
}

// Validate checks the batcher's settings.
func (l *MLMBatcher) Validate() error {
	switch {
	case len(l.Examples) == 0:
		return fmt.Errorf("masked LM: no training sequences")
	case l.B <= 0 || l.T <= 0 || l.Accum <= 0:
		return fmt.Errorf("masked LM: batch %d × %d with %d accumulation steps: all must be positive", l.B, l.T, l.Accum)
	case l.VocabSize <= 0:
		return fmt.Errorf("masked LM: vocabulary size %d", l.VocabSize)
	case l.Mask < 0 || int(l.Mask) >= l.VocabSize:
		return fmt.Errorf("masked LM: <mask> id %d is outside the vocabulary [0, %d)", l.Mask, l.VocabSize)
	case l.Prob < 0 || l.Prob >= 1:
		return fmt.Errorf("masked LM: masking probability %v, want [0, 1)", l.Prob)
	}
	for i, ex := range l.Examples {
		if len(ex) > l.T {
			return fmt.Errorf("masked LM: sequence %d has %d tokens, more than T = %d", i, len(ex), l.T)
		}
	}
	return nil
}

func (l *MLMBatcher) index(g int) int {
	l.mu.Lock()
	if l.order == nil {
		l.order = &train.Order{N: len(l.Examples), Seed: l.Seed, Shuffle: l.Shuffle}
	}
	l.mu.Unlock()
	return l.order.Index(g)
}

// Step returns the Accum micro-batches of optimizer step s; the weights of
// the step's masked positions sum to 1.
func (l *MLMBatcher) Step(s int) []*Batch {
	l.mu.Lock()
	if l.last != nil && l.lastStep == s {
		defer l.mu.Unlock()
		return l.last
	}
	l.mu.Unlock()
	out := make([]*Batch, l.Accum)
	total := 0
	for k := range out {
		rows := make([][]int32, l.B)
		for j := range rows {
			rows[j] = l.Examples[l.index((s*l.Accum+k)*l.B+j)]
		}
		rng := rand.New(rand.NewPCG(l.Seed^0x9e3779b97f4a7c15, uint64(s*l.Accum+k)+1))
		b, n := l.mask(rows, rng)
		out[k] = b
		total += n
	}
	normalize(out, total)
	l.mu.Lock()
	l.lastStep, l.last = s, out
	l.mu.Unlock()
	return out
}

// mask builds a right-padded batch from rows (padded to the longest) and
// masks it with rng; it returns the batch and its number of targets.
func (l *MLMBatcher) mask(rows [][]int32, rng *rand.Rand) (*Batch, int) {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	B := len(rows)
	b := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Mask: make([]int32, B*T), Targets: make([]int32, B*T), Weights: make([]float32, B*T)}
	special := map[int32]bool{l.Pad: true}
	for _, s := range l.Special {
		special[s] = true
	}
	p := l.Prob
	if p == 0 {
		p = 0.15
	}
	n := 0
	for j, r := range rows {
		for t := 0; t < T; t++ {
			i := j*T + t
			if t >= len(r) {
				b.Tokens[i] = l.Pad
				continue
			}
			tok := r[t]
			b.Tokens[i], b.Mask[i] = tok, 1
			// Draw the three numbers for every real token so that the
			// stream of draws does not depend on which tokens are special.
			u, v, w := rng.Float64(), rng.Float64(), rng.IntN(l.VocabSize)
			if special[tok] || u >= p {
				continue
			}
			b.Targets[i], b.Weights[i] = tok, 1
			n++
			switch {
			case v < 0.8:
				b.Tokens[i] = l.Mask
			case v < 0.9:
				b.Tokens[i] = int32(w)
			}
		}
	}
	return b, n
}

// normalize gives every target of the batches the weight 1/total.
func normalize(bs []*Batch, total int) {
	if total == 0 {
		return
	}
	w := 1 / float32(total)
	for _, b := range bs {
		for i, v := range b.Weights {
			if v != 0 {
				b.Weights[i] = w
			}
		}
	}
}

// EvalBatches masks held-out sequences once with a fixed seed (so every
// evaluation scores the same positions) and splits them into batches of B
// rows whose target weights sum to 1 over all batches.
func (l *MLMBatcher) EvalBatches(seqs [][]int32, B int, seed uint64) []*Batch {
	var out []*Batch
	total := 0
	rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	for lo := 0; lo < len(seqs); lo += B {
		b, n := l.mask(seqs[lo:min(lo+B, len(seqs))], rng)
		out = append(out, b)
		total += n
	}
	normalize(out, total)
	return out
}

// EvalLoss returns the weighted loss over evaluation batches (the mean
// loss when their weights sum to 1), in inference mode.
func (m *Model) EvalLoss(batches []*Batch) (float64, error) {
	stats := m.NewStats()
	defer m.Be.Free(stats)
	for _, b := range batches {
		if err := m.Validate(b); err != nil {
			return 0, err
		}
		m.Forward(b, stats, false, false, 0)
	}
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return float64(st[0]), nil
}

// trainJob is the training loop's view of m: micro-batch k of step s is
// steps(s)[k], trained with the step's dropout seed; the trainable
// parameters are saved as an adapter (SaveAdapter: a full Hugging Face
// checkpoint for full fine-tuning).
func (m *Model) trainJob(steps func(s int) []*Batch, baseModel string) *train.Job {
	return &train.Job{
		Be:     m.Be,
		Params: m.TrainableNamed(),
		Micro: func(s, k int, seed uint32, stats tensor.Buf) (int, error) {
			b := steps(s)[k]
			if err := m.Validate(b); err != nil {
				return 0, err
			}
			m.Forward(b, stats, true, true, Seeds(seed))
			m.Backward(b, Seeds(seed))
			return realTokens(b), nil
		},
		SaveModel: func(dir string) error { return m.SaveAdapter(dir, baseModel) },
		LoadModel: m.LoadTrainable,
	}
}

// MLMJob wires a masked-LM model into the training loop: micro-batches come
// from batcher, and evaluation (if eval is not empty) reports the mean
// masked-LM loss on eval as "eval_loss". The model is saved as a Hugging
// Face RobertaForMaskedLM checkpoint (full pre-training) or as an adapter.
func (m *Model) MLMJob(batcher *MLMBatcher, eval []*Batch, baseModel string) *train.Job {
	job := m.trainJob(batcher.Step, baseModel)
	if len(eval) > 0 {
		job.Eval = func() (map[string]float64, error) {
			l, err := m.EvalLoss(eval)
			return map[string]float64{"eval_loss": l}, err
		}
	}
	return job
}

// realTokens counts the non-padding tokens of a batch.
func realTokens(b *Batch) int {
	if b.Mask == nil {
		return b.B * b.T
	}
	n := 0
	for _, v := range b.Mask {
		n += int(v)
	}
	return n
}
