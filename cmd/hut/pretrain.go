package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
	datasets "github.com/hutml/hut/data"
	"github.com/hutml/hut/internal/atomicfile"
	"github.com/hutml/hut/internal/progress"
)

func init() {
	register("pretrain", "pre-train a small model from scratch with a recipe (models/recipes/*.json)", runPretrain)
}

// Recipe is a reproducible pre-training run: the architecture, the corpus
// and the optimisation settings, read from a JSON file.
type Recipe struct {
	Name        string          `json:"name"`
	Arch        string          `json:"arch"` // "gpt2" or "roberta"
	Config      json.RawMessage `json:"config"`
	Corpus      []string        `json:"corpus"` // sources, see corpusSources
	ValFraction float64         `json:"val_fraction"`
	Steps       int             `json:"steps"`
	Batch       int             `json:"batch"`
	Seq         int             `json:"seq"`
	LR          float32         `json:"lr"`
	Warmup      int             `json:"warmup"`
	Schedule    string          `json:"schedule"`
	WeightDecay float32         `json:"weight_decay"`
	Clip        float32         `json:"clip"`
	Seed        uint64          `json:"seed"`
	DType       string          `json:"dtype"` // storage of the released weights
	EvalEvery   int             `json:"eval_every"`
	MaskProb    float32         `json:"mask_prob,omitempty"` // MLM (roberta)
}

// corpusSources maps corpus names to the embedded training text they
// contribute. Only training splits are used: never dev or test text.
var corpusSources = map[string]struct {
	desc    string
	licence string
	read    func() ([]string, error)
}{
	"tinyshakespeare": {"tiny-shakespeare (Karpathy's char-rnn corpus, 40k lines of Shakespeare)", "public domain text",
		func() ([]string, error) {
			b, err := datasets.ReadFile("tinyshakespeare/input.txt")
			if err != nil {
				return nil, err
			}
			return strings.Split(string(b), "\n\n"), nil
		}},
	"e2e-train-refs": {"E2E NLG training-set references (the restaurant descriptions, without their MRs)", "CC BY-SA 4.0 (E2E NLG dataset)",
		func() ([]string, error) {
			b, err := datasets.ReadFile("e2e/train.csv")
			if err != nil {
				return nil, err
			}
			rows, err := data.ReadE2ECSV(bytes.NewReader(b), "e2e/train.csv")
			if err != nil {
				return nil, err
			}
			out := make([]string, len(rows))
			for i, r := range rows {
				out[i] = r.Ref
			}
			return out, nil
		}},
	"sst2-train-text": {"SST-2 training sentences (text only, labels dropped)", "see data/glue/SOURCE.md (SST)",
		func() ([]string, error) {
			b, err := datasets.ReadFile("glue/sst2/train.tsv")
			if err != nil {
				return nil, err
			}
			var out []string
			for i, line := range strings.Split(string(b), "\n") {
				if i == 0 || strings.TrimSpace(line) == "" {
					continue
				}
				s, _, _ := strings.Cut(line, "\t")
				out = append(out, strings.TrimSpace(s))
			}
			return out, nil
		}},
}

// readRecipe parses and checks a recipe file.
func readRecipe(path string) (*Recipe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--recipe: %w", err)
	}
	var r Recipe
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("recipe %s: %w", path, err)
	}
	if r.Arch != "gpt2" && r.Arch != "roberta" {
		return nil, fmt.Errorf("recipe %s: arch %q, want gpt2 or roberta", path, r.Arch)
	}
	for _, c := range r.Corpus {
		if _, ok := corpusSources[c]; !ok {
			return nil, fmt.Errorf("recipe %s: unknown corpus source %q", path, c)
		}
	}
	if r.Steps <= 0 || r.Batch <= 0 || r.Seq <= 0 || r.LR <= 0 {
		return nil, fmt.Errorf("recipe %s: steps, batch, seq and lr must be positive", path)
	}
	if r.ValFraction <= 0 || r.ValFraction >= 0.5 {
		return nil, fmt.Errorf("recipe %s: val_fraction %v, want (0, 0.5)", path, r.ValFraction)
	}
	if r.DType == "" {
		r.DType = "F16"
	}
	return &r, nil
}

// corpusDocs returns the recipe's documents split into training and
// validation parts: the last val_fraction of every source is held out.
func corpusDocs(r *Recipe) (trainDocs, valDocs []string, err error) {
	for _, c := range r.Corpus {
		docs, err := corpusSources[c].read()
		if err != nil {
			return nil, nil, err
		}
		cut := len(docs) - int(float64(len(docs))*r.ValFraction)
		trainDocs = append(trainDocs, docs[:cut]...)
		valDocs = append(valDocs, docs[cut:]...)
	}
	return trainDocs, valDocs, nil
}

// gpt2Stream tokenizes documents into one stream separated by
// <|endoftext|>.
func gpt2Stream(tok *tokenizer.Tokenizer, docs []string) []int32 {
	var ids []int32
	eos := int32(tok.EOS())
	for _, d := range docs {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		ids = append(ids, toInt32(tok.Encode(d))...)
		ids = append(ids, eos)
	}
	return ids
}

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pretrain", "--recipe models/recipes/tiny-gpt2.json --out models/tiny-gpt2", stderr)
	recipePath := fs.String("recipe", "models/recipes/tiny-gpt2.json", "recipe file")
	out := fs.String("out", "", "output model directory (default models/<recipe name>)")
	steps := fs.Int("steps", 0, "override the recipe's step count (for a quick try; the card records it)")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	initOnly := fs.Bool("init-only", false, "write the randomly initialised model (same shape and seed, no training): the baseline of docs/results.md")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	r, err := readRecipe(*recipePath)
	if err != nil {
		return err
	}
	if *steps > 0 {
		r.Steps = *steps
	}
	if *out == "" {
		*out = filepath.Join("models", r.Name)
	}
	if *initOnly {
		return initModel(r, *recipePath, *out, stdout)
	}
	if r.Arch == "roberta" {
		return pretrainRoBERTa(r, *recipePath, *out, *quiet, stdout, stderr)
	}
	return pretrainGPT2(r, *recipePath, *out, *quiet, stdout, stderr)
}

func pretrainGPT2(r *Recipe, recipePath, out string, quiet bool, stdout, stderr io.Writer) error {
	cfg, err := gpt2.ParseConfig(r.Config, recipePath+" (config)")
	if err != nil {
		return err
	}
	tok, err := tokenizer.Builtin("gpt2")
	if err != nil {
		return err
	}
	if cfg.VocabSize != tok.VocabSize() {
		return fmt.Errorf("recipe %s: vocab_size %d, but the GPT-2 tokenizer has %d tokens", recipePath, cfg.VocabSize, tok.VocabSize())
	}
	trainDocs, valDocs, err := corpusDocs(r)
	if err != nil {
		return err
	}
	trainIDs, valIDs := gpt2Stream(tok, trainDocs), gpt2Stream(tok, valDocs)
	trainEx, valEx := train.ChunkCorpus(trainIDs, r.Seq), train.ChunkCorpus(valIDs, r.Seq)
	fmt.Fprintf(stdout, "corpus: %d training tokens (%d sequences of %d), %d validation tokens\n", len(trainIDs), len(trainEx), r.Seq, len(valIDs))

	m := gpt2.New(cpu.New(), cfg)
	m.Init(r.Seed)
	if err := m.Attach(&peft.Config{Method: "full"}); err != nil {
		return err
	}
	eos := int32(tok.EOS())
	batcher := &train.LMBatcher{Examples: trainEx, B: r.Batch, T: r.Seq, Accum: 1, Seed: r.Seed, Pad: eos, Shuffle: true}
	valBatches := train.EvalBatches(valEx, r.Batch, r.Seq, eos)
	return runRecipe(&recipeRun{r: r, recipePath: recipePath, out: out, quiet: quiet, stdout: stdout, stderr: stderr,
		job: m.Job(batcher, 0, valBatches, r.Name), params: m.NumParams(), trainTokens: len(trainIDs), valTokens: len(valIDs),
		save: func(dir string) error {
			if err := m.SaveHF(dir, r.DType); err != nil {
				return err
			}
			return writeGPT2TokenizerFiles(dir)
		},
		released: func(dir string) (float64, error) {
			rel, err := gpt2.Load(cpu.New(), dir)
			if err != nil {
				return 0, err
			}
			return rel.EvalLoss(valBatches)
		}})
}

// recipeRun is one pre-training run: the model side's job and how to save
// and re-evaluate the released weights.
type recipeRun struct {
	r                      *Recipe
	recipePath, out        string
	quiet                  bool
	stdout, stderr         io.Writer
	job                    *train.Job
	params                 int
	trainTokens, valTokens int
	save                   func(dir string) error            // weights and tokenizer files
	released               func(dir string) (float64, error) // validation loss of the saved weights
}

// runRecipe trains (resuming from its checkpoints after an interruption),
// saves the model, measures the validation loss of the released weights —
// what `hut eval --task pretrain:RECIPE` reproduces — and writes the card.
func runRecipe(p *recipeRun) error {
	r := p.r
	ckdir := p.out + ".checkpoints"
	tc := train.Config{Steps: r.Steps, LR: r.LR, Warmup: r.Warmup, Schedule: r.Schedule, WeightDecay: r.WeightDecay,
		ClipNorm: r.Clip, Seed: r.Seed, EvalEvery: r.EvalEvery, CheckpointDir: ckdir, CheckpointEvery: max(100, r.Steps/10), Keep: 1}
	p.job.Describe = map[string]any{"recipe": r.Name, "tokens": p.trainTokens}
	if err := os.MkdirAll(p.out, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(p.out, "training_log.jsonl"))
	if err != nil {
		return err
	}
	defer logf.Close()
	var bar *progress.Bar
	if !p.quiet {
		bar = progress.New(p.stderr, "pretrain "+r.Name, int64(r.Steps))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	var lastTrain float64
	tokens := 0
	res, err := train.Run(ctx, tc, p.job, train.Options{Resume: true, Metrics: logf, OnStep: func(s train.StepInfo) {
		lastTrain = s.Loss
		tokens += s.Tokens
		bar.Set(int64(s.Step), fmt.Sprintf("loss %.3f  %.0f tok/s", s.Loss, s.TokPerSec))
		if v, ok := s.Eval["eval_loss"]; ok {
			bar.Clear()
			fmt.Fprintf(p.stdout, "step %d: train loss %.4f, validation loss %.4f, %.0f tok/s\n", s.Step, s.Loss, v, s.TokPerSec)
		}
	}})
	bar.Done()
	if err != nil {
		return err
	}
	wall := time.Since(start)
	if err := p.save(p.out); err != nil {
		return err
	}
	valLoss, err := p.released(p.out)
	if err != nil {
		return err
	}
	st, err := os.Stat(filepath.Join(p.out, "model.safetensors"))
	if err != nil {
		return err
	}
	card := modelCard{Recipe: r, RecipePath: p.recipePath, Out: p.out, Steps: res.Steps, TokensSeen: res.Steps * r.Batch * r.Seq,
		TrainTokens: p.trainTokens, ValTokens: p.valTokens, TrainLoss: lastTrain, ValLoss: valLoss,
		Wall: wall, TokPerSec: float64(tokens) / wall.Seconds(), Params: p.params,
		Bytes: st.Size(), Resumed: res.StartStep > 0, EvalCommand: fmt.Sprintf("hut eval --model %s --task pretrain:%s", p.out, p.recipePath)}
	if err := atomicfile.WriteBytes(filepath.Join(p.out, "README.md"), []byte(card.render())); err != nil {
		return err
	}
	fmt.Fprintf(p.stdout, "saved %s: validation loss %.4f (train %.4f), %d steps in %s\n", p.out, valLoss, lastTrain, res.Steps, progress.FormatDuration(wall))
	return os.RemoveAll(ckdir)
}

// writeGPT2TokenizerFiles writes vocab.json, merges.txt and the tokenizer
// config of the built-in GPT-2 tokenizer next to a model.
func writeGPT2TokenizerFiles(dir string) error {
	return tokenizer.WriteFiles("gpt2", dir)
}

// modelCard is the README.md of a pre-trained model.
type modelCard struct {
	Recipe                         *Recipe
	RecipePath, Out, EvalCommand   string
	Steps, TokensSeen              int
	TrainTokens, ValTokens, Params int
	TrainLoss, ValLoss, TokPerSec  float64
	Wall                           time.Duration
	Bytes                          int64
	Resumed                        bool
}

func (c *modelCard) render() string {
	r := c.Recipe
	var b strings.Builder
	arch := "GPT-2 (causal LM)"
	if r.Arch == "roberta" {
		arch = "RoBERTa (masked LM)"
	}
	fmt.Fprintf(&b, "# %s\n\nA tiny %s pre-trained from scratch by hut's own CLI on openly licensed text, for the browser demo and the CLI's default jobs. It is a teaching-scale model: it knows the vocabulary and style of its corpus, not the world.\n\n", r.Name, arch)
	fmt.Fprintf(&b, "## Reproduce\n\n```\ngo run ./cmd/hut pretrain --recipe %s --out %s\n```\n\nThe recipe file holds the architecture and every hyper-parameter; the run is deterministic for a given machine and build.\nCheck the validation loss below with:\n\n```\ngo run ./cmd/hut %s\n```\n\n", c.RecipePath, c.Out, strings.TrimPrefix(c.EvalCommand, "hut "))
	fmt.Fprintf(&b, "## Architecture\n\n```json\n%s\n```\n\n%s parameters (the LM head is tied to the token embedding); weights stored as %s (%.1f MB).\n\n", string(r.Config), peft.FormatCount(c.Params), r.DType, float64(c.Bytes)/1e6)
	fmt.Fprintf(&b, "## Corpus\n\nTraining splits only — never any dev or test text. The last %.0f%% of every source is held out for validation.\n\n", 100*r.ValFraction)
	for _, s := range r.Corpus {
		fmt.Fprintf(&b, "- `%s`: %s. Licence: %s.\n", s, corpusSources[s].desc, corpusSources[s].licence)
	}
	fmt.Fprintf(&b, "\n%d training tokens, %d validation tokens (%s tokenizer).\n\n", c.TrainTokens, c.ValTokens, map[string]string{"gpt2": "GPT-2", "roberta": "RoBERTa"}[r.Arch])
	fmt.Fprintf(&b, "## Training\n\n| setting | value |\n|---|---|\n")
	for _, kv := range [][2]string{
		{"objective", map[string]string{"gpt2": "next-token cross-entropy", "roberta": fmt.Sprintf("masked LM, %.0f%% dynamic masking (80/10/10)", 100*r.MaskProb)}[r.Arch]},
		{"steps", fmt.Sprint(c.Steps)}, {"batch × sequence", fmt.Sprintf("%d × %d", r.Batch, r.Seq)},
		{"tokens seen", fmt.Sprint(c.TokensSeen)}, {"optimizer", fmt.Sprintf("AdamW, lr %g, %s schedule, %d warm-up steps, weight decay %g, clip %g", r.LR, r.Schedule, r.Warmup, r.WeightDecay, r.Clip)},
		{"seed", fmt.Sprint(r.Seed)},
		{"final train loss", fmt.Sprintf("%.4f (last step)", c.TrainLoss)},
		{"validation loss", fmt.Sprintf("%.4f (released %s weights)", c.ValLoss, r.DType)},
		{"wall time", fmt.Sprintf("%s on %d CPU threads (%s)", progress.FormatDuration(c.Wall), runtime.GOMAXPROCS(0), runtime.GOARCH)},
		{"throughput", fmt.Sprintf("%.0f tokens/s", c.TokPerSec)},
	} {
		fmt.Fprintf(&b, "| %s | %s |\n", kv[0], kv[1])
	}
	if c.Resumed {
		b.WriteString("\nThe run was resumed from a checkpoint; wall time and throughput cover the last segment only.\n")
	}
	b.WriteString("\nThe per-step log is `training_log.jsonl` beside this file.\n\n## Licence\n\nThe weights are released under the same terms as the corpus sources listed above; hut's code is MIT-licensed.\n")
	return b.String()
}

// initModel writes the recipe's model with its initial random weights.
func initModel(r *Recipe, recipePath, out string, stdout io.Writer) error {
	if r.Arch == "roberta" {
		return initRoBERTa(r, recipePath, out, stdout)
	}
	cfg, err := gpt2.ParseConfig(r.Config, recipePath+" (config)")
	if err != nil {
		return err
	}
	m := gpt2.New(cpu.New(), cfg)
	m.Init(r.Seed)
	if err := m.SaveHF(out, r.DType); err != nil {
		return err
	}
	if err := writeGPT2TokenizerFiles(out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s with random weights (seed %d), untrained\n", out, r.Name, r.Seed)
	return nil
}
