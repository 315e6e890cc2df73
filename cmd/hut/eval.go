package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/hutml/hut/core/train"
)

func init() {
	register("eval", "evaluate a model (and adapter) on held-out data", runEval)
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", "--model DIR [--adapter DIR] [--data FILE | --task e2e|shakespeare]", stderr)
	model := fs.String("model", defaultGPT2, "checkpoint directory or a name under ./models")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory to apply")
	dataPath := fs.String("data", "", "a .txt corpus or .jsonl prompt/completion file (its held-out tail is scored, as in train)")
	task := fs.String("task", "e2e", "built-in validation data when --data is empty: e2e or shakespeare")
	seq := fs.Int("seq", 64, "tokens per sequence (use the training value)")
	batch := fs.Int("batch", 8, "sequences per batch")
	evalFrac := fs.Float64("eval-fraction", 0.05, "held-out share of --data (as in train)")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	if *batch <= 0 || *seq <= 0 {
		return usagef("--batch and --seq must be positive")
	}
	m, dir, err := loadGPT2(*model)
	if err != nil {
		return err
	}
	if *seq > m.Cfg.NPositions {
		return usagef("--seq %d exceeds the model's n_positions = %d", *seq, m.Cfg.NPositions)
	}
	if *adapter != "" {
		if err := m.LoadAdapter(*adapter); err != nil {
			return err
		}
	}
	tok, err := modelTokenizer(dir, "gpt2")
	if err != nil {
		return err
	}
	_, evalEx, desc, err := lmData(*dataPath, *task, tok, *seq, *evalFrac)
	if err != nil {
		return err
	}
	if len(evalEx) == 0 {
		return fmt.Errorf("no validation data in %s", desc)
	}
	loss, err := m.EvalLoss(train.EvalBatches(evalEx, *batch, *seq, int32(tok.EOS())))
	if err != nil {
		return err
	}
	out := map[string]any{"eval_loss": loss, "perplexity": math.Exp(loss), "sequences": len(evalEx), "data": desc}
	b, _ := json.Marshal(out)
	fmt.Fprintln(stdout, string(b))
	return nil
}
