package engine

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/decode"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/train"
)

// EvalOptions are hut.evaluate's arguments.
type EvalOptions struct {
	MaxExamples int `json:"maxExamples"`
	Batch       int `json:"batch"`
}

// Evaluate is hut.evaluate: the validation loss (E2E) or the loss and
// accuracy (SST-2) on the dev set of the loaded task, with the attached
// adapter (merged or not).
func (e *Engine) Evaluate(o EvalOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("evaluate: no model loaded: call hut.loadModel first")
	}
	t := e.task
	if t == nil {
		return nil, errors.New("evaluate: no task loaded: call hut.loadTask with a dev set first")
	}
	if o.MaxExamples < 0 || o.Batch < 0 {
		return nil, fmt.Errorf("evaluate: maxExamples = %d, batch = %d: want ≥ 0", o.MaxExamples, o.Batch)
	}
	B, T := DefaultBatch, min(DefaultSeq, e.maxSeq())
	if e.run != nil {
		B, T = e.run.opts.Batch, e.run.opts.Seq
	}
	if o.Batch > 0 {
		B = o.Batch
	}
	if err := e.checkActivations(B, T, "evaluate"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	out := map[string]any{}
	if t.name == TaskE2E {
		dev := t.e2eDev
		if len(dev) == 0 {
			return nil, errors.New("evaluate: the e2e task has no dev set (pass dev to hut.loadTask)")
		}
		if o.MaxExamples > 0 && len(dev) > o.MaxExamples {
			dev = dev[:o.MaxExamples]
		}
		eos := int32(e.tok.EOS())
		batches := train.EvalBatches(lmExamples(dev, eos, T), B, T, eos)
		loss, err := e.mdl.g.EvalLoss(batches)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		out["evalLoss"] = loss
		out["metric"] = map[string]any{"name": "loss", "value": loss}
		out["examples"] = len(dev)
	} else {
		dev := t.glueDev
		if len(dev) == 0 {
			return nil, errors.New("evaluate: the sst2 task has no dev set (pass dev to hut.loadTask)")
		}
		if o.MaxExamples > 0 && len(dev) > o.MaxExamples {
			dev = dev[:o.MaxExamples]
		}
		exs, err := e.glueExamples(dev, T)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		pred, loss, err := e.mdl.r.PredictGLUE(exs, B)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		sc, err := roberta.GLUEScores(t.glue, pred, roberta.Gold(t.glue, exs))
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		out["evalLoss"] = loss
		out["metric"] = map[string]any{"name": data.MetricAccuracy, "value": sc[data.MetricAccuracy]}
		out["examples"] = len(dev)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	out["elapsedMs"] = time.Since(t0).Seconds() * 1000
	return out, nil
}

// GenerateOptions are hut.generate's arguments.
type GenerateOptions struct {
	MR          string   `json:"mr"`
	Prompt      *string  `json:"prompt"`
	MaxNew      int      `json:"maxNew"`
	MinNew      int      `json:"minNew"`
	Beams       int      `json:"beams"`
	Greedy      *bool    `json:"greedy"`
	Temperature float64  `json:"temperature"`
	TopK        int      `json:"topK"`
	TopP        float64  `json:"topP"`
	Seed        uint64   `json:"seed"`
	NoRepeat    *int     `json:"noRepeatNgram"`
	LengthPen   *float64 `json:"lengthPenalty"`
}

// DefaultMaxNew is hut.generate's default number of new tokens.
const DefaultMaxNew = 32

// Generate is hut.generate: continue a prompt (or the linearised MR of an
// E2E meaning representation, encoded as in training) with greedy
// decoding, sampling or LoRA's beam search.
func (e *Engine) Generate(o GenerateOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("generate: no model loaded: call hut.loadModel first")
	}
	if e.mdl.g == nil {
		return nil, fmt.Errorf("generate: the loaded model is %s; generation needs GPT-2 (use hut.classify)", e.src.arch)
	}
	if e.tok == nil {
		return nil, fmt.Errorf("generate: the model %s was loaded without tokenizer files", e.src.name)
	}
	eos := e.tok.EOS()
	var prompt []int
	switch {
	case o.MR != "" && o.Prompt != nil:
		return nil, errors.New("generate: give mr or prompt, not both")
	case o.MR != "":
		ctx, err := data.LinearizeMR(o.MR)
		if err != nil {
			return nil, fmt.Errorf("generate: mr: %w", err)
		}
		prompt = append(e.tok.Encode(ctx), eos)
	case o.Prompt != nil:
		prompt = e.tok.Encode(*o.Prompt)
		if len(prompt) == 0 {
			prompt = []int{eos}
		}
	default:
		return nil, errors.New("generate: give mr (an E2E meaning representation) or prompt (text)")
	}
	if o.MaxNew == 0 {
		o.MaxNew = DefaultMaxNew
	}
	npos := e.src.gcfg.NPositions
	switch {
	case o.MaxNew < 0:
		return nil, fmt.Errorf("generate: maxNew = %d: want ≥ 1", o.MaxNew)
	case len(prompt) >= npos:
		return nil, fmt.Errorf("generate: the prompt has %d tokens; the model takes %d in all", len(prompt), npos)
	case o.MinNew < 0:
		return nil, fmt.Errorf("generate: minNew = %d: want ≥ 0", o.MinNew)
	case o.Beams < 0 || o.Beams > 64:
		return nil, fmt.Errorf("generate: beams = %d: want 1…64", o.Beams)
	}
	maxNew := min(o.MaxNew, npos-len(prompt))
	gen, err := e.mdl.g.NewGenerator(len(prompt) + maxNew)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	defer gen.Close()
	eosList := []int{eos}
	if id, ok := e.tok.TokenID("ĊĊ"); ok && id != eos { // "\n\n" ends E2E outputs in LoRA's decoder
		eosList = append(eosList, id)
	}
	opt := decode.Options{MaxNewTokens: maxNew, EOS: eosList, MinLength: o.MinNew}
	if o.NoRepeat != nil {
		opt.NoRepeatNgram = *o.NoRepeat
	} else if o.Beams > 1 && o.MR != "" {
		opt.NoRepeatNgram = 4
	}
	t0 := time.Now()
	var res []decode.Result
	mode := "greedy"
	switch {
	case o.Beams > 1:
		mode = "beam"
		lp := 0.8
		if o.LengthPen != nil {
			lp = *o.LengthPen
		}
		res, err = decode.BeamSearch(gen, [][]int{prompt}, decode.BeamOptions{Options: opt, Beams: o.Beams, LengthPenalty: lp})
	case o.Greedy != nil && !*o.Greedy:
		mode = "sample"
		temp := o.Temperature
		if temp == 0 {
			temp = 1
		}
		res, err = decode.Sample(gen, [][]int{prompt}, decode.SampleOptions{Options: opt, Temperature: temp, TopK: o.TopK, TopP: o.TopP, Seed: o.Seed})
	default:
		res, err = decode.Greedy(gen, [][]int{prompt}, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	el := time.Since(t0).Seconds()
	r := res[0]
	text, err := e.tok.Decode(r.Tokens)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	return map[string]any{
		"text":         strings.TrimSpace(text),
		"ids":          r.Tokens,
		"promptIds":    prompt,
		"finished":     r.Finished,
		"mode":         mode,
		"elapsedMs":    el * 1000,
		"tokensPerSec": float64(len(r.Tokens)) / math.Max(el, 1e-9),
	}, nil
}

// ClassifyOptions are hut.classify's arguments.
type ClassifyOptions struct {
	Text  string `json:"text"`
	Text2 string `json:"text2"`
}

// Classify is hut.classify: the class probabilities of a text under the
// RoBERTa classifier (with the attached adapter).
func (e *Engine) Classify(o ClassifyOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("classify: no model loaded: call hut.loadModel first")
	}
	if e.mdl.r == nil || e.mdl.r.Head != roberta.HeadClassifier {
		return nil, fmt.Errorf("classify: the loaded model (%s) has no classification head; load a RoBERTa classifier, or call hut.loadTask({task: \"sst2\"}) to add one", e.src.arch)
	}
	if e.tok == nil {
		return nil, fmt.Errorf("classify: the model %s was loaded without tokenizer files", e.src.name)
	}
	if strings.TrimSpace(o.Text) == "" {
		return nil, errors.New("classify: text is empty")
	}
	task, _ := data.LookupTask(TaskSST2)
	if o.Text2 != "" {
		task, _ = data.LookupTask("mrpc") // a sentence-pair template
	}
	exs, _, err := roberta.EncodeGLUETexts(e.tok, task, []data.Example{{Text1: o.Text, Text2: o.Text2}}, e.maxSeq())
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	logits, err := e.mdl.r.Classify([][]int32{exs[0].Tokens})
	if err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("classify: %w", err)
	}
	row := logits[0]
	labels := e.src.rcfg.Labels()
	lg := make([]float64, len(row))
	for i, v := range row {
		lg[i] = float64(v)
	}
	if e.src.rcfg.Regression() {
		return map[string]any{"label": nil, "score": lg[0], "probs": []float64{}, "labels": labels, "logits": lg}, nil
	}
	probs := softmax(lg)
	best := 0
	for i, p := range probs {
		if p > probs[best] {
			best = i
		}
	}
	return map[string]any{"label": labels[best], "labelId": best, "probs": probs, "labels": labels, "logits": lg, "tokens": len(exs[0].Tokens)}, nil
}

func softmax(x []float64) []float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, v)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		out[i] = math.Exp(v - mx)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}
