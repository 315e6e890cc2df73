package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
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
	return runRecipe(&recipeRun{r: r, recipePath: recipePath, out: out, quiet: quiet, stdout: stdout, stderr: stderr,
		job: m.MLMJob(batcher, valBatches, r.Name), params: m.NumParams(), trainTokens: nTrain, valTokens: nVal,
		save: func(dir string) error {
			if err := m.SaveHF(dir, r.DType); err != nil {
				return err
			}
			return tokenizer.WriteFiles("roberta", dir)
		},
		released: func(dir string) (float64, error) {
			rel, err := roberta.Load(cpu.New(), dir, roberta.HeadMLM, roberta.LoadOptions{})
			if err != nil {
				return 0, err
			}
			return rel.EvalLoss(valBatches)
		}})
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
