package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// The functions in this file take captions that are already tokenised and
// joined by single spaces (what pycocoevalcap's scorers receive from its
// PTBTokenizer step; see CocoTokenize).

// lcs is the length of the longest common subsequence of a and b.
func lcs(a, b []string) int {
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(prev[j], cur[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// RougeLBeta is pycocoevalcap's beta (recall weighted 1.2 times precision).
const RougeLBeta = 1.2

// RougeLSegment is pycocoevalcap's Rouge.calc_score: captions are split on
// single spaces (so "" is one empty token); P and R are the maxima over the
// references of LCS/len(candidate) and LCS/len(reference), taken
// separately; the score is (1+β²)PR/(R+β²P), or 0 when P or R is 0.
func RougeLSegment(cand string, refs []string) float64 {
	c := strings.Split(cand, " ")
	pMax, rMax := 0.0, 0.0
	for _, ref := range refs {
		r := strings.Split(ref, " ")
		l := float64(lcs(r, c))
		pMax = math.Max(pMax, l/float64(len(c)))
		rMax = math.Max(rMax, l/float64(len(r)))
	}
	if pMax == 0 || rMax == 0 {
		return 0
	}
	b2 := RougeLBeta * RougeLBeta
	return (1 + b2) * pMax * rMax / (rMax + b2*pMax)
}

// RougeL is the mean of RougeLSegment over the corpus.
func RougeL(refs [][]string, hyps []string) (float64, []float64, error) {
	if err := checkCorpus(refs, hyps); err != nil {
		return 0, nil, fmt.Errorf("rouge-l: %w", err)
	}
	seg := make([]float64, len(hyps))
	sum := 0.0
	for i := range hyps {
		seg[i] = RougeLSegment(hyps[i], refs[i])
		sum += seg[i]
	}
	return sum / float64(len(hyps)), seg, nil
}

func checkCorpus(refs [][]string, hyps []string) error {
	if len(refs) != len(hyps) {
		return fmt.Errorf("%d reference sets for %d hypotheses", len(refs), len(hyps))
	}
	if len(hyps) == 0 {
		return errors.New("no segments")
	}
	for i, r := range refs {
		if len(r) == 0 {
			return fmt.Errorf("segment %d has no reference", i+1)
		}
	}
	return nil
}

// CIDEr-D parameters of pycocoevalcap.
const (
	ciderN     = 4
	ciderSigma = 6.0
)

type ciderVec struct {
	vec    [ciderN]map[string]float64
	norm   [ciderN]float64
	length int
}

// CIDErD computes CIDEr-D exactly as pycocoevalcap's CiderScorer (which the
// E2E scorer reports as "CIDEr"): n-grams of 1..4 words from
// strings.Fields; document frequencies over the reference sets (an n-gram
// counts once per segment); tf-idf vectors with idf = log(#segments) -
// log(max(1, df)); per order, the hypothesis-reference similarity
// Σ min(h, r)·r / (|h|·|r|) (skipped division when a norm is 0) times the
// Gaussian length penalty exp(-(lh-lr)²/(2σ²)) with σ = 6, where the
// "length" is the number of bigrams (pycocoevalcap's quirk); the segment
// score is 10 × the mean over orders of the mean over references. The
// corpus score is the mean over segments.
func CIDErD(refs [][]string, hyps []string) (float64, []float64, error) {
	if err := checkCorpus(refs, hyps); err != nil {
		return 0, nil, fmt.Errorf("cider: %w", err)
	}
	countsOf := func(s string) map[string]int { return ngramCounts(strings.Fields(s), ciderN) }
	refCounts := make([][]map[string]int, len(refs))
	df := map[string]float64{}
	for i, rs := range refs {
		seen := map[string]bool{}
		refCounts[i] = make([]map[string]int, len(rs))
		for j, r := range rs {
			refCounts[i][j] = countsOf(r)
			for k := range refCounts[i][j] {
				seen[k] = true
			}
		}
		for k := range seen {
			df[k]++
		}
	}
	refLen := math.Log(float64(len(refs)))
	toVec := func(c map[string]int) ciderVec {
		var v ciderVec
		for n := range v.vec {
			v.vec[n] = map[string]float64{}
		}
		for k, tf := range c {
			n := ngramOrder(k) - 1
			w := float64(tf) * (refLen - math.Log(math.Max(1, df[k])))
			v.vec[n][k] = w
			v.norm[n] += w * w
			if n == 1 {
				v.length += tf
			}
		}
		for n := range v.norm {
			v.norm[n] = math.Sqrt(v.norm[n])
		}
		return v
	}
	seg := make([]float64, len(hyps))
	total := 0.0
	for i, h := range hyps {
		hv := toVec(countsOf(h))
		var score [ciderN]float64
		for _, rc := range refCounts[i] {
			rv := toVec(rc)
			delta := float64(hv.length - rv.length)
			pen := math.Exp(-(delta * delta) / (2 * ciderSigma * ciderSigma))
			for n := 0; n < ciderN; n++ {
				val := 0.0
				for k, w := range hv.vec[n] {
					r := rv.vec[n][k]
					val += math.Min(w, r) * r
				}
				if hv.norm[n] != 0 && rv.norm[n] != 0 {
					val /= hv.norm[n] * rv.norm[n]
				}
				score[n] += val * pen
			}
		}
		mean := 0.0
		for _, s := range score {
			mean += s
		}
		mean /= ciderN
		seg[i] = mean / float64(len(refCounts[i])) * 10
		total += seg[i]
	}
	return total / float64(len(hyps)), seg, nil
}
