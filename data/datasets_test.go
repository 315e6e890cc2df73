package datasets

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/metrics"
)

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestListAndOpen(t *testing.T) {
	names := List()
	for _, want := range []string{"e2e/train.csv", "e2e/dev.csv", "e2e/test.csv", "e2e/lora_test.txt", "glue/sst2/train.tsv",
		"glue/cola/dev.tsv", "glue/mrpc/dev.tsv", "glue/stsb/dev.tsv", "glue/rte/dev.tsv", "glue/wnli/dev.tsv", "tinyshakespeare/input.txt"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("List() lacks %s", want)
		}
	}
	for _, n := range names {
		b := mustRead(t, n)
		if len(b) == 0 {
			t.Errorf("%s is empty", n)
		}
	}
	if _, err := Open("glue/qqp/train.tsv"); err == nil || !strings.Contains(err.Error(), "no embedded file") {
		t.Errorf("Open(missing) err = %v", err)
	}
	if got := len(mustRead(t, "tinyshakespeare/input.txt")); got != 1115394 {
		t.Errorf("tiny-shakespeare has %d bytes, want 1115394", got)
	}
}

func TestE2EFiles(t *testing.T) {
	cases := []struct {
		name      string
		rows, mrs int
	}{
		{"e2e/train.csv", 42061, 4862},
		{"e2e/dev.csv", 4672, 547},
		{"e2e/test.csv", 4693, 630},
	}
	for _, c := range cases {
		rows, err := data.ReadE2ECSV(bytes.NewReader(mustRead(t, c.name)), c.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != c.rows {
			t.Errorf("%s: %d rows, want %d", c.name, len(rows), c.rows)
		}
		if got := len(data.GroupE2EByMR(rows)); got != c.mrs {
			t.Errorf("%s: %d distinct MRs, want %d", c.name, got, c.mrs)
		}
		for _, r := range rows {
			if _, err := data.LinearizeMR(r.MR); err != nil {
				t.Fatalf("%s:%d: %v", c.name, r.Line, err)
			}
		}
	}
	test, _ := data.ReadE2ECSV(bytes.NewReader(mustRead(t, "e2e/test.csv")), "test")
	if got := len(data.GroupE2E(test)); got != 630 {
		t.Errorf("consecutive grouping of the test set: %d instances, want 630", got)
	}
}

// TestLinearizeMatchesLoRA: our linearisation of the official CSV MRs gives
// exactly the contexts of LoRA's valid.txt and test.txt, line for line.
func TestLinearizeMatchesLoRA(t *testing.T) {
	for _, p := range [][2]string{{"e2e/dev.csv", "e2e/lora_valid.txt"}, {"e2e/test.csv", "e2e/lora_test.txt"}} {
		rows, err := data.ReadE2ECSV(bytes.NewReader(mustRead(t, p[0])), p[0])
		if err != nil {
			t.Fatal(err)
		}
		lora, err := data.ReadE2ELoRA(bytes.NewReader(mustRead(t, p[1])), p[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(lora) {
			t.Fatalf("%s has %d rows, %s %d", p[0], len(rows), p[1], len(lora))
		}
		bad := 0
		for i := range rows {
			got, _ := data.LinearizeMR(rows[i].MR)
			if got != lora[i].MR {
				bad++
				if bad < 5 {
					t.Errorf("%s:%d: %q, LoRA has %q", p[0], rows[i].Line, got, lora[i].MR)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%d of %d contexts differ", bad, len(rows))
		}
	}
}

func TestGLUEFiles(t *testing.T) {
	counts := map[string][2]int{
		"cola": {8551, 1043}, "sst2": {67349, 872}, "mrpc": {3668, 408},
		"stsb": {5749, 1500}, "rte": {2490, 277}, "wnli": {635, 71},
	}
	for _, task := range data.Tasks() {
		if !task.Embedded {
			continue
		}
		want, ok := counts[task.Name]
		if !ok {
			t.Fatalf("no expected counts for %s", task.Name)
		}
		for i, split := range []string{"train", "dev"} {
			name := "glue/" + task.Name + "/" + split + ".tsv"
			exs, err := data.ReadGLUE(task, bytes.NewReader(mustRead(t, name)), name)
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != want[i] {
				t.Errorf("%s: %d examples, want %d", name, len(exs), want[i])
			}
			for _, ex := range exs {
				if ex.Text1 == "" || (task.Text2 != nil && ex.Text2 == "") {
					t.Errorf("%s:%d: empty text", name, ex.Line)
					break
				}
				if task.Regression && (math.IsNaN(ex.Score) || ex.Score < 0 || ex.Score > 5) {
					t.Errorf("%s:%d: score %v", name, ex.Line, ex.Score)
					break
				}
				if !task.Regression && (ex.Label < 0 || ex.Label >= task.NumLabels()) {
					t.Errorf("%s:%d: label %d", name, ex.Line, ex.Label)
					break
				}
			}
		}
	}
}

// TestE2EMtevalAgainstReference is the BLEU/NIST acceptance check: a
// perturbed copy of the first reference of every E2E test instance is scored
// against the remaining references and compared with an independent
// implementation of the mteval-v13a definitions (testdata/e2e_reference.py,
// whose outputs are committed). ROUGE-L and CIDEr-D are compared on
// lowercased whitespace tokens the same way.
func TestE2EMtevalAgainstReference(t *testing.T) {
	raw, err := os.ReadFile("testdata/e2e_reference_scores.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Instances int     `json:"instances"`
		BLEU      float64 `json:"bleu"`
		NIST      float64 `json:"nist"`
		Stats     struct {
			Matches   []int `json:"matches"`
			HypNgrams []int `json:"hyp_ngrams"`
			RefLength int   `json:"bleu_ref_length"`
		} `json:"mteval_stats"`
		RougeL float64 `json:"rouge_l_lower_whitespace"`
		CIDEr  float64 `json:"cider_d_lower_whitespace"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	hb, err := os.ReadFile("testdata/e2e_perturbed_hyps.txt")
	if err != nil {
		t.Fatal(err)
	}
	hyps, err := data.ReadLines(bytes.NewReader(hb), "e2e_perturbed_hyps.txt")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := data.ReadE2ECSV(bytes.NewReader(mustRead(t, "e2e/test.csv")), "e2e/test.csv")
	if err != nil {
		t.Fatal(err)
	}
	var refs [][]string
	for _, inst := range data.GroupE2E(rows) {
		if len(inst.Refs) >= 2 {
			refs = append(refs, inst.Refs[1:])
		}
	}
	if len(refs) != want.Instances || len(hyps) != want.Instances {
		t.Fatalf("%d reference sets and %d outputs, want %d", len(refs), len(hyps), want.Instances)
	}
	got, err := metrics.Mteval(refs, hyps)
	if err != nil {
		t.Fatal(err)
	}
	// The acceptance threshold is 0.01; both implement the same definition,
	// so they agree to rounding.
	const tol = 1e-9
	if math.Abs(got.BLEU-want.BLEU) > tol || math.Abs(got.NIST-want.NIST) > tol {
		t.Errorf("BLEU %.10f NIST %.10f, reference BLEU %.10f NIST %.10f", got.BLEU, got.NIST, want.BLEU, want.NIST)
	}
	for n := 0; n < 5; n++ {
		if got.Matches[n] != want.Stats.Matches[n] || got.HypNgrams[n] != want.Stats.HypNgrams[n] {
			t.Errorf("%d-grams: %d/%d matches, reference %d/%d", n+1, got.Matches[n], got.HypNgrams[n], want.Stats.Matches[n], want.Stats.HypNgrams[n])
		}
	}
	if got.RefLength != want.Stats.RefLength {
		t.Errorf("BLEU reference length %d, reference %d", got.RefLength, want.Stats.RefLength)
	}
	low := func(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }
	lh := make([]string, len(hyps))
	lr := make([][]string, len(refs))
	for i := range hyps {
		lh[i] = low(hyps[i])
		for _, r := range refs[i] {
			lr[i] = append(lr[i], low(r))
		}
	}
	rl, _, err := metrics.RougeL(lr, lh)
	if err != nil || math.Abs(rl-want.RougeL) > tol {
		t.Errorf("ROUGE-L %.10f (%v), reference %.10f", rl, err, want.RougeL)
	}
	cd, _, err := metrics.CIDErD(lr, lh)
	if err != nil || math.Abs(cd-want.CIDEr) > tol {
		t.Errorf("CIDEr-D %.10f (%v), reference %.10f", cd, err, want.CIDEr)
	}
	// The full E2E pipeline runs on the same data and gives sane values.
	all, err := metrics.E2E(refs, hyps)
	if err != nil {
		t.Fatal(err)
	}
	if all.BLEU != got.BLEU || all.METEOR <= 0.2 || all.METEOR >= 1 || all.RougeL <= 0.3 || all.CIDEr <= 0.5 {
		t.Errorf("E2E scores out of range: %v", all)
	}
}
