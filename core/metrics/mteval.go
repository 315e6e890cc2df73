package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
)

// MtevalTokenize is the default ("western") normalisation of NIST's
// mteval-v13a.pl, as the E2E challenge scorer (tuetschek/e2e-metrics,
// mteval/mteval-v13a-sig.pl, run without -c) applies it to each segment:
//
//  1. whitespace runs become one space (the scorer's SGML reader does this
//     before tokenising), "<skipped>" is removed, "-\n" and "\n" are joined,
//     &quot; &amp; &lt; &gt; become " & < >;
//  2. ASCII A-Z are lowercased (only ASCII: tr/[A-Z]/[a-z]/);
//  3. each of { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
//     is surrounded by spaces;
//  4. "." and "," are split off unless they sit between digits (two
//     left-to-right, non-overlapping substitutions, as Perl's s///g does);
//  5. a "-" after a digit is split off;
//  6. whitespace runs become one space and the ends are trimmed.
//
// The apostrophe and a hyphen between letters are not split.
func MtevalTokenize(s string) []string {
	s = strings.Join(strings.FieldsFunc(s, unicode.IsSpace), " ")
	s = strings.ReplaceAll(s, "<skipped>", "")
	s = strings.ReplaceAll(s, "-\n", "")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "&quot;", "\"")
	s = strings.ReplaceAll(s, "&amp;", "&")
	s = strings.ReplaceAll(s, "&lt;", "<")
	s = strings.ReplaceAll(s, "&gt;", ">")
	rs := []rune(" " + s + " ")
	for i, r := range rs {
		if r >= 'A' && r <= 'Z' {
			rs[i] = r + ('a' - 'A')
		}
	}
	// Punctuation and symbols.
	out := make([]rune, 0, len(rs)*2)
	for _, r := range rs {
		if isMtevalPunct(r) {
			out = append(out, ' ', r, ' ')
		} else {
			out = append(out, r)
		}
	}
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	isPC := func(r rune) bool { return r == '.' || r == ',' }
	// s/([^0-9])([\.,])/$1 $2 /g
	out = subPairs(out, func(a, b rune) bool { return !isDigit(a) && isPC(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	// s/([\.,])([^0-9])/ $1 $2/g
	out = subPairs(out, func(a, b rune) bool { return isPC(a) && !isDigit(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, ' ', a, ' ', b) })
	// s/([0-9])(-)/$1 $2 /g
	out = subPairs(out, func(a, b rune) bool { return isDigit(a) && b == '-' },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	return strings.FieldsFunc(string(out), unicode.IsSpace)
}

// isMtevalPunct is the character class [\{-\~\[-\` -\&\(-\+\:-\@\/].
func isMtevalPunct(r rune) bool {
	return (r >= '{' && r <= '~') || (r >= '[' && r <= '`') || (r >= ' ' && r <= '&') ||
		(r >= '(' && r <= '+') || (r >= ':' && r <= '@') || r == '/'
}

// subPairs emulates a global regex substitution of a two-character pattern:
// matches are found left to right and do not overlap.
func subPairs(s []rune, match func(a, b rune) bool, repl func(dst []rune, a, b rune) []rune) []rune {
	out := make([]rune, 0, len(s)+len(s)/2)
	for i := 0; i < len(s); {
		if i+1 < len(s) && match(s[i], s[i+1]) {
			out = repl(out, s[i], s[i+1])
			i += 2
			continue
		}
		out = append(out, s[i])
		i++
	}
	return out
}

// ngramCounts counts the n-grams of toks for n = 1..maxN, keyed by the
// tokens joined with single spaces (tokens never contain whitespace: every
// tokeniser here splits on it).
func ngramCounts(toks []string, maxN int) map[string]int {
	m := make(map[string]int, len(toks)*maxN)
	for i := range toks {
		key := ""
		for n := 1; n <= maxN && i+n <= len(toks); n++ {
			if n == 1 {
				key = toks[i]
			} else {
				key += " " + toks[i+n-1]
			}
			m[key]++
		}
	}
	return m
}

func ngramOrder(key string) int { return strings.Count(key, " ") + 1 }

// MtevalScores holds corpus-level BLEU and NIST as mteval-v13a-sig.pl
// prints them (BLEU in [0, 1]).
type MtevalScores struct {
	BLEU float64
	NIST float64
	// Per-order statistics summed over the corpus (index n-1 for n-grams).
	Matches   [5]int // clipped n-gram matches
	HypNgrams [5]int // n-grams in the hypotheses
	RefLength int    // sum of the closest reference lengths (BLEU)
}

const (
	bleuMaxN = 4
	nistMaxN = 5
)

// Mteval computes BLEU and NIST over a corpus exactly as the E2E scorer's
// mteval-v13a-sig.pl does (default options: closest-reference brevity
// penalty, smoothed BLEU, case-insensitive, western tokenisation).
// refs[i] are the references of hyps[i]; instances may have different
// numbers of references (the scorer pads the missing ones with empty
// segments, which this function reproduces: empty references are skipped
// for the brevity penalty, and NIST's average reference length divides the
// total reference length by the largest number of references).
func Mteval(refs [][]string, hyps []string) (MtevalScores, error) {
	var res MtevalScores
	if len(refs) != len(hyps) {
		return res, fmt.Errorf("mteval: %d reference sets for %d hypotheses", len(refs), len(hyps))
	}
	if len(hyps) == 0 {
		return res, errors.New("mteval: no segments")
	}
	hypTok := make([][]string, len(hyps))
	refTok := make([][][]string, len(refs))
	nsys := 0
	for i := range hyps {
		if len(refs[i]) == 0 {
			return res, fmt.Errorf("mteval: segment %d has no reference", i+1)
		}
		hypTok[i] = MtevalTokenize(hyps[i])
		refTok[i] = make([][]string, len(refs[i]))
		for j, r := range refs[i] {
			refTok[i][j] = MtevalTokenize(r)
		}
		nsys = max(nsys, len(refs[i]))
	}

	// NIST information weights from all reference n-grams:
	// info(w1..wn) = log2(count(w1..wn-1) / count(w1..wn)), with the total
	// number of reference words as the count of the empty prefix.
	refCount := map[string]int{}
	totWords := 0
	for _, rs := range refTok {
		for _, r := range rs {
			totWords += len(r)
			for k, c := range ngramCounts(r, nistMaxN) {
				refCount[k] += c
			}
		}
	}
	if totWords == 0 {
		return res, errors.New("mteval: the references have no words")
	}
	info := func(key string) float64 {
		c := float64(refCount[key])
		i := strings.LastIndexByte(key, ' ')
		if i < 0 {
			return -math.Log(c/float64(totWords)) / math.Log(2)
		}
		return -math.Log(c/float64(refCount[key[:i]])) / math.Log(2)
	}

	var tstInfo [nistMaxN]float64
	refWords := 0
	for i, h := range hypTok {
		hc := ngramCounts(h, nistMaxN)
		maxRef := map[string]int{}
		refLen := -1
		for _, r := range refTok[i] {
			refWords += len(r)
			for k, c := range ngramCounts(r, nistMaxN) {
				if c > maxRef[k] {
					maxRef[k] = c
				}
			}
			refLen = closestLength(refLen, len(r), len(h))
		}
		res.RefLength += refLen
		for n := 1; n <= nistMaxN; n++ {
			if len(h) >= n {
				res.HypNgrams[n-1] += len(h) - n + 1
			}
		}
		for k, c := range hc {
			mr, ok := maxRef[k]
			if !ok {
				continue
			}
			m := min(c, mr)
			n := ngramOrder(k)
			res.Matches[n-1] += m
			tstInfo[n-1] += info(k) * float64(m)
		}
	}

	// BLEU, smoothed as bleu_score does: an order with no match counts as
	// 1/(2^k * ngrams) for the k-th such order; an order with no n-grams
	// counts as precision 1.
	bp := 0.0
	if res.HypNgrams[0] > 0 {
		bp = math.Exp(math.Min(0, 1-float64(res.RefLength)/float64(res.HypNgrams[0])))
	}
	logSum := 0.0
	smooth := 1.0
	for n := 0; n < bleuMaxN; n++ {
		switch {
		case res.HypNgrams[n] == 0:
		case res.Matches[n] == 0:
			smooth *= 2
			logSum += math.Log(1 / (smooth * float64(res.HypNgrams[n])))
		default:
			logSum += math.Log(float64(res.Matches[n]) / float64(res.HypNgrams[n]))
		}
	}
	res.BLEU = math.Exp(logSum/bleuMaxN) * bp

	// NIST.
	nist := 0.0
	for n := 0; n < nistMaxN; n++ {
		nist += tstInfo[n] / float64(max(res.HypNgrams[n], 1))
	}
	avgRef := float64(refWords) / float64(nsys)
	res.NIST = nist * nistLengthPenalty(float64(res.HypNgrams[0])/avgRef)
	return res, nil
}

// closestLength is brevity_penalty_closest with the scorer's skipping of
// empty references: cur < 0 means "no reference yet".
func closestLength(cur, refLen, hypLen int) int {
	if cur < 0 {
		return refLen
	}
	if refLen == 0 {
		return cur
	}
	dr, dc := abs(hypLen-refLen), abs(hypLen-cur)
	switch {
	case dr < dc:
		return refLen
	case dr == dc && refLen < cur:
		return refLen
	}
	return cur
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// nistLengthPenalty is exp(-beta * log(ratio)^2) for ratio in (0, 1), with
// beta chosen so that a ratio of 2/3 gives 0.5.
func nistLengthPenalty(ratio float64) float64 {
	if ratio >= 1 {
		return 1
	}
	if ratio <= 0 {
		return 0
	}
	beta := -math.Log(0.5) / math.Log(1.5) / math.Log(1.5)
	return math.Exp(-beta * math.Log(ratio) * math.Log(ratio))
}
