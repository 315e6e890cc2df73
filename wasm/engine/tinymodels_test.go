package engine

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	datasets "github.com/hutml/hut/data"
)

// readDir reads the files of a model directory the way the browser fetches
// them (config.json, weights, tokenizer files).
func readDir(t *testing.T, dir string) ModelFiles {
	t.Helper()
	files := ModelFiles{}
	for _, n := range []string{"config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err == nil {
			files[n] = b
		}
	}
	return files
}

func firstLines(t *testing.T, name string, n int) string {
	t.Helper()
	rc, err := datasets.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "")
}

// TestRepoTinyModels runs the browser demo's own checkpoints (models/tiny-gpt2,
// models/tiny-roberta) through the engine with the embedded data, when they
// are there: load from the files the page fetches, a task, a few HUT steps,
// evaluation and an answer.
func TestRepoTinyModels(t *testing.T) {
	for _, c := range []struct{ dir, task, train, dev string }{
		{"tiny-gpt2", "e2e", "e2e/train.csv", "e2e/dev.csv"},
		{"tiny-roberta", "sst2", "glue/sst2/train.tsv", "glue/sst2/dev.tsv"},
	} {
		t.Run(c.dir, func(t *testing.T) {
			dir := filepath.Join("..", "..", "models", c.dir)
			if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
				t.Skipf("%s is not there yet", dir)
			}
			e := New(cpu.New(), "cpu")
			defer e.Close()
			info, err := e.LoadModel(readDir(t, dir), c.dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.LoadTask(TaskOptions{Task: c.task, Train: firstLines(t, c.train, 200), Dev: firstLines(t, c.dev, 40)}); err != nil {
				t.Fatal(err)
			}
			su, err := e.Setup(TrainOptions{Method: "hut", Steps: 4, Batch: 2})
			if err != nil {
				t.Fatal(err)
			}
			st, err := e.Step(StepOptions{N: 4})
			if err != nil {
				t.Fatal(err)
			}
			ev, err := e.Evaluate(EvalOptions{MaxExamples: 16})
			if err != nil {
				t.Fatal(err)
			}
			var ans map[string]any
			if c.task == "e2e" {
				ans, err = e.Generate(GenerateOptions{MR: "name[The Eagle], eatType[coffee shop], food[French]", MaxNew: 24})
			} else {
				ans, err = e.Classify(ClassifyOptions{Text: "a gorgeous, witty, seductive movie."})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %v params, %s; loss %v after 4 steps; eval %v; %v", c.dir, info["params"], su["summary"], st["loss"], ev["metric"], ans["text"])
		})
	}
}
