package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func runHut(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestTokenizeCommand(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want []int
	}{
		{[]string{"tokenize", "--tokenizer", "gpt2", "The dog"}, []int{464, 3290}},
		{[]string{"tokenize", "The dog", "--tokenizer", "gpt2"}, []int{464, 3290}},
		{[]string{"tokenize", "--tokenizer", "gpt2", "Hello", "world!"}, []int{15496, 995, 0}},
		{[]string{"tokenize", "--tokenizer", "roberta", "Hello world! cécé herlolip"}, []int{0, 31414, 232, 328, 740, 1140, 12695, 69, 46078, 1588, 2}},
		{[]string{"tokenize", "--tokenizer=roberta", "--no-special", "The goal of life is <mask>."}, []int{133, 724, 9, 301, 16, 50264, 4}},
		{[]string{"tokenize", "--tokenizer", "gpt2", "a<|endoftext|>b"}, []int{64, 50256, 65}},
		{[]string{"tokenize", "--ordinary", "<|endoftext|>"}, []int{27, 91, 437, 1659, 5239, 91, 29}},
		{[]string{"tokenize", "--add-prefix-space", "--tokenizer", "roberta", "--no-special", "Hello"}, []int{20920}},
		{[]string{"tokenize", "--tokenizer", "gpt2", "--", "-dash"}, []int{12, 42460}},
	}
	for _, tc := range tests {
		code, out, errOut := runHut(t, tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		var got struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%v: output %q: %v", tc.args, out, err)
		}
		if !slices.Equal(got.IDs, tc.want) {
			t.Errorf("%v: ids %v, want %v", tc.args, got.IDs, tc.want)
		}
	}
	// Decode.
	code, out, _ := runHut(t, "tokenize", "--decode", "[464, 3290]")
	if code != 0 || strings.TrimSpace(out) != `{"text":"The dog"}` {
		t.Errorf("decode: %d %q", code, out)
	}
	// Stdin.
	tokenizeStdin = strings.NewReader("The dog")
	defer func() { tokenizeStdin = os.Stdin }()
	if code, out, _ := runHut(t, "tokenize"); code != 0 || strings.TrimSpace(out) != `{"ids":[464,3290]}` {
		t.Errorf("stdin: %d %q", code, out)
	}
	// A directory tokenizer and errors.
	if code, _, errOut := runHut(t, "tokenize", "--tokenizer", dir, "x"); code != 2 || !strings.Contains(errOut, "--tokenizer") {
		t.Errorf("empty dir: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runHut(t, "tokenize", "--decode", "1 x"); code != 2 || !strings.Contains(errOut, "not an integer") {
		t.Errorf("bad ids: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runHut(t, "tokenize", "--decode", "99999999"); code != 1 || !strings.Contains(errOut, "outside the vocabulary") {
		t.Errorf("out-of-range id: exit %d, %q", code, errOut)
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScoreE2ECommand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"refs.txt":  "The Vaults is a pub.\nA pub called The Vaults.\n\nBlue Spice is cheap.\n",
		"refs.csv":  "mr,ref\n\"name[The Vaults], eatType[pub]\",The Vaults is a pub.\n\"name[The Vaults], eatType[pub]\",A pub called The Vaults.\n\"name[Blue Spice]\",Blue Spice is cheap.\n",
		"hyps.txt":  "The Vaults is a pub.\nBlue Spice is cheap.\n",
		"short.txt": "The Vaults is a pub.\n",
		"bad.txt":   "ok\n\xff\n",
	})
	p := func(n string) string { return filepath.Join(dir, n) }
	var first map[string]float64
	for _, refs := range []string{"refs.txt", "refs.csv"} {
		code, out, errOut := runHut(t, "score", "--task", "e2e", "--refs", p(refs), "--hyps", p("hyps.txt"))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", refs, code, errOut)
		}
		var got map[string]float64
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"bleu", "nist", "meteor", "rouge_l", "cider"} {
			if _, ok := got[k]; !ok {
				t.Errorf("%s: output %s lacks %q", refs, out, k)
			}
		}
		if math.Abs(got["bleu"]-1) > 1e-9 || math.Abs(got["rouge_l"]-1) > 1e-9 {
			t.Errorf("%s: identical outputs score %v", refs, got)
		}
		if first == nil {
			first = got
		} else if !equalScores(first, got) {
			t.Errorf("text and CSV references differ: %v vs %v", first, got)
		}
	}
	errs := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--refs", p("refs.txt"), "--hyps", p("short.txt")}, 1, "short.txt:2: 1 outputs for 2 reference instances"},
		{[]string{"--refs", p("refs.txt"), "--hyps", p("bad.txt")}, 1, "bad.txt:2: invalid UTF-8"},
		{[]string{"--refs", p("missing.txt"), "--hyps", p("hyps.txt")}, 1, "missing.txt"},
		{[]string{"--refs", p("refs.txt")}, 2, "needs --refs and --hyps"},
		{[]string{"--refs", "embedded:e2e/nope.csv", "--hyps", p("hyps.txt")}, 2, "no embedded file"},
		{[]string{"--refs", "embedded:e2e/test.csv", "--hyps", p("hyps.txt")}, 1, "2 outputs for 630 reference instances"},
	}
	for _, e := range errs {
		code, _, errOut := runHut(t, append([]string{"score", "--task", "e2e"}, e.args...)...)
		if code != e.code || !strings.Contains(errOut, e.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", e.args, code, errOut, e.code, e.want)
		}
	}
}

func equalScores(a, b map[string]float64) bool {
	for k, v := range a {
		if math.Abs(b[k]-v) > 1e-12 {
			return false
		}
	}
	return len(a) == len(b)
}

func TestScoreGLUECommand(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"preds.txt":    "1\n0\n1\n1\n",
		"labels.txt":   "1\n1\n1\n0\n",
		"mrpc.tsv":     "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\ta\tb\n1\t3\t4\tc\td\n1\t5\t6\te\tf\n0\t7\t8\tg\th\n",
		"stsb.txt":     "4.0\n2.5\n1.0\n",
		"stsbgold.txt": "5.0\n3.0\n0.5\n",
		"bad.txt":      "1\nmaybe\n",
	})
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		task, preds, labels string
		want                map[string]float64
	}{
		{"sst2", "preds.txt", "labels.txt", map[string]float64{"accuracy": 0.5}},
		{"mrpc", "preds.txt", "mrpc.tsv", map[string]float64{"accuracy": 0.5, "f1": 2.0 * 2 / (2*2 + 1 + 1)}},
		{"cola", "preds.txt", "labels.txt", map[string]float64{"mcc": (2*0 - 1*1) / math.Sqrt(3*3*1*1)}},
		{"stsb", "stsb.txt", "stsbgold.txt", map[string]float64{"pearson": 0, "spearman": 1}},
	}
	for _, tc := range tests {
		code, out, errOut := runHut(t, "score", "--task", tc.task, "--preds", p(tc.preds), "--labels", p(tc.labels))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.task, code, errOut)
		}
		var got map[string]float64
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if tc.task == "stsb" {
			// Pearson of (4, 2.5, 1) and (5, 3, 0.5).
			x, y := []float64{4, 2.5, 1}, []float64{5, 3, 0.5}
			tc.want["pearson"] = pearsonForTest(x, y)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want keys of %v", tc.task, got, tc.want)
		}
		for k, v := range tc.want {
			if math.Abs(got[k]-v) > 1e-9 {
				t.Errorf("%s: %s = %v, want %v", tc.task, k, got[k], v)
			}
		}
	}
	// Embedded gold labels against themselves.
	code, out, errOut := runHut(t, "score", "--task", "sst2", "--preds", "embedded:glue/sst2/dev.tsv", "--labels", "embedded:glue/sst2/dev.tsv")
	if code != 0 || strings.TrimSpace(out) != `{"accuracy":1}` {
		t.Errorf("embedded: exit %d %q %s", code, out, errOut)
	}
	errs := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--task", "sst2", "--preds", p("bad.txt"), "--labels", p("labels.txt")}, 1, "bad.txt:2: unknown sst2 label \"maybe\""},
		{[]string{"--task", "sst2", "--preds", p("preds.txt"), "--labels", p("stsb.txt")}, 1, "stsb.txt:1: unknown sst2 label"},
		{[]string{"--task", "rte", "--preds", p("preds.txt"), "--labels", "embedded:glue/rte/dev.tsv"}, 1, "4 predictions for 277 labels"},
		{[]string{"--task", "squad", "--preds", p("preds.txt"), "--labels", p("labels.txt")}, 2, "unknown GLUE task"},
		{[]string{"--task", "sst2"}, 2, "needs --preds and --labels"},
		{[]string{"--preds", p("preds.txt")}, 2, "--task is required"},
	}
	for _, e := range errs {
		code, _, errOut := runHut(t, append([]string{"score"}, e.args...)...)
		if code != e.code || !strings.Contains(errOut, e.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", e.args, code, errOut, e.code, e.want)
		}
	}
}

func pearsonForTest(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i] / n
		my += y[i] / n
	}
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}
