package roberta

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/metrics"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
)

// GLUEExample is one encoded GLUE example: <s> A </s> or
// <s> A </s></s> B </s>, and its gold label (class id) or score.
type GLUEExample struct {
	Tokens []int32
	Label  int32
	Score  float32
}

// EncodeGLUE tokenizes the rows of a GLUE task with the RoBERTa template
// and truncates them to maxLen tokens (special tokens included) the way
// Hugging Face's truncation=True ("longest_first") does: tokens are taken
// off the end of the longer text, one at a time. Rows without a gold label
// are an error (use EncodeGLUETexts for test splits). It returns the
// examples and how many were truncated.
func EncodeGLUE(tok *tokenizer.Tokenizer, task *data.Task, rows []data.Example, maxLen int) ([]GLUEExample, int, error) {
	out, cut, err := EncodeGLUETexts(tok, task, rows, maxLen)
	if err != nil {
		return nil, 0, err
	}
	for i, r := range rows {
		if task.Regression {
			if math.IsNaN(r.Score) {
				return nil, 0, fmt.Errorf("%s line %d: no gold score", task.Name, r.Line)
			}
			out[i].Score = float32(r.Score)
		} else {
			if r.Label < 0 || r.Label >= len(task.Labels) {
				return nil, 0, fmt.Errorf("%s line %d: no gold label", task.Name, r.Line)
			}
			out[i].Label = int32(r.Label)
		}
	}
	return out, cut, nil
}

// EncodeGLUETexts is EncodeGLUE without labels (Label 0, Score 0).
func EncodeGLUETexts(tok *tokenizer.Tokenizer, task *data.Task, rows []data.Example, maxLen int) ([]GLUEExample, int, error) {
	if tok.BOS() < 0 || tok.EOS() < 0 {
		return nil, 0, fmt.Errorf("tokenizer %s has no <s>/</s> tokens: RoBERTa needs its own tokenizer", tok.Name())
	}
	pair := task.Text2 != nil
	special := 2
	if pair {
		special = 4
	}
	if maxLen <= special {
		return nil, 0, fmt.Errorf("max length %d leaves no room for text (the template uses %d special tokens)", maxLen, special)
	}
	bos, eos := int32(tok.BOS()), int32(tok.EOS())
	out := make([]GLUEExample, len(rows))
	cut := 0
	for i, r := range rows {
		a := toInt32(tok.Encode(r.Text1))
		var b []int32
		if pair {
			b = toInt32(tok.Encode(r.Text2))
		}
		room := maxLen - special
		if len(a)+len(b) > room {
			cut++
			for len(a)+len(b) > room {
				if len(a) > len(b) {
					a = a[:len(a)-1]
				} else {
					b = b[:len(b)-1]
				}
			}
		}
		ids := make([]int32, 0, len(a)+len(b)+special)
		ids = append(ids, bos)
		ids = append(ids, a...)
		ids = append(ids, eos)
		if pair {
			ids = append(ids, eos)
			ids = append(ids, b...)
			ids = append(ids, eos)
		}
		out[i] = GLUEExample{Tokens: ids}
	}
	return out, cut, nil
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}

// GLUEBatcher deals classification micro-batches with padding-aware
// bucketing. Epoch e shuffles the examples with a permutation seeded by
// (Seed, e), sorts each window of B·Bucket consecutive examples by length,
// cuts the windows into batches of B (the epoch's last batch may be
// shorter) and shuffles the order of the batches; every batch is padded
// only to its own longest sequence. Micro-batch k of step s is batch
// s·Accum+k of that stream, so a step depends on nothing but its number
// (resumed runs are bit-identical), and the weights of a step's rows sum
// to 1.
type GLUEBatcher struct {
	Examples   []GLUEExample
	B, Accum   int
	Seed       uint64
	Pad        int32
	Regression bool
	// Bucket is the number of batches per sorting window (0: 50; 1 sorts
	// nothing but still pads per batch).
	Bucket int

	mu       sync.Mutex
	epochs   map[int][][]int
	lastStep int
	last     []*Batch
}

// Validate checks the batcher's settings.
func (g *GLUEBatcher) Validate() error {
	switch {
	case len(g.Examples) == 0:
		return fmt.Errorf("GLUE: no training examples")
	case g.B <= 0 || g.Accum <= 0:
		return fmt.Errorf("GLUE: batch %d with %d accumulation steps: both must be positive", g.B, g.Accum)
	case g.Bucket < 0:
		return fmt.Errorf("GLUE: bucket %d must be ≥ 0", g.Bucket)
	}
	return nil
}

// BatchesPerEpoch is the number of micro-batches in one pass over the data.
func (g *GLUEBatcher) BatchesPerEpoch() int { return (len(g.Examples) + g.B - 1) / g.B }

// epoch returns the batches (example indices) of epoch e.
func (g *GLUEBatcher) epoch(e int) [][]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if bs, ok := g.epochs[e]; ok {
		return bs
	}
	n := len(g.Examples)
	perm := rand.New(rand.NewPCG(g.Seed, uint64(e)+1)).Perm(n)
	bucket := g.Bucket
	if bucket == 0 {
		bucket = 50
	}
	W := g.B * bucket
	var batches [][]int
	for lo := 0; lo < n; lo += W {
		win := perm[lo:min(lo+W, n)]
		sort.SliceStable(win, func(i, j int) bool { return len(g.Examples[win[i]].Tokens) < len(g.Examples[win[j]].Tokens) })
		for b := 0; b < len(win); b += g.B {
			batches = append(batches, win[b:min(b+g.B, len(win))])
		}
	}
	rand.New(rand.NewPCG(g.Seed^0xda942042e4dd58b5, uint64(e)+1)).Shuffle(len(batches), func(i, j int) {
		batches[i], batches[j] = batches[j], batches[i]
	})
	if g.epochs == nil || len(g.epochs) > 2 {
		g.epochs = map[int][][]int{}
	}
	g.epochs[e] = batches
	return batches
}

// Step returns the Accum micro-batches of optimizer step s.
func (g *GLUEBatcher) Step(s int) []*Batch {
	g.mu.Lock()
	if g.last != nil && g.lastStep == s {
		defer g.mu.Unlock()
		return g.last
	}
	g.mu.Unlock()
	nb := g.BatchesPerEpoch()
	out := make([]*Batch, g.Accum)
	rows := 0
	for k := range out {
		gi := s*g.Accum + k
		idx := g.epoch(gi / nb)[gi%nb]
		out[k] = g.batch(idx)
		rows += len(idx)
	}
	for _, b := range out {
		for i := range b.Weights {
			b.Weights[i] = 1 / float32(rows)
		}
	}
	g.mu.Lock()
	g.lastStep, g.last = s, out
	g.mu.Unlock()
	return out
}

// batch pads the examples idx into a Batch (weights 1, to be normalised).
func (g *GLUEBatcher) batch(idx []int) *Batch {
	exs := make([]GLUEExample, len(idx))
	for i, j := range idx {
		exs[i] = g.Examples[j]
	}
	return glueBatch(exs, g.Pad, g.Regression)
}

func glueBatch(exs []GLUEExample, pad int32, regression bool) *Batch {
	T := 0
	for _, e := range exs {
		T = max(T, len(e.Tokens))
	}
	B := len(exs)
	b := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Mask: make([]int32, B*T), Weights: make([]float32, B)}
	if regression {
		b.Scores = make([]float32, B)
	} else {
		b.Labels = make([]int32, B)
	}
	for r, e := range exs {
		for t := 0; t < T; t++ {
			if t < len(e.Tokens) {
				b.Tokens[r*T+t], b.Mask[r*T+t] = e.Tokens[t], 1
			} else {
				b.Tokens[r*T+t] = pad
			}
		}
		if regression {
			b.Scores[r] = e.Score
		} else {
			b.Labels[r] = e.Label
		}
		b.Weights[r] = 1
	}
	return b
}

// PaddingRatio is the share of padding in the batches of the first epoch
// (a measure of what bucketing saves).
func (g *GLUEBatcher) PaddingRatio() float64 {
	var real, total int
	for _, idx := range g.epoch(0) {
		T := 0
		for _, j := range idx {
			T = max(T, len(g.Examples[j].Tokens))
			real += len(g.Examples[j].Tokens)
		}
		total += T * len(idx)
	}
	if total == 0 {
		return 0
	}
	return 1 - float64(real)/float64(total)
}

// PredictGLUE runs a classification model in inference mode over examples
// in length-sorted batches of B and returns its predictions in the
// examples' order (argmax class ids, or scores for a regression head) and
// the mean loss against the examples' gold values.
func (m *Model) PredictGLUE(exs []GLUEExample, B int) (data.Predictions, float64, error) {
	if m.Head != HeadClassifier {
		return data.Predictions{}, 0, fmt.Errorf("roberta: the model has the %s head, not a classifier", m.Head)
	}
	if len(exs) == 0 || B <= 0 {
		return data.Predictions{}, 0, fmt.Errorf("roberta: %d examples in batches of %d", len(exs), B)
	}
	reg := m.Cfg.Regression()
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return len(exs[order[i]].Tokens) < len(exs[order[j]].Tokens) })
	var pred data.Predictions
	if reg {
		pred.Scores = make([]float64, len(exs))
	} else {
		pred.Labels = make([]int, len(exs))
	}
	stats := m.NewStats()
	defer m.Be.Free(stats)
	L := m.Cfg.NumLabels
	for lo := 0; lo < len(order); lo += B {
		idx := order[lo:min(lo+B, len(order))]
		sub := make([]GLUEExample, len(idx))
		for i, j := range idx {
			sub[i] = exs[j]
		}
		b := glueBatch(sub, int32(m.Cfg.PadTokenID), reg)
		for i := range b.Weights {
			b.Weights[i] = 1 / float32(len(exs))
		}
		if err := m.Validate(b); err != nil {
			return data.Predictions{}, 0, err
		}
		m.Forward(b, stats, false, false, 0)
		logits := make([]float32, len(idx)*L)
		m.Be.Read(m.acts.logits, 0, logits)
		for i, j := range idx {
			row := logits[i*L : (i+1)*L]
			if reg {
				pred.Scores[j] = float64(row[0])
			} else {
				pred.Labels[j] = Argmax(row)
			}
		}
	}
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return pred, float64(st[0]), nil
}

// Gold returns the gold labels (or scores) of encoded examples.
func Gold(task *data.Task, exs []GLUEExample) data.Predictions {
	var p data.Predictions
	for _, e := range exs {
		if task.Regression {
			p.Scores = append(p.Scores, float64(e.Score))
		} else {
			p.Labels = append(p.Labels, int(e.Label))
		}
	}
	return p
}

// Majority predicts the most frequent training class for every one of n
// examples (the mean training score for a regression task, whose
// correlation metrics are then undefined).
func Majority(task *data.Task, trainEx []GLUEExample, n int) data.Predictions {
	var p data.Predictions
	if task.Regression {
		var mean float64
		for _, e := range trainEx {
			mean += float64(e.Score)
		}
		mean /= math.Max(1, float64(len(trainEx)))
		p.Scores = make([]float64, n)
		for i := range p.Scores {
			p.Scores[i] = mean
		}
		return p
	}
	counts := make([]int, len(task.Labels))
	for _, e := range trainEx {
		if int(e.Label) < len(counts) {
			counts[e.Label]++
		}
	}
	best := 0
	for c, k := range counts {
		if k > counts[best] {
			best = c
		}
	}
	p.Labels = make([]int, n)
	for i := range p.Labels {
		p.Labels[i] = best
	}
	return p
}

// GLUEScores computes the task's metrics (data.Task.Metrics: accuracy, f1,
// mcc, pearson, spearman) of predictions against gold values. A metric
// that is undefined (the correlation of a constant prediction) is NaN.
func GLUEScores(task *data.Task, pred, gold data.Predictions) (map[string]float64, error) {
	out := map[string]float64{}
	for _, name := range task.Metrics {
		var v float64
		var err error
		switch name {
		case data.MetricAccuracy:
			v, err = metrics.Accuracy(pred.Labels, gold.Labels)
		case data.MetricF1:
			v, err = metrics.F1(pred.Labels, gold.Labels, task.Positive)
		case data.MetricMCC:
			v, err = metrics.MatthewsCorr(pred.Labels, gold.Labels)
		case data.MetricPearson:
			v, err = metrics.Pearson(pred.Scores, gold.Scores)
		case data.MetricSpearman:
			v, err = metrics.Spearman(pred.Scores, gold.Scores)
		default:
			err = fmt.Errorf("unknown metric %q", name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", task.Name, name, err)
		}
		out[name] = v
	}
	return out, nil
}

// MainMetric is the metric GLUE ranks a task by (CoLA: Matthews
// correlation, STS-B: Pearson, the others: accuracy).
func MainMetric(task *data.Task) string { return task.Metrics[0] }

// GLUEJob wires a classification model into the training loop:
// micro-batches come from batcher, and evaluation (when dev is not empty)
// reports "eval_loss" and "eval_<metric>" for each metric of the task on
// dev (metrics that are undefined are left out). The model is saved as an
// adapter with the classifier (or, for full fine-tuning, as a Hugging Face
// checkpoint).
func (m *Model) GLUEJob(task *data.Task, batcher *GLUEBatcher, dev []GLUEExample, evalBatch int, baseModel string) *train.Job {
	job := m.trainJob(batcher.Step, baseModel)
	if len(dev) > 0 {
		gold := Gold(task, dev)
		job.Eval = func() (map[string]float64, error) {
			pred, l, err := m.PredictGLUE(dev, evalBatch)
			if err != nil {
				return nil, err
			}
			sc, err := GLUEScores(task, pred, gold)
			if err != nil {
				return nil, err
			}
			out := map[string]float64{"eval_loss": l}
			for k, v := range sc {
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					out["eval_"+k] = v
				}
			}
			return out, nil
		}
	}
	return job
}
