// Package train is the training loop shared by every model and method:
// AdamW with warm-up and linear (or cosine) decay, gradient clipping and
// accumulation, deterministic seeds, atomic checkpoints of the trainable
// parameters and the optimizer state, exact resume, a JSON-lines metrics
// log and a stop with a clear error when the loss stops being finite.
//
// A step reads back from the backend once: the loss and the gradient norm,
// before the update is applied (so a non-finite loss never reaches the
// weights).
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	"github.com/hutml/hut/core/tensor"
)

// Config holds the optimisation hyper-parameters.
type Config struct {
	Steps       int     // optimizer steps in the whole run
	GradAccum   int     // micro-batches per optimizer step (≥ 1)
	LR          float32 // peak learning rate
	Warmup      int     // linear warm-up steps
	Schedule    string  // "linear" (HF get_linear_schedule_with_warmup), "cosine", "constant"
	WeightDecay float32
	Beta1       float32
	Beta2       float32
	Eps         float32
	ClipNorm    float32 // ≤ 0: no clipping
	Seed        uint64
	// Checkpointing: every CheckpointEvery steps into CheckpointDir,
	// keeping the newest Keep checkpoints.
	CheckpointDir   string
	CheckpointEvery int
	Keep            int
	EvalEvery       int
}

// Defaults fills unset fields with the usual AdamW settings.
func (c *Config) Defaults() {
	if c.GradAccum == 0 {
		c.GradAccum = 1
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.Schedule == "" {
		c.Schedule = "linear"
	}
	if c.Keep == 0 {
		c.Keep = 2
	}
}

// Validate reports bad hyper-parameters naming the flag-like field.
func (c *Config) Validate() error {
	switch {
	case c.Steps <= 0:
		return fmt.Errorf("steps = %d: must be positive", c.Steps)
	case c.GradAccum <= 0:
		return fmt.Errorf("grad-accum = %d: must be positive", c.GradAccum)
	case !(c.LR > 0) || math.IsInf(float64(c.LR), 0):
		return fmt.Errorf("learning rate %v: must be a positive number", c.LR)
	case c.Warmup < 0:
		return fmt.Errorf("warmup = %d: must be ≥ 0", c.Warmup)
	case c.WeightDecay < 0:
		return fmt.Errorf("weight decay %v: must be ≥ 0", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("AdamW betas (%v, %v): must be in [0, 1)", c.Beta1, c.Beta2)
	case c.CheckpointEvery < 0 || c.EvalEvery < 0:
		return fmt.Errorf("checkpoint/eval intervals must be ≥ 0")
	}
	switch c.Schedule {
	case "linear", "cosine", "constant":
	default:
		return fmt.Errorf("schedule %q: want linear, cosine or constant", c.Schedule)
	}
	return nil
}

// LRAt is the learning rate of optimizer step s (0-based), as Hugging
// Face's schedulers compute it: lr·s/warmup during warm-up, then a linear
// (or cosine) decay to 0 at Steps.
func (c *Config) LRAt(s int) float32 {
	if s < c.Warmup {
		return c.LR * float32(s) / float32(max(1, c.Warmup))
	}
	switch c.Schedule {
	case "constant":
		return c.LR
	case "cosine":
		p := float64(s-c.Warmup) / float64(max(1, c.Steps-c.Warmup))
		return c.LR * float32(0.5*(1+math.Cos(math.Pi*p)))
	}
	return c.LR * float32(math.Max(0, float64(c.Steps-s)/float64(max(1, c.Steps-c.Warmup))))
}

// Job is what the loop drives. The model side supplies closures so that the
// loop works for any model.
type Job struct {
	Be tensor.Backend
	// Params are the trainable parameters by unique name.
	Params map[string]*tensor.Param
	// Micro runs forward and backward of micro-batch k of optimizer step s
	// with the given dropout seed, adding its weighted loss into
	// stats[StatLoss] and accumulating gradients; it returns the number of
	// tokens (or examples) it processed. The weights of a step's
	// micro-batches must sum to 1 so that stats[StatLoss] is the mean loss.
	Micro func(s, k int, seed uint32, stats tensor.Buf) (int, error)
	// Eval, if set, runs every EvalEvery steps and at the end.
	Eval func() (map[string]float64, error)
	// SaveModel writes the trainable state (adapter or full model) into a
	// checkpoint directory; LoadModel restores it.
	SaveModel func(dir string) error
	LoadModel func(dir string) error
	// Describe is stored in trainer_state.json and must match on resume
	// (method, data, batch shape…), so a checkpoint is never resumed into a
	// different run.
	Describe map[string]any
}

// Stats buffer layout shared with the models.
const (
	StatLoss   = 0
	StatNormSq = 1
	StatClip   = 2
	NumStats   = 4
)

// StepInfo reports one finished optimizer step.
type StepInfo struct {
	Step      int                `json:"step"` // 1-based count of finished steps
	Loss      float64            `json:"loss"`
	GradNorm  float64            `json:"grad_norm"`
	LR        float64            `json:"lr"`
	Tokens    int                `json:"tokens"`
	TokPerSec float64            `json:"tokens_per_s"`
	Elapsed   float64            `json:"elapsed_s"`
	Eval      map[string]float64 `json:"eval,omitempty"`
}

// Options are the run-time hooks of Run.
type Options struct {
	Resume  bool                 // continue from the newest checkpoint in CheckpointDir
	Metrics io.Writer            // JSON lines, one per step (may be nil)
	OnStep  func(StepInfo)       // progress callback (may be nil)
	Logf    func(string, ...any) // informational messages (may be nil)
}

// ErrNonFinite is wrapped by the error Run returns when the loss or the
// gradient norm stops being finite.
var ErrNonFinite = errors.New("non-finite loss")

// Result summarises a run.
type Result struct {
	StartStep, Steps int
	FinalLoss        float64
	Eval             map[string]float64
	LastCheckpoint   string
}

// Run trains for cfg.Steps optimizer steps (or continues a run).
func Run(ctx context.Context, cfg Config, job *Job, opt Options) (*Result, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(job.Params) == 0 {
		return nil, errors.New("train: nothing to train (no trainable parameters)")
	}
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	be := job.Be
	names := make([]string, 0, len(job.Params))
	for n := range job.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	params := make([]*tensor.Param, len(names))
	for i, n := range names {
		params[i] = job.Params[n]
	}
	res := &Result{}
	start := 0
	if opt.Resume && cfg.CheckpointDir != "" {
		dir, step, err := Latest(cfg.CheckpointDir)
		if err != nil {
			return nil, err
		}
		if dir != "" {
			if err := loadCheckpoint(dir, be, names, params, job, cfg); err != nil {
				return nil, err
			}
			start = step
			res.LastCheckpoint = dir
			logf("resuming from %s (step %d of %d)", dir, step, cfg.Steps)
		} else {
			logf("no checkpoint in %s: starting from step 0", cfg.CheckpointDir)
		}
	}
	res.StartStep = start
	stats := be.NewBuf(NumStats)
	defer be.Free(stats)
	host := make([]float32, 2)
	t0 := time.Now()
	tokensRun := 0
	save := func(step int) error {
		if cfg.CheckpointDir == "" {
			return nil
		}
		dir, err := saveCheckpoint(cfg.CheckpointDir, step, be, names, params, job, cfg)
		if err != nil {
			return err
		}
		res.LastCheckpoint = dir
		return prune(cfg.CheckpointDir, cfg.Keep)
	}
	var last StepInfo
	for s := start; s < cfg.Steps; s++ {
		if err := ctx.Err(); err != nil {
			if s > start {
				if serr := save(s); serr != nil {
					return res, errors.Join(err, serr)
				}
			}
			return res, fmt.Errorf("stopped at step %d: %w", s, err)
		}
		be.Zero(stats, 0, NumStats)
		for _, p := range params {
			be.Zero(p.G, 0, p.Size())
		}
		tokens := 0
		for k := 0; k < cfg.GradAccum; k++ {
			n, err := job.Micro(s, k, StepSeed(cfg.Seed, s, k), stats)
			if err != nil {
				return res, fmt.Errorf("step %d: %w", s+1, err)
			}
			tokens += n
		}
		for _, p := range params {
			be.SumSquares(stats, StatNormSq, p.G, p.Size())
		}
		be.Read(stats, 0, host)
		loss, norm := float64(host[0]), math.Sqrt(float64(host[1]))
		if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
			where := "no checkpoint was written"
			if res.LastCheckpoint != "" {
				where = "the last good checkpoint is " + res.LastCheckpoint
			}
			return res, fmt.Errorf("step %d: loss %v, gradient norm %v: %w; the update was not applied and %s (try a lower learning rate)", s+1, loss, norm, ErrNonFinite, where)
		}
		be.ClipScale(stats, StatClip, StatNormSq, cfg.ClipNorm)
		lr := cfg.LRAt(s)
		for _, p := range params {
			wd := cfg.WeightDecay
			if p.NoDecay {
				wd = 0
			}
			be.AdamWStep(p.W, p.G, p.M, p.V, p.Size(), tensor.AdamW{LR: lr, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: wd, Step: s + 1}, stats, StatClip)
		}
		tokensRun += tokens
		el := time.Since(t0).Seconds()
		last = StepInfo{Step: s + 1, Loss: loss, GradNorm: norm, LR: float64(lr), Tokens: tokens, TokPerSec: float64(tokensRun) / math.Max(el, 1e-9), Elapsed: el}
		if job.Eval != nil && cfg.EvalEvery > 0 && ((s+1)%cfg.EvalEvery == 0 || s+1 == cfg.Steps) {
			ev, err := job.Eval()
			if err != nil {
				return res, fmt.Errorf("eval at step %d: %w", s+1, err)
			}
			last.Eval = ev
			res.Eval = ev
		}
		if opt.Metrics != nil {
			b, _ := json.Marshal(last)
			if _, err := opt.Metrics.Write(append(b, '\n')); err != nil {
				return res, fmt.Errorf("metrics log: %w", err)
			}
		}
		if opt.OnStep != nil {
			opt.OnStep(last)
		}
		res.FinalLoss = loss
		res.Steps = s + 1
		if cfg.CheckpointEvery > 0 && (s+1)%cfg.CheckpointEvery == 0 && s+1 < cfg.Steps {
			if err := save(s + 1); err != nil {
				return res, err
			}
		}
	}
	if cfg.Steps > start {
		if err := save(cfg.Steps); err != nil {
			return res, err
		}
	}
	return res, nil
}

// StepSeed derives the dropout seed of micro-batch k of step s.
func StepSeed(seed uint64, s, k int) uint32 {
	x := tensor.Hash32(uint32(seed) ^ tensor.Hash32(uint32(seed>>32)+0x9e3779b9))
	x = tensor.Hash32(x + uint32(s)*2654435761)
	return tensor.Hash32(x + uint32(k)*40503)
}
