package metrics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

func checkPairs(n, m int) error {
	if n != m {
		return fmt.Errorf("%d predictions for %d labels", n, m)
	}
	if n == 0 {
		return errors.New("no examples")
	}
	return nil
}

// Accuracy is the fraction of predictions equal to their labels.
func Accuracy(preds, labels []int) (float64, error) {
	if err := checkPairs(len(preds), len(labels)); err != nil {
		return 0, fmt.Errorf("accuracy: %w", err)
	}
	ok := 0
	for i := range preds {
		if preds[i] == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(preds)), nil
}

// F1 is the binary F1 score of the class positive (scikit-learn's
// f1_score with pos_label=positive): 2·TP / (2·TP + FP + FN), and 0 when
// there are no positive predictions and no positive labels
// (zero_division=0).
func F1(preds, labels []int, positive int) (float64, error) {
	if err := checkPairs(len(preds), len(labels)); err != nil {
		return 0, fmt.Errorf("f1: %w", err)
	}
	var tp, fp, fn int
	for i := range preds {
		p, l := preds[i] == positive, labels[i] == positive
		switch {
		case p && l:
			tp++
		case p:
			fp++
		case l:
			fn++
		}
	}
	if 2*tp+fp+fn == 0 {
		return 0, nil
	}
	return 2 * float64(tp) / float64(2*tp+fp+fn), nil
}

// MatthewsCorr is the Matthews correlation coefficient in scikit-learn's
// multiclass form (for two classes it is (TP·TN − FP·FN) /
// sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN))); 0 when the denominator is 0.
func MatthewsCorr(preds, labels []int) (float64, error) {
	if err := checkPairs(len(preds), len(labels)); err != nil {
		return 0, fmt.Errorf("mcc: %w", err)
	}
	pc, tc := map[int]float64{}, map[int]float64{}
	correct := 0.0
	for i := range preds {
		pc[preds[i]]++
		tc[labels[i]]++
		if preds[i] == labels[i] {
			correct++
		}
	}
	s := float64(len(preds))
	var pt, pp, tt float64
	for k, p := range pc {
		pt += p * tc[k]
		pp += p * p
	}
	for _, t := range tc {
		tt += t * t
	}
	covYtYp := correct*s - pt
	covYpYp := s*s - pp
	covYtYt := s*s - tt
	if covYpYp*covYtYt == 0 {
		return 0, nil
	}
	return covYtYp / math.Sqrt(covYtYt*covYpYp), nil
}

// Pearson is the Pearson correlation of x and y (scipy.stats.pearsonr's
// statistic). It is NaN when either input is constant, as in scipy.
func Pearson(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return 0, fmt.Errorf("pearson: %d values against %d", len(x), len(y))
	}
	if len(x) < 2 {
		return 0, fmt.Errorf("pearson: need at least 2 pairs, got %d", len(x))
	}
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN(), nil
	}
	r := sxy / math.Sqrt(sxx*syy)
	return math.Max(-1, math.Min(1, r)), nil
}

// Ranks returns the 1-based ranks of x with ties given their average rank
// (scipy.stats.rankdata(method="average")).
func Ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

// Spearman is the Spearman rank correlation: Pearson of the average-tie
// ranks (scipy.stats.spearmanr's statistic).
func Spearman(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return 0, fmt.Errorf("spearman: %d values against %d", len(x), len(y))
	}
	r, err := Pearson(Ranks(x), Ranks(y))
	if err != nil {
		return 0, fmt.Errorf("spearman: %w", err)
	}
	return r, nil
}
