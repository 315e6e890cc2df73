package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
	"github.com/hutml/hut/internal/atomicfile"
	"github.com/hutml/hut/internal/progress"
)

// robertaRecipe parses a RoBERTa recipe's model config.
func robertaRecipe(r *Recipe, recipePath string) (roberta.Config, *tokenizer.Tokenizer, error) {
	cfg, err := roberta.ParseConfig(r.Config, recipePath+" (config)")
	if err != nil {
		return cfg, nil, err
	}
	tok, err := tokenizer.Builtin("roberta")
	if err != nil {
		return cfg, nil, err
	}
	if cfg.VocabSize != tok.VocabSize() {
		return cfg, nil, fmt.Errorf("recipe %s: vocab_size %d, but the RoBERTa tokenizer has %d tokens", recipePath, cfg.VocabSize, tok.VocabSize())
	}
	if r.Seq > cfg.MaxSeqLen() {
		return cfg, nil, fmt.Errorf("recipe %s: seq %d exceeds the %d positions max_position_embeddings allows", recipePath, r.Seq, cfg.MaxSeqLen())
	}
	return cfg, tok, nil
}

// mlmBlocks tokenizes documents as <s> text </s> and packs them into blocks
// of T tokens (Hugging Face's run_mlm.py group_texts).
func mlmBlocks(tok *tokenizer.Tokenizer, docs []string, T int) ([][]int32, int) {
	var seqs [][]int32
	n := 0
	for _, d := range docs {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		s := toInt32(tok.EncodeWithSpecial(d))
		n += len(s)
		seqs = append(seqs, s)
	}
	return roberta.PackMLM(seqs, T), n
}

// mlmSetup builds the batcher and the fixed validation batches of a RoBERTa
// recipe (shared by pretrain and eval, so eval reproduces the card).
func mlmSetup(r *Recipe, tok *tokenizer.Tokenizer, cfg roberta.Config) (*roberta.MLMBatcher, []*roberta.Batch, int, int, error) {
	trainDocs, valDocs, err := corpusDocs(r)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	trainBlocks, nTrain := mlmBlocks(tok, trainDocs, r.Seq)
	valBlocks, nVal := mlmBlocks(tok, valDocs, r.Seq)
	special := []int32{int32(tok.BOS()), int32(tok.EOS()), int32(tok.PAD()), int32(tok.Mask())}
	if tok.UNK() >= 0 {
		special = append(special, int32(tok.UNK()))
	}
	prob := float64(r.MaskProb)
	if prob == 0 {
		prob = 0.15
	}
	b := &roberta.MLMBatcher{Examples: trainBlocks, B: r.Batch, T: r.Seq, Accum: 1, Seed: r.Seed, Pad: int32(cfg.PadTokenID),
		Mask: int32(tok.Mask()), VocabSize: cfg.VocabSize, Special: special, Prob: prob, Shuffle: true}
	if err := b.Validate(); err != nil {
		return nil, nil, 0, 0, err
	}
	return b, b.EvalBatches(valBlocks, r.Batch, r.Seed+1), nTrain, nVal, nil
}

// pretrainRoBERTa runs a masked-LM recipe with dynamic masking.
func pretrainRoBERTa(r *Recipe, recipePath, out string, quiet bool, stdout, stderr io.Writer) error {
	cfg, tok, err := robertaRecipe(r, recipePath)
	if err != nil {
		return err
	}
	batcher, valBatches, nTrain, nVal, err := mlmSetup(r, tok, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "corpus: %d training tokens (%d blocks of %d), %d validation tokens\n", nTrain, len(batcher.Examples), r.Seq, nVal)
	m := roberta.New(cpu.New(), cfg, roberta.HeadMLM)
	m.Init(r.Seed)
	if err := m.Attach(&peft.Config{Method: "full"}); err != nil {
		return err
	}
	job := m.MLMJob(batcher, valBatches, r.Name)
	job.Describe = map[string]any{"recipe": r.Name, "tokens": nTrain}
	ckdir := out + ".checkpoints"
	tc := train.Config{Steps: r.Steps, LR: r.LR, Warmup: r.Warmup, Schedule: r.Schedule, WeightDecay: r.WeightDecay,
		ClipNorm: r.Clip, Seed: r.Seed, EvalEvery: r.EvalEvery, CheckpointDir: ckdir, CheckpointEvery: max(100, r.Steps/10), Keep: 1}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(out, "training_log.jsonl"))
	if err != nil {
		return err
	}
	defer logf.Close()
	var bar *progress.Bar
	if !quiet {
		bar = progress.New(stderr, "pretrain "+r.Name, int64(r.Steps))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	var lastTrain float64
	tokens := 0
	res, err := train.Run(ctx, tc, job, train.Options{Resume: true, Metrics: logf, OnStep: func(s train.StepInfo) {
		lastTrain = s.Loss
		tokens += s.Tokens
		bar.Set(int64(s.Step), fmt.Sprintf("loss %.3f  %.0f tok/s", s.Loss, s.TokPerSec))
		if v, ok := s.Eval["eval_loss"]; ok {
			bar.Clear()
			fmt.Fprintf(stdout, "step %d: train loss %.4f, validation loss %.4f, %.0f tok/s\n", s.Step, s.Loss, v, s.TokPerSec)
		}
	}})
	bar.Done()
	if err != nil {
		return err
	}
	wall := time.Since(start)
	if err := m.SaveHF(out, r.DType); err != nil {
		return err
	}
	if err := tokenizer.WriteFiles("roberta", out); err != nil {
		return err
	}
	rel, err := roberta.Load(cpu.New(), out, roberta.HeadMLM, roberta.LoadOptions{})
	if err != nil {
		return err
	}
	valLoss, err := rel.EvalLoss(valBatches)
	if err != nil {
		return err
	}
	st, _ := os.Stat(filepath.Join(out, "model.safetensors"))
	card := modelCard{Recipe: r, RecipePath: recipePath, Out: out, Steps: res.Steps, TokensSeen: res.Steps * r.Batch * r.Seq,
		TrainTokens: nTrain, ValTokens: nVal, TrainLoss: lastTrain, ValLoss: valLoss,
		Wall: wall, TokPerSec: float64(tokens) / wall.Seconds(), Params: m.NumParams(),
		Bytes: st.Size(), Resumed: res.StartStep > 0, EvalCommand: fmt.Sprintf("hut eval --model %s --task pretrain:%s", out, recipePath)}
	if err := atomicfile.WriteBytes(filepath.Join(out, "README.md"), []byte(card.render())); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %s: validation masked-LM loss %.4f (train %.4f), %d steps in %s\n", out, valLoss, lastTrain, res.Steps, progress.FormatDuration(wall))
	return os.RemoveAll(ckdir)
}

// initRoBERTa writes the recipe's RoBERTa with random weights.
func initRoBERTa(r *Recipe, recipePath, out string, stdout io.Writer) error {
	cfg, _, err := robertaRecipe(r, recipePath)
	if err != nil {
		return err
	}
	m := roberta.New(cpu.New(), cfg, roberta.HeadMLM)
	m.Init(r.Seed)
	if err := m.SaveHF(out, r.DType); err != nil {
		return err
	}
	if err := tokenizer.WriteFiles("roberta", out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s with random weights (seed %d), untrained\n", out, r.Name, r.Seed)
	return nil
}

// evalRoBERTaRecipe prints the masked-LM validation loss of a model on a
// recipe's held-out split, as the pre-training card reports it.
func evalRoBERTaRecipe(model string, r *Recipe, recipePath string, stdout io.Writer) error {
	dir, err := resolveModel(model)
	if err != nil {
		return err
	}
	cfg, tok, err := robertaRecipe(r, recipePath)
	if err != nil {
		return err
	}
	_, val, _, _, err := mlmSetup(r, tok, cfg)
	if err != nil {
		return err
	}
	m, err := roberta.Load(cpu.New(), dir, roberta.HeadMLM, roberta.LoadOptions{})
	if err != nil {
		return err
	}
	loss, err := m.EvalLoss(val)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "{\"data\":%q,\"eval_loss\":%v,\"objective\":\"masked LM\"}\n", "validation split of the pre-training corpus of "+recipePath, loss)
	return nil
}
