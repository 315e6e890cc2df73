package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/decode"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/tokenizer"
	datasets "github.com/hutml/hut/data"
)

func init() {
	register("generate", "generate text (greedy, sampling or beam search) with a GPT-2 model and adapter", runGenerate)
}

// decodeFlags select and configure a decoder.
type decodeFlags struct {
	mode                string
	maxNew, beams, topK int
	noRepeat            int
	lengthPenalty, temp float64
	topP                float64
	seed                uint64
}

func (d *decodeFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
	Uint64Var(*uint64, string, uint64, string)
}, defMode string) {
	fs.StringVar(&d.mode, "mode", defMode, "decoding: greedy, sample or beam")
	fs.IntVar(&d.maxNew, "max-new", 64, "maximum number of new tokens")
	fs.IntVar(&d.beams, "beams", 10, "beam width (--mode beam)")
	fs.Float64Var(&d.lengthPenalty, "length-penalty", 0.8, "beam length penalty exponent (LoRA E2E: 0.8)")
	fs.IntVar(&d.noRepeat, "no-repeat-ngram", 4, "ban repeating n-grams of this size (0: off; LoRA E2E: 4)")
	fs.Float64Var(&d.temp, "temperature", 1, "sampling temperature (--mode sample)")
	fs.IntVar(&d.topK, "top-k", 0, "sample from the k most likely tokens (0: all)")
	fs.Float64Var(&d.topP, "top-p", 1, "nucleus sampling threshold (1: off)")
	fs.Uint64Var(&d.seed, "seed", 1, "sampling seed")
}

// run decodes prompts with lm.
func (d *decodeFlags) run(lm decode.LM, prompts [][]int, eos []int) ([]decode.Result, error) {
	if d.maxNew <= 0 {
		return nil, usagef("--max-new %d: must be positive", d.maxNew)
	}
	opt := decode.Options{MaxNewTokens: d.maxNew, EOS: eos, NoRepeatNgram: d.noRepeat}
	switch d.mode {
	case "greedy":
		return decode.Greedy(lm, prompts, opt)
	case "sample":
		return decode.Sample(lm, prompts, decode.SampleOptions{Options: opt, Temperature: d.temp, TopK: d.topK, TopP: d.topP, Seed: d.seed})
	case "beam":
		if d.beams <= 0 {
			return nil, usagef("--beams %d: must be positive", d.beams)
		}
		return decode.BeamSearch(lm, prompts, decode.BeamOptions{Options: opt, Beams: d.beams, LengthPenalty: d.lengthPenalty})
	}
	return nil, usagef("--mode %q: want greedy, sample or beam", d.mode)
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", "[--model DIR] [--adapter DIR] (--prompt TEXT | --mr \"name[…], eatType[…]\")", stderr)
	model := fs.String("model", defaultGPT2, "GPT-2 checkpoint directory or a name under ./models")
	adapter := fs.String("adapter", "", "PEFT-style adapter directory to apply")
	merged := fs.Bool("merged", true, "merge the adapter into the weights first (zero inference latency)")
	prompt := fs.String("prompt", "", "prompt text")
	mr := fs.String("mr", "", "an E2E meaning representation; it is linearised and ended with <|endoftext|> as in training")
	asJSON := fs.Bool("json", false, "print {\"text\", \"ids\"} as JSON")
	threads := fs.Int("threads", 0, "CPU threads (0: all cores)")
	var d decodeFlags
	d.register(fs, "greedy")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	if (*prompt == "") == (*mr == "") {
		return usagef("give exactly one of --prompt or --mr")
	}
	m, dir, err := loadGPT2Adapted(*model, *adapter, *merged)
	if err != nil {
		return err
	}
	tok, err := modelTokenizer(dir, "gpt2")
	if err != nil {
		return err
	}
	var ids []int
	if *mr != "" {
		ids, err = e2ePrompt(tok, *mr)
		if err != nil {
			return usagef("--mr: %v", err)
		}
	} else {
		ids = tok.Encode(*prompt)
	}
	if len(ids) == 0 {
		return usagef("the prompt encodes to no tokens")
	}
	res, err := generateIDs(m, d, [][]int{ids}, eosFor(tok, *mr != ""))
	if err != nil {
		return err
	}
	text, err := tok.Decode(res[0].Tokens)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"text": text, "ids": res[0].Tokens, "finished": res[0].Finished})
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	if *prompt != "" {
		fmt.Fprintln(stdout, *prompt+text)
	} else {
		fmt.Fprintln(stdout, strings.TrimSpace(text))
	}
	return nil
}

// e2ePrompt encodes an MR the way training does: linearised context, then
// <|endoftext|>.
func e2ePrompt(tok *tokenizer.Tokenizer, mr string) ([]int, error) {
	ctx, err := data.LinearizeMR(mr)
	if err != nil {
		return nil, err
	}
	return append(tok.Encode(ctx), tok.EOS()), nil
}

// eosFor returns the stop tokens: <|endoftext|>, and for E2E also "\n\n"
// as LoRA's decoding does.
func eosFor(tok *tokenizer.Tokenizer, e2e bool) []int {
	eos := []int{tok.EOS()}
	if e2e {
		if id, ok := tok.TokenID("ĊĊ"); ok {
			eos = append(eos, id)
		}
	}
	return eos
}

// generateIDs decodes prompts with a KV-cache generator sized for them.
func generateIDs(m *gpt2.Model, d decodeFlags, prompts [][]int, eos []int) ([]decode.Result, error) {
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	tmax := min(longest+d.maxNew, m.Cfg.NPositions)
	if longest >= m.Cfg.NPositions {
		return nil, fmt.Errorf("the prompt has %d tokens; the model's context is %d", longest, m.Cfg.NPositions)
	}
	if longest+d.maxNew > m.Cfg.NPositions {
		d.maxNew = m.Cfg.NPositions - longest
	}
	g, err := m.NewGenerator(tmax)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	return d.run(g, prompts, eos)
}

// e2eDevInstances returns the E2E dev set grouped by MR (first n).
func e2eDevInstances(n int) ([]data.E2EInstance, error) {
	raw, err := datasets.ReadFile("e2e/dev.csv")
	if err != nil {
		return nil, err
	}
	rows, err := data.ReadE2ECSV(bytes.NewReader(raw), "e2e/dev.csv")
	if err != nil {
		return nil, err
	}
	inst := data.GroupE2EByMR(rows)
	if n > 0 && len(inst) > n {
		inst = inst[:n]
	}
	return inst, nil
}
