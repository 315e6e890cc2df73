package gpt2

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/decode"
	"github.com/hutml/hut/core/tokenizer"
)

// These tests run against real pretrained checkpoints, which cannot be
// downloaded on the CI machines. Point HUT_HF_DIR at a directory holding
// Hugging Face checkpoints in subdirectories named after their hub ids:
//
//	hut download gpt2 --dir $HUT_HF_DIR/gpt2
//	hut download distilgpt2 --dir $HUT_HF_DIR/distilgpt2
//	HUT_HF_DIR=... go test ./core/model/gpt2 -run Real -v
//
// The expected values are copied verbatim from Hugging Face's own test
// suite (see ../testdata/SOURCE.md).

type hfExpected struct {
	GPT2TheDog struct {
		InputIDs    []int `json:"input_ids"`
		ExpectedIDs []int `json:"expected_output_ids"`
	} `json:"gpt2_greedy_the_dog"`
	DistilPresident struct {
		InputIDs    []int `json:"input_ids"`
		ExpectedIDs []int `json:"expected_output_ids"`
	} `json:"distilgpt2_greedy_the_president"`
	Batch struct {
		Inputs        []string `json:"inputs"`
		InputIDs      [][]int  `json:"input_ids_r50k"`
		ExpectedTexts []string `json:"expected_texts"`
	} `json:"gpt2_greedy_batch_left_padded"`
}

func realDir(t *testing.T, name string) string {
	root := os.Getenv("HUT_HF_DIR")
	if root == "" {
		t.Skipf("HUT_HF_DIR is not set: skipping the real-checkpoint check of %s (see the comment in realckpt_test.go)", name)
	}
	dir := filepath.Join(root, name)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Skipf("no checkpoint at %s: run `hut download %s --dir %s`", dir, name, dir)
	}
	return dir
}

func loadExpected(t *testing.T) *hfExpected {
	b, err := os.ReadFile("../testdata/hf_expected_outputs.json")
	if err != nil {
		t.Fatal(err)
	}
	var e hfExpected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

// greedyHF decodes like model.generate(do_sample=False, max_length=L):
// L counts the prompt (with its padding), EOS stops a row.
func greedyHF(t *testing.T, m *Model, prompts [][]int, maxLength int) [][]int {
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	g, err := m.NewGenerator(maxLength)
	if err != nil {
		t.Fatal(err)
	}
	res, err := decode.Greedy(g, prompts, decode.Options{MaxNewTokens: maxLength - longest, EOS: []int{m.Cfg.EOSTokenID}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]int, len(res))
	for i, r := range res {
		out[i] = append(append([]int(nil), prompts[i]...), r.Tokens...)
	}
	return out
}

func TestRealGPT2Greedy(t *testing.T) {
	e := loadExpected(t)
	m, err := Load(cpu.New(), realDir(t, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	got := greedyHF(t, m, [][]int{e.GPT2TheDog.InputIDs}, 20)[0]
	if !slices.Equal(got, e.GPT2TheDog.ExpectedIDs) {
		t.Fatalf("greedy ids\n got %v\nwant %v", got, e.GPT2TheDog.ExpectedIDs)
	}
	// Batched, left-padded: each row must give HF's text.
	tok, err := tokenizer.Builtin("gpt2")
	if err != nil {
		t.Fatal(err)
	}
	rows := greedyHF(t, m, e.Batch.InputIDs, 20)
	for i, r := range rows {
		text, _ := tok.Decode(r)
		if text != e.Batch.ExpectedTexts[i] {
			t.Errorf("batch row %d: %q, want %q", i, text, e.Batch.ExpectedTexts[i])
		}
	}
}

func TestRealDistilGPT2Greedy(t *testing.T) {
	e := loadExpected(t)
	m, err := Load(cpu.New(), realDir(t, "distilgpt2"))
	if err != nil {
		t.Fatal(err)
	}
	got := greedyHF(t, m, [][]int{e.DistilPresident.InputIDs}, 20)[0]
	if !slices.Equal(got, e.DistilPresident.ExpectedIDs) {
		t.Fatalf("greedy ids\n got %v\nwant %v", got, e.DistilPresident.ExpectedIDs)
	}
}
