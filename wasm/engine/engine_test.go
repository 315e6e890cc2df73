package engine

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/wasm/internal/testmodels"
)

func newGPT2(t *testing.T) *Engine {
	t.Helper()
	e := New(cpu.New(), "cpu")
	t.Cleanup(e.Close)
	if _, err := e.LoadModel(ModelFiles(testmodels.TinyGPT2(testmodels.DefaultGPT2)), "tiny-gpt2-test"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LoadTask(TaskOptions{Task: "e2e", Train: testmodels.E2E(64, 1), Dev: testmodels.E2E(16, 2)}); err != nil {
		t.Fatal(err)
	}
	return e
}

func seed(v uint64) *uint64 { return &v }

func TestLoadModelInfo(t *testing.T) {
	e := newGPT2(t)
	info := e.modelInfo()
	if info["arch"] != "gpt2" || info["task"] != "causal-lm" || info["params"].(int) <= 0 {
		t.Fatalf("modelInfo = %v", info)
	}
	mods := info["modules"].([]string)
	if strings.Join(mods, ",") != "attn.c_attn,attn.c_proj,mlp.c_fc,mlp.c_proj" {
		t.Fatalf("modules = %v", mods)
	}
}

func TestTrainingReducesLoss(t *testing.T) {
	for _, method := range []string{"hut", "lora", "hira", "full"} {
		t.Run(method, func(t *testing.T) {
			e := newGPT2(t)
			lr := map[string]float32{"hut": 1e-2, "lora": 1e-2, "hira": 5e-2, "full": 1e-3}[method]
			res, err := e.Setup(TrainOptions{Method: method, R: 4, LR: lr, Batch: 4, Seq: 96, Steps: 30, Seed: seed(3), Targets: []string{"all-linear"}})
			if err != nil {
				t.Fatal(err)
			}
			if res["trainable"].(int) <= 0 || res["flopsPerStep"].(float64) <= 0 {
				t.Fatalf("setup = %v", res)
			}
			ev0, err := e.Evaluate(EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var losses []float64
			for i := 0; i < 3; i++ {
				r, err := e.Step(StepOptions{N: 10})
				if err != nil {
					t.Fatal(err)
				}
				losses = append(losses, r["losses"].([]float64)...)
			}
			if len(losses) != 30 {
				t.Fatalf("%d losses", len(losses))
			}
			if _, err := e.Step(StepOptions{N: 1}); err == nil || !strings.Contains(err.Error(), "all 30 steps") {
				t.Fatalf("step past the schedule: %v", err)
			}
			first, last := mean(losses[:5]), mean(losses[25:])
			ev1, err := e.Evaluate(EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: train loss %.3f → %.3f, eval %.3f → %.3f", method, first, last, ev0["evalLoss"], ev1["evalLoss"])
			if !(last < first-0.05) || !(ev1["evalLoss"].(float64) < ev0["evalLoss"].(float64)) {
				t.Fatalf("loss did not go down: train %.3f → %.3f, eval %v → %v", first, last, ev0["evalLoss"], ev1["evalLoss"])
			}
		})
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// The engine's step is the native loop: the same losses as train.Run over
// the model's Job with the same batcher.
func TestStepIsTrainRun(t *testing.T) {
	e := newGPT2(t)
	if _, err := e.Setup(TrainOptions{Method: "hut", R: 2, LR: 5e-3, Batch: 2, Seq: 96, Steps: 6, Seed: seed(9)}); err != nil {
		t.Fatal(err)
	}
	var a []float64
	for i := 0; i < 3; i++ {
		r, err := e.Step(StepOptions{N: 2})
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, r["losses"].([]float64)...)
	}
	e2 := newGPT2(t)
	r, err := e2.Setup(TrainOptions{Method: "hut", R: 2, LR: 5e-3, Batch: 2, Seq: 96, Steps: 6, Seed: seed(9)})
	if err != nil {
		t.Fatal(err)
	}
	_ = r
	rr, err := e2.Step(StepOptions{N: 6})
	if err != nil {
		t.Fatal(err)
	}
	b := rr["losses"].([]float64)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("step %d: %v (2 at a time) vs %v (6 at once)", i+1, a[i], b[i])
		}
	}
}

func TestSetupAgainReusesWeights(t *testing.T) {
	e := newGPT2(t)
	if _, err := e.Setup(TrainOptions{Method: "lora", Steps: 3, Seq: 96}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Step(StepOptions{N: 3}); err != nil {
		t.Fatal(err)
	}
	mem := e.be.bytes
	w := e.mdl.g.WTE.W
	for i := 0; i < 3; i++ {
		if _, err := e.Setup(TrainOptions{Method: "lora", Steps: 3, Seq: 96}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Step(StepOptions{N: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if e.mdl.g.WTE.W != w {
		t.Fatal("setup uploaded the base weights again")
	}
	if e.be.bytes != mem {
		t.Fatalf("memory %d → %d bytes after three more setups: something leaks", mem, e.be.bytes)
	}
	// Full fine-tuning changes the base weights: the next setup starts
	// from the checkpoint again.
	before := e.mdl.g.WTE.ReadAll(e.be)
	if _, err := e.Setup(TrainOptions{Method: "full", Steps: 2, Seq: 96, LR: 1e-2}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Step(StepOptions{N: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Setup(TrainOptions{Method: "hut", Steps: 2, Seq: 96}); err != nil {
		t.Fatal(err)
	}
	after := e.mdl.g.WTE.ReadAll(e.be)
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("wte[%d] = %v after full fine-tuning and a new setup, want the checkpoint's %v", i, after[i], before[i])
		}
	}
}

func TestInspectMatchesMerge(t *testing.T) {
	for _, method := range []string{"hut", "lora", "hira"} {
		t.Run(method, func(t *testing.T) {
			e := newGPT2(t)
			if _, err := e.Setup(TrainOptions{Method: method, R: 4, LR: 2e-2, Steps: 5, Seq: 96, InitNoise: 0.01, Targets: []string{"all-linear"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Step(StepOptions{N: 5}); err != nil {
				t.Fatal(err)
			}
			in, err := e.Inspect(InspectOptions{Layer: 1, Module: "mlp.c_fc", Rows: 4, Cols: 5, Row0: 3, Col0: 2})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Merge(); err != nil {
				t.Fatal(err)
			}
			merged, err := e.Inspect(InspectOptions{Layer: 1, Module: "c_fc", Rows: 4, Cols: 5, Row0: 3, Col0: 2})
			if err != nil {
				t.Fatal(err)
			}
			if merged["merged"] != true {
				t.Fatal("inspect does not say merged")
			}
			a, b := in["wPrime"].([][]float64), merged["wPrime"].([][]float64)
			if len(a) != 4 || len(a[0]) != 5 {
				t.Fatalf("slice %dx%d", len(a), len(a[0]))
			}
			for i := range a {
				for j := range a[i] {
					if d := math.Abs(a[i][j] - b[i][j]); d > 1e-6*math.Max(1, math.Abs(b[i][j])) {
						t.Fatalf("W'[%d][%d]: inspect %v, merged weights %v", i, j, a[i][j], b[i][j])
					}
				}
			}
			if c := in["corr"].(float64); !(c > 0.5 && c <= 1) {
				t.Fatalf("corr = %v", c)
			}
			if in["deltaNorm"].(float64) <= 0 {
				t.Fatal("deltaNorm = 0 after training")
			}
			if method == "hut" && (len(in["a"].([]float64)) != 4*32 || len(in["b"].([]float64)) != 32) {
				t.Fatalf("a, b lengths %d, %d", len(in["a"].([]float64)), len(in["b"].([]float64)))
			}
			if _, err := e.Step(StepOptions{N: 1}); err == nil || !strings.Contains(err.Error(), "unmerge") {
				t.Fatalf("step while merged: %v", err)
			}
			if _, err := e.Unmerge(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// exportAdapter writes what peft.Save (hut train) writes, byte for byte,
// and importAdapter reads it back.
func TestExportImport(t *testing.T) {
	for _, method := range []string{"hut", "lora", "hira"} {
		t.Run(method, func(t *testing.T) {
			e := newGPT2(t)
			if _, err := e.Setup(TrainOptions{Method: method, R: 3, LR: 1e-2, Steps: 3, Seq: 96, Dropout: 0.05}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Step(StepOptions{N: 3}); err != nil {
				t.Fatal(err)
			}
			ex, err := e.ExportAdapter()
			if err != nil {
				t.Fatal(err)
			}
			files := ex["files"].(map[string]any)
			dir := t.TempDir()
			if err := e.mdl.g.SaveAdapter(dir, e.src.name); err != nil {
				t.Fatal(err)
			}
			for name, got := range files {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				var g []byte
				switch v := got.(type) {
				case string:
					g = []byte(v)
				case []byte:
					g = v
				}
				if !bytes.Equal(g, want) {
					t.Fatalf("%s differs from peft.Save's:\n%s\nvs\n%s", name, g, want)
				}
			}
			gen0, err := e.Generate(GenerateOptions{MR: "name[Zizzi], eatType[pub], food[Indian]", MaxNew: 12})
			if err != nil {
				t.Fatal(err)
			}
			// A fresh engine with the imported adapter generates the same.
			e2 := newGPT2(t)
			imp := ModelFiles{}
			for n, v := range files {
				if s, ok := v.(string); ok {
					imp[n] = []byte(s)
				} else {
					imp[n] = v.([]byte)
				}
			}
			if _, err := e2.ImportAdapter(imp); err != nil {
				t.Fatal(err)
			}
			gen1, err := e2.Generate(GenerateOptions{MR: "name[Zizzi], eatType[pub], food[Indian]", MaxNew: 12})
			if err != nil {
				t.Fatal(err)
			}
			if gen0["text"] != gen1["text"] {
				t.Fatalf("generation after import %q, before %q", gen1["text"], gen0["text"])
			}
			// The file also loads with the native loader.
			m, err := gpt2.New(cpu.New(), e.src.gcfg), error(nil)
			_ = err
			if err := m.LoadAdapter(dir); err != nil {
				t.Fatal(err)
			}
			if m.PEFT.Method != method {
				t.Fatalf("native loader read method %q", m.PEFT.Method)
			}
			// Errors name the problem.
			bad := ModelFiles{peft.ConfigFile: imp[peft.ConfigFile], peft.WeightsFile: encodeOne(t, "base_model.model.nope", 2)}
			if _, err := e2.ImportAdapter(bad); err == nil || !strings.Contains(err.Error(), "missing") {
				t.Fatalf("import of a wrong file: %v", err)
			}
		})
	}
}

func encodeOne(t *testing.T, name string, n int) []byte {
	var b bytes.Buffer
	if err := safetensors.Encode(&b, []safetensors.Tensor{{Name: name, Shape: []int{n}, F32: make([]float32, n)}}, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGenerateModes(t *testing.T) {
	e := newGPT2(t)
	if _, err := e.Setup(TrainOptions{Method: "lora", R: 4, LR: 1e-2, Steps: 40, Seq: 96, Batch: 8}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Step(StepOptions{N: 40}); err != nil {
		t.Fatal(err)
	}
	p := "The"
	for _, o := range []GenerateOptions{
		{MR: "name[Aromi], eatType[coffee shop], food[French], priceRange[cheap], area[riverside]", MaxNew: 20},
		{MR: "name[Aromi], eatType[coffee shop]", MaxNew: 20, Beams: 4},
		{Prompt: &p, MaxNew: 10, Greedy: new(bool), Seed: 5},
	} {
		r, err := e.Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %q", r["mode"], r["text"])
		if len(r["ids"].([]int)) == 0 {
			t.Fatalf("no tokens: %v", r)
		}
	}
	for _, c := range []struct {
		o    GenerateOptions
		want string
	}{
		{GenerateOptions{}, "give mr"},
		{GenerateOptions{MR: "not an mr"}, "mr"},
		{GenerateOptions{Prompt: &p, MaxNew: -1}, "maxNew"},
		{GenerateOptions{Prompt: &p, Beams: 1000}, "beams"},
	} {
		if _, err := e.Generate(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Generate(%+v) = %v, want an error about %q", c.o, err, c.want)
		}
	}
}

func TestEstimate(t *testing.T) {
	e := newGPT2(t)
	got := map[string]float64{}
	for _, m := range []string{"hut", "lora", "hira", "full"} {
		r, err := e.Estimate(TrainOptions{Method: m, R: 4, Batch: 2, Seq: 16, Targets: []string{"all-linear"}})
		if err != nil {
			t.Fatal(err)
		}
		got[m] = r["flopsPerStep"].(float64)
		if m != "full" && r["trainable"].(int) >= r["all"].(int)/2 {
			t.Fatalf("%s: %v", m, r)
		}
	}
	// HUT has no weight-gradient GEMM: the cheapest step; full has all of them.
	if !(got["hut"] < got["lora"] && got["lora"] < got["full"]) {
		t.Fatalf("FLOPs per step %v", got)
	}
	cfg := e.src.gcfg
	C, N := float64(cfg.NEmbd), 32.0
	lin := 2 * N * (3*C*C + C*C + 2*C*float64(cfg.Inner())) * float64(cfg.NLayer)
	head := 2 * N * C * float64(cfg.VocabSize)
	if want := 2*lin + 2*head; got["hut"] < want || got["hut"] > want*1.2 {
		t.Fatalf("HUT FLOPs %v, want about %v (forward + input gradients of every linear and the head, plus attention)", got["hut"], want)
	}
}

func TestErrors(t *testing.T) {
	e := New(cpu.New(), "cpu")
	defer e.Close()
	for _, c := range []struct {
		fn   func() error
		want string
	}{
		{func() error { _, err := e.Setup(TrainOptions{}); return err }, "loadModel"},
		{func() error { _, err := e.Step(StepOptions{N: 1}); return err }, "loadModel"},
		{func() error { _, err := e.LoadModel(ModelFiles{}, "x"); return err }, "config.json is missing"},
		{func() error {
			_, err := e.LoadModel(ModelFiles{"config.json": []byte(`{"model_type":"llama"}`)}, "x")
			return err
		}, "llama"},
		{func() error {
			f := testmodels.TinyGPT2(testmodels.DefaultGPT2)
			delete(f, "model.safetensors")
			_, err := e.LoadModel(ModelFiles(f), "x")
			return err
		}, "no weights"},
		{func() error {
			f := testmodels.TinyGPT2(testmodels.DefaultGPT2)
			f["model.safetensors"] = f["model.safetensors"][:100]
			_, err := e.LoadModel(ModelFiles(f), "x")
			return err
		}, "model.safetensors"},
	} {
		if err := c.fn(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error mentioning %q", err, c.want)
		}
	}
	g := newGPT2(t)
	for _, c := range []struct {
		o    TrainOptions
		want string
	}{
		{TrainOptions{Method: "dora"}, "method"},
		{TrainOptions{Seq: 100000}, "seq"},
		{TrainOptions{LR: -1}, "lr"},
		{TrainOptions{Dropout: 1}, "dropout"},
		{TrainOptions{Targets: []string{"nope"}}, "nope"},
		{TrainOptions{Warmup: 500}, "warmup"},
		{TrainOptions{Batch: 1 << 20, Seq: 64}, "too large"},
	} {
		if _, err := g.Setup(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Setup(%+v) = %v, want an error about %q", c.o, err, c.want)
		}
	}
	// A failed setup leaves the engine usable.
	if _, err := g.Setup(TrainOptions{Steps: 2, Seq: 96}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Step(StepOptions{N: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Inspect(InspectOptions{Layer: 9, Module: "c_fc"}); err == nil || !strings.Contains(err.Error(), "layer 9") {
		t.Errorf("inspect layer 9: %v", err)
	}
	if _, err := g.Inspect(InspectOptions{Layer: 0, Module: "c_proj"}); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("inspect c_proj: %v", err)
	}
	if _, err := g.Classify(ClassifyOptions{Text: "x"}); err == nil || !strings.Contains(err.Error(), "classification head") {
		t.Errorf("classify on GPT-2: %v", err)
	}
	if _, err := g.LoadTask(TaskOptions{Task: "sst2", Train: testmodels.SST2(4, 1)}); err == nil || !strings.Contains(err.Error(), "RoBERTa") {
		t.Errorf("sst2 on GPT-2: %v", err)
	}
	if _, err := g.LoadTask(TaskOptions{Task: "e2e", Train: "mr,ref\n\"broken\n"}); err == nil {
		t.Error("a broken CSV loaded")
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	e := newGPT2(t)
	if _, err := e.Setup(TrainOptions{Method: "full", LR: 1e30, Steps: 20, Seq: 96, Clip: new(float32)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Step(StepOptions{N: 20})
	if err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("step with lr 1e30: %v", err)
	}
	if _, err := e.Step(StepOptions{N: 1}); err == nil || !strings.Contains(err.Error(), "setup") {
		t.Fatalf("step after the failure: %v", err)
	}
}

func TestRoBERTaSST2(t *testing.T) {
	for _, classifier := range []bool{true, false} {
		e := New(cpu.New(), "cpu")
		c := testmodels.DefaultRoBERTa
		c.Classifier = classifier
		info, err := e.LoadModel(ModelFiles(testmodels.TinyRoBERTa(c)), "tiny-roberta-test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.LoadTask(TaskOptions{Task: "sst2", Train: testmodels.SST2(256, 1), Dev: testmodels.SST2(64, 2)}); err != nil {
			t.Fatal(err)
		}
		// A random encoder has no features for HUT to rescale: full
		// fine-tuning shows that the task is learnable end to end.
		if _, err := e.Setup(TrainOptions{Method: "full", LR: 1e-3, Steps: 100, Batch: 16, Seq: 32}); err != nil {
			t.Fatal(err)
		}
		ev0, err := e.Evaluate(EvalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Step(StepOptions{N: 100}); err != nil {
			t.Fatal(err)
		}
		ev1, err := e.Evaluate(EvalOptions{})
		if err != nil {
			t.Fatal(err)
		}
		acc := ev1["metric"].(map[string]any)["value"].(float64)
		t.Logf("classifier=%v (%s): loss %.3f → %.3f, accuracy %.3f → %.3f", classifier, info["task"], ev0["evalLoss"], ev1["evalLoss"],
			ev0["metric"].(map[string]any)["value"], acc)
		if ev1["evalLoss"].(float64) >= ev0["evalLoss"].(float64) || acc < 0.9 {
			t.Fatalf("SST-2 was not learnt")
		}
		if _, err := e.Setup(TrainOptions{Method: "hut", R: 4, LR: 1e-3, Steps: 10, Batch: 8, Seq: 32}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Step(StepOptions{N: 10}); err != nil {
			t.Fatal(err)
		}
		cl, err := e.Classify(ClassifyOptions{Text: "a wonderful film , really wonderful"})
		if err != nil {
			t.Fatal(err)
		}
		if probs := cl["probs"].([]float64); len(probs) != 2 || math.Abs(probs[0]+probs[1]-1) > 1e-9 {
			t.Fatalf("classify = %v", cl)
		}
		if labels := cl["labels"].([]string); labels[1] != "positive" {
			t.Fatalf("labels %v", labels)
		}
		ex, err := e.ExportAdapter()
		if err != nil {
			t.Fatal(err)
		}
		cfg := ex["files"].(map[string]any)[peft.ConfigFile].(string)
		if !strings.Contains(cfg, `"classifier"`) || !strings.Contains(cfg, "SEQ_CLS") {
			t.Fatalf("adapter_config.json without the classifier:\n%s", cfg)
		}
		for _, mod := range []string{"query", "output.dense", "attention.output.dense", "intermediate.dense"} {
			r, err := e.Inspect(InspectOptions{Layer: 1, Module: mod})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(r["module"].(string), ".1."+strings.TrimPrefix(mod, "query")) && mod != "query" {
				t.Fatalf("inspect %q gave %v", mod, r["module"])
			}
		}
		e.Close()
	}
}
