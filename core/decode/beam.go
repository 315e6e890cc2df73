package decode

import (
	"fmt"
	"math"
	"sort"
)

// BeamOptions configure BeamSearch.
type BeamOptions struct {
	Options
	// Beams is the beam width (LoRA E2E: 10).
	Beams int
	// LengthPenalty is the exponent of the length normalisation (LoRA E2E:
	// 0.8): a finished hypothesis scores logprob / length^LengthPenalty.
	LengthPenalty float64
	// PenaltyCountsPrompt adds the prompt length to the length in the
	// penalty, as Hugging Face transformers did for decoder-only models
	// before v4.37 (the newer transformers and LoRA count generated tokens
	// only).
	PenaltyCountsPrompt bool
}

// DefaultE2EBeam returns LoRA's E2E decoding settings (gpt2_beam.py as run
// in the LoRA README): beam 10, length penalty 0.8, no_repeat_ngram_size
// 4, EOS {50256, 628}, 64 new tokens, no minimum length.
func DefaultE2EBeam() BeamOptions {
	return BeamOptions{
		Options: Options{MaxNewTokens: 64, EOS: []int{50256, 628}, NoRepeatNgram: 4},
		Beams:   10, LengthPenalty: 0.8,
	}
}

type beamCand struct {
	score float64
	beam  int // source beam within the batch item
	tok   int
	flat  int // beam*V + tok, for tie-breaking like a flattened top-k
}

// BeamSearch runs LoRA's beam search (gpt2_beam.py) for every prompt, all
// prompts and beams in one batch of len(prompts)*Beams cache rows:
//
//   - step 0 takes the top Beams tokens of the prompt's distribution; each
//     later step takes the top Beams of beam score + log-probability over
//     all beams and tokens (ties: lower beam, then lower token id);
//   - log-probabilities are log-softmax of the logits after banning EOS
//     below MinLength and tokens that would repeat an n-gram of
//     NoRepeatNgram generated tokens (the prompt is not part of the
//     history);
//   - a selected candidate ending in an EOS token is a finished hypothesis
//     with score (beam score) / length^LengthPenalty, length counting the
//     generated tokens including the EOS; it replaces the best one so far
//     if strictly better, and its beam score becomes -Inf so the beam dies;
//   - after MaxNewTokens steps every remaining beam is also a candidate
//     (same penalised score), and the best hypothesis is returned.
//
// There is no early stopping (LoRA has none) except that decoding ends once
// every beam of every prompt is dead, when nothing can change any more.
func BeamSearch(lm LM, prompts [][]int, opt BeamOptions) ([]Result, error) {
	if err := opt.check(lm, prompts); err != nil {
		return nil, err
	}
	v := lm.VocabSize()
	k := opt.Beams
	if k <= 0 || k > v {
		return nil, fmt.Errorf("decode: Beams = %d, want 1..%d (the vocabulary size)", k, v)
	}
	if math.IsNaN(opt.LengthPenalty) || math.IsInf(opt.LengthPenalty, 0) {
		return nil, fmt.Errorf("decode: LengthPenalty = %v", opt.LengthPenalty)
	}
	b := len(prompts)
	logits, err := lm.Prefill(prompts)
	if err != nil {
		return nil, fmt.Errorf("decode: prefill: %w", err)
	}
	if err := checkLogits(logits, b, v, "prefill"); err != nil {
		return nil, err
	}
	src := make([]int, b*k)
	for i := range src {
		src[i] = i / k
	}
	if err := lm.Reorder(src); err != nil {
		return nil, fmt.Errorf("decode: reorder: %w", err)
	}
	rows := make([][]float32, b*k)
	for i := range rows {
		rows[i] = logits[i/k]
	}
	logits = rows

	scores := make([]float64, b*k)
	hist := make([][]int, b*k)
	best := make([]float64, b)
	bestSeq := make([][]int, b)
	have := make([]bool, b)
	penalty := func(item, length int) float64 {
		if opt.PenaltyCountsPrompt {
			length += len(prompts[item])
		}
		return math.Pow(float64(length), opt.LengthPenalty)
	}
	consider := func(item int, score float64, seq []int) {
		s := score / penalty(item, len(seq))
		if !have[item] || best[item] < s {
			best[item], have[item] = s, true
			bestSeq[item] = append([]int(nil), seq...)
		}
	}
	next := make([]int, b*k)
	newScores := make([]float64, b*k)
	newHist := make([][]int, b*k)
	for step := 0; step < opt.MaxNewTokens; step++ {
		allDead := true
		for item := 0; item < b; item++ {
			cands := make([]beamCand, 0, k*k)
			nb := k
			if step == 0 {
				nb = 1 // all beams are copies of the prompt
			}
			for bm := 0; bm < nb; bm++ {
				row := item*k + bm
				lp := opt.logProbs(logits[row], hist[row])
				base := scores[row]
				if step == 0 {
					base = 0
				}
				cands = append(cands, topK(lp, k, base, bm, v)...)
			}
			sort.Slice(cands, func(i, j int) bool {
				if cands[i].score != cands[j].score {
					return cands[i].score > cands[j].score
				}
				return cands[i].flat < cands[j].flat
			})
			cands = cands[:k]
			for j, c := range cands {
				row := item*k + j
				from := item*k + c.beam
				src[row] = from
				next[row] = c.tok
				h := make([]int, len(hist[from])+1)
				copy(h, hist[from])
				h[len(h)-1] = c.tok
				newHist[row] = h
				newScores[row] = c.score
				if opt.isEOS(c.tok) {
					consider(item, c.score, h)
					newScores[row] = math.Inf(-1)
				}
				if !math.IsInf(newScores[row], -1) {
					allDead = false
				}
			}
		}
		copy(scores, newScores)
		copy(hist, newHist)
		if step == opt.MaxNewTokens-1 || allDead {
			break
		}
		if err := lm.Reorder(src); err != nil {
			return nil, fmt.Errorf("decode: reorder at step %d: %w", step+1, err)
		}
		if logits, err = lm.Step(next); err != nil {
			return nil, fmt.Errorf("decode: step %d: %w", step+1, err)
		}
		if err := checkLogits(logits, b*k, v, "step"); err != nil {
			return nil, err
		}
	}
	// Final candidates: every beam, finished or not (dead beams score -Inf).
	for row := range hist {
		consider(row/k, scores[row], hist[row])
	}
	res := make([]Result, b)
	for item := range res {
		seq := bestSeq[item]
		r := Result{EOSToken: -1, Score: best[item]}
		if n := len(seq); n > 0 && opt.isEOS(seq[n-1]) {
			r.Finished, r.EOSToken = true, seq[n-1]
			seq = seq[:n-1]
		}
		r.Tokens = append([]int{}, seq...)
		res[item] = r
	}
	return res, nil
}

// topK returns the k best tokens of one row as candidates with base added
// (ties: lower token id). -Inf entries are kept when fewer than k are
// finite, as a flattened top-k over all candidates would.
func topK(lp []float64, k int, base float64, beam, v int) []beamCand {
	out := make([]beamCand, 0, k+1)
	for t, l := range lp {
		s := base + l
		if math.IsNaN(s) {
			s = math.Inf(-1)
		}
		if len(out) == k && !(s > out[k-1].score) {
			continue
		}
		c := beamCand{score: s, beam: beam, tok: t, flat: beam*v + t}
		// Insert keeping descending score, stable in token order.
		i := len(out)
		out = append(out, c)
		for i > 0 && out[i-1].score < s {
			out[i] = out[i-1]
			i--
		}
		out[i] = c
		if len(out) > k {
			out = out[:k]
		}
	}
	return out
}
