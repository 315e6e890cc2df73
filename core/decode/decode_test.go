package decode

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// toyLM is a deterministic language model whose next-token logits are a
// pseudo-random function of the whole sequence so far; its "KV cache" is the
// token history of each row, so a wrong Reorder or Step shows up as wrong
// logits.
type toyLM struct {
	v     int
	seed  uint64
	scale float64
	rows  [][]int
	steps int
}

func (m *toyLM) VocabSize() int { return m.v }

func (m *toyLM) logits(seq []int) []float32 {
	h := m.seed ^ 0xcbf29ce484222325
	for _, t := range seq {
		h ^= uint64(t) + 0x9e3779b97f4a7c15
		h *= 0x100000001b3
	}
	rng := rand.New(rand.NewPCG(h, m.seed))
	out := make([]float32, m.v)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * m.scale)
	}
	return out
}

func (m *toyLM) Prefill(prompts [][]int) ([][]float32, error) {
	m.rows = make([][]int, len(prompts))
	out := make([][]float32, len(prompts))
	for i, p := range prompts {
		m.rows[i] = slices.Clone(p)
		out[i] = m.logits(m.rows[i])
	}
	return out, nil
}

func (m *toyLM) Step(tokens []int) ([][]float32, error) {
	if len(tokens) != len(m.rows) {
		return nil, fmt.Errorf("toy: %d tokens for %d rows", len(tokens), len(m.rows))
	}
	m.steps++
	out := make([][]float32, len(tokens))
	for i, t := range tokens {
		m.rows[i] = append(slices.Clone(m.rows[i]), t)
		out[i] = m.logits(m.rows[i])
	}
	return out, nil
}

func (m *toyLM) Reorder(src []int) error {
	rows := make([][]int, len(src))
	for i, s := range src {
		if s < 0 || s >= len(m.rows) {
			return fmt.Errorf("toy: reorder source %d of %d rows", s, len(m.rows))
		}
		rows[i] = slices.Clone(m.rows[s])
	}
	m.rows = rows
	return nil
}

// exhaustive enumerates every sequence the decoding rules allow (EOS only
// at the end, at most MaxNewTokens tokens) and returns the one with the
// best length-penalised score, scoring exactly as BeamSearch defines it.
func exhaustive(m *toyLM, prompt []int, opt BeamOptions) (best []int, bestScore float64) {
	bestScore = math.Inf(-1)
	found := false
	var rec func(gen []int, score float64)
	rec = func(gen []int, score float64) {
		lp := opt.logProbs(m.logits(append(slices.Clone(prompt), gen...)), gen)
		for t, l := range lp {
			if math.IsInf(l, -1) {
				continue
			}
			seq := append(slices.Clone(gen), t)
			s := score + l
			if opt.isEOS(t) || len(seq) == opt.MaxNewTokens {
				length := float64(len(seq))
				if opt.PenaltyCountsPrompt {
					length += float64(len(prompt))
				}
				if p := s / math.Pow(length, opt.LengthPenalty); !found || p > bestScore {
					best, bestScore, found = seq, p, true
				}
				continue
			}
			rec(seq, s)
		}
	}
	rec(nil, 0)
	return best, bestScore
}

func resultSeq(r Result) []int {
	s := slices.Clone(r.Tokens)
	if r.Finished {
		s = append(s, r.EOSToken)
	}
	return s
}

// TestBeamMatchesExhaustive runs beam search with LoRA's E2E settings (beam
// 10, length penalty 0.8, no_repeat_ngram 4) on tiny models whose search
// space a beam of 10 covers completely, so the result must be the
// exhaustive optimum.
func TestBeamMatchesExhaustive(t *testing.T) {
	e2e := DefaultE2EBeam()
	cases := []struct {
		name  string
		v     int
		eos   []int
		maxT  int
		ngram int
	}{
		// 2 live tokens + EOS, 3 steps: at most 2*2 live prefixes; the
		// last step only drops equal-length candidates.
		{"V3 len3 ngram4", 3, []int{2}, 3, 4},
		// One live token: no-repeat-4 forces EOS after "a a a a".
		{"V2 len8 ngram4", 2, []int{1}, 8, 4},
		// Two EOS tokens (as LoRA's 50256 and 628).
		{"V4 two EOS len3", 4, []int{2, 3}, 3, 4},
		// A smaller n-gram size makes the ban bite within 3 steps.
		{"V3 len3 ngram2", 3, []int{0}, 3, 2},
	}
	for _, tc := range cases {
		for seed := uint64(1); seed <= 40; seed++ {
			m := &toyLM{v: tc.v, seed: seed, scale: 2}
			opt := e2e
			opt.EOS, opt.MaxNewTokens, opt.NoRepeatNgram = tc.eos, tc.maxT, tc.ngram
			prompts := [][]int{{0}, {1, 0}, {tc.v - 1, 0, 1}}
			if opt.Beams > tc.v {
				opt.Beams = tc.v
			}
			got, err := BeamSearch(m, prompts, opt)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range prompts {
				want, wantScore := exhaustive(m, p, opt)
				if g := resultSeq(got[i]); !slices.Equal(g, want) || math.Abs(got[i].Score-wantScore) > 1e-9 {
					t.Errorf("%s seed %d prompt %v: beam %v (%.6f), exhaustive %v (%.6f)", tc.name, seed, p, g, got[i].Score, want, wantScore)
				}
			}
		}
	}
}

// referenceBeam is a direct, unbatched transcription of LoRA's algorithm
// (explicit candidate lists, no cache), used to check the batched version
// on models too large for exhaustive search.
func referenceBeam(m *toyLM, prompt []int, opt BeamOptions) ([]int, float64) {
	type hyp struct {
		seq   []int
		score float64
	}
	beams := []hyp{{nil, 0}}
	var best []int
	bestScore, have := 0.0, false
	consider := func(h hyp) {
		s := h.score / math.Pow(float64(len(h.seq)), opt.LengthPenalty)
		if !have || bestScore < s {
			best, bestScore, have = h.seq, s, true
		}
	}
	for step := 0; step < opt.MaxNewTokens; step++ {
		type cand struct {
			hyp
			flat int
		}
		var cands []cand
		for bi, b := range beams {
			lp := opt.logProbs(m.logits(append(slices.Clone(prompt), b.seq...)), b.seq)
			for t, l := range lp {
				cands = append(cands, cand{hyp{append(slices.Clone(b.seq), t), b.score + l}, bi*m.v + t})
			}
		}
		slices.SortStableFunc(cands, func(a, b cand) int {
			switch {
			case a.score > b.score:
				return -1
			case a.score < b.score:
				return 1
			}
			return a.flat - b.flat
		})
		beams = beams[:0]
		for _, c := range cands[:opt.Beams] {
			h := c.hyp
			if opt.isEOS(h.seq[len(h.seq)-1]) {
				consider(h)
				h.score = math.Inf(-1)
			}
			beams = append(beams, h)
		}
	}
	for _, b := range beams {
		consider(b)
	}
	return best, bestScore
}

func TestBeamMatchesReference(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		m := &toyLM{v: 12, seed: seed, scale: 1.2}
		opt := DefaultE2EBeam()
		opt.EOS, opt.MaxNewTokens = []int{0, 11}, 9
		opt.MinLength = 2
		prompts := [][]int{{1, 2, 3}, {4}, {5, 6}, {7, 7, 7, 7}}
		got, err := BeamSearch(m, prompts, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range prompts {
			want, ws := referenceBeam(&toyLM{v: 12, seed: seed, scale: 1.2}, p, opt)
			if g := resultSeq(got[i]); !slices.Equal(g, want) || math.Abs(got[i].Score-ws) > 1e-9 {
				t.Errorf("seed %d prompt %d: batched %v (%.6f), reference %v (%.6f)", seed, i, g, got[i].Score, want, ws)
			}
			if len(got[i].Tokens) < opt.MinLength && got[i].Finished {
				t.Errorf("seed %d prompt %d: finished after %d tokens, MinLength %d", seed, i, len(got[i].Tokens), opt.MinLength)
			}
		}
		// Batched equals one prompt at a time.
		for i, p := range prompts {
			one, err := BeamSearch(&toyLM{v: 12, seed: seed, scale: 1.2}, [][]int{p}, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resultSeq(one[0]), resultSeq(got[i])) {
				t.Errorf("seed %d prompt %d: alone %v, batched %v", seed, i, resultSeq(one[0]), resultSeq(got[i]))
			}
		}
	}
}

func TestNoRepeatNgram(t *testing.T) {
	tests := []struct {
		hist []int
		n    int
		want []int
	}{
		{[]int{1, 2, 3}, 4, nil},
		{[]int{1, 2, 3, 1, 2}, 3, []int{3}},
		{[]int{5, 5, 5, 5}, 4, []int{5}},
		{[]int{1, 2, 1, 3, 1}, 2, []int{2, 3}},
		{[]int{1, 2}, 0, nil},
	}
	for _, tc := range tests {
		if got := bannedNgram(tc.hist, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("bannedNgram(%v, %d) = %v, want %v", tc.hist, tc.n, got, tc.want)
		}
	}
}

func TestGreedy(t *testing.T) {
	m := &toyLM{v: 10, seed: 7, scale: 1}
	prompts := [][]int{{1}, {2, 3}}
	opt := Options{MaxNewTokens: 12, EOS: []int{9}, NoRepeatNgram: 2}
	got, err := Greedy(m, prompts, opt)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		// Recompute step by step from full sequences.
		var gen []int
		score := 0.0
		for len(gen) < opt.MaxNewTokens {
			lp := opt.logProbs(m.logits(append(slices.Clone(p), gen...)), gen)
			tok := argmax(lp)
			score += lp[tok]
			if tok == 9 {
				break
			}
			gen = append(gen, tok)
		}
		if !slices.Equal(got[i].Tokens, gen) || math.Abs(got[i].Score-score) > 1e-9 {
			t.Errorf("prompt %d: greedy %v (%.4f), want %v (%.4f)", i, got[i].Tokens, got[i].Score, gen, score)
		}
		if len(bannedNgram(got[i].Tokens, 2)) > 0 {
			for j := 0; j+1 < len(got[i].Tokens); j++ {
				for k := j + 1; k+1 < len(got[i].Tokens); k++ {
					if got[i].Tokens[j] == got[i].Tokens[k] && got[i].Tokens[j+1] == got[i].Tokens[k+1] {
						t.Errorf("prompt %d: repeated bigram in %v", i, got[i].Tokens)
					}
				}
			}
		}
	}
}

func TestSampleSeeded(t *testing.T) {
	prompts := [][]int{{1}, {2}, {3}}
	opt := SampleOptions{Options: Options{MaxNewTokens: 20, EOS: []int{0}}, Temperature: 0.8, TopK: 5, TopP: 0.9, Seed: 42}
	a, err := Sample(&toyLM{v: 30, seed: 3, scale: 2}, prompts, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Sample(&toyLM{v: 30, seed: 3, scale: 2}, prompts, opt)
	for i := range a {
		if !slices.Equal(a[i].Tokens, b[i].Tokens) {
			t.Errorf("same seed, different samples: %v vs %v", a[i].Tokens, b[i].Tokens)
		}
	}
	opt.Seed = 43
	c, _ := Sample(&toyLM{v: 30, seed: 3, scale: 2}, prompts, opt)
	same := 0
	for i := range a {
		if slices.Equal(a[i].Tokens, c[i].Tokens) {
			same++
		}
	}
	if same == len(a) {
		t.Error("different seeds gave identical samples for every prompt")
	}
	// TopK = 1 is greedy.
	opt.TopK, opt.TopP = 1, 0
	s, _ := Sample(&toyLM{v: 30, seed: 3, scale: 2}, prompts, opt)
	g, _ := Greedy(&toyLM{v: 30, seed: 3, scale: 2}, prompts, opt.Options)
	for i := range s {
		if !slices.Equal(s[i].Tokens, g[i].Tokens) {
			t.Errorf("top-1 sample %v != greedy %v", s[i].Tokens, g[i].Tokens)
		}
	}
}

func TestSampleDistribution(t *testing.T) {
	// Token frequencies of single draws follow softmax(logits/T) restricted
	// to the top-k set.
	lp := []float64{math.Log(0.5), math.Log(0.3), math.Log(0.15), math.Log(0.05)}
	opt := SampleOptions{Temperature: 1, TopK: 3}
	rng := rand.New(rand.NewPCG(1, 1))
	counts := make([]int, 4)
	const n = 20000
	for i := 0; i < n; i++ {
		counts[sampleToken(rng, lp, opt)]++
	}
	want := []float64{0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0}
	for i, c := range counts {
		if math.Abs(float64(c)/n-want[i]) > 0.015 {
			t.Errorf("token %d: frequency %.3f, want %.3f", i, float64(c)/n, want[i])
		}
	}
	// Top-p 0.6 keeps {0.5, 0.3}.
	opt = SampleOptions{Temperature: 1, TopP: 0.6}
	counts = make([]int, 4)
	for i := 0; i < n; i++ {
		counts[sampleToken(rng, lp, opt)]++
	}
	if counts[2] != 0 || counts[3] != 0 || math.Abs(float64(counts[0])/n-0.625) > 0.015 {
		t.Errorf("top-p counts %v", counts)
	}
}

type failingLM struct{ toyLM }

func (f *failingLM) Step([]int) ([][]float32, error) { return nil, errors.New("boom") }

func TestErrors(t *testing.T) {
	m := &toyLM{v: 5, seed: 1, scale: 1}
	bad := []struct {
		name string
		err  error
	}{
		{"no prompts", func() error { _, err := Greedy(m, nil, Options{MaxNewTokens: 1}); return err }()},
		{"empty prompt", func() error { _, err := Greedy(m, [][]int{{}}, Options{MaxNewTokens: 1}); return err }()},
		{"token range", func() error { _, err := Greedy(m, [][]int{{7}}, Options{MaxNewTokens: 1}); return err }()},
		{"zero steps", func() error { _, err := Greedy(m, [][]int{{1}}, Options{}); return err }()},
		{"eos range", func() error { _, err := Greedy(m, [][]int{{1}}, Options{MaxNewTokens: 2, EOS: []int{5}}); return err }()},
		{"beams > vocab", func() error {
			_, err := BeamSearch(m, [][]int{{1}}, BeamOptions{Options: Options{MaxNewTokens: 2}, Beams: 6})
			return err
		}()},
		{"temperature", func() error {
			_, err := Sample(m, [][]int{{1}}, SampleOptions{Options: Options{MaxNewTokens: 2}})
			return err
		}()},
		{"model error", func() error {
			_, err := Greedy(&failingLM{toyLM{v: 5, seed: 1, scale: 1}}, [][]int{{1}}, Options{MaxNewTokens: 3})
			return err
		}()},
	}
	for _, b := range bad {
		if b.err == nil {
			t.Errorf("%s: no error", b.name)
		}
	}
}

func BenchmarkBeamE2E(b *testing.B) {
	m := &toyLM{v: 256, seed: 1, scale: 1}
	opt := DefaultE2EBeam()
	opt.EOS = []int{0, 1}
	opt.MaxNewTokens = 32
	prompts := [][]int{{5, 6, 7}, {8, 9}, {10}, {11, 12}}
	for i := 0; i < b.N; i++ {
		if _, err := BeamSearch(m, prompts, opt); err != nil {
			b.Fatal(err)
		}
	}
}
