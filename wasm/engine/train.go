package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/train"
)

// TrainOptions are hut.setup's arguments (and hut.estimate's subset).
// Zero values take the defaults of Defaults.
type TrainOptions struct {
	Method      string   `json:"method"`
	R           int      `json:"r"`
	Alpha       float32  `json:"alpha"`
	LR          float32  `json:"lr"`
	Targets     []string `json:"targets"`
	Batch       int      `json:"batch"`
	Seq         int      `json:"seq"`
	Steps       int      `json:"steps"`
	Warmup      int      `json:"warmup"`
	Seed        *uint64  `json:"seed"`
	Dropout     float32  `json:"dropout"`
	WeightDecay float32  `json:"weightDecay"`
	Clip        *float32 `json:"clip"`
	Schedule    string   `json:"schedule"`
	Smoothing   float32  `json:"smoothing"`
	InitNoise   float32  `json:"initNoise"`
}

// Default values of TrainOptions.
const (
	DefaultMethod = "hut"
	DefaultBatch  = 4
	DefaultSeq    = 128
	DefaultSteps  = 100
	DefaultSeed   = 42
	DefaultClip   = 1.0
)

// DefaultLR is the learning rate a method gets when none is given.
func DefaultLR(method string) float32 {
	if method == "full" {
		return 1e-4
	}
	return 1e-3
}

// maxLogits bounds batch × seq × vocabulary (the logits and their
// gradient, the largest activation): 256 Mi floats, 1 GiB.
const maxLogits = 256 << 20

// checkActivations rejects batch shapes whose activations cannot fit a
// browser tab (a failed allocation ends a wasm program; it cannot be
// caught).
func (e *Engine) checkActivations(B, T int, what string) error {
	V := e.src.gcfg.VocabSize
	if e.src.arch == ArchRoBERTa {
		V = max(e.src.rcfg.HiddenSize, e.src.rcfg.IntermediateSize)
	}
	if B > 1<<16 || T > 1<<16 || B*T > 1<<20 || B*T*V > maxLogits {
		return fmt.Errorf("%s: batch %d × seq %d is too large for the browser (%d × %d × %d floats of activations); use a smaller batch or seq", what, B, T, B, T, V)
	}
	return nil
}

// maxSeq is the longest sequence the loaded model takes.
func (e *Engine) maxSeq() int {
	if e.src.arch == ArchGPT2 {
		return e.src.gcfg.NPositions
	}
	return e.src.rcfg.MaxSeqLen()
}

// defaults fills unset options and checks the rest.
func (e *Engine) defaults(o TrainOptions, what string) (TrainOptions, error) {
	o.Method = strings.ToLower(strings.TrimSpace(o.Method))
	if o.Method == "" {
		o.Method = DefaultMethod
	}
	switch o.Method {
	case "hut", "hira", "lora", "full":
	default:
		return o, fmt.Errorf("%s: method %q: want \"hut\", \"hira\", \"lora\" or \"full\"", what, o.Method)
	}
	if o.Batch == 0 {
		o.Batch = DefaultBatch
	}
	if o.Seq == 0 {
		o.Seq = min(DefaultSeq, e.maxSeq())
	}
	if o.Steps == 0 {
		o.Steps = DefaultSteps
	}
	if o.LR == 0 {
		o.LR = DefaultLR(o.Method)
	}
	if o.Seed == nil {
		s := uint64(DefaultSeed)
		o.Seed = &s
	}
	if o.Clip == nil {
		c := float32(DefaultClip)
		o.Clip = &c
	}
	if o.Schedule == "" {
		o.Schedule = "linear"
	}
	fail := func(format string, a ...any) (TrainOptions, error) {
		return o, fmt.Errorf("%s: %s", what, fmt.Sprintf(format, a...))
	}
	switch {
	case o.R < 0:
		return fail("r = %d: want a positive rank", o.R)
	case o.Batch < 1:
		return fail("batch = %d: want ≥ 1", o.Batch)
	case o.Seq < 4 || o.Seq > e.maxSeq():
		return fail("seq = %d: want 4…%d (the model's longest sequence)", o.Seq, e.maxSeq())
	case o.Steps < 1:
		return fail("steps = %d: want ≥ 1", o.Steps)
	case !(o.LR > 0) || math.IsInf(float64(o.LR), 0):
		return fail("lr = %v: want a positive number", o.LR)
	case o.Warmup < 0 || o.Warmup > o.Steps:
		return fail("warmup = %d: want 0…steps (%d)", o.Warmup, o.Steps)
	case o.Dropout < 0 || o.Dropout >= 1:
		return fail("dropout = %v: want a probability in [0, 1)", o.Dropout)
	case o.WeightDecay < 0:
		return fail("weightDecay = %v: want ≥ 0", o.WeightDecay)
	case o.Smoothing < 0 || o.Smoothing >= 1:
		return fail("smoothing = %v: want [0, 1)", o.Smoothing)
	case o.InitNoise < 0:
		return fail("initNoise = %v: want ≥ 0", o.InitNoise)
	case *o.Clip < 0:
		return fail("clip = %v: want ≥ 0 (0: no clipping)", *o.Clip)
	}
	if err := e.checkActivations(o.Batch, o.Seq, what); err != nil {
		return o, err
	}
	if o.Method != "full" && o.R == 0 {
		o.R = 8
	}
	if o.Alpha == 0 && (o.Method == "lora" || o.Method == "hut") {
		o.Alpha = float32(2 * o.R)
	}
	if o.Method == "full" {
		o.Targets = nil
	}
	if len(o.Targets) == 0 && e.src.arch == ArchRoBERTa && o.Method != "full" {
		o.Targets = roberta.DefaultTargets(o.Method)
	}
	return o, nil
}

func (o TrainOptions) peftConfig() *peft.Config {
	return &peft.Config{Method: o.Method, R: o.R, Alpha: o.Alpha, Dropout: o.Dropout,
		Targets: append([]string(nil), o.Targets...), InitNoise: o.InitNoise, Seed: *o.Seed}
}

func (o TrainOptions) trainConfig() train.Config {
	c := train.Config{Steps: o.Steps, GradAccum: 1, LR: o.LR, Warmup: o.Warmup, Schedule: o.Schedule,
		WeightDecay: o.WeightDecay, ClipNorm: *o.Clip, Seed: *o.Seed}
	c.Defaults()
	return c
}

// session is an attached method and its training run.
type session struct {
	opts    TrainOptions
	peft    *peft.Config
	cfg     train.Config
	step    int
	flops   float64
	targets []string
	runner  *runner
	failed  error // the run ended with this error; setup starts a new one
}

func (s *session) close() {
	if s.runner != nil {
		s.runner.close()
		s.runner = nil
	}
}

// resetData ends the run after a new task was loaded: the next step starts
// a new schedule (the adapter keeps its values).
func (s *session) resetData() { s.close() }

// runner is train.Run on its own goroutine, paused after every step
// inside the OnStep callback until Step asks for the next one. This is the
// native training loop itself (data order, dropout seeds, clipping, AdamW
// and the schedule), run a few steps at a time.
type runner struct {
	cancel context.CancelFunc
	events chan runEvent
	resume chan struct{}
	done   chan struct{}
}

type runEvent struct {
	info train.StepInfo
	end  bool
	err  error
}

func startRunner(cfg train.Config, job *train.Job) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, events: make(chan runEvent), resume: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("training step failed: %v", p)
				}
			}()
			_, err = train.Run(ctx, cfg, job, train.Options{OnStep: func(si train.StepInfo) {
				select {
				case r.events <- runEvent{info: si}:
				case <-ctx.Done():
					return
				}
				select {
				case <-r.resume:
				case <-ctx.Done():
				}
			}})
		}()
		select {
		case r.events <- runEvent{end: true, err: err}:
		case <-ctx.Done():
		}
	}()
	return r
}

// close cancels the run and waits for its goroutine (which is paused
// between steps whenever no Step is running).
func (r *runner) close() {
	r.cancel()
	<-r.done
}

// Setup is hut.setup: attach a fresh adapter of the method to the loaded
// base model and prepare its training run.
func (e *Engine) Setup(o TrainOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	if e.mdl == nil {
		return nil, errors.New("setup: no model loaded: call hut.loadModel first")
	}
	o, err := e.defaults(o, "setup")
	if err != nil {
		return nil, err
	}
	if err := e.freshModel(); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	pc := o.peftConfig()
	if err := e.mdl.attach(pc); err != nil {
		e.mdl.dirty = true // a half-attached adapter: build from scratch next time
		return nil, fmt.Errorf("setup: %w", err)
	}
	e.train = o
	return e.startSession(o, pc)
}

// startSession records an attached adapter as the current run.
func (e *Engine) startSession(o TrainOptions, pc *peft.Config) (map[string]any, error) {
	if pc.Method == "full" || e.mdl.r != nil {
		e.mdl.dirty = true // base weights (or the classifier) will change
	}
	o.Targets = pc.Targets
	est, err := e.estimate(o)
	if err != nil {
		return nil, err
	}
	s := &session{opts: o, peft: pc, cfg: o.trainConfig(), flops: est.flops}
	for _, l := range e.mdl.linears() {
		if l.Ad != nil {
			s.targets = append(s.targets, l.Name)
		}
	}
	if err := s.cfg.Validate(); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	e.run = s
	tr, all := e.mdl.countParams()
	notes := []string{}
	if t := e.task; t != nil && t.name == TaskE2E {
		if short, cut, longest := e2eCoverage(t.e2eTrain, o.Seq); cut > 0 {
			notes = append(notes, fmt.Sprintf("seq = %d cuts %d of %d training examples before their completion (the longest prompt has %d tokens)", o.Seq, cut, len(t.e2eTrain), longest))
		} else if short > 0 {
			notes = append(notes, fmt.Sprintf("seq = %d truncates the completion of %d of %d training examples", o.Seq, short, len(t.e2eTrain)))
		}
	}
	return map[string]any{
		"notes":        notes,
		"method":       pc.Method,
		"r":            pc.R,
		"alpha":        pc.Alpha,
		"lr":           o.LR,
		"batch":        o.Batch,
		"seq":          o.Seq,
		"steps":        o.Steps,
		"trainable":    tr,
		"all":          all,
		"summary":      peft.TrainableSummary(tr, all),
		"flopsPerStep": est.flops,
		"targets":      s.targets,
	}, nil
}

type estimateResult struct {
	trainable, all int
	flops          float64
}

// estimate sizes one optimizer step of o on a backend that computes
// nothing.
func (e *Engine) estimate(o TrainOptions) (estimateResult, error) {
	nb := &nullBackend{}
	m := newModel(nb, e.src)
	pc := o.peftConfig()
	if err := m.attach(pc); err != nil {
		return estimateResult{}, err
	}
	var res estimateResult
	res.trainable, res.all = m.countParams()
	B, T := o.Batch, o.Seq
	N := B * T
	stats := nb.NewBuf(4)
	if m.g != nil {
		b := &gpt2.Batch{B: B, T: T, Tokens: make([]int32, N), Targets: make([]int32, N), Weights: make([]float32, N)}
		for i := range b.Weights {
			b.Weights[i] = 1 / float32(N)
		}
		m.g.Forward(b, stats, true, true, 1, o.Smoothing)
		m.g.Backward(b, 1)
	} else {
		b := &roberta.Batch{B: B, T: T, Tokens: make([]int32, N), Mask: make([]int32, N),
			Labels: make([]int32, B), Scores: make([]float32, B), Weights: make([]float32, B)}
		for i := range b.Tokens {
			b.Tokens[i] = int32(e.src.rcfg.BOSTokenID)
			b.Mask[i] = 1
		}
		for i := range b.Weights {
			b.Weights[i] = 1 / float32(B)
		}
		if m.r.Head == roberta.HeadMLM {
			b.Targets = make([]int32, N)
			b.Weights = make([]float32, N)
			for i := range b.Weights {
				b.Weights[i] = 1 / float32(N)
			}
		}
		if m.r.Head == roberta.HeadNone {
			m.r.Forward(b, stats, false, false, 1)
		} else {
			m.r.Forward(b, stats, true, true, 1)
			m.r.Backward(b, 1)
		}
	}
	res.flops = nb.flops
	return res, nil
}

// Estimate is hut.estimate: parameter counts and FLOPs of one step for
// any method, without attaching it.
func (e *Engine) Estimate(o TrainOptions) (map[string]any, error) {
	if e.src == nil {
		return nil, errors.New("estimate: no model loaded: call hut.loadModel first")
	}
	o, err := e.defaults(o, "estimate")
	if err != nil {
		return nil, err
	}
	res, err := e.estimate(o)
	if err != nil {
		return nil, fmt.Errorf("estimate: %w", err)
	}
	return map[string]any{"method": o.Method, "trainable": res.trainable, "all": res.all, "flopsPerStep": res.flops,
		"summary": peft.TrainableSummary(res.trainable, res.all)}, nil
}

// e2eCoverage counts the examples whose completion (with the end token)
// is truncated, and those cut before any completion token, at sequence
// length T, and returns the longest prompt.
func e2eCoverage(exs []e2eExample, T int) (short, cut, longest int) {
	for _, x := range exs {
		longest = max(longest, len(x.prompt))
		switch {
		case len(x.prompt) >= T+1:
			cut++
		case len(x.prompt)+len(x.completion)+1 > T+1:
			short++
		}
	}
	return short, cut, longest
}

// job builds the training job of the current session and task.
func (e *Engine) job() (*train.Job, error) {
	s, t := e.run, e.task
	if t == nil {
		return nil, errors.New("no training data: call hut.loadTask first")
	}
	o := s.opts
	if m := e.mdl.g; m != nil {
		if _, cut, longest := e2eCoverage(t.e2eTrain, o.Seq); cut == len(t.e2eTrain) {
			return nil, fmt.Errorf("seq = %d cuts every training example before its completion (the longest prompt has %d tokens): call hut.setup with a larger seq", o.Seq, longest)
		}
		eos := int32(e.tok.EOS())
		b := &train.LMBatcher{Examples: lmExamples(t.e2eTrain, eos, o.Seq), B: o.Batch, T: o.Seq, Accum: 1,
			Seed: *o.Seed, Pad: eos, Shuffle: true}
		if err := b.Validate(); err != nil {
			return nil, err
		}
		return m.Job(b, o.Smoothing, nil, e.src.name), nil
	}
	m := e.mdl.r
	exs, err := e.glueExamples(t.glueTrain, o.Seq)
	if err != nil {
		return nil, err
	}
	b := &roberta.GLUEBatcher{Examples: exs, B: o.Batch, Accum: 1, Seed: *o.Seed, Pad: int32(e.src.rcfg.PadTokenID)}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return m.GLUEJob(t.glue, b, nil, o.Batch, e.src.name), nil
}

// StepOptions are hut.step's arguments.
type StepOptions struct {
	N int `json:"n"`
}

// Step is hut.step: run n optimizer steps (fewer when Stop is called or
// the schedule ends).
func (e *Engine) Step(o StepOptions) (map[string]any, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	s := e.run
	switch {
	case e.mdl == nil:
		return nil, errors.New("step: no model loaded: call hut.loadModel first")
	case s == nil:
		return nil, errors.New("step: no method attached: call hut.setup first")
	case e.mdl.merged():
		return nil, errors.New("step: the adapter is merged into the weights: call hut.unmerge() before training")
	case o.N < 0:
		return nil, fmt.Errorf("step: n = %d: want ≥ 1", o.N)
	}
	n := max(o.N, 1)
	if s.failed != nil {
		return nil, fmt.Errorf("step: the run stopped: %v; call hut.setup to start again", s.failed)
	}
	if s.step >= s.cfg.Steps {
		return nil, fmt.Errorf("step: all %d steps of the schedule are done; call hut.setup with more steps to train again", s.cfg.Steps)
	}
	n = min(n, s.cfg.Steps-s.step)
	if s.runner == nil {
		job, err := e.job()
		if err != nil {
			return nil, fmt.Errorf("step: %w", err)
		}
		if s.step > 0 {
			// A new task after some steps: start a new schedule with fresh
			// optimizer moments.
			for _, p := range job.Params {
				e.be.Zero(p.M, 0, p.Size())
				e.be.Zero(p.V, 0, p.Size())
			}
			s.step = 0
		}
		s.runner = startRunner(s.cfg, job)
	} else {
		s.runner.resume <- struct{}{}
	}
	e.stop.Store(false)
	t0 := time.Now()
	var losses, norms []float64
	var last train.StepInfo
	tokens := 0
	for i := 0; ; {
		ev := <-s.runner.events
		if ev.end {
			<-s.runner.done
			s.runner = nil
			if ev.err != nil {
				s.failed = ev.err
				return nil, fmt.Errorf("step: %w", ev.err)
			}
			break
		}
		if err := e.BackendErr(); err != nil {
			s.close()
			s.failed = err
			return nil, fmt.Errorf("step %d: %w", ev.info.Step, err)
		}
		last = ev.info
		s.step = last.Step
		tokens += last.Tokens
		losses = append(losses, last.Loss)
		norms = append(norms, last.GradNorm)
		i++
		e.report("step", int64(i), int64(n), map[string]any{"step": last.Step, "loss": last.Loss, "gradNorm": last.GradNorm, "lr": last.LR})
		if i >= n || e.stop.Load() {
			break
		}
		if e.yield != nil {
			e.yield()
		}
		s.runner.resume <- struct{}{}
	}
	e.sync()
	el := time.Since(t0).Seconds()
	if err := e.BackendErr(); err != nil {
		return nil, fmt.Errorf("step: %w", err)
	}
	return map[string]any{
		"step":         s.step,
		"steps":        len(losses),
		"loss":         last.Loss,
		"losses":       losses,
		"gradNorms":    norms,
		"lr":           last.LR,
		"gradNorm":     last.GradNorm,
		"tokens":       tokens,
		"tokensPerSec": float64(tokens) / math.Max(el, 1e-9),
		"elapsedMs":    el * 1000,
		"done":         s.step >= s.cfg.Steps,
		"stopped":      len(losses) < n,
	}, nil
}

// TrainableParams returns the trainable parameters of the attached method
// by their unique names (PEFT keys for adapter parameters). After Step the
// gradients of the last step are still in each Param's G: tests compare
// them across backends.
func (e *Engine) TrainableParams() map[string]*tensor.Param {
	if e.mdl == nil {
		return nil
	}
	return e.mdl.trainableNamed()
}

// BaseParams returns the loaded model's base parameters (nil without a
// model).
func (e *Engine) BaseParams() []*tensor.Param {
	if e.mdl == nil {
		return nil
	}
	return e.mdl.params()
}
