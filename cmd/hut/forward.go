package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

func init() {
	register("forward", "run a model on token ids and print the last position's logits as JSON", runForward)
}

func runForward(args []string, stdout, stderr io.Writer) error {
	if ok, err := runForwardRoBERTa(args, stdout, stderr); ok {
		return err
	}
	fs := newFlagSet("forward", "--model DIR [--adapter DIR] [--method-merged] --tokens \"464 3290 373\"", stderr)
	model := fs.String("model", defaultGPT2, "checkpoint directory (config.json + model.safetensors) or a name under ./models")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory to apply")
	merged := fs.Bool("method-merged", false, "merge the adapter into the weights before running (zero-latency path)")
	tokens := fs.String("tokens", "", "token ids separated by spaces or commas")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	ids, err := parseTokenList(*tokens)
	if err != nil {
		return err
	}
	if *merged && *adapter == "" {
		return usagef("--method-merged needs --adapter")
	}
	m, _, err := loadGPT2Adapted(*model, *adapter, *merged)
	if err != nil {
		return err
	}
	logits, loss, err := m.Logits(ids)
	if err != nil {
		return err
	}
	V := m.Cfg.VocabSize
	last := logits[len(logits)-V:]
	best := 0
	for i, v := range last {
		if v > last[best] {
			best = i
		}
	}
	out := struct {
		Argmax int       `json:"argmax"`
		Loss   *float64  `json:"loss"`
		Logits []float32 `json:"logits"`
	}{Argmax: best, Logits: last}
	if !math.IsNaN(loss) {
		out.Loss = &loss
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(b))
	return err
}
