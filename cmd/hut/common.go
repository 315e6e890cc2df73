package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/tokenizer"
)

// defaultGPT2 is the model the CLI uses when --model is not given.
const defaultGPT2 = "tiny-gpt2"

// resolveModel turns a --model value into a checkpoint directory: an
// existing directory is used as is; a bare name is looked up under
// ./models and next to the executable.
func resolveModel(name string) (string, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return name, nil
	}
	if !strings.ContainsAny(name, `/\`) {
		cands := []string{filepath.Join("models", name)}
		if exe, err := os.Executable(); err == nil {
			cands = append(cands, filepath.Join(filepath.Dir(exe), "models", name))
		}
		for _, c := range cands {
			if st, err := os.Stat(filepath.Join(c, "config.json")); err == nil && !st.IsDir() {
				return c, nil
			}
		}
		if dir, ok, err := embeddedModel(name); err != nil {
			return "", err
		} else if ok {
			return dir, nil
		}
	}
	return "", fmt.Errorf("model %q: not a checkpoint directory and not a model under ./models (run from the repository root, or pass --model DIR)", name)
}

// loadGPT2 loads a GPT-2 checkpoint directory on the CPU backend.
func loadGPT2(name string) (*gpt2.Model, string, error) {
	dir, err := resolveModel(name)
	if err != nil {
		return nil, "", err
	}
	m, err := gpt2.Load(cpu.New(), dir)
	if err != nil {
		return nil, "", err
	}
	return m, dir, nil
}

// loadGPT2Adapted is loadGPT2, then the adapter directory loaded onto the
// model when adapter is not empty, and merged into its weights when merge
// is set.
func loadGPT2Adapted(name, adapter string, merge bool) (*gpt2.Model, string, error) {
	m, dir, err := loadGPT2(name)
	if err != nil || adapter == "" {
		return m, dir, err
	}
	if err := m.LoadAdapter(adapter); err != nil {
		return nil, "", err
	}
	if merge {
		if err := m.Merge(); err != nil {
			return nil, "", err
		}
	}
	return m, dir, nil
}

// modelTokenizer returns the tokenizer files of a checkpoint directory, or
// GPT-2's built-in tokenizer when the directory has none.
func modelTokenizer(dir, fallback string) (*tokenizer.Tokenizer, error) {
	for _, f := range []string{"tokenizer.json", "vocab.json", "encoder.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return tokenizer.New(dir)
		}
	}
	return tokenizer.Builtin(fallback)
}

// setThreads applies --threads.
func setThreads(n int) error {
	if n < 0 {
		return usagef("--threads %d: must be ≥ 0 (0 = all cores)", n)
	}
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	return nil
}

// parseTokenList parses "464 3290 373" or "464,3290,373".
func parseTokenList(s string) ([]int32, error) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	if len(f) == 0 {
		return nil, usagef("--tokens: no token ids given")
	}
	out := make([]int32, len(f))
	for i, x := range f {
		v, err := strconv.ParseInt(x, 10, 32)
		if err != nil {
			return nil, usagef("--tokens: %q is not an integer token id", x)
		}
		out[i] = int32(v)
	}
	return out, nil
}

// peftFlags are the method flags shared by train and bench.
type peftFlags struct {
	method, targets       string
	r                     int
	alpha, dropout, noise float64
}

func (p *peftFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.method, "method", "hut", "fine-tuning method: "+strings.Join(peft.Names(), ", "))
	fs.IntVar(&p.r, "r", 0, "rank (0: the method's default, 8)")
	fs.Float64Var(&p.alpha, "alpha", 0, "LoRA alpha (0: 2·r)")
	fs.Float64Var(&p.dropout, "adapter-dropout", 0, "dropout on the adapter branch input (LoRA, HiRA)")
	fs.Float64Var(&p.noise, "init-noise", 0, "HUT: std of zero-sum noise added to M_A and M_B at init")
	fs.StringVar(&p.targets, "targets", "", "comma-separated target modules (c_attn, attn.c_proj, c_fc, mlp.c_proj, all-linear); empty: the method's default")
}

func (p *peftFlags) config(seed uint64) (*peft.Config, error) {
	if _, err := peft.Lookup(p.method); err != nil {
		return nil, usagef("--method: %v", err)
	}
	if p.r < 0 {
		return nil, usagef("--r %d: the rank must be a positive integer", p.r)
	}
	if p.dropout < 0 || p.dropout >= 1 {
		return nil, usagef("--adapter-dropout %v: must be in [0, 1)", p.dropout)
	}
	cfg := &peft.Config{Method: strings.ToLower(p.method), R: p.r, Alpha: float32(p.alpha), Dropout: float32(p.dropout), InitNoise: float32(p.noise), Seed: seed}
	if p.targets != "" {
		for _, t := range strings.Split(p.targets, ",") {
			if t = strings.TrimSpace(t); t != "" {
				cfg.Targets = append(cfg.Targets, t)
			}
		}
	}
	return cfg, nil
}

// defaultLR is the learning rate each method gets unless --lr is given:
// scaling methods (HUT) want larger steps than additive ones.
func defaultLR(method string) float64 {
	switch strings.ToLower(method) {
	case "hut":
		return 3e-3
	case "lora", "hira":
		return 1e-3
	}
	return 2e-4
}

// interspersed lets flags follow positional arguments, as users type
// `hut tokenize "text" --tokenizer roberta`: it moves the positional
// arguments after the flags.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, append([]string{"--"}, pos...)...)
}
