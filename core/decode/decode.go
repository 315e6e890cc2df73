// Package decode generates token sequences from an incremental language
// model: greedy decoding, sampling (temperature, top-k, top-p, seeded) and
// beam search with a length penalty and no-repeat-n-gram blocking, all
// batched over prompts and using the model's KV cache.
//
// Beam search follows microsoft/LoRA's examples/NLG/src/gpt2_beam.py, the
// decoder behind the LoRA paper's E2E numbers (beam 10, length penalty 0.8,
// no_repeat_ngram_size 4, EOS {50256, 628}, 64 new tokens); see BeamSearch
// for the exact rules.
package decode

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// LM is an incremental language model with a KV cache over a batch of rows.
type LM interface {
	VocabSize() int
	// Prefill resets the cache to len(prompts) rows, feeds each prompt (rows may differ in length;
	// the implementation pads internally) and returns the next-token logits of each row.
	Prefill(prompts [][]int) ([][]float32, error)
	// Step feeds one token per row and returns each row's next-token logits.
	Step(tokens []int) ([][]float32, error)
	// Reorder permutes/duplicates cache rows: new row i continues old row src[i] (len(src) rows afterwards).
	Reorder(src []int) error
}

// Options are shared by all decoders.
type Options struct {
	// MaxNewTokens is the number of decoding steps (LoRA's eval_len).
	MaxNewTokens int
	// EOS lists the tokens that end a sequence (LoRA's E2E run uses
	// 50256 and 628, "\n\n").
	EOS []int
	// MinLength bans EOS while fewer than MinLength tokens were generated.
	MinLength int
	// NoRepeatNgram, when > 0, bans a token that would repeat an n-gram of
	// this size already present in the generated tokens (the prompt is not
	// included, as in LoRA's decoder).
	NoRepeatNgram int
}

// Result is the output for one prompt.
type Result struct {
	// Tokens are the generated tokens, without the final EOS.
	Tokens []int
	// Finished is true when generation stopped at an EOS token, which is
	// then EOSToken (otherwise EOSToken is -1).
	Finished bool
	EOSToken int
	// Score is the sum of log-probabilities of the generated tokens
	// (including the EOS); for beam search it is the length-penalised score
	// the hypothesis was selected with.
	Score float64
}

func (o Options) check(lm LM, prompts [][]int) error {
	if lm == nil {
		return errors.New("decode: nil model")
	}
	if len(prompts) == 0 {
		return errors.New("decode: no prompts")
	}
	if o.MaxNewTokens <= 0 {
		return fmt.Errorf("decode: MaxNewTokens = %d, want > 0", o.MaxNewTokens)
	}
	if o.NoRepeatNgram < 0 || o.MinLength < 0 {
		return fmt.Errorf("decode: NoRepeatNgram = %d, MinLength = %d, want >= 0", o.NoRepeatNgram, o.MinLength)
	}
	v := lm.VocabSize()
	if v <= 0 {
		return fmt.Errorf("decode: model vocabulary size %d", v)
	}
	for _, e := range o.EOS {
		if e < 0 || e >= v {
			return fmt.Errorf("decode: EOS token %d outside the vocabulary (0..%d)", e, v-1)
		}
	}
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("decode: prompt %d is empty", i)
		}
		for j, t := range p {
			if t < 0 || t >= v {
				return fmt.Errorf("decode: prompt %d token %d is %d, outside the vocabulary (0..%d)", i, j, t, v-1)
			}
		}
	}
	return nil
}

func (o Options) isEOS(t int) bool { return slices.Contains(o.EOS, t) }

func checkLogits(rows [][]float32, n, v int, what string) error {
	if len(rows) != n {
		return fmt.Errorf("decode: model %s returned %d rows, want %d", what, len(rows), n)
	}
	for i, r := range rows {
		if len(r) != v {
			return fmt.Errorf("decode: model %s row %d has %d logits, want %d", what, i, len(r), v)
		}
	}
	return nil
}

// bannedNgram returns the tokens that would complete an n-gram already in
// hist (LoRA's _calc_banned_ngram_tokens with cur_len = len(hist)).
func bannedNgram(hist []int, n int) []int {
	cur := len(hist)
	if n <= 0 || cur+1 < n {
		return nil
	}
	prefix := hist[cur+1-n : cur]
	var out []int
	for j := 0; j+n <= cur; j++ {
		if slices.Equal(hist[j:j+n-1], prefix) {
			out = append(out, hist[j+n-1])
		}
	}
	return out
}

// logProbs post-processes one row of logits as LoRA does (EOS banned below
// MinLength, repeated n-grams banned) and returns log-softmax in float64.
// Banned tokens get -Inf; if every token is banned all are -Inf.
func (o Options) logProbs(logits []float32, hist []int) []float64 {
	lp := make([]float64, len(logits))
	for i, x := range logits {
		lp[i] = float64(x)
	}
	if len(hist) < o.MinLength {
		for _, e := range o.EOS {
			lp[e] = math.Inf(-1)
		}
	}
	for _, t := range bannedNgram(hist, o.NoRepeatNgram) {
		lp[t] = math.Inf(-1)
	}
	logSoftmax(lp)
	return lp
}

func logSoftmax(x []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(m, -1) || math.IsNaN(m) {
		for i := range x {
			x[i] = math.Inf(-1)
		}
		return
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	ls := m + math.Log(s)
	for i := range x {
		x[i] -= ls
	}
}

// Greedy decodes each prompt by taking the most probable allowed token
// (the lowest id on a tie) until an EOS or MaxNewTokens.
func Greedy(lm LM, prompts [][]int, opt Options) ([]Result, error) {
	return run(lm, prompts, opt, func(row int, lp []float64) int { return argmax(lp) })
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// SampleOptions configure Sample.
type SampleOptions struct {
	Options
	// Temperature divides the logits (1 = unchanged); must be > 0.
	Temperature float64
	// TopK keeps the K most probable tokens (0 = all).
	TopK int
	// TopP keeps the smallest set of most probable tokens whose probability
	// reaches TopP (0 or 1 = all); at least one token is kept.
	TopP float64
	// Seed makes sampling reproducible: the same seed, model and prompts
	// give the same outputs.
	Seed uint64
}

// Sample draws each next token from the model's distribution after
// temperature, top-k and top-p filtering, with a PCG generator seeded by
// opt.Seed (rows draw in order at every step).
func Sample(lm LM, prompts [][]int, opt SampleOptions) ([]Result, error) {
	if opt.Temperature <= 0 || math.IsNaN(opt.Temperature) {
		return nil, fmt.Errorf("decode: Temperature = %v, want > 0", opt.Temperature)
	}
	if opt.TopK < 0 || opt.TopP < 0 || opt.TopP > 1 {
		return nil, fmt.Errorf("decode: TopK = %d, TopP = %v; want TopK >= 0 and 0 <= TopP <= 1", opt.TopK, opt.TopP)
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	return run(lm, prompts, opt.Options, func(row int, lp []float64) int {
		return sampleToken(rng, lp, opt)
	})
}

func sampleToken(rng *rand.Rand, lp []float64, opt SampleOptions) int {
	type cand struct {
		id int
		l  float64
	}
	cs := make([]cand, 0, len(lp))
	for i, l := range lp {
		if !math.IsInf(l, -1) {
			cs = append(cs, cand{i, l / opt.Temperature})
		}
	}
	if len(cs) == 0 {
		return argmax(lp)
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].l > cs[b].l })
	if opt.TopK > 0 && opt.TopK < len(cs) {
		cs = cs[:opt.TopK]
	}
	m := cs[0].l
	probs := make([]float64, len(cs))
	total := 0.0
	for i, c := range cs {
		probs[i] = math.Exp(c.l - m)
		total += probs[i]
	}
	if opt.TopP > 0 && opt.TopP < 1 {
		acc := 0.0
		for i := range probs {
			acc += probs[i] / total
			if acc >= opt.TopP {
				cs, probs = cs[:i+1], probs[:i+1]
				break
			}
		}
		total = 0
		for _, p := range probs {
			total += p
		}
	}
	u := rng.Float64() * total
	for i, p := range probs {
		u -= p
		if u < 0 {
			return cs[i].id
		}
	}
	return cs[len(cs)-1].id
}

// run is the shared loop of Greedy and Sample.
func run(lm LM, prompts [][]int, opt Options, pick func(row int, lp []float64) int) ([]Result, error) {
	if err := opt.check(lm, prompts); err != nil {
		return nil, err
	}
	v := lm.VocabSize()
	logits, err := lm.Prefill(prompts)
	if err != nil {
		return nil, fmt.Errorf("decode: prefill: %w", err)
	}
	if err := checkLogits(logits, len(prompts), v, "prefill"); err != nil {
		return nil, err
	}
	res := make([]Result, len(prompts))
	for i := range res {
		res[i].EOSToken = -1
	}
	next := make([]int, len(prompts))
	for step := 0; step < opt.MaxNewTokens; step++ {
		alive := 0
		for i := range prompts {
			if res[i].Finished {
				// Keep feeding the EOS; its output is ignored.
				next[i] = res[i].EOSToken
				continue
			}
			lp := opt.logProbs(logits[i], res[i].Tokens)
			t := pick(i, lp)
			res[i].Score += lp[t]
			next[i] = t
			if opt.isEOS(t) {
				res[i].Finished, res[i].EOSToken = true, t
				continue
			}
			res[i].Tokens = append(res[i].Tokens, t)
			alive++
		}
		if alive == 0 || step == opt.MaxNewTokens-1 {
			break
		}
		if logits, err = lm.Step(next); err != nil {
			return nil, fmt.Errorf("decode: step %d: %w", step+1, err)
		}
		if err := checkLogits(logits, len(prompts), v, "step"); err != nil {
			return nil, err
		}
	}
	return res, nil
}
