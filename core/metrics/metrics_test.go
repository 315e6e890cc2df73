package metrics

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestMtevalTokenize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Hello, World.", "hello , world ."},
		{"£20-25 and 3.5 or 1,000.", "£20 - 25 and 3.5 or 1,000 ."},
		{"It's family-friendly!", "it's family-friendly !"},
		{"a/b (c) [d] {e} x@y #1 $2 50%", "a / b ( c ) [ d ] { e } x @ y # 1 $ 2 50 %"},
		{"  spaced\t\tout \n ", "spaced out"},
		{"&quot;x&quot; &amp; &lt;y&gt;", `" x " & < y >`},
		{"ÉCOLE Café", "École café"},
		{"end.Start", "end . start"},
		{"a..b", "a . . b"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := strings.Join(MtevalTokenize(tc.in), " "); got != tc.want {
			t.Errorf("MtevalTokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBLEUHandComputed(t *testing.T) {
	tests := []struct {
		name string
		refs [][]string
		hyps []string
		want float64
	}{
		{"cat", [][]string{{"the cat sat on a mat"}}, []string{"the cat sat on the mat"},
			math.Pow(5.0/6*3.0/5*2.0/4*1.0/3, 0.25)},
		// No bigram match: smoothed to 1/(2*1); no 3- or 4-grams: precision 1.
		{"smoothing", [][]string{{"a c"}}, []string{"a b"}, math.Pow(0.5*0.5, 0.25)},
		// Short output: brevity penalty exp(1 - 4/2).
		{"brevity", [][]string{{"a b c d"}}, []string{"a b"}, math.Exp(-1)},
		// Closest reference (length 2) chosen over the longer one.
		{"closest", [][]string{{"a b c d e f", "a b"}}, []string{"a b"}, 1},
		// Clipping: "the" counted at most as often as in one reference.
		{"clip", [][]string{{"the cat", "the dog"}}, []string{"the the"}, math.Pow(0.5*0.5, 0.25)},
		{"corpus", [][]string{{"a b c d"}, {"e f"}}, []string{"a b c d", "e g"},
			math.Pow(5.0/6*3.0/4*2.0/2*1.0/1, 0.25)},
	}
	for _, tc := range tests {
		got, err := Mteval(tc.refs, tc.hyps)
		if err != nil {
			t.Fatal(err)
		}
		if !near(got.BLEU, tc.want) {
			t.Errorf("%s: BLEU %.6f, want %.6f", tc.name, got.BLEU, tc.want)
		}
	}
}

func TestClosestLength(t *testing.T) {
	tests := []struct{ cur, ref, hyp, want int }{
		{-1, 7, 3, 7}, {11, 8, 7, 8}, {8, 6, 7, 6}, {7, 6, 7, 7}, {5, 0, 5, 5}, {3, 5, 4, 3}, {5, 3, 4, 3},
	}
	for _, tc := range tests {
		if got := closestLength(tc.cur, tc.ref, tc.hyp); got != tc.want {
			t.Errorf("closestLength(%d,%d,%d) = %d, want %d", tc.cur, tc.ref, tc.hyp, got, tc.want)
		}
	}
}

func TestNISTHandComputed(t *testing.T) {
	// Reference "a b": info(a) = info(b) = log2(2/1) = 1, info(a b) =
	// log2(1/1) = 0, so NIST = (1+1)/2 + 0/1 = 1.
	got, err := Mteval([][]string{{"a b"}}, []string{"a b"})
	if err != nil {
		t.Fatal(err)
	}
	if !near(got.NIST, 1) {
		t.Errorf("NIST = %v, want 1", got.NIST)
	}
	// Refs "a a b" and "a c": counts a=3 b=1 c=1 (5 words): info(a) =
	// log2(5/3), info(b) = log2(5); output "a b" matches both unigrams and
	// "a b" (info log2(count(a)/count(a b)) = log2 3).
	got, _ = Mteval([][]string{{"a a b", "a c"}}, []string{"a b"})
	want := (math.Log2(5.0/3)+math.Log2(5))/2 + math.Log2(3)/1
	// Length penalty: 2 words against an average of 5/2 words.
	want *= nistLengthPenalty(2 / 2.5)
	if !near(got.NIST, want) {
		t.Errorf("NIST = %v, want %v", got.NIST, want)
	}
	if !near(nistLengthPenalty(2.0/3), 0.5) || nistLengthPenalty(1.2) != 1 || nistLengthPenalty(0) != 0 {
		t.Errorf("nistLengthPenalty: %v %v %v", nistLengthPenalty(2.0/3), nistLengthPenalty(1.2), nistLengthPenalty(0))
	}
	// Variable reference counts: the average reference length is the total
	// reference length (8 words) over the largest count (2), as the
	// scorer's padded SGML gives, not the mean per segment (4 + 2).
	got, _ = Mteval([][]string{{"x y z w"}, {"x y", "x y"}}, []string{"x", "x"})
	if want := math.Log2(8.0/3) * nistLengthPenalty(2/(8.0/2)); !near(got.NIST, want) {
		t.Errorf("variable-reference NIST = %v, want %v", got.NIST, want)
	}
}

func TestMtevalErrors(t *testing.T) {
	if _, err := Mteval([][]string{{"a"}}, []string{"a", "b"}); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := Mteval([][]string{{}}, []string{"a"}); err == nil {
		t.Error("empty reference set accepted")
	}
	if _, err := Mteval([][]string{{""}}, []string{"a"}); err == nil {
		t.Error("references without words accepted")
	}
	if _, err := Mteval(nil, nil); err == nil {
		t.Error("empty corpus accepted")
	}
}

func TestRougeL(t *testing.T) {
	tests := []struct {
		cand string
		refs []string
		want float64
	}{
		{"a b c d", []string{"a c d e"}, 0.75},
		// P and R maximised separately over references.
		{"a b", []string{"a", "a b c d"}, 1},
		{"x y", []string{"a b"}, 0},
		{"a b c", []string{"a b c"}, 1},
	}
	for _, tc := range tests {
		if got := RougeLSegment(tc.cand, tc.refs); !near(got, tc.want) {
			t.Errorf("RougeLSegment(%q, %q) = %v, want %v", tc.cand, tc.refs, got, tc.want)
		}
	}
	// P = 1/2, R = 1/3: (1+1.44)PR/(R+1.44P).
	want := 2.44 * 0.5 * (1.0 / 3) / (1.0/3 + 1.44*0.5)
	if got := RougeLSegment("a x", []string{"a y z"}); !near(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if m, seg, _ := RougeL([][]string{{"a b"}, {"c"}}, []string{"a b", "d"}); !near(m, 0.5) || len(seg) != 2 {
		t.Errorf("corpus ROUGE-L %v %v", m, seg)
	}
}

func TestCIDErD(t *testing.T) {
	// Two segments: the first output equals its reference, so the unigram
	// and bigram cosines are 1 and the 3-/4-gram vectors are empty:
	// 10 * mean(1, 1, 0, 0) = 5. The second shares nothing: 0.
	m, seg, err := CIDErD([][]string{{"a b"}, {"c d"}}, []string{"a b", "x y"})
	if err != nil {
		t.Fatal(err)
	}
	if !near(seg[0], 5) || !near(seg[1], 0) || !near(m, 2.5) {
		t.Errorf("CIDEr-D %v %v, want 2.5 [5 0]", m, seg)
	}
	// Gaussian length penalty on the bigram counts (2 vs 1 bigram), and
	// clipping min(h, r): output "a b c" against reference "a b".
	_, seg, _ = CIDErD([][]string{{"a b"}, {"c d"}}, []string{"a b c", "c d"})
	// idf of every n-gram here is log(2) - log(1) = log 2; the unigram
	// cosine is 2/(sqrt(3)sqrt(2)), the bigram cosine 1/(sqrt(2)*1).
	pen := math.Exp(-1.0 / 72)
	uni := 2 / (math.Sqrt(3) * math.Sqrt(2))
	bi := 1 / math.Sqrt(2)
	if want := 10 * (uni + bi) * pen / 4; !near(seg[0], want) {
		t.Errorf("CIDEr-D segment %v, want %v", seg[0], want)
	}
}

func TestMeteor(t *testing.T) {
	pen := func(frag float64) float64 { return MeteorGamma * math.Pow(frag, MeteorBeta) }
	fmean := func(p, r float64) float64 { return 1 / ((1-MeteorAlpha)/p + MeteorAlpha/r) }
	tests := []struct {
		hyp, ref string
		chunks   int
		want     float64
	}{
		{"the cat sat", "the cat sat", 1, 1},
		{"sat the cat", "the cat sat", 2, 1 - pen(2.0/3)},
		{"a b x", "a b y z", 1, fmean(2.0/3, 0.5) * (1 - pen(0.5))},
		// The aligner picks the 'a' that keeps one chunk.
		{"a b c a", "a b c", 1, fmean(0.75, 1) * (1 - pen(1.0/3))},
		{"x", "y", 0, 0},
	}
	for _, tc := range tests {
		got, st := MeteorSegment(tc.hyp, []string{tc.ref})
		if !near(got, tc.want) || st.Chunks != tc.chunks {
			t.Errorf("METEOR(%q, %q) = %v (%d chunks), want %v (%d)", tc.hyp, tc.ref, got, st.Chunks, tc.want, tc.chunks)
		}
	}
	// Best reference wins; corpus score aggregates statistics.
	got, _ := MeteorSegment("a b", []string{"x y", "a b"})
	if !near(got, 1) {
		t.Errorf("multi-ref METEOR %v", got)
	}
	corpus, seg, _ := Meteor([][]string{{"a b"}, {"c d"}}, []string{"a b", "c d"})
	// Summed: 4 matches of 4 words, 2 chunks -> frag = 2/4.
	if !near(seg[0], 1) || !near(corpus, 1-pen(0.5)) {
		t.Errorf("corpus METEOR %v %v", corpus, seg)
	}
}

func TestCocoTokenize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"The Eagle's a family-friendly pub, near Café Rouge.", "the eagle 's a family-friendly pub near café rouge"},
		{"It isn't cheap: £20-25.", "it is n't cheap £ 20-25"},
		{`"Quoted" text... (great)`, "quoted text -lrb- great -rrb-"},
		{"50% off -- you'll see; Mr. Smith", "50 % off you 'll see mr. smith"},
		{"I cannot go!", "i can not go"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := strings.Join(CocoTokenize(tc.in), " "); got != tc.want {
			t.Errorf("CocoTokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestClassification(t *testing.T) {
	acc, _ := Accuracy([]int{1, 0, 1, 1}, []int{1, 1, 1, 0})
	f1, _ := F1([]int{1, 1, 0, 0}, []int{1, 0, 1, 0}, 1)
	f1none, _ := F1([]int{0, 0}, []int{0, 0}, 1)
	mcc0, _ := MatthewsCorr([]int{1, 1, 0, 0}, []int{1, 0, 1, 0})
	mcc, _ := MatthewsCorr([]int{1, 1, 1, 0}, []int{1, 1, 0, 0})
	mccConst, _ := MatthewsCorr([]int{1, 1, 1}, []int{1, 0, 1})
	mcc3, _ := MatthewsCorr([]int{0, 1, 2, 0, 1, 2}, []int{0, 1, 2, 0, 2, 1})
	p1, _ := Pearson([]float64{1, 2, 3}, []float64{2, 4, 6})
	pm1, _ := Pearson([]float64{1, 2, 3}, []float64{3, 2, 1})
	pNaN, _ := Pearson([]float64{1, 1, 1}, []float64{1, 2, 3})
	sp, _ := Spearman([]float64{1, 2, 2, 3}, []float64{1, 3, 2, 4})
	sMono, _ := Spearman([]float64{1, 5, 10, 100}, []float64{-3, 0, 2, 7})
	// Three classes: c = 4 correct of s = 6, p_k = t_k = 2:
	// (4*6 - 12) / sqrt((36 - 12)(36 - 12)) = 0.5.
	tests := []struct {
		name      string
		got, want float64
	}{
		{"accuracy", acc, 0.5}, {"f1", f1, 0.5}, {"f1 no positives", f1none, 0},
		{"mcc zero", mcc0, 0}, {"mcc", mcc, 2 / math.Sqrt(12)}, {"mcc constant", mccConst, 0}, {"mcc 3 classes", mcc3, 0.5},
		{"pearson 1", p1, 1}, {"pearson -1", pm1, -1},
		{"spearman ties", sp, 4.5 / math.Sqrt(4.5*5)}, {"spearman monotone", sMono, 1},
	}
	for _, tc := range tests {
		if !near(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if !math.IsNaN(pNaN) {
		t.Errorf("pearson of a constant = %v, want NaN", pNaN)
	}
	if got := Ranks([]float64{10, 20, 20, 5}); !slices.Equal(got, []float64{2, 3.5, 3.5, 1}) {
		t.Errorf("Ranks = %v", got)
	}
	if _, err := Accuracy([]int{1}, []int{1, 0}); err == nil {
		t.Error("accuracy length mismatch accepted")
	}
	if _, err := Pearson([]float64{1}, []float64{1}); err == nil {
		t.Error("pearson of one pair accepted")
	}
	if _, err := F1(nil, nil, 1); err == nil {
		t.Error("empty F1 accepted")
	}
}

func TestE2EIdentity(t *testing.T) {
	refs := [][]string{{"The Vaults is a pub near Café Adriatic.", "A pub called The Vaults."}, {"Blue Spice is cheap.", "Cheap food at Blue Spice."}}
	hyps := []string{"The Vaults is a pub near Café Adriatic.", "Blue Spice is cheap."}
	s, err := E2E(refs, hyps)
	if err != nil {
		t.Fatal(err)
	}
	if !near(s.BLEU, 1) || !near(s.RougeL, 1) || s.METEOR <= 0.5 || s.CIDEr <= 0 || s.NIST <= 0 {
		t.Errorf("identical outputs: %v", s)
	}
	if _, err := E2E(refs, hyps[:1]); err == nil {
		t.Error("mismatched corpus accepted")
	}
}

func FuzzMetrics(f *testing.F) {
	f.Add("the cat sat", "the cat sat on the mat")
	f.Add("", "x")
	f.Add("£20-25 ... (a)", "\"q\" it's")
	f.Fuzz(func(t *testing.T, hyp, ref string) {
		s, err := E2E([][]string{{ref, hyp}}, []string{hyp})
		if err != nil {
			return // a reference without words is an error, not a panic
		}
		for _, v := range []float64{s.BLEU, s.NIST, s.METEOR, s.RougeL, s.CIDEr} {
			if math.IsNaN(v) || v < 0 {
				t.Fatalf("score %v for %q / %q", s, hyp, ref)
			}
		}
	})
}
