package metrics

import (
	"fmt"
	"strings"
)

// E2EScores are the five numbers the E2E NLG challenge scorer
// (tuetschek/e2e-metrics measure_scores.py) prints, on its scales: BLEU,
// METEOR, ROUGE-L in [0, 1], NIST and CIDEr unbounded (about 8.5 and 2.5
// for good E2E systems).
type E2EScores struct {
	BLEU   float64 `json:"bleu"`
	NIST   float64 `json:"nist"`
	METEOR float64 `json:"meteor"`
	RougeL float64 `json:"rouge_l"`
	CIDEr  float64 `json:"cider"`
}

// E2E scores hypotheses against grouped references as the E2E scorer does:
// BLEU and NIST by Mteval on the raw strings; METEOR, ROUGE-L and CIDEr-D
// on captions tokenised by CocoTokenize (pycocoevalcap's PTBTokenizer step),
// joined by single spaces.
func E2E(refs [][]string, hyps []string) (E2EScores, error) {
	var s E2EScores
	mt, err := Mteval(refs, hyps)
	if err != nil {
		return s, err
	}
	s.BLEU, s.NIST = mt.BLEU, mt.NIST
	tokRefs := make([][]string, len(refs))
	tokHyps := make([]string, len(hyps))
	for i := range hyps {
		tokHyps[i] = strings.Join(CocoTokenize(hyps[i]), " ")
		tokRefs[i] = make([]string, len(refs[i]))
		for j, r := range refs[i] {
			tokRefs[i][j] = strings.Join(CocoTokenize(r), " ")
		}
	}
	if s.METEOR, _, err = Meteor(tokRefs, tokHyps); err != nil {
		return s, err
	}
	if s.RougeL, _, err = RougeL(tokRefs, tokHyps); err != nil {
		return s, err
	}
	if s.CIDEr, _, err = CIDErD(tokRefs, tokHyps); err != nil {
		return s, err
	}
	return s, nil
}

// String formats the scores like the scorer's table.
func (s E2EScores) String() string {
	return fmt.Sprintf("BLEU: %.4f NIST: %.4f METEOR: %.4f ROUGE_L: %.4f CIDEr: %.4f", s.BLEU, s.NIST, s.METEOR, s.RougeL, s.CIDEr)
}
