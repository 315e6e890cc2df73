package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tokenizer"
)

// TestMain lets a test re-run this binary as the hut command
// (HUT_TEST_MAIN=1), so that a real process can be killed mid-training.
func TestMain(m *testing.M) {
	if os.Getenv("HUT_TEST_MAIN") == "1" {
		os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// tinyModelDir writes a small random GPT-2 with the full GPT-2 vocabulary
// and tokenizer files, in Hugging Face layout.
func tinyModelDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	cfg := gpt2.Config{NLayer: 2, NHead: 2, NEmbd: 16, NPositions: 64, VocabSize: 50257, LayerNormEps: 1e-5,
		Activation: "gelu_new", ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1, BOSTokenID: 50256, EOSTokenID: 50256}
	m := gpt2.New(cpu.New(), cfg)
	m.Init(3)
	if err := m.SaveHF(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	if err := tokenizer.WriteFiles("gpt2", dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func corpusFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "corpus.txt")
	var b strings.Builder
	for i := 0; i < 60; i++ {
		b.WriteString("The Vaults is a pub near the river. It serves cheap English food and has a high rating. ")
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, &out, &errb); code != 0 {
		t.Fatalf("hut %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

type forwardOut struct {
	Argmax int
	Loss   float64
	Logits []float32
}

func forward(t *testing.T, args ...string) forwardOut {
	t.Helper()
	var f forwardOut
	if err := json.Unmarshal([]byte(run(t, append([]string{"forward"}, args...)...)), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func maxAbsRel(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / math.Max(s, 1e-12)
}

// TestRoundTrips: HF directory → train → adapter files → reload gives the
// same outputs; the merged export reloads as a plain model with the
// adapter path's logits (1e-5).
func TestRoundTrips(t *testing.T) {
	model := tinyModelDir(t)
	corpus := corpusFile(t)
	toks := "464 3290 373 1043 287"
	for _, method := range []string{"hut", "lora", "hira"} {
		t.Run(method, func(t *testing.T) {
			out := t.TempDir()
			log := run(t, "train", "--model", model, "--data", corpus, "--method", method, "--steps", "6", "--batch", "2",
				"--seq", "32", "--warmup", "1", "--lr", "1e-2", "--out", out, "--quiet", "--eval-every", "3")
			if !strings.Contains(log, "trainable params:") || !strings.Contains(log, "loss ") {
				t.Fatalf("train log lacks the PEFT summary or the loss:\n%s", log)
			}
			adapter := filepath.Join(out, "adapter")
			a := forward(t, "--model", model, "--adapter", adapter, "--tokens", toks)
			merged := forward(t, "--model", model, "--adapter", adapter, "--method-merged", "--tokens", toks)
			if d := maxAbsRel(merged.Logits, a.Logits); d > 1e-5 {
				t.Errorf("merged vs adapter: %g", d)
			}
			base := forward(t, "--model", model, "--tokens", toks)
			if d := maxAbsRel(a.Logits, base.Logits); d < 1e-6 {
				t.Errorf("the trained adapter changes nothing (%g)", d)
			}
			export := filepath.Join(t.TempDir(), "merged")
			run(t, "merge", "--model", model, "--adapter", adapter, "--export", export)
			plain := forward(t, "--model", export, "--tokens", toks)
			if d := maxAbsRel(plain.Logits, a.Logits); d > 1e-5 {
				t.Errorf("exported merged model vs adapter path: %g", d)
			}
			if a.Argmax != plain.Argmax {
				t.Errorf("argmax %d vs %d", plain.Argmax, a.Argmax)
			}
			// The exported checkpoint is in HF layout: Conv1D weights [in, out].
			f, err := safetensors.ReadFile(filepath.Join(export, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if info := f.Info("transformer.h.0.attn.c_attn.weight"); info == nil || info.Shape[0] != 16 || info.Shape[1] != 48 {
				t.Errorf("c_attn weight in the export: %+v", info)
			}
		})
	}
}

// TestKillAndResume kills a real training process with SIGKILL after its
// first checkpoint, resumes it, and compares the final adapter bit for bit
// with an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	model := tinyModelDir(t)
	corpus := corpusFile(t)
	args := func(out string) []string {
		return []string{"train", "--model", model, "--data", corpus, "--method", "hut", "--steps", "40", "--batch", "2",
			"--seq", "32", "--warmup", "2", "--out", out, "--quiet", "--checkpoint-every", "4", "--eval-every", "0", "--adapter-dropout", "0"}
	}
	whole := t.TempDir()
	run(t, args(whole)...)

	cut := t.TempDir()
	cmd := exec.Command(os.Args[0], args(cut)...)
	cmd.Env = append(os.Environ(), "HUT_TEST_MAIN=1")
	var logb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(cut, "checkpoint-000008")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint appeared:\n%s", logb.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill() // SIGKILL: no clean-up, no final save
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(cut, "adapter")); err == nil {
		t.Skip("the run finished before it could be killed; nothing to resume")
	}
	log := run(t, append(args(cut), "--resume")...)
	if !strings.Contains(log, "resuming from") {
		t.Fatalf("no resume:\n%s", log)
	}
	a, err := os.ReadFile(filepath.Join(whole, "adapter", "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cut, "adapter", "adapter_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("the resumed run's adapter differs from the uninterrupted run's")
	}
}

func TestTrainBadFlags(t *testing.T) {
	model := tinyModelDir(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "dora"}, "unknown method"},
		{[]string{"--r", "-2"}, "rank"},
		{[]string{"--lr", "-1"}, "learning rate"},
		{[]string{"--targets", "q_proj"}, "matches no layer"},
		{[]string{"--seq", "4096"}, "n_positions"},
		{[]string{"--data", "/nonexistent.txt"}, "no such file"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"train", "--model", model, "--steps", "1", "--quiet", "--out", t.TempDir()}, c.args...)
		if code := Main(args, &out, &errb); code == 0 {
			t.Errorf("%v: exit 0", c.args)
			continue
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: stderr %q does not say %q", c.args, errb.String(), c.want)
		}
	}
}

// TestRoBERTaRoundTrip: GLUE fine-tune → adapter with its classifier →
// forward with the adapter, merged, and from the merged export (1e-5).
func TestRoBERTaRoundTrip(t *testing.T) {
	model := tinyRoBERTa(t)
	out := t.TempDir()
	run(t, "train", "--task", "sst2", "--model", model, "--method", "hut", "--steps", "3", "--batch", "8",
		"--max-examples", "64", "--eval-examples", "16", "--max-len", "32", "--out", out, "--quiet")
	adapters, _ := filepath.Glob(filepath.Join(out, "*", "adapter", "adapter_config.json"))
	if len(adapters) != 1 {
		adapters, _ = filepath.Glob(filepath.Join(out, "adapter*", "adapter_config.json"))
	}
	if len(adapters) != 1 {
		t.Fatalf("no adapter written under %s", out)
	}
	adapter := filepath.Dir(adapters[0])
	text := "a gripping and funny film"
	type cls struct {
		Logits []float32
		Argmax int
	}
	fw := func(args ...string) cls {
		var c cls
		if err := json.Unmarshal([]byte(run(t, append([]string{"forward", "--text", text}, args...)...)), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := fw("--model", model, "--adapter", adapter)
	if len(a.Logits) != 2 {
		t.Fatalf("classifier logits %v", a.Logits)
	}
	m := fw("--model", model, "--adapter", adapter, "--method-merged")
	if d := maxAbsRel(m.Logits, a.Logits); d > 1e-5 {
		t.Errorf("merged vs adapter: %g", d)
	}
	export := filepath.Join(t.TempDir(), "merged")
	run(t, "merge", "--model", model, "--adapter", adapter, "--export", export)
	p := fw("--model", export)
	if d := maxAbsRel(p.Logits, a.Logits); d > 1e-5 {
		t.Errorf("exported merged classifier vs adapter path: %g (%v vs %v)", d, p.Logits, a.Logits)
	}
}
