package gpt2

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/decode"
	"github.com/hutml/hut/internal/pytorch"
)

// TestHFReference loads random checkpoints written in Hugging Face layout by
// an independent PyTorch implementation of HF's GPT-2
// (testdata/hf_reference.py) and compares logits (1e-4 absolute) and the LM
// loss. The committed fixtures always run; when python3 with torch is
// installed, fresh checkpoints from another seed are generated and checked
// too.
func TestHFReference(t *testing.T) {
	checkDir(t, "testdata/hf")
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
	checkDir(t, dir)
}

func checkDir(t *testing.T, root string) {
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
			var exp struct {
				Tokens  []int32
				Logits  []float64
				Loss    float64
				Prompts [][]int
				Greedy  [][]int
			}
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &exp); err != nil {
				t.Fatal(err)
			}
			m, err := Load(cpu.New(), dir)
			if err != nil {
				t.Fatal(err)
			}
			logits, loss, err := m.Logits(exp.Tokens)
			if err != nil {
				t.Fatal(err)
			}
			if len(logits) != len(exp.Logits) {
				t.Fatalf("%d logits, want %d", len(logits), len(exp.Logits))
			}
			var maxd float64
			for i := range logits {
				maxd = math.Max(maxd, math.Abs(float64(logits[i])-exp.Logits[i]))
			}
			if maxd > 1e-4 {
				t.Errorf("max |logit - reference| = %g > 1e-4", maxd)
			}
			if math.Abs(loss-exp.Loss) > 1e-4 {
				t.Errorf("loss %v, reference %v", loss, exp.Loss)
			}
			t.Logf("max |Δlogit| = %.2g, loss %.6f vs %.6f", maxd, loss, exp.Loss)
			// Greedy decoding of a left-padded batch through the KV cache must
			// give the tokens of generate() with an attention mask.
			g, err := m.NewGenerator(16)
			if err != nil {
				t.Fatal(err)
			}
			res, err := decode.Greedy(g, exp.Prompts, decode.Options{MaxNewTokens: len(exp.Greedy[0])})
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range res {
				if !slices.Equal(r.Tokens, exp.Greedy[i]) {
					t.Errorf("greedy row %d: %v, reference %v", i, r.Tokens, exp.Greedy[i])
				}
			}
		})
	}
}
