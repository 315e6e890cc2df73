package roberta

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/internal/pytorch"
)

// TestHFReference loads random checkpoints written in Hugging Face layout by
// an independent PyTorch implementation of HF's RoBERTa
// (testdata/hf_reference.py) and compares the outputs of the classifier,
// regression, masked-LM and bare-encoder models on right-padded batches
// (1e-4 absolute), and their losses. The committed fixtures always run;
// when python3 with torch is installed, fresh checkpoints from another
// seed are generated and checked too.
func TestHFReference(t *testing.T) {
	checkRefDir(t, "testdata/hf")
	py, err := pytorch.Find()
	if err != nil {
		t.Logf("python3 with torch not available (%v): checked the committed fixtures only", err)
		return
	}
	dir := t.TempDir()
	out, err := exec.Command(py, "testdata/hf_reference.py", dir, "7").CombinedOutput()
	if err != nil {
		t.Fatalf("reference script: %v\n%s", err, out)
	}
	checkRefDir(t, dir)
}

type refCase struct {
	Head   string
	Tokens [][]int32
	Labels []int32
	Scores []float32
	Logits []float64
	Hidden []float64
	Loss   float64
}

func checkRefDir(t *testing.T, root string) {
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) == 0 {
		t.Fatalf("no reference cases in %s", root)
	}
	for _, e := range ents {
		dir := filepath.Join(root, e.Name())
		t.Run(root+"/"+e.Name(), func(t *testing.T) {
			var exp refCase
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &exp); err != nil {
				t.Fatal(err)
			}
			m, err := Load(cpu.New(), dir, HeadAuto, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			loss := math.NaN()
			switch exp.Head {
			case "classifier", "regression":
				if m.Head != HeadClassifier || m.Cfg.Regression() != (exp.Head == "regression") {
					t.Fatalf("loaded head %s (regression %v), want %s", m.Head, m.Cfg.Regression(), exp.Head)
				}
				rows, err := m.Classify(exp.Tokens)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					got = append(got, r...)
				}
				loss = classifierLoss(t, m, exp)
			case "mlm":
				rows, l, err := m.MLMLogits(exp.Tokens)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					got = append(got, r...)
				}
				loss = l
			case "none":
				if m.Head != HeadNone {
					t.Fatalf("loaded head %s, want none", m.Head)
				}
				rows, err := m.Hidden(exp.Tokens)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					got = append(got, r...)
				}
				exp.Logits = exp.Hidden
			}
			if len(got) != len(exp.Logits) {
				t.Fatalf("%d outputs, want %d", len(got), len(exp.Logits))
			}
			var maxd float64
			for i := range got {
				maxd = math.Max(maxd, math.Abs(float64(got[i])-exp.Logits[i]))
			}
			if maxd > 1e-4 {
				t.Errorf("max |output - reference| = %g > 1e-4", maxd)
			}
			if exp.Head != "none" && math.Abs(loss-exp.Loss) > 1e-4 {
				t.Errorf("loss %v, reference %v", loss, exp.Loss)
			}
			t.Logf("%s: max |Δ| = %.2g over %d outputs, loss %.6f vs %.6f; notes: %q", exp.Head, maxd, len(got), loss, exp.Loss, m.Notes)
		})
	}
}

// classifierLoss is the mean loss of the reference labels (or scores)
// through the training path.
func classifierLoss(t *testing.T, m *Model, exp refCase) float64 {
	b, err := m.PadBatch(exp.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	b.Weights = make([]float32, b.B)
	for i := range b.Weights {
		b.Weights[i] = 1 / float32(b.B)
	}
	b.Labels, b.Scores = exp.Labels, exp.Scores
	if m.Cfg.Regression() {
		b.Labels = nil
	} else {
		b.Scores = nil
	}
	if err := m.Validate(b); err != nil {
		t.Fatal(err)
	}
	stats := m.NewStats()
	m.Forward(b, stats, false, false, 0)
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return float64(st[0])
}

// TestRealCheckpoints compares with the values of transformers' own RoBERTa
// integration tests (tests/models/roberta/test_modeling_roberta.py:
// test_inference_masked_lm, test_inference_no_head,
// test_inference_classification_head), which need the real weights. It
// runs only when HUT_ROBERTA_BASE (a FacebookAI/roberta-base directory)
// and/or HUT_ROBERTA_LARGE_MNLI (FacebookAI/roberta-large-mnli) are set.
func TestRealCheckpoints(t *testing.T) {
	ids := [][]int32{{0, 31414, 232, 328, 740, 1140, 12695, 69, 46078, 1588, 2}}
	check := func(name string, got []float32, stride int, want [][]float64) {
		t.Helper()
		for i, row := range want {
			for j, w := range row {
				if g := float64(got[i*stride+j]); math.Abs(g-w) > 1e-4 {
					t.Errorf("%s[%d][%d] = %.5f, want %.4f", name, i, j, g, w)
				}
			}
		}
	}
	base := os.Getenv("HUT_ROBERTA_BASE")
	mnli := os.Getenv("HUT_ROBERTA_LARGE_MNLI")
	// HUT_HF_DIR holds checkpoints in folders named after their hub ids,
	// as for the GPT-2 real-checkpoint tests (hut download roberta-base
	// --dir $HUT_HF_DIR/roberta-base).
	if root := os.Getenv("HUT_HF_DIR"); root != "" {
		for _, c := range []struct {
			v    *string
			name string
		}{{&base, "roberta-base"}, {&mnli, "roberta-large-mnli"}} {
			if d := filepath.Join(root, c.name); *c.v == "" {
				if _, err := os.Stat(filepath.Join(d, "config.json")); err == nil {
					*c.v = d
				}
			}
		}
	}
	if base == "" && mnli == "" {
		t.Skip("set HUT_HF_DIR (with roberta-base/ or roberta-large-mnli/ in it), HUT_ROBERTA_BASE or HUT_ROBERTA_LARGE_MNLI to run")
	}
	if base != "" {
		m, err := Load(cpu.New(), base, HeadMLM, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		logits, _, err := m.MLMLogits(ids)
		if err != nil {
			t.Fatal(err)
		}
		check("masked-LM logits", logits[0], m.Cfg.VocabSize, [][]float64{{33.8802, -4.3103, 22.7761}, {4.6539, -2.8098, 13.6253}, {1.8228, -3.6898, 8.86}})
		hid, err := m.Hidden(ids)
		if err != nil {
			t.Fatal(err)
		}
		check("last hidden state", hid[0], m.Cfg.HiddenSize, [][]float64{{-0.0231, 0.0782, 0.0074}, {-0.1854, 0.0540, -0.0175}, {0.0548, 0.0799, 0.1687}})
	}
	if mnli != "" {
		m, err := Load(cpu.New(), mnli, HeadClassifier, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := m.Classify(ids)
		if err != nil {
			t.Fatal(err)
		}
		check("MNLI logits", rows[0], 3, [][]float64{{-0.9469, 0.3913, 0.5118}})
	}
}
