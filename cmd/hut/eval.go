package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/hutml/hut/core/metrics"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
	"github.com/hutml/hut/internal/progress"
)

func init() {
	register("eval", "evaluate a model (and adapter) on held-out data", runEval)
}

func runEval(args []string, stdout, stderr io.Writer) error {
	if ok, err := runEvalGLUE(args, stdout, stderr); ok {
		return err
	}
	fs := newFlagSet("eval", "--model DIR [--adapter DIR] [--data FILE | --task e2e|shakespeare]", stderr)
	model := fs.String("model", defaultGPT2, "checkpoint directory or a name under ./models")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory to apply")
	dataPath := fs.String("data", "", "a .txt corpus or .jsonl prompt/completion file (its held-out tail is scored, as in train)")
	task := fs.String("task", "e2e", "built-in validation data when --data is empty: e2e, shakespeare, or pretrain:RECIPE (a pre-training run's held-out split)")
	seq := fs.Int("seq", 64, "tokens per sequence (use the training value)")
	batch := fs.Int("batch", 8, "sequences per batch")
	evalFrac := fs.Float64("eval-fraction", 0.05, "held-out share of --data (as in train)")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	gen := fs.Int("generate", 0, "E2E: also decode the first N dev meaning representations and score them with BLEU, NIST, METEOR, ROUGE-L and CIDEr (-1: all 547)")
	batchGen := fs.Int("gen-batch", 8, "meaning representations decoded together")
	var d decodeFlags
	d.register(fs, "beam")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	if *batch <= 0 || *seq <= 0 {
		return usagef("--batch and --seq must be positive")
	}
	if path, ok := strings.CutPrefix(*task, "pretrain:"); ok && *dataPath == "" {
		// Score exactly as the pre-training run did: its sequence length and batch.
		r, err := readRecipe(path)
		if err != nil {
			return err
		}
		if r.Arch == "roberta" {
			return evalRoBERTaRecipe(*model, r, path, stdout)
		}
		*seq, *batch = r.Seq, r.Batch
	}
	m, dir, err := loadGPT2Adapted(*model, *adapter, false)
	if err != nil {
		return err
	}
	if *seq > m.Cfg.NPositions {
		return usagef("--seq %d exceeds the model's n_positions = %d", *seq, m.Cfg.NPositions)
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
	if *gen != 0 {
		if *dataPath != "" || *task != "e2e" {
			return usagef("--generate needs the built-in e2e task")
		}
		if m.PEFT != nil && m.PEFT.Method != "full" {
			if err := m.Merge(); err != nil {
				return err
			}
		}
		sc, n, err := decodeAndScoreE2E(m, tok, d, *gen, max(1, *batchGen), stderr)
		if err != nil {
			return err
		}
		out["bleu"], out["nist"], out["meteor"], out["rouge_l"], out["cider"] = sc.BLEU, sc.NIST, sc.METEOR, sc.RougeL, sc.CIDEr
		out["generated"] = n
		out["decoding"] = fmt.Sprintf("%s, beams %d, length penalty %g, no-repeat-ngram %d, max %d new tokens", d.mode, d.beams, d.lengthPenalty, d.noRepeat, d.maxNew)
	}
	b, _ := json.Marshal(out)
	fmt.Fprintln(stdout, string(b))
	return nil
}

// decodeAndScoreE2E decodes the first n dev MRs (all when n < 0) and scores the
// outputs against all their references.
func decodeAndScoreE2E(m *gpt2.Model, tok *tokenizer.Tokenizer, d decodeFlags, n, batch int, stderr io.Writer) (metrics.E2EScores, int, error) {
	inst, err := e2eDevInstances(max(n, 0))
	if err != nil {
		return metrics.E2EScores{}, 0, err
	}
	refs := make([][]string, len(inst))
	hyps := make([]string, len(inst))
	bar := progress.New(stderr, "decode", int64(len(inst)))
	for lo := 0; lo < len(inst); lo += batch {
		hi := min(lo+batch, len(inst))
		prompts := make([][]int, 0, hi-lo)
		for _, in := range inst[lo:hi] {
			p, err := e2ePrompt(tok, in.MR)
			if err != nil {
				return metrics.E2EScores{}, 0, err
			}
			prompts = append(prompts, p)
		}
		res, err := generateIDs(m, d, prompts, eosFor(tok, true))
		if err != nil {
			return metrics.E2EScores{}, 0, err
		}
		for i, r := range res {
			text, err := tok.Decode(r.Tokens)
			if err != nil {
				return metrics.E2EScores{}, 0, err
			}
			hyps[lo+i] = strings.TrimSpace(text)
			refs[lo+i] = inst[lo+i].Refs
		}
		bar.Set(int64(hi), "")
	}
	bar.Done()
	sc, err := metrics.E2E(refs, hyps)
	return sc, len(inst), err
}
