package main

// RoBERTa in the CLI: GLUE fine-tuning with the HUT family (`hut train
// --task sst2 --method hut,lora,hira,full`), GLUE evaluation (`hut eval
// --task sst2`), masked-LM pre-training (`hut train --task mlm`) and
// `hut forward` on RoBERTa checkpoints. train.go, eval.go and forward.go
// call the run*GLUE / run*RoBERTa functions first; each returns
// handled=false when the arguments are not for it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
	datasets "github.com/hutml/hut/data"
	"github.com/hutml/hut/internal/atomicfile"
	"github.com/hutml/hut/internal/progress"
)

// defaultRoBERTa is the model GLUE jobs use when --model is not given.
const defaultRoBERTa = "tiny-roberta"

// glueTaskNames are the --task values that select the GLUE path.
var glueTaskNames = []string{"cola", "sst2", "mrpc", "stsb", "rte", "wnli", "mnli", "qnli", "qqp"}

// argValue returns the value of flag name in args ("--name v", "-name v",
// "--name=v"), without parsing the other flags.
func argValue(args []string, name string) (string, bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		for _, p := range []string{"--" + name, "-" + name} {
			if a == p && i+1 < len(args) {
				return args[i+1], true
			}
			if strings.HasPrefix(a, p+"=") {
				return a[len(p)+1:], true
			}
		}
	}
	return "", false
}

// glueTaskArg returns the GLUE task that --task selects, if any.
func glueTaskArg(args []string) (string, bool) {
	v, ok := argValue(args, "task")
	if !ok {
		return "", false
	}
	key := strings.ToLower(strings.ReplaceAll(v, "-", ""))
	for _, n := range glueTaskNames {
		if key == n {
			return n, true
		}
	}
	return "", false
}

// glueDefaultLR is the peak learning rate per method for RoBERTa GLUE
// fine-tuning unless --lr is given (the classifier, trained in full by
// every method, uses the same rate). With Adam each of HUT's r copies moves
// by about one learning-rate step, so HUT's scales a and b move by about
// r·lr per step: at r = 8, 2e-3 learned SST-2 on the tiny models here,
// while 5e-3 and 1e-2 sometimes collapsed to the majority class. Full
// fine-tuning uses train.go's GPT-2 default.
func glueDefaultLR(method string) float64 {
	switch method {
	case "hut":
		return 2e-3
	case "lora", "hira":
		return 1e-3
	}
	return 2e-4
}

// glueFlags are the flags of `hut train --task <glue task>`.
type glueFlags struct {
	model, task, methods, targets, out, metrics, glueDir, schedule string
	r                                                              int
	alpha, dropout, noise                                          float64
	lr, wd, clip                                                   float64
	steps, batch, maxLen, accum, warmup, ckEvery, evalEvery        int
	evalExamples, maxExamples, evalBatch, bucket, threads          int
	warmupRatio                                                    float64
	seed                                                           uint64
	resume, quiet                                                  bool
}

func (f *glueFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.model, "model", defaultRoBERTa, "RoBERTa checkpoint directory (a RobertaForMaskedLM/RobertaModel/RobertaForSequenceClassification checkpoint) or a name under ./models")
	fs.StringVar(&f.task, "task", "sst2", "GLUE task: "+strings.Join(glueTaskNames, ", "))
	fs.StringVar(&f.methods, "method", "hut", "fine-tuning method, or a comma-separated list run one after the other for a side-by-side table (hut,lora,hira,full)")
	fs.IntVar(&f.r, "r", 0, "rank (0: the method's default, 8)")
	fs.Float64Var(&f.alpha, "alpha", 0, "LoRA alpha (0: 2·r)")
	fs.Float64Var(&f.dropout, "adapter-dropout", 0, "dropout on the adapter branch input (LoRA, HiRA)")
	fs.Float64Var(&f.noise, "init-noise", 0, "HUT: std of zero-sum noise added to M_A and M_B at init")
	fs.StringVar(&f.targets, "targets", "", "comma-separated target modules (query, key, value, attention.output.dense, intermediate.dense, output.dense, all-linear); empty: per method, LoRA/HiRA query,value, HUT all-linear")
	fs.Float64Var(&f.lr, "lr", 0, "peak learning rate (0: per method: hut 2e-3, lora/hira 1e-3, full 2e-4)")
	fs.IntVar(&f.steps, "steps", 300, "optimizer steps per method")
	fs.IntVar(&f.batch, "batch", 32, "examples per micro-batch")
	fs.IntVar(&f.maxLen, "max-len", 0, "maximum tokens per example, special tokens included (longer pairs are truncated longest-first); 0: 128 or the model's limit")
	fs.IntVar(&f.maxLen, "seq", 0, "alias of --max-len")
	fs.IntVar(&f.accum, "grad-accum", 1, "micro-batches per optimizer step")
	fs.IntVar(&f.warmup, "warmup", -1, "learning-rate warm-up steps (-1: --warmup-ratio of the steps)")
	fs.Float64Var(&f.warmupRatio, "warmup-ratio", 0.06, "warm-up as a share of the steps when --warmup is -1 (RoBERTa's GLUE recipe: 6%)")
	fs.StringVar(&f.schedule, "schedule", "linear", "learning-rate decay: linear, cosine or constant")
	fs.Float64Var(&f.wd, "weight-decay", 0.01, "AdamW weight decay")
	fs.Float64Var(&f.clip, "clip", 1.0, "gradient clipping norm (0: off)")
	fs.Uint64Var(&f.seed, "seed", 42, "seed of initialisation, data order and dropout (the same for every method)")
	fs.StringVar(&f.out, "out", "", "output directory (default out/glue-<task>); each method writes <out>/<method>/")
	fs.StringVar(&f.metrics, "metrics", "", "JSON-lines metrics log of a single-method run (default <out>/<method>/metrics.jsonl)")
	fs.IntVar(&f.ckEvery, "checkpoint-every", 100, "checkpoint interval in steps (0: only at the end)")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "dev evaluation interval in steps (0: 4 times per run)")
	fs.IntVar(&f.evalExamples, "eval-examples", 0, "dev examples scored at the periodic evaluations (0: all; the final score always uses the whole dev set)")
	fs.IntVar(&f.maxExamples, "max-examples", 0, "use at most this many training examples (0: all)")
	fs.IntVar(&f.evalBatch, "eval-batch", 64, "examples per evaluation batch")
	fs.IntVar(&f.bucket, "bucket", 50, "batches per length-sorting window (1: no sorting)")
	fs.StringVar(&f.glueDir, "glue-dir", "", "directory with GLUE's TSV files (<dir>/<TASK>/train.tsv or <dir>/train.tsv); empty: the embedded copies (CoLA, SST-2, MRPC, STS-B, RTE, WNLI)")
	fs.BoolVar(&f.resume, "resume", false, "continue from the newest checkpoint of each method under --out")
	fs.IntVar(&f.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
}

// peftConfig builds the method's configuration.
func (f *glueFlags) peftConfig(method string) (*peft.Config, error) {
	if _, err := peft.Lookup(method); err != nil {
		return nil, usagef("--method: %v", err)
	}
	if f.r < 0 {
		return nil, usagef("--r %d: the rank must be a positive integer", f.r)
	}
	if f.dropout < 0 || f.dropout >= 1 {
		return nil, usagef("--adapter-dropout %v: must be in [0, 1)", f.dropout)
	}
	cfg := &peft.Config{Method: method, R: f.r, Alpha: float32(f.alpha), Dropout: float32(f.dropout), InitNoise: float32(f.noise), Seed: f.seed}
	for _, t := range strings.Split(f.targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	return cfg, nil
}

// glueData reads the train and dev splits of a task: from --glue-dir, or
// the embedded copies.
func glueData(task *data.Task, dir string) (trainRows, devRows []data.Example, desc string, err error) {
	devName := "dev"
	if _, ok := task.Files["dev"]; !ok {
		devName = "dev_matched"
	}
	read := func(split string) ([]data.Example, string, error) {
		file := task.Files[split]
		if dir == "" {
			if !task.Embedded {
				return nil, "", usagef("--task %s: GLUE's %s data is not embedded; download it and pass --glue-dir DIR", task.Name, task.GLUEName)
			}
			name := "glue/" + task.Name + "/" + file
			b, err := datasets.ReadFile(name)
			if err != nil {
				return nil, "", err
			}
			rows, err := data.ReadGLUE(task, bytes.NewReader(b), name)
			return rows, name, err
		}
		path := filepath.Join(dir, task.GLUEName, file)
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(dir, file)
		}
		fh, err := os.Open(path)
		if err != nil {
			return nil, "", fmt.Errorf("--glue-dir: %w", err)
		}
		defer fh.Close()
		rows, err := data.ReadGLUE(task, fh, path)
		return rows, path, err
	}
	trainRows, tn, err := read("train")
	if err != nil {
		return nil, nil, "", err
	}
	devRows, dn, err := read(devName)
	if err != nil {
		return nil, nil, "", err
	}
	return trainRows, devRows, tn + " + " + dn, nil
}

// glueRow is one line of the side-by-side table.
type glueRow struct {
	Method    string             `json:"method"`
	Trainable int                `json:"trainable_params"`
	Metrics   map[string]float64 `json:"metrics"`
	EvalLoss  float64            `json:"eval_loss"`
	SecPerStp float64            `json:"s_per_step"`
	PeakRSS   int64              `json:"peak_rss_bytes"`
	Steps     int                `json:"steps"`
	Minutes   float64            `json:"wall_minutes"`
	Saved     string             `json:"saved"`
}

func runTrainGLUE(args []string, stdout, stderr io.Writer) (bool, error) {
	if _, ok := glueTaskArg(args); !ok {
		return false, nil
	}
	var f glueFlags
	fs := newFlagSet("train", "--task "+strings.Join(glueTaskNames, "|")+" [--method hut,lora,hira,full] [flags]", stderr)
	f.register(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return true, err
	}
	if err := setThreads(f.threads); err != nil {
		return true, err
	}
	task, err := data.LookupTask(f.task)
	if err != nil {
		return true, usagef("--task: %v", err)
	}
	switch {
	case f.batch <= 0 || f.maxLen < 0 || f.accum <= 0:
		return true, usagef("--batch %d --max-len %d --grad-accum %d: all must be positive", f.batch, f.maxLen, f.accum)
	case f.steps <= 0:
		return true, usagef("--steps %d: must be positive", f.steps)
	case f.lr < 0:
		return true, usagef("--lr %v: the learning rate must be positive", f.lr)
	case f.warmupRatio < 0 || f.warmupRatio >= 1:
		return true, usagef("--warmup-ratio %v: must be in [0, 1)", f.warmupRatio)
	case f.evalBatch <= 0 || f.bucket <= 0:
		return true, usagef("--eval-batch %d --bucket %d: both must be positive", f.evalBatch, f.bucket)
	case f.evalExamples < 0 || f.maxExamples < 0 || f.evalEvery < 0:
		return true, usagef("--eval-examples, --max-examples and --eval-every must be ≥ 0")
	}
	var methods []string
	for _, m := range strings.Split(f.methods, ",") {
		if m = strings.ToLower(strings.TrimSpace(m)); m != "" {
			if _, err := peft.Lookup(m); err != nil || m == "none" {
				return true, usagef("--method %q: want hut, lora, hira or full", m)
			}
			methods = append(methods, m)
		}
	}
	if len(methods) == 0 {
		return true, usagef("--method: no method given")
	}
	if f.metrics != "" && len(methods) > 1 {
		return true, usagef("--metrics names one file; with several methods each writes <out>/<method>/metrics.jsonl")
	}
	dir, err := resolveModel(f.model)
	if err != nil {
		return true, fmt.Errorf("--model: %w (pre-train one with `hut train --task mlm`)", err)
	}
	cfg, err := roberta.ReadConfig(dir)
	if err != nil {
		return true, err
	}
	if f.maxLen == 0 {
		f.maxLen = min(128, cfg.MaxSeqLen())
	}
	if f.maxLen > cfg.MaxSeqLen() {
		return true, usagef("--max-len %d exceeds the model's %d positions", f.maxLen, cfg.MaxSeqLen())
	}
	tok, err := modelTokenizer(dir, "roberta")
	if err != nil {
		return true, err
	}
	trainRows, devRows, desc, err := glueData(task, f.glueDir)
	if err != nil {
		return true, err
	}
	trainEx, cutT, err := roberta.EncodeGLUE(tok, task, trainRows, f.maxLen)
	if err != nil {
		return true, err
	}
	devEx, cutD, err := roberta.EncodeGLUE(tok, task, devRows, f.maxLen)
	if err != nil {
		return true, err
	}
	if f.maxExamples > 0 && len(trainEx) > f.maxExamples {
		trainEx = trainEx[:f.maxExamples]
	}
	evalEx := devEx
	if f.evalExamples > 0 && len(evalEx) > f.evalExamples {
		evalEx = evalEx[:f.evalExamples]
	}
	if f.out == "" {
		f.out = filepath.Join("out", "glue-"+task.Name)
	}
	fmt.Fprintf(stdout, "GLUE %s: %s\n", task.GLUEName, desc)
	fmt.Fprintf(stdout, "  %d training examples (%d truncated to %d tokens), %d dev examples (%d truncated); metric %s\n",
		len(trainEx), cutT, f.maxLen, len(devEx), cutD, strings.Join(task.Metrics, ", "))
	gold := roberta.Gold(task, devEx)
	maj, err := roberta.GLUEScores(task, roberta.Majority(task, trainEx, len(devEx)), gold)
	if err != nil {
		return true, err
	}
	fmt.Fprintf(stdout, "  majority-class baseline on dev: %s\n", formatScores(task, maj))
	fmt.Fprintf(stdout, "model %s: %d layers, width %d, %d heads, vocabulary %d\n", dir, cfg.NumHiddenLayers, cfg.HiddenSize, cfg.NumAttentionHeads, cfg.VocabSize)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var rows []glueRow
	for _, method := range methods {
		row, err := trainGLUEMethod(ctx, &f, method, dir, task, trainEx, devEx, evalEx, stdout, stderr)
		if err != nil {
			return true, fmt.Errorf("--method %s: %w", method, err)
		}
		rows = append(rows, row)
	}
	table := glueTable(task, maj, rows, &f, dir, len(devEx))
	fmt.Fprint(stdout, "\n"+table)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return true, err
	}
	res := map[string]any{"task": task.Name, "model": dir, "steps": f.steps, "batch": f.batch, "seed": f.seed,
		"max_len": f.maxLen, "dev_examples": len(devEx), "majority": finiteScores(maj), "runs": rows, "rss": rssSource()}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := atomicfile.WriteBytes(filepath.Join(f.out, "results.json"), append(b, '\n')); err != nil {
		return true, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(f.out, "results.md"), []byte(table)); err != nil {
		return true, err
	}
	fmt.Fprintf(stdout, "results: %s, %s\n", filepath.Join(f.out, "results.md"), filepath.Join(f.out, "results.json"))
	return true, nil
}

// trainGLUEMethod fine-tunes one method and scores it on the whole dev set.
func trainGLUEMethod(ctx context.Context, f *glueFlags, method, dir string, task *data.Task, trainEx, devEx, evalEx []roberta.GLUEExample, stdout, stderr io.Writer) (glueRow, error) {
	row := glueRow{Method: method}
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	m, err := roberta.Load(cpu.New(), dir, roberta.HeadClassifier, roberta.LoadOptions{
		NumLabels: task.NumLabels(), Labels: task.Labels, Regression: task.Regression, Seed: f.seed})
	if err != nil {
		return row, err
	}
	pc, err := f.peftConfig(method)
	if err != nil {
		return row, err
	}
	if err := m.Attach(pc); err != nil {
		return row, err
	}
	lr := f.lr
	if lr == 0 {
		lr = glueDefaultLR(method)
	}
	tr, all := m.CountParams()
	row.Trainable = tr
	fmt.Fprintf(stdout, "\n== %s (r=%d, targets %s, lr %.0e) ==\n", method, pc.R, strings.Join(pc.Targets, ","), lr)
	for _, n := range m.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	fmt.Fprintln(stdout, peft.TrainableSummary(tr, all)+" (the classifier is trained in full)")
	out := filepath.Join(f.out, method)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return row, err
	}
	batcher := &roberta.GLUEBatcher{Examples: trainEx, B: f.batch, Accum: f.accum, Seed: f.seed,
		Pad: int32(m.Cfg.PadTokenID), Regression: task.Regression, Bucket: f.bucket}
	if err := batcher.Validate(); err != nil {
		return row, err
	}
	fmt.Fprintf(stdout, "batches: %d per epoch, %.0f%% padding with length bucketing\n", batcher.BatchesPerEpoch(), 100*batcher.PaddingRatio())
	job := m.GLUEJob(task, batcher, evalEx, f.evalBatch, dir)
	var evalTime time.Duration
	if inner := job.Eval; inner != nil {
		job.Eval = func() (map[string]float64, error) {
			t0 := time.Now()
			defer func() { evalTime += time.Since(t0) }()
			return inner()
		}
	}
	job.Describe = map[string]any{"model": dir, "task": task.Name, "method": method, "r": pc.R, "targets": pc.Targets,
		"batch": f.batch, "max_len": f.maxLen, "examples": len(trainEx)}
	warmup := f.warmup
	if warmup < 0 {
		warmup = int(math.Round(f.warmupRatio * float64(f.steps)))
	}
	evalEvery := f.evalEvery
	if evalEvery == 0 {
		evalEvery = max(1, f.steps/4)
	}
	cfg := train.Config{Steps: f.steps, GradAccum: f.accum, LR: float32(lr), Warmup: warmup, Schedule: f.schedule,
		WeightDecay: float32(f.wd), ClipNorm: float32(f.clip), Seed: f.seed,
		CheckpointDir: out, CheckpointEvery: f.ckEvery, EvalEvery: evalEvery, Keep: 2}
	metricsPath := f.metrics
	if metricsPath == "" {
		metricsPath = filepath.Join(out, "metrics.jsonl")
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if f.resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	mf, err := os.OpenFile(metricsPath, flags, 0o644)
	if err != nil {
		return row, fmt.Errorf("--metrics: %w", err)
	}
	defer mf.Close()
	var bar *progress.Bar
	if !f.quiet {
		bar = progress.New(stderr, method, int64(f.steps))
	}
	main := roberta.MainMetric(task)
	logEvery := max(1, f.steps/10)
	opt := train.Options{Resume: f.resume, Metrics: mf,
		Logf: func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) },
		OnStep: func(s train.StepInfo) {
			bar.Set(int64(s.Step), fmt.Sprintf("loss %.4f", s.Loss))
			if s.Step%logEvery == 0 || s.Step == f.steps || s.Eval != nil {
				line := fmt.Sprintf("step %4d/%d  loss %.4f  lr %.2e  grad-norm %.3f", s.Step, f.steps, s.Loss, s.LR, s.GradNorm)
				if v, ok := s.Eval["eval_"+main]; ok {
					line += fmt.Sprintf("  dev %s %.4f  dev loss %.4f", main, v, s.Eval["eval_loss"])
				}
				if bar != nil {
					fmt.Fprint(stderr, "\r\x1b[K")
				}
				fmt.Fprintln(stdout, line)
			}
		}}
	start := time.Now()
	res, err := train.Run(ctx, cfg, job, opt)
	bar.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) && res != nil && res.LastCheckpoint != "" {
			return row, fmt.Errorf("%w (checkpoint saved: %s; continue with --resume)", err, res.LastCheckpoint)
		}
		return row, err
	}
	wall := time.Since(start)
	row.Steps = max(0, res.Steps-res.StartStep) // 0 when --resume finds the run finished
	if row.Steps > 0 {
		row.SecPerStp = (wall - evalTime).Seconds() / float64(row.Steps)
	}
	row.Minutes = wall.Minutes()
	final := filepath.Join(out, "adapter")
	if method == "full" {
		final = filepath.Join(out, "model")
	}
	if err := m.SaveAdapter(final, dir); err != nil {
		return row, err
	}
	_ = copyTokenizerFiles(dir, final)
	row.Saved = final
	pred, loss, err := m.PredictGLUE(devEx, f.evalBatch)
	if err != nil {
		return row, err
	}
	row.EvalLoss = loss
	sc, err := roberta.GLUEScores(task, pred, roberta.Gold(task, devEx))
	if err != nil {
		return row, err
	}
	row.Metrics = finiteScores(sc)
	row.PeakRSS = peakRSS()
	fmt.Fprintf(stdout, "%s: dev %s (loss %.4f) after %d steps in %s; saved %s\n", method, formatScores(task, sc), loss, row.Steps, progress.FormatDuration(wall), final)
	return row, nil
}

// finiteScores drops undefined metrics (NaN cannot be written as JSON).
func finiteScores(sc map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range sc {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out[k] = v
		}
	}
	return out
}

// formatScores prints a task's metrics in GLUE's order, as percentages.
func formatScores(task *data.Task, sc map[string]float64) string {
	var parts []string
	for _, k := range task.Metrics {
		v, ok := sc[k]
		if !ok || math.IsNaN(v) {
			parts = append(parts, k+" n/a")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", k, 100*v))
	}
	return strings.Join(parts, ", ")
}

// glueTable renders the side-by-side results as a Markdown table.
func glueTable(task *data.Task, maj map[string]float64, rows []glueRow, f *glueFlags, dir string, nDev int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "GLUE %s dev (%d examples), model %s, %d steps × batch %d, seed %d\n\n", task.GLUEName, nDev, dir, f.steps, f.batch*f.accum, f.seed)
	head := "| method | trainable params |"
	sep := "|---|---:|"
	for _, k := range task.Metrics {
		head += " " + k + " |"
		sep += "---:|"
	}
	head += " dev loss | s/step | peak RSS |"
	sep += "---:|---:|---:|"
	fmt.Fprintln(&b, head)
	fmt.Fprintln(&b, sep)
	cell := func(sc map[string]float64, k string) string {
		v, ok := sc[k]
		if !ok || math.IsNaN(v) {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", 100*v)
	}
	line := "| majority class | 0 |"
	for _, k := range task.Metrics {
		line += " " + cell(maj, k) + " |"
	}
	fmt.Fprintln(&b, line+" – | – | – |")
	for _, r := range rows {
		line := fmt.Sprintf("| %s | %s |", r.Method, peft.FormatCount(r.Trainable))
		for _, k := range task.Metrics {
			line += " " + cell(r.Metrics, k) + " |"
		}
		rss := "n/a"
		if r.PeakRSS > 0 {
			rss = fmt.Sprintf("%.0f MiB", float64(r.PeakRSS)/(1<<20))
		}
		fmt.Fprintln(&b, line+fmt.Sprintf(" %.4f | %.3f | %s |", r.EvalLoss, r.SecPerStp, rss))
	}
	fmt.Fprintf(&b, "\nmetrics in %%; s/step excludes evaluation; peak RSS: %s\n", rssSource())
	return b.String()
}

// ---- peak memory ----

var rssReset = false

// resetPeakRSS resets the kernel's peak-RSS counter of this process
// (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0) so that each method of
// a side-by-side run gets its own peak.
func resetPeakRSS() {
	rssReset = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns VmHWM from /proc/self/status in bytes (0 where there is
// none).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

func rssSource() string {
	if rssReset {
		return "VmHWM of /proc/self/status, reset per method via /proc/self/clear_refs (the whole process: model, data, Go heap)"
	}
	return "VmHWM of /proc/self/status (process peak; could not be reset between methods)"
}

// ---- loading ----

// loadRoBERTaFor loads a RoBERTa checkpoint with the head a job needs and,
// if adapter is set, applies the adapter (whose classifier, saved as
// modules_to_save, replaces the head).
func loadRoBERTaFor(dir, adapter string, head roberta.Head, opt roberta.LoadOptions) (*roberta.Model, error) {
	if adapter != "" {
		n, err := roberta.AdapterClassifier(adapter)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			head = roberta.HeadClassifier
			if opt.NumLabels == 0 && !opt.Regression {
				opt.NumLabels, opt.Regression = n, n == 1
			}
		}
	}
	m, err := roberta.Load(cpu.New(), dir, head, opt)
	if err != nil {
		return nil, err
	}
	if adapter != "" {
		if err := m.LoadAdapter(adapter); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ---- eval ----

func runEvalGLUE(args []string, stdout, stderr io.Writer) (bool, error) {
	if _, ok := glueTaskArg(args); !ok {
		return false, nil
	}
	fs := newFlagSet("eval", "--task "+strings.Join(glueTaskNames, "|")+" --model DIR [--adapter DIR]", stderr)
	model := fs.String("model", defaultRoBERTa, "RoBERTa checkpoint directory (a fine-tuned RobertaForSequenceClassification, or the base of --adapter)")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory (with the classifier as modules_to_save)")
	taskName := fs.String("task", "sst2", "GLUE task: "+strings.Join(glueTaskNames, ", "))
	split := fs.String("split", "dev", "split to score: dev (dev_matched for MNLI), dev_mismatched or train")
	maxLen := fs.Int("max-len", 0, "maximum tokens per example (use the training value; 0: 128 or the model's limit)")
	fs.IntVar(maxLen, "seq", 0, "alias of --max-len")
	batch := fs.Int("batch", 64, "examples per batch")
	maxEx := fs.Int("max-examples", 0, "score at most this many examples (0: all)")
	glueDir := fs.String("glue-dir", "", "directory with GLUE's TSV files; empty: the embedded copies")
	predPath := fs.String("predictions", "", "write the predictions to this file (GLUE's submission format: index<TAB>prediction)")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	if err := parseFlagsOnly(fs, args); err != nil {
		return true, err
	}
	if err := setThreads(*threads); err != nil {
		return true, err
	}
	if *batch <= 0 || *maxLen < 0 || *maxEx < 0 {
		return true, usagef("--batch must be positive, --max-len and --max-examples ≥ 0")
	}
	task, err := data.LookupTask(*taskName)
	if err != nil {
		return true, usagef("--task: %v", err)
	}
	dir, err := resolveModel(*model)
	if err != nil {
		return true, err
	}
	m, err := loadRoBERTaFor(dir, *adapter, roberta.HeadClassifier, roberta.LoadOptions{
		NumLabels: task.NumLabels(), Labels: task.Labels, Regression: task.Regression})
	if err != nil {
		return true, err
	}
	if m.Head != roberta.HeadClassifier {
		return true, fmt.Errorf("model %s has no classifier", dir)
	}
	if m.Cfg.NumLabels != task.NumLabels() {
		return true, fmt.Errorf("the classifier has %d outputs, GLUE %s needs %d", m.Cfg.NumLabels, task.Name, task.NumLabels())
	}
	for _, n := range m.Notes {
		if strings.Contains(n, "randomly") {
			fmt.Fprintf(stderr, "warning: %s (pass a fine-tuned model or --adapter)\n", n)
		}
	}
	if *maxLen == 0 {
		*maxLen = min(128, m.Cfg.MaxSeqLen())
	}
	if *maxLen > m.Cfg.MaxSeqLen() {
		return true, usagef("--max-len %d exceeds the model's %d positions", *maxLen, m.Cfg.MaxSeqLen())
	}
	tok, err := modelTokenizer(dir, "roberta")
	if err != nil {
		return true, err
	}
	trainRows, devRows, desc, err := glueData(task, *glueDir)
	if err != nil {
		return true, err
	}
	rows := devRows
	switch *split {
	case "dev", "dev_matched":
	case "train":
		rows = trainRows
	case "dev_mismatched":
		if _, ok := task.Files["dev_mismatched"]; !ok || *glueDir == "" {
			return true, usagef("--split dev_mismatched: only MNLI has it (with --glue-dir)")
		}
		p := filepath.Join(*glueDir, task.GLUEName, task.Files["dev_mismatched"])
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join(*glueDir, task.Files["dev_mismatched"])
		}
		fh, err := os.Open(p)
		if err != nil {
			return true, fmt.Errorf("--glue-dir: %w", err)
		}
		rows, err = data.ReadGLUE(task, fh, p)
		fh.Close()
		if err != nil {
			return true, err
		}
	default:
		return true, usagef("--split %q: want dev, dev_mismatched or train", *split)
	}
	if *maxEx > 0 && len(rows) > *maxEx {
		rows = rows[:*maxEx]
	}
	exs, cut, err := roberta.EncodeGLUE(tok, task, rows, *maxLen)
	if err != nil {
		return true, err
	}
	trainEx, _, err := roberta.EncodeGLUE(tok, task, trainRows, *maxLen)
	if err != nil {
		return true, err
	}
	pred, loss, err := m.PredictGLUE(exs, *batch)
	if err != nil {
		return true, err
	}
	gold := roberta.Gold(task, exs)
	sc, err := roberta.GLUEScores(task, pred, gold)
	if err != nil {
		return true, err
	}
	maj, err := roberta.GLUEScores(task, roberta.Majority(task, trainEx, len(exs)), gold)
	if err != nil {
		return true, err
	}
	if *predPath != "" {
		if err := writeGLUEPredictions(*predPath, task, pred); err != nil {
			return true, err
		}
	}
	out := map[string]any{"task": task.Name, "split": *split, "examples": len(exs), "truncated": cut, "eval_loss": loss,
		"majority": finiteScores(maj), "data": desc, "model": dir}
	if *adapter != "" {
		out["adapter"] = *adapter
	}
	for k, v := range finiteScores(sc) {
		out[k] = v
	}
	b, err := json.Marshal(out)
	if err != nil {
		return true, err
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return true, err
}

// writeGLUEPredictions writes "index<TAB>prediction" lines with a header,
// as GLUE's submission files.
func writeGLUEPredictions(path string, task *data.Task, pred data.Predictions) error {
	var b strings.Builder
	b.WriteString("index\tprediction\n")
	for i := 0; i < pred.Len(); i++ {
		if task.Regression {
			fmt.Fprintf(&b, "%d\t%.4f\n", i, pred.Scores[i])
		} else {
			fmt.Fprintf(&b, "%d\t%s\n", i, task.Labels[pred.Labels[i]])
		}
	}
	if err := atomicfile.WriteBytes(path, []byte(b.String())); err != nil {
		return fmt.Errorf("--predictions: %w", err)
	}
	return nil
}

// ---- forward ----

// runForwardRoBERTa handles `hut forward --model DIR` when DIR is a
// RoBERTa checkpoint. It prints one JSON object:
//   - a classification model: {"logits": [num_labels], "argmax": k,
//     "label": name} (for regression {"logits": [score], "score": x});
//   - a masked-LM model: {"position": p, "argmax": id, "loss": x,
//     "logits": [V]}: the vocabulary logits at position p (default: the
//     last), and the mean cross-entropy of predicting every token at its
//     own position (RobertaForMaskedLM's loss with labels = input_ids);
//   - a bare encoder: {"position": p, "hidden": [C]}.
func runForwardRoBERTa(args []string, stdout, stderr io.Writer) (bool, error) {
	name, ok := argValue(args, "model")
	if !ok {
		return false, nil
	}
	dir, err := resolveModel(name)
	if err != nil || !roberta.IsRoBERTaDir(dir) {
		return false, nil
	}
	fs := newFlagSet("forward", "--model DIR [--adapter DIR] [--method-merged] (--tokens \"0 31414 232 2\" | --text \"…\" [--text2 \"…\"])", stderr)
	fs.String("model", name, "RoBERTa checkpoint directory or a name under ./models")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory to apply")
	merged := fs.Bool("method-merged", false, "merge the adapter into the weights before running (zero-latency path)")
	tokens := fs.String("tokens", "", "token ids separated by spaces or commas, special tokens included (<s>=0 … </s>=2)")
	text := fs.String("text", "", "text to encode with the model's tokenizer as <s> text </s>")
	text2 := fs.String("text2", "", "second text of a pair: <s> text </s></s> text2 </s>")
	pos := fs.Int("position", -1, "masked LM / encoder: the position whose outputs are printed (-1: the last)")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return true, err
	}
	if err := setThreads(*threads); err != nil {
		return true, err
	}
	if *merged && *adapter == "" {
		return true, usagef("--method-merged needs --adapter")
	}
	var ids []int32
	switch {
	case *tokens != "" && *text != "":
		return true, usagef("give --tokens or --text, not both")
	case *tokens != "":
		if ids, err = parseTokenList(*tokens); err != nil {
			return true, err
		}
	case *text != "":
		tok, err := modelTokenizer(dir, "roberta")
		if err != nil {
			return true, err
		}
		var raw []int
		if *text2 != "" {
			raw = tok.EncodePair(*text, *text2)
		} else {
			raw = tok.EncodeWithSpecial(*text)
		}
		ids = toInt32(raw)
	default:
		return true, usagef("--tokens or --text is required")
	}
	m, err := loadRoBERTaFor(dir, *adapter, roberta.HeadAuto, roberta.LoadOptions{})
	if err != nil {
		return true, err
	}
	for _, n := range m.Notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	if *merged {
		if err := m.Merge(); err != nil {
			return true, err
		}
	}
	p := *pos
	if p < 0 {
		p = len(ids) - 1
	}
	if p >= len(ids) {
		return true, usagef("--position %d: the sequence has %d tokens", *pos, len(ids))
	}
	var out any
	switch m.Head {
	case roberta.HeadClassifier:
		rows, err := m.Classify([][]int32{ids})
		if err != nil {
			return true, err
		}
		if m.Cfg.Regression() {
			out = map[string]any{"logits": rows[0], "score": rows[0][0]}
		} else {
			k := roberta.Argmax(rows[0])
			out = map[string]any{"logits": rows[0], "argmax": k, "label": m.Cfg.Labels()[k]}
		}
	case roberta.HeadMLM:
		rows, loss, err := m.MLMLogits([][]int32{ids})
		if err != nil {
			return true, err
		}
		V := m.Cfg.VocabSize
		logits := rows[0][p*V : (p+1)*V]
		out = struct {
			Position int       `json:"position"`
			Argmax   int       `json:"argmax"`
			Loss     float64   `json:"loss"`
			Logits   []float32 `json:"logits"`
		}{p, roberta.Argmax(logits), loss, logits}
	default:
		rows, err := m.Hidden([][]int32{ids})
		if err != nil {
			return true, err
		}
		C := m.Cfg.HiddenSize
		out = map[string]any{"position": p, "hidden": rows[0][p*C : (p+1)*C]}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return true, err
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return true, err
}

// ---- masked-LM pre-training ----

// runTrainMLM handles `hut train --task mlm`: masked-LM pre-training of a
// RoBERTa (a new one, or a checkpoint to continue) with dynamic masking,
// on a text file or on the training splits of the embedded GLUE tasks.
func runTrainMLM(args []string, stdout, stderr io.Writer) (bool, error) {
	if v, ok := argValue(args, "task"); !ok || strings.ToLower(v) != "mlm" {
		return false, nil
	}
	fs := newFlagSet("train", "--task mlm [--model new|DIR] [--data glue:sst2,cola|FILE.txt] [flags]", stderr)
	fs.String("task", "mlm", "mlm: masked-LM pre-training of RoBERTa")
	model := fs.String("model", "new", "\"new\" for a freshly initialised RoBERTa (sized by --layers/--hidden/…), or a checkpoint directory to continue")
	layers := fs.Int("layers", 4, "new model: num_hidden_layers")
	hidden := fs.Int("hidden", 128, "new model: hidden_size")
	heads := fs.Int("heads", 4, "new model: num_attention_heads")
	inter := fs.Int("intermediate", 0, "new model: intermediate_size (0: 4·hidden)")
	maxPos := fs.Int("max-positions", 0, "new model: max_position_embeddings (0: --seq + 2, at least 130)")
	dataSpec := fs.String("data", "glue:sst2", "training text: glue:<task>[,<task>…] (the embedded GLUE training splits, never dev) or a .txt file (one text per line)")
	method := fs.String("method", "full", "full (pre-training) or an adapter method")
	steps := fs.Int("steps", 1000, "optimizer steps")
	batch := fs.Int("batch", 32, "sequences per micro-batch")
	seq := fs.Int("seq", 64, "tokens per sequence (texts are concatenated and cut into blocks)")
	accum := fs.Int("grad-accum", 1, "micro-batches per optimizer step")
	lr := fs.Float64("lr", 1e-3, "peak learning rate")
	warmup := fs.Int("warmup", -1, "warm-up steps (-1: 6% of the steps)")
	schedule := fs.String("schedule", "linear", "learning-rate decay: linear, cosine or constant")
	wd := fs.Float64("weight-decay", 0.01, "AdamW weight decay")
	clip := fs.Float64("clip", 1.0, "gradient clipping norm (0: off)")
	prob := fs.Float64("mask-prob", 0.15, "share of tokens chosen for prediction (80% <mask>, 10% random, 10% kept)")
	evalFrac := fs.Float64("eval-fraction", 0.02, "share of the blocks held out for the validation loss")
	seed := fs.Uint64("seed", 42, "seed of initialisation, data order, masks and dropout")
	out := fs.String("out", "out/roberta-mlm", "output directory (checkpoints, metrics.jsonl, and the final model in <out>/model)")
	ckEvery := fs.Int("checkpoint-every", 200, "checkpoint interval in steps (0: only at the end)")
	evalEvery := fs.Int("eval-every", 0, "validation interval in steps (0: 10 times per run)")
	resume := fs.Bool("resume", false, "continue from the newest checkpoint in --out")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlagsOnly(fs, args); err != nil {
		return true, err
	}
	if err := setThreads(*threads); err != nil {
		return true, err
	}
	switch {
	case *steps <= 0 || *batch <= 0 || *seq < 4 || *accum <= 0:
		return true, usagef("--steps, --batch, --grad-accum must be positive and --seq ≥ 4")
	case *lr <= 0:
		return true, usagef("--lr %v: must be positive", *lr)
	case *evalFrac < 0 || *evalFrac >= 1:
		return true, usagef("--eval-fraction %v: must be in [0, 1)", *evalFrac)
	case *prob <= 0 || *prob >= 1:
		return true, usagef("--mask-prob %v: must be in (0, 1)", *prob)
	}
	var m *roberta.Model
	var tok *tokenizer.Tokenizer
	base := "new"
	var err error
	if *model == "new" || *model == "" {
		tok, err = tokenizer.Builtin("roberta")
		if err != nil {
			return true, err
		}
		cfg := roberta.Base()
		cfg.NumHiddenLayers, cfg.HiddenSize, cfg.NumAttentionHeads = *layers, *hidden, *heads
		cfg.IntermediateSize = *inter
		if cfg.IntermediateSize == 0 {
			cfg.IntermediateSize = 4 * *hidden
		}
		cfg.MaxPositionEmbeddings = *maxPos
		if cfg.MaxPositionEmbeddings == 0 {
			cfg.MaxPositionEmbeddings = max(*seq+2, 130)
		}
		cfg.VocabSize = tok.VocabSize()
		if *layers <= 0 || *hidden <= 0 || *heads <= 0 || *hidden%*heads != 0 || cfg.IntermediateSize <= 0 {
			return true, usagef("--layers %d --hidden %d --heads %d --intermediate %d: positive, hidden a multiple of heads", *layers, *hidden, *heads, cfg.IntermediateSize)
		}
		if *seq > cfg.MaxPositionEmbeddings-cfg.PadTokenID-1 {
			return true, usagef("--seq %d needs --max-positions ≥ %d", *seq, *seq+cfg.PadTokenID+1)
		}
		cfg.Architectures = []string{roberta.ArchMaskedLM}
		m = roberta.New(cpu.New(), cfg, roberta.HeadMLM)
		m.Init(*seed)
	} else {
		dir, err := resolveModel(*model)
		if err != nil {
			return true, err
		}
		base = dir
		if m, err = roberta.Load(cpu.New(), dir, roberta.HeadMLM, roberta.LoadOptions{Seed: *seed}); err != nil {
			return true, err
		}
		if tok, err = modelTokenizer(dir, "roberta"); err != nil {
			return true, err
		}
		if *seq > m.Cfg.MaxSeqLen() {
			return true, usagef("--seq %d exceeds the model's %d positions", *seq, m.Cfg.MaxSeqLen())
		}
	}
	if tok.Mask() < 0 || tok.BOS() < 0 {
		return true, fmt.Errorf("tokenizer %s has no <mask>/<s>: masked-LM pre-training needs RoBERTa's tokenizer", tok.Name())
	}
	texts, desc, err := mlmTexts(*dataSpec)
	if err != nil {
		return true, err
	}
	seqs := make([][]int32, len(texts))
	for i, s := range texts {
		seqs[i] = toInt32(tok.EncodeWithSpecial(s))
	}
	blocks := roberta.PackMLM(seqs, *seq)
	nEval := int(float64(len(blocks)) * *evalFrac)
	if len(blocks)-nEval < 1 {
		return true, fmt.Errorf("--data %s: too little text for one block of %d tokens", *dataSpec, *seq)
	}
	trainBlocks, evalBlocks := blocks[:len(blocks)-nEval], blocks[len(blocks)-nEval:]
	pc := &peft.Config{Method: strings.ToLower(*method), Seed: *seed}
	if _, err := peft.Lookup(pc.Method); err != nil {
		return true, usagef("--method: %v", err)
	}
	if err := m.Attach(pc); err != nil {
		return true, err
	}
	tr, all := m.CountParams()
	fmt.Fprintf(stdout, "masked-LM pre-training: %d layers, width %d, %d heads, vocabulary %d (%s parameters)\n", m.Cfg.NumHiddenLayers, m.Cfg.HiddenSize, m.Cfg.NumAttentionHeads, m.Cfg.VocabSize, peft.FormatCount(m.NumParams()))
	fmt.Fprintln(stdout, peft.TrainableSummary(tr, all))
	fmt.Fprintf(stdout, "data %s: %d texts → %d training blocks of %d tokens, %d held out\n", desc, len(texts), len(trainBlocks), *seq, len(evalBlocks))
	special := []int32{int32(tok.BOS()), int32(tok.EOS()), int32(tok.PAD()), int32(tok.Mask())}
	if tok.UNK() >= 0 {
		special = append(special, int32(tok.UNK()))
	}
	batcher := &roberta.MLMBatcher{Examples: trainBlocks, B: *batch, T: *seq, Accum: *accum, Seed: *seed, Pad: int32(m.Cfg.PadTokenID),
		Mask: int32(tok.Mask()), VocabSize: m.Cfg.VocabSize, Special: special, Prob: *prob, Shuffle: true}
	if err := batcher.Validate(); err != nil {
		return true, err
	}
	evalB := batcher.EvalBatches(evalBlocks, *batch, *seed)
	job := m.MLMJob(batcher, evalB, base)
	job.Describe = map[string]any{"task": "mlm", "model": base, "data": desc, "batch": *batch, "seq": *seq, "blocks": len(trainBlocks),
		"layers": m.Cfg.NumHiddenLayers, "hidden": m.Cfg.HiddenSize}
	w := *warmup
	if w < 0 {
		w = int(math.Round(0.06 * float64(*steps)))
	}
	ev := *evalEvery
	if ev == 0 {
		ev = max(1, *steps/10)
	}
	cfg := train.Config{Steps: *steps, GradAccum: *accum, LR: float32(*lr), Warmup: w, Schedule: *schedule,
		WeightDecay: float32(*wd), ClipNorm: float32(*clip), Seed: *seed, CheckpointDir: *out, CheckpointEvery: *ckEvery, EvalEvery: ev, Keep: 2}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return true, err
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if *resume {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	mf, err := os.OpenFile(filepath.Join(*out, "metrics.jsonl"), flags, 0o644)
	if err != nil {
		return true, err
	}
	defer mf.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var bar *progress.Bar
	if !*quiet {
		bar = progress.New(stderr, "mlm", int64(*steps))
	}
	logEvery := max(1, *steps/20)
	start := time.Now()
	res, err := train.Run(ctx, cfg, job, train.Options{Resume: *resume, Metrics: mf,
		Logf: func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) },
		OnStep: func(s train.StepInfo) {
			bar.Set(int64(s.Step), fmt.Sprintf("loss %.4f  %.0f tok/s", s.Loss, s.TokPerSec))
			if s.Step%logEvery == 0 || s.Step == *steps || s.Eval != nil {
				line := fmt.Sprintf("step %5d/%d  loss %.4f  lr %.2e  grad-norm %.3f  %.0f tok/s", s.Step, *steps, s.Loss, s.LR, s.GradNorm, s.TokPerSec)
				if v, ok := s.Eval["eval_loss"]; ok {
					line += fmt.Sprintf("  eval-loss %.4f", v)
				}
				if bar != nil {
					fmt.Fprint(stderr, "\r\x1b[K")
				}
				fmt.Fprintln(stdout, line)
			}
		}})
	bar.Done()
	if err != nil {
		if errors.Is(err, context.Canceled) && res != nil && res.LastCheckpoint != "" {
			return true, fmt.Errorf("%w (checkpoint saved: %s; continue with --resume)", err, res.LastCheckpoint)
		}
		return true, err
	}
	final := filepath.Join(*out, "model")
	if pc.Method != "full" {
		final = filepath.Join(*out, "adapter")
	}
	if err := m.SaveAdapter(final, base); err != nil {
		return true, err
	}
	if base != "new" {
		_ = copyTokenizerFiles(base, final)
	}
	fmt.Fprintf(stdout, "pre-trained %d steps in %s; validation loss %.4f; saved %s\n", res.Steps-res.StartStep, progress.FormatDuration(time.Since(start)), res.Eval["eval_loss"], final)
	return true, nil
}

// mlmTexts reads the pre-training texts: "glue:a,b" takes the text
// columns of the embedded GLUE training splits (never dev or test);
// anything else is a text file with one text per line.
func mlmTexts(spec string) ([]string, string, error) {
	if rest, ok := strings.CutPrefix(spec, "glue:"); ok {
		var texts []string
		var names []string
		for _, n := range strings.Split(rest, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			task, err := data.LookupTask(n)
			if err != nil {
				return nil, "", usagef("--data %s: %v", spec, err)
			}
			rows, _, _, err := glueData(task, "")
			if err != nil {
				return nil, "", err
			}
			for _, r := range rows {
				texts = append(texts, r.Text1)
				if r.Text2 != "" {
					texts = append(texts, r.Text2)
				}
			}
			names = append(names, task.Name)
		}
		if len(texts) == 0 {
			return nil, "", usagef("--data %s: no GLUE task named", spec)
		}
		sort.Strings(names)
		return texts, "GLUE train text (" + strings.Join(names, ", ") + ")", nil
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, "", fmt.Errorf("--data: %w", err)
	}
	var texts []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			texts = append(texts, l)
		}
	}
	if len(texts) == 0 {
		return nil, "", fmt.Errorf("--data %s: no text", spec)
	}
	return texts, spec, nil
}
