package roberta

import (
	"fmt"
	"math"
)

// PadBatch right-pads sequences to the longest one with pad_token_id and
// returns the batch with its attention mask (1 on the real tokens, 0 on the
// padding), as a Hugging Face tokenizer call with padding=True gives.
func (m *Model) PadBatch(seqs [][]int32) (*Batch, error) {
	if len(seqs) == 0 {
		return nil, fmt.Errorf("roberta: no sequences")
	}
	T := 0
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("roberta: sequence %d is empty", i)
		}
		T = max(T, len(s))
	}
	B := len(seqs)
	b := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Mask: make([]int32, B*T)}
	for r, s := range seqs {
		for t := 0; t < T; t++ {
			if t < len(s) {
				b.Tokens[r*T+t] = s[t]
				b.Mask[r*T+t] = 1
			} else {
				b.Tokens[r*T+t] = int32(m.Cfg.PadTokenID)
			}
		}
	}
	return b, nil
}

// Classify runs a classification model in inference mode on a batch of
// sequences (each already wrapped in <s> … </s>) and returns one row of
// num_labels logits per sequence (the predicted score for a regression
// head).
func (m *Model) Classify(seqs [][]int32) ([][]float32, error) {
	if m.Head != HeadClassifier {
		return nil, fmt.Errorf("roberta: the model has the %s head, not a classifier", m.Head)
	}
	b, err := m.PadBatch(seqs)
	if err != nil {
		return nil, err
	}
	b.Weights = make([]float32, b.B)
	b.Labels = make([]int32, b.B)
	b.Scores = make([]float32, b.B)
	if err := m.Validate(b); err != nil {
		return nil, err
	}
	stats := m.NewStats()
	defer m.Be.Free(stats)
	m.Forward(b, stats, false, false, 0)
	L := m.Cfg.NumLabels
	flat := make([]float32, b.B*L)
	m.Be.Read(m.acts.logits, 0, flat)
	out := make([][]float32, b.B)
	for r := range out {
		out[r] = flat[r*L : (r+1)*L]
	}
	return out, nil
}

// MLMLogits runs a masked-LM model in inference mode on a batch of
// sequences and returns, per sequence, the vocabulary logits of each of
// its positions ([len, V], row-major), and the mean cross-entropy of
// predicting every token of every sequence at its own position (Hugging
// Face's RobertaForMaskedLM loss with labels = input_ids, padding
// excluded). Sequences containing <mask> get the usual fill-mask logits at
// those positions.
func (m *Model) MLMLogits(seqs [][]int32) ([][]float32, float64, error) {
	if m.Head != HeadMLM {
		return nil, 0, fmt.Errorf("roberta: the model has the %s head, not a masked-LM head", m.Head)
	}
	b, err := m.PadBatch(seqs)
	if err != nil {
		return nil, 0, err
	}
	N := b.B * b.T
	b.Targets = make([]int32, N)
	b.Weights = make([]float32, N)
	total := 0
	for _, s := range seqs {
		total += len(s)
	}
	for i := range b.Targets {
		if b.Mask[i] != 0 {
			b.Targets[i] = b.Tokens[i]
			b.Weights[i] = 1 / float32(total)
		}
	}
	b.AllPositions = true
	if err := m.Validate(b); err != nil {
		return nil, 0, err
	}
	stats := m.NewStats()
	defer m.Be.Free(stats)
	m.Forward(b, stats, false, false, 0)
	V := m.Cfg.VocabSize
	out := make([][]float32, b.B)
	for r, s := range seqs {
		out[r] = make([]float32, len(s)*V)
		m.Be.Read(m.acts.mlogits, r*b.T*V, out[r])
	}
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return out, float64(st[0]), nil
}

// Hidden runs the encoder in inference mode and returns the last hidden
// state of each sequence ([len, C], row-major), as RobertaModel's
// last_hidden_state.
func (m *Model) Hidden(seqs [][]int32) ([][]float32, error) {
	b, err := m.PadBatch(seqs)
	if err != nil {
		return nil, err
	}
	head := m.Head
	m.Head = HeadNone // run the encoder only
	defer func() { m.Head = head }()
	if err := m.Validate(b); err != nil {
		return nil, err
	}
	stats := m.NewStats()
	defer m.Be.Free(stats)
	m.Forward(b, stats, false, false, 0)
	C := m.Cfg.HiddenSize
	out := make([][]float32, b.B)
	for r, s := range seqs {
		out[r] = make([]float32, len(s)*C)
		m.Be.Read(m.acts.h[m.Cfg.NumHiddenLayers], r*b.T*C, out[r])
	}
	return out, nil
}

// Argmax returns the index of the largest value (the first on ties).
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] || (math.IsNaN(float64(x[best])) && !math.IsNaN(float64(v))) {
			best = i
		}
	}
	return best
}
