package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
	"github.com/hutml/hut/internal/progress"
)

func init() {
	register("train", "fine-tune a model with HUT, HiRA, LoRA or full fine-tuning", runTrain)
}

// trainFlags are the flags of `hut train`.
type trainFlags struct {
	model, data, out, metrics, task string
	peft                            peftFlags
	lr, wd, clip, smoothing         float64
	steps, batch, seq, accum        int
	warmup, ckEvery, evalEvery      int
	seed                            uint64
	threads                         int
	resume, quiet                   bool
	schedule                        string
	evalFrac                        float64
	maxExamples                     int
}

func runTrain(args []string, stdout, stderr io.Writer) error {
	if ok, err := runTrainGLUE(args, stdout, stderr); ok {
		return err
	}
	if ok, err := runTrainMLM(args, stdout, stderr); ok {
		return err
	}
	var f trainFlags
	fs := newFlagSet("train", "[flags]", stderr)
	fs.StringVar(&f.model, "model", defaultGPT2, "GPT-2 checkpoint directory (config.json + model.safetensors) or a model name under ./models")
	fs.StringVar(&f.data, "data", "", "training data: a .txt corpus or a .jsonl file of {\"prompt\",\"completion\"} lines; empty: the task's data")
	fs.StringVar(&f.task, "task", "e2e", "built-in data when --data is empty: e2e (data-to-text, the paper's GPT-2 task) or shakespeare")
	f.peft.register(fs)
	fs.Float64Var(&f.lr, "lr", 0, "peak learning rate (0: the method's default: hut 3e-3, lora/hira 1e-3, full 2e-4)")
	fs.IntVar(&f.steps, "steps", 200, "optimizer steps")
	fs.IntVar(&f.batch, "batch", 8, "sequences per micro-batch")
	fs.IntVar(&f.seq, "seq", 64, "tokens per sequence")
	fs.IntVar(&f.accum, "grad-accum", 1, "micro-batches per optimizer step")
	fs.IntVar(&f.warmup, "warmup", 20, "learning-rate warm-up steps")
	fs.StringVar(&f.schedule, "schedule", "linear", "learning-rate decay: linear, cosine or constant")
	fs.Float64Var(&f.wd, "weight-decay", 0.01, "AdamW weight decay")
	fs.Float64Var(&f.clip, "clip", 1.0, "gradient clipping norm (0: off)")
	fs.Float64Var(&f.smoothing, "label-smoothing", 0, "label smoothing ε")
	fs.Uint64Var(&f.seed, "seed", 42, "seed of initialisation, data order and dropout")
	fs.StringVar(&f.out, "out", "", "output directory for checkpoints, the final adapter and metrics (default out/<method>)")
	fs.StringVar(&f.metrics, "metrics", "", "JSON-lines metrics log (default <out>/metrics.jsonl)")
	fs.IntVar(&f.ckEvery, "checkpoint-every", 50, "checkpoint interval in steps (0: only at the end)")
	fs.IntVar(&f.evalEvery, "eval-every", 50, "validation interval in steps (0: only at the end)")
	fs.Float64Var(&f.evalFrac, "eval-fraction", 0.05, "share of a .txt/.jsonl file held out for validation")
	fs.IntVar(&f.maxExamples, "max-examples", 0, "use at most this many training examples (0: all)")
	fs.BoolVar(&f.resume, "resume", false, "continue from the newest checkpoint in --out")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if err := setThreads(f.threads); err != nil {
		return err
	}
	if f.lr == 0 {
		f.lr = defaultLR(f.peft.method)
	}
	if f.lr < 0 {
		return usagef("--lr %v: the learning rate must be positive", f.lr)
	}
	if f.batch <= 0 || f.seq <= 0 {
		return usagef("--batch %d --seq %d: both must be positive", f.batch, f.seq)
	}
	if f.evalFrac < 0 || f.evalFrac >= 1 {
		return usagef("--eval-fraction %v: must be in [0, 1)", f.evalFrac)
	}
	pc, err := f.peft.config(f.seed)
	if err != nil {
		return err
	}
	if f.out == "" {
		f.out = filepath.Join("out", pc.Method)
	}
	m, dir, err := loadGPT2(f.model)
	if err != nil {
		return err
	}
	if f.seq > m.Cfg.NPositions {
		return usagef("--seq %d exceeds the model's n_positions = %d", f.seq, m.Cfg.NPositions)
	}
	tok, err := modelTokenizer(dir, "gpt2")
	if err != nil {
		return err
	}
	trainEx, evalEx, desc, err := lmData(f.data, f.task, tok, f.seq, f.evalFrac)
	if err != nil {
		return err
	}
	if f.maxExamples > 0 && len(trainEx) > f.maxExamples {
		trainEx = trainEx[:f.maxExamples]
	}
	if err := m.Attach(pc); err != nil {
		return fmt.Errorf("--method %s: %w", pc.Method, err)
	}
	tr, all := m.CountParams()
	fmt.Fprintf(stdout, "model %s: %d layers, width %d, %s parameters\n", dir, m.Cfg.NLayer, m.Cfg.NEmbd, peft.FormatCount(m.NumParams()))
	fmt.Fprintf(stdout, "method %s (r=%d, targets %s)\n", pc.Method, pc.R, strings.Join(pc.Targets, ","))
	fmt.Fprintln(stdout, peft.TrainableSummary(tr, all))
	fmt.Fprintf(stdout, "data %s: %d training sequences, %d validation sequences\n", desc, len(trainEx), len(evalEx))

	eos := int32(tok.EOS())
	batcher := &train.LMBatcher{Examples: trainEx, B: f.batch, T: f.seq, Accum: f.accum, Seed: f.seed, Pad: eos, Shuffle: true}
	if err := batcher.Validate(); err != nil {
		return err
	}
	evalBatches := train.EvalBatches(evalEx, f.batch, f.seq, eos)
	job := m.Job(batcher, float32(f.smoothing), evalBatches, dir)
	job.Describe = map[string]any{"model": dir, "method": pc.Method, "r": pc.R, "targets": pc.Targets, "data": desc,
		"batch": f.batch, "seq": f.seq, "examples": len(trainEx)}
	cfg := train.Config{Steps: f.steps, GradAccum: f.accum, LR: float32(f.lr), Warmup: f.warmup, Schedule: f.schedule,
		WeightDecay: float32(f.wd), ClipNorm: float32(f.clip), Seed: f.seed,
		CheckpointDir: f.out, CheckpointEvery: f.ckEvery, EvalEvery: f.evalEvery, Keep: 2}
	if len(evalBatches) > 0 && cfg.EvalEvery == 0 {
		cfg.EvalEvery = f.steps
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if f.metrics == "" {
		f.metrics = filepath.Join(f.out, "metrics.jsonl")
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if f.resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	mf, err := os.OpenFile(f.metrics, flags, 0o644)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	defer mf.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var bar *progress.Bar
	if !f.quiet {
		bar = progress.New(stderr, "train", int64(f.steps))
	}
	var first float64
	firstSet := false
	logEvery := max(1, f.steps/10)
	opt := train.Options{Resume: f.resume, Metrics: mf,
		Logf: func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) },
		OnStep: func(s train.StepInfo) {
			if !firstSet {
				first, firstSet = s.Loss, true
			}
			bar.Set(int64(s.Step), fmt.Sprintf("loss %.4f  %.0f tok/s", s.Loss, s.TokPerSec))
			if s.Step%logEvery == 0 || s.Step == f.steps || s.Eval != nil {
				line := fmt.Sprintf("step %4d/%d  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s", s.Step, f.steps, s.Loss, s.LR, s.GradNorm, s.TokPerSec)
				if v, ok := s.Eval["eval_loss"]; ok {
					line += fmt.Sprintf("  eval-loss %.4f", v)
				}
				bar.Clear()
				fmt.Fprintln(stdout, line)
			}
		}}
	start := time.Now()
	res, err := train.Run(ctx, cfg, job, opt)
	bar.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) && res != nil && res.LastCheckpoint != "" {
			return fmt.Errorf("%w (checkpoint saved: %s; continue with --resume)", err, res.LastCheckpoint)
		}
		return err
	}
	final := filepath.Join(f.out, "adapter")
	if pc.Method == "full" {
		final = filepath.Join(f.out, "model")
	}
	if err := m.SaveAdapter(final, dir); err != nil {
		return err
	}
	if err := copyTokenizerFiles(dir, final); err != nil && pc.Method == "full" {
		return err
	}
	if firstSet {
		fmt.Fprintf(stdout, "loss %.4f → %.4f in %d steps (%s)\n", first, res.FinalLoss, res.Steps-res.StartStep, progress.FormatDuration(time.Since(start)))
	}
	if v, ok := res.Eval["eval_loss"]; ok {
		fmt.Fprintf(stdout, "validation loss %.4f\n", v)
	}
	fmt.Fprintf(stdout, "saved %s (metrics: %s)\n", final, f.metrics)
	return nil
}

// copyTokenizerFiles copies the tokenizer files of a model directory to a
// full-model output so that it is a complete checkpoint.
func copyTokenizerFiles(from, to string) error {
	for _, n := range []string{"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		b, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(to, n), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// lmData builds training and validation examples for a causal LM.
func lmData(path, task string, tok *tokenizer.Tokenizer, T int, evalFrac float64) (trainEx, evalEx []train.LMExample, desc string, err error) {
	eos := int32(tok.EOS())
	if path == "" {
		return builtinLMData(task, tok, T)
	}
	switch {
	case strings.HasSuffix(path, ".jsonl"):
		exs, err := readJSONL(path, tok, eos, T)
		if err != nil {
			return nil, nil, "", err
		}
		n := int(float64(len(exs)) * evalFrac)
		if len(exs)-n < 1 {
			return nil, nil, "", fmt.Errorf("--data %s: %d examples are too few", path, len(exs))
		}
		return exs[:len(exs)-n], exs[len(exs)-n:], path, nil
	default:
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, "", fmt.Errorf("--data: %w", err)
		}
		ids := toInt32(tok.Encode(string(b)))
		cut := len(ids) - int(float64(len(ids))*evalFrac)
		trainEx = train.ChunkCorpus(ids[:cut], T)
		if cut < len(ids) {
			evalEx = train.ChunkCorpus(ids[cut:], T)
		}
		if len(trainEx) == 0 {
			return nil, nil, "", fmt.Errorf("--data %s: the text is too short for one sequence", path)
		}
		return trainEx, evalEx, path, nil
	}
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, v := range ids {
		out[i] = int32(v)
	}
	return out
}

// readJSONL reads {"prompt": …, "completion": …} lines.
func readJSONL(path string, tok *tokenizer.Tokenizer, eos int32, T int) ([]train.LMExample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []train.LMExample
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		var rec struct {
			Prompt     *string `json:"prompt"`
			Completion *string `json:"completion"`
		}
		if err := json.Unmarshal([]byte(s), &rec); err != nil {
			return nil, fmt.Errorf("%s:%d: not a JSON object: %v", path, line, err)
		}
		if rec.Prompt == nil || rec.Completion == nil {
			return nil, fmt.Errorf("%s:%d: want {\"prompt\": …, \"completion\": …}", path, line)
		}
		out = append(out, train.PromptCompletion(toInt32(tok.Encode(*rec.Prompt)), toInt32(tok.Encode(*rec.Completion)), eos, T))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", path, line, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no examples", path)
	}
	return out, nil
}
