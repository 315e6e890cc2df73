package metrics

import (
	"fmt"
	"math"
	"strings"
)

// METEOR 1.5 parameters for English ("-l en", task "default"), as in
// Denkowski & Lavie (2014) and the meteor-1.5.jar that pycocoevalcap runs.
const (
	MeteorAlpha = 0.85
	MeteorBeta  = 0.20
	MeteorGamma = 0.60
	MeteorDelta = 0.75
)

// MeteorStats are the sufficient statistics of one segment (or, summed, of
// a corpus) for the exact-match METEOR implemented here.
type MeteorStats struct {
	TestLength, RefLength   int
	TestMatches, RefMatches int // matched words (equal under exact matching)
	Chunks                  int
}

// Add sums statistics (METEOR's corpus aggregation).
func (s *MeteorStats) Add(o MeteorStats) {
	s.TestLength += o.TestLength
	s.RefLength += o.RefLength
	s.TestMatches += o.TestMatches
	s.RefMatches += o.RefMatches
	s.Chunks += o.Chunks
}

// Score is METEOR 1.5's computeMetrics restricted to the exact stage with
// no function words: P = m/|h|, R = m/|r|, Fmean = 1/((1-α)/P + α/R),
// frag = chunks / ((m_h+m_r)/2) (0 for a perfect one-chunk match),
// score = Fmean·(1 - γ·frag^β), 0 when there is no match.
func (s MeteorStats) Score() float64 {
	if s.TestMatches == 0 || s.RefMatches == 0 || s.TestLength == 0 || s.RefLength == 0 {
		return 0
	}
	// With every word a content word, METEOR's δ weighting cancels out.
	p := float64(s.TestMatches) / float64(s.TestLength)
	r := float64(s.RefMatches) / float64(s.RefLength)
	fmean := 1 / ((1-MeteorAlpha)/p + MeteorAlpha/r)
	frag := 0.0
	if !(s.TestMatches == s.TestLength && s.RefMatches == s.RefLength && s.Chunks == 1) {
		frag = float64(s.Chunks) / (float64(s.TestMatches+s.RefMatches) / 2)
	}
	score := fmean * (1 - MeteorGamma*math.Pow(frag, MeteorBeta))
	if math.IsNaN(score) || score < 0 {
		return 0
	}
	return score
}

// maxAlignSearch bounds the alignment search per segment pair; past it the
// best alignment found so far is used.
const maxAlignSearch = 20000

// MeteorAlign aligns hypothesis and reference tokens with METEOR's exact
// stage: a one-to-one alignment of identical tokens with the most matches,
// then the fewest chunks (runs of matches contiguous and in the same order
// on both sides), then the smallest total distance between matched
// positions — METEOR's alignment objective, found here by a bounded
// branch-and-bound search instead of METEOR's beam search.
func MeteorAlign(hyp, ref []string) MeteorStats {
	st := MeteorStats{TestLength: len(hyp), RefLength: len(ref)}
	// Candidate reference positions for each hypothesis token.
	pos := map[string][]int{}
	for j, w := range ref {
		pos[w] = append(pos[w], j)
	}
	// Maximum number of matches: multiset intersection.
	avail := map[string]int{}
	for w, p := range pos {
		avail[w] = len(p)
	}
	m := 0
	for _, w := range hyp {
		if avail[w] > 0 {
			avail[w]--
			m++
		}
	}
	if m == 0 {
		return st
	}
	st.TestMatches, st.RefMatches = m, m

	// Search assignments of hypothesis tokens (in order) to unused reference
	// positions or to "unmatched", keeping exactly m matches.
	used := make([]bool, len(ref))
	bestChunks, bestDist := math.MaxInt, math.MaxInt
	// need[i] bounds the matches still possible from hyp[i] on: the tokens
	// that have any candidate.
	need := make([]int, len(hyp)+1)
	for i := len(hyp) - 1; i >= 0; i-- {
		need[i] = need[i+1]
		if len(pos[hyp[i]]) > 0 {
			need[i]++
		}
	}
	nodes := 0
	var rec func(i, matched, chunks, dist, prevRef int)
	rec = func(i, matched, chunks, dist, prevRef int) {
		nodes++
		if nodes > maxAlignSearch && bestChunks != math.MaxInt {
			return
		}
		if chunks > bestChunks || (chunks == bestChunks && dist >= bestDist) {
			return
		}
		if matched+need[i] < m {
			return
		}
		if i == len(hyp) {
			if matched == m {
				bestChunks, bestDist = chunks, dist
			}
			return
		}
		for _, j := range pos[hyp[i]] {
			if used[j] {
				continue
			}
			c := chunks
			if prevRef < 0 || j != prevRef+1 {
				c++
			}
			used[j] = true
			rec(i+1, matched+1, c, dist+abs(i-j), j)
			used[j] = false
		}
		// Leave hyp[i] unmatched (breaks any chunk).
		rec(i+1, matched, chunks, dist, -1)
	}
	rec(0, 0, 0, 0, -1)
	st.Chunks = bestChunks
	return st
}

// MeteorSegment scores one hypothesis against its references (already
// tokenised, space-joined): each reference is aligned, the one with the
// highest score is kept (METEOR's multi-reference rule), and its
// statistics are returned with the score.
func MeteorSegment(hyp string, refs []string) (float64, MeteorStats) {
	h := meteorNorm(hyp)
	best, bestScore := MeteorStats{TestLength: len(h)}, -1.0
	for _, r := range refs {
		st := MeteorAlign(h, meteorNorm(r))
		if sc := st.Score(); sc > bestScore {
			best, bestScore = st, sc
		}
	}
	return math.Max(bestScore, 0), best
}

// meteorNorm is the part of METEOR's -norm that applies to text already
// tokenised and lowercased by CocoTokenize: lowercase and split on
// whitespace.
func meteorNorm(s string) []string { return strings.Fields(strings.ToLower(s)) }

// Meteor is the corpus METEOR that pycocoevalcap reports: the best
// reference's statistics of every segment are summed and scored once (the
// jar's EVAL line), not averaged. It returns the corpus score and the
// segment scores.
//
// Implemented: METEOR 1.5's scoring formula and parameters for English
// (α=0.85, β=0.2, γ=0.6), its alignment objective, multi-reference choice
// and corpus aggregation, with only the exact-match stage. Not implemented:
// the stem (Snowball), synonym (WordNet) and paraphrase stages and the
// function-word list (so δ=0.75 has no effect). Scores are therefore lower
// than or equal to METEOR 1.5's on the same tokens.
func Meteor(refs [][]string, hyps []string) (float64, []float64, error) {
	if err := checkCorpus(refs, hyps); err != nil {
		return 0, nil, fmt.Errorf("meteor: %w", err)
	}
	var total MeteorStats
	seg := make([]float64, len(hyps))
	for i := range hyps {
		var st MeteorStats
		seg[i], st = MeteorSegment(hyps[i], refs[i])
		total.Add(st)
	}
	return total.Score(), seg, nil
}
