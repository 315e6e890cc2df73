package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/tokenizer"
	"github.com/hutml/hut/core/train"
	datasets "github.com/hutml/hut/data"
)

// e2eEvalRows bounds the dev rows used for the validation loss during
// training (the whole dev set is scored by `hut eval`).
const e2eEvalRows = 512

// builtinLMData returns the embedded data of a task as causal-LM examples.
func builtinLMData(task string, tok *tokenizer.Tokenizer, T int) (trainEx, evalEx []train.LMExample, desc string, err error) {
	if path, ok := strings.CutPrefix(task, "pretrain:"); ok {
		r, err := readRecipe(path)
		if err != nil {
			return nil, nil, "", err
		}
		if r.Arch != "gpt2" {
			return nil, nil, "", usagef("--task %s: recipe %s is not a GPT-2 recipe", task, path)
		}
		_, valDocs, err := corpusDocs(r)
		if err != nil {
			return nil, nil, "", err
		}
		return nil, train.ChunkCorpus(gpt2Stream(tok, valDocs), r.Seq), "validation split of the pre-training corpus of " + path, nil
	}
	switch task {
	case "e2e":
		trainEx, err = e2eExamples("e2e/train.csv", tok, T, 0)
		if err != nil {
			return nil, nil, "", err
		}
		evalEx, err = e2eExamples("e2e/dev.csv", tok, T, e2eEvalRows)
		return trainEx, evalEx, "e2e (embedded E2E NLG train set; validation: first 512 dev references)", err
	case "shakespeare", "tinyshakespeare":
		b, err := datasets.ReadFile("tinyshakespeare/input.txt")
		if err != nil {
			return nil, nil, "", err
		}
		ids := toInt32(tok.Encode(string(b)))
		cut := len(ids) * 95 / 100
		return train.ChunkCorpus(ids[:cut], T), train.ChunkCorpus(ids[cut:], T), "tiny-shakespeare (embedded; last 5% held out)", nil
	}
	return nil, nil, "", usagef("--task %q: want e2e or shakespeare (or give --data FILE)", task)
}

// e2eExamples reads an embedded E2E CSV and turns each (MR, reference) row
// into a prompt/completion example the way microsoft/LoRA encodes E2E for
// GPT-2: the linearised MR followed by <|endoftext|> as the prompt, then
// " " + reference + <|endoftext|> as the completion.
func e2eExamples(name string, tok *tokenizer.Tokenizer, T, limit int) ([]train.LMExample, error) {
	raw, err := datasets.ReadFile(name)
	if err != nil {
		return nil, err
	}
	rows, err := data.ReadE2ECSV(bytes.NewReader(raw), name)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	eos := int32(tok.EOS())
	out := make([]train.LMExample, 0, len(rows))
	for _, r := range rows {
		ctx, err := data.LinearizeMR(r.MR)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, r.Line, err)
		}
		prompt := append(toInt32(tok.Encode(ctx)), eos)
		out = append(out, train.PromptCompletion(prompt, toInt32(tok.Encode(" "+r.Ref)), eos, T))
	}
	return out, nil
}
