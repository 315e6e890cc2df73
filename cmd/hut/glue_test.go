package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/roberta"
)

// tinyRoBERTa writes a small random RoBERTa masked-LM checkpoint with the
// real vocabulary (so the built-in tokenizer's ids fit) and returns its
// directory.
func tinyRoBERTa(t *testing.T) string {
	t.Helper()
	cfg := roberta.Base()
	cfg.NumHiddenLayers, cfg.HiddenSize, cfg.NumAttentionHeads, cfg.IntermediateSize, cfg.MaxPositionEmbeddings = 1, 16, 2, 32, 66
	m := roberta.New(cpu.New(), cfg, roberta.HeadMLM)
	m.Init(1)
	dir := filepath.Join(t.TempDir(), "tiny-roberta")
	if err := m.SaveHF(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGLUEHandled(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"--task", "e2e"}, {"--steps", "3"}, {"--task=shakespeare"}} {
		if ok, err := runTrainGLUE(args, &out, &errb); ok || err != nil {
			t.Errorf("runTrainGLUE(%v) handled=%v err=%v", args, ok, err)
		}
		if ok, err := runEvalGLUE(args, &out, &errb); ok || err != nil {
			t.Errorf("runEvalGLUE(%v) handled=%v err=%v", args, ok, err)
		}
	}
	if ok, _ := runTrainMLM([]string{"--task", "sst2"}, &out, &errb); ok {
		t.Error("runTrainMLM handled a GLUE task")
	}
	if ok, _ := runForwardRoBERTa([]string{"--tokens", "1 2"}, &out, &errb); ok {
		t.Error("runForwardRoBERTa handled a call without --model")
	}
	dir := tinyRoBERTa(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "sst2", "--model", dir, "--method", "hut,dora"}, "dora"},
		{[]string{"--task", "sst2", "--model", dir, "--max-len", "500"}, "positions"},
		{[]string{"--task", "qqp", "--model", dir}, "--glue-dir"},
		{[]string{"--task", "sst2", "--model", dir, "--targets", "c_attn", "--steps", "1", "--out", t.TempDir(), "--quiet"}, "matches no layer"},
	} {
		ok, err := runTrainGLUE(c.args, &out, &errb)
		if !ok || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: handled=%v err=%v, want %q", c.args, ok, err, c.want)
		}
	}
}

// TestGLUESideBySide runs all four methods for a few steps on a tiny model
// and checks the table, the saved adapters, `hut eval` and `hut forward`.
func TestGLUESideBySide(t *testing.T) {
	dir := tinyRoBERTa(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	ok, err := runTrainGLUE([]string{"--task", "sst2", "--model", dir, "--method", "hut,lora,hira,full", "--steps", "3",
		"--batch", "8", "--max-examples", "64", "--eval-examples", "32", "--max-len", "32", "--out", out, "--quiet"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("handled=%v err=%v\n%s\n%s", ok, err, stdout.String(), stderr.String())
	}
	text := stdout.String()
	for _, want := range []string{"majority-class baseline on dev: accuracy 50.92", "| majority class | 0 | 50.92 |", "| hut |", "| lora |", "| hira |", "| full |", "peak RSS"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	var res struct {
		Runs []glueRow
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 4 {
		t.Fatalf("%d runs in results.json", len(res.Runs))
	}
	for _, r := range res.Runs {
		if _, ok := r.Metrics["accuracy"]; !ok || r.Trainable <= 0 || r.SecPerStp <= 0 || r.Steps != 3 {
			t.Errorf("run %+v", r)
		}
	}
	if !(res.Runs[0].Trainable < res.Runs[3].Trainable) {
		t.Errorf("hut trains %d parameters, full %d", res.Runs[0].Trainable, res.Runs[3].Trainable)
	}

	// hut eval on the adapter (the classifier comes from modules_to_save)
	// agrees with the score the training run printed.
	stdout.Reset()
	ok, err = runEvalGLUE([]string{"--task", "sst2", "--model", dir, "--adapter", filepath.Join(out, "hut", "adapter"), "--max-len", "32"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("eval: handled=%v err=%v", ok, err)
	}
	var ev map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("eval output %q: %v", stdout.String(), err)
	}
	if acc, _ := ev["accuracy"].(float64); acc != res.Runs[0].Metrics["accuracy"] || ev["examples"].(float64) != 872 {
		t.Errorf("eval %v, training run said %v", ev, res.Runs[0].Metrics)
	}
	// The full fine-tune is a complete checkpoint.
	stdout.Reset()
	ok, err = runEvalGLUE([]string{"--task", "sst2", "--model", filepath.Join(out, "full", "model"), "--max-len", "32", "--max-examples", "50"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("eval full: handled=%v err=%v", ok, err)
	}

	// hut forward on the classification model prints class logits.
	stdout.Reset()
	ok, err = runForwardRoBERTa([]string{"--model", filepath.Join(out, "full", "model"), "--text", "a gorgeous, witty film"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("forward: handled=%v err=%v", ok, err)
	}
	var fw struct {
		Logits []float64
		Argmax *int
	}
	if err := json.Unmarshal(stdout.Bytes(), &fw); err != nil || len(fw.Logits) != 2 || fw.Argmax == nil {
		t.Fatalf("forward output %q (%v)", stdout.String(), err)
	}
	// ... and with the adapter on the MLM base, merged.
	stdout.Reset()
	ok, err = runForwardRoBERTa([]string{"--model", dir, "--adapter", filepath.Join(out, "lora", "adapter"), "--method-merged", "--tokens", "0 10 20 2"}, &stdout, &stderr)
	if !ok || err != nil || !strings.Contains(stdout.String(), `"argmax"`) {
		t.Fatalf("forward with adapter: handled=%v err=%v out %q", ok, err, stdout.String())
	}
	// The MLM base prints vocabulary logits and a loss.
	stdout.Reset()
	ok, err = runForwardRoBERTa([]string{"--model", dir, "--tokens", "0 10 50264 2", "--position", "2"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("forward mlm: handled=%v err=%v", ok, err)
	}
	var mf struct {
		Position int
		Loss     float64
		Logits   []float64
	}
	if err := json.Unmarshal(stdout.Bytes(), &mf); err != nil || len(mf.Logits) != 50265 || mf.Position != 2 || mf.Loss <= 0 {
		t.Fatalf("mlm forward: %v position %d loss %v, %d logits", err, mf.Position, mf.Loss, len(mf.Logits))
	}
}

func TestTrainMLMCLI(t *testing.T) {
	txt := filepath.Join(t.TempDir(), "corpus.txt")
	if err := os.WriteFile(txt, []byte(strings.Repeat("the film is good and the acting is fine .\nit was a dull , boring mess .\n", 40)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	ok, err := runTrainMLM([]string{"--task", "mlm", "--model", "new", "--layers", "1", "--hidden", "16", "--heads", "2", "--seq", "16",
		"--batch", "4", "--steps", "3", "--data", txt, "--out", out, "--quiet", "--eval-fraction", "0.1"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("handled=%v err=%v\n%s", ok, err, stdout.String())
	}
	m, err := roberta.Load(cpu.New(), filepath.Join(out, "model"), roberta.HeadAuto, roberta.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Head != roberta.HeadMLM || m.Cfg.HiddenSize != 16 {
		t.Fatalf("saved model: head %s, width %d", m.Head, m.Cfg.HiddenSize)
	}
	// Continue from the saved checkpoint.
	ok, err = runTrainMLM([]string{"--task", "mlm", "--model", filepath.Join(out, "model"), "--seq", "16", "--batch", "4", "--steps", "2",
		"--data", txt, "--out", t.TempDir(), "--quiet"}, &stdout, &stderr)
	if !ok || err != nil {
		t.Fatalf("continue: handled=%v err=%v", ok, err)
	}
}

// TestGLUETasksMetrics runs two steps of each metric family: CoLA (MCC),
// STS-B (regression: Pearson and Spearman) and MRPC (accuracy and F1, a
// sentence-pair task).
func TestGLUETasksMetrics(t *testing.T) {
	dir := tinyRoBERTa(t)
	for _, c := range []struct {
		task string
		want []string
	}{
		{"cola", []string{"mcc"}},
		{"stsb", []string{"pearson", "spearman"}},
		{"mrpc", []string{"accuracy", "f1"}},
	} {
		t.Run(c.task, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			ok, err := runTrainGLUE([]string{"--task", c.task, "--model", dir, "--method", "lora", "--steps", "2", "--batch", "4",
				"--max-examples", "16", "--eval-examples", "8", "--max-len", "48", "--out", out, "--quiet"}, &stdout, &stderr)
			if !ok || err != nil {
				t.Fatalf("handled=%v err=%v\n%s", ok, err, stdout.String())
			}
			var res struct{ Runs []glueRow }
			b, err := os.ReadFile(filepath.Join(out, "results.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			for _, k := range c.want {
				if !strings.Contains(stdout.String(), "| "+k+" |") && !strings.Contains(stdout.String(), " "+k+" |") {
					t.Errorf("table lacks %s:\n%s", k, stdout.String())
				}
				if _, ok := res.Runs[0].Metrics[k]; !ok && c.task != "stsb" {
					t.Errorf("results.json lacks %s: %v", k, res.Runs[0].Metrics)
				}
			}
		})
	}
}
