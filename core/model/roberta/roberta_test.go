package roberta

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
)

func tinyConfig() Config {
	return Config{VocabSize: 13, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 16,
		HiddenAct: "gelu", HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1, MaxPositionEmbeddings: 12,
		TypeVocabSize: 2, InitializerRange: 0.3, LayerNormEps: 1e-5, PadTokenID: 1, BOSTokenID: 0, EOSTokenID: 2, NumLabels: 3}
}

// tinyBatch is a right-padded batch with rows of lengths 5, 3 and 4 (T = 5),
// token types set, and targets for the model's head.
func tinyBatch(r *rand.Rand, m *Model) *Batch {
	cfg := m.Cfg
	lens := []int{5, 3, 4}
	B, T := len(lens), 5
	b := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Types: make([]int32, B*T)}
	for i, n := range lens {
		for t := 0; t < T; t++ {
			if t < n {
				b.Tokens[i*T+t] = int32(3 + r.IntN(cfg.VocabSize-3))
				b.Types[i*T+t] = int32(r.IntN(cfg.TypeVocabSize))
			} else {
				b.Tokens[i*T+t] = int32(cfg.PadTokenID)
			}
		}
		b.Tokens[i*T] = int32(cfg.BOSTokenID)
	}
	switch m.Head {
	case HeadClassifier:
		b.Weights = []float32{0.5, 0.2, 0.3}
		if cfg.Regression() {
			b.Scores = []float32{0.3, -1.2, 2.0}
		} else {
			b.Labels = []int32{2, 0, 1}
		}
	case HeadMLM:
		b.Targets = make([]int32, B*T)
		b.Weights = make([]float32, B*T)
		for _, i := range []int{1, 3, 6, 11, 12} {
			b.Targets[i] = int32(r.IntN(cfg.VocabSize))
			b.Weights[i] = 0.2
		}
	}
	return b
}

func loss(m *Model, b *Batch, seeds Seeds, train bool) float64 {
	stats := m.NewStats()
	m.Forward(b, stats, train, false, seeds)
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return float64(st[0])
}

// randomize moves trainable values away from their initialisation so that
// gradient and merge checks see non-trivial adapters.
func randomize(m *Model, r *rand.Rand, scale float64) {
	for _, p := range m.Trainable() {
		v := p.ReadAll(m.Be)
		for i := range v {
			v[i] += float32(r.NormFloat64() * scale)
		}
		m.Be.Write(p.W, 0, v)
	}
}

type headCase struct {
	name string
	head Head
	reg  bool
}

var headCases = []headCase{{"classifier", HeadClassifier, false}, {"regression", HeadClassifier, true}, {"mlm", HeadMLM, false}}

func newTiny(hc headCase, seed uint64) *Model {
	cfg := tinyConfig()
	if hc.reg {
		cfg.NumLabels, cfg.ProblemType = 1, ProblemRegression
	}
	m := New(cpu.New(), cfg, hc.head)
	m.Init(seed)
	return m
}

// TestGradients checks every trainable parameter of every method and head
// (adapters, the classifier, the MLM head, and for full fine-tuning the
// embeddings, LayerNorms and linears) against central differences of the
// training loss with dropout on (the masks are pure functions of the
// seeds), on a padded batch.
func TestGradients(t *testing.T) {
	for _, hc := range headCases {
		for _, method := range []string{"hut", "hira", "lora", "full"} {
			t.Run(hc.name+"/"+method, func(t *testing.T) {
				m := newTiny(hc, 1)
				pc := &peft.Config{Method: method, R: 3, Targets: []string{"all-linear"}, Dropout: 0.1, Seed: 2}
				if err := m.Attach(pc); err != nil {
					t.Fatal(err)
				}
				r := rand.New(rand.NewPCG(3, 4))
				randomize(m, r, 0.3)
				b := tinyBatch(r, m)
				if err := m.Validate(b); err != nil {
					t.Fatal(err)
				}
				seeds := Seeds(1234)
				m.Forward(b, m.NewStats(), true, true, seeds)
				m.Backward(b, seeds)
				named := m.TrainableNamed()
				if len(named) == 0 {
					t.Fatal("no trainable parameters")
				}
				if hc.head == HeadClassifier {
					if _, ok := named["classifier.out_proj.weight"]; !ok {
						t.Fatal("the classifier is not trainable")
					}
				}
				checked := 0
				for name, p := range named {
					w := cpu.F(p.W)
					g := append([]float32(nil), cpu.F(p.G)...)
					idx := r.Perm(len(w))
					if len(idx) > 5 {
						idx = idx[:5]
					}
					if p == m.PosEmb || p == m.WordEmb || p == m.TypeEmb {
						idx = append(idx, usedRows(m, p, b)...) // rows the batch touches
					}
					for _, i := range idx {
						old := w[i]
						diff := func(eps float32) float64 {
							w[i] = old + eps
							lp := loss(m, b, seeds, true)
							w[i] = old - eps
							lm := loss(m, b, seeds, true)
							w[i] = old
							return (lp - lm) / (2 * float64(eps))
						}
						// Richardson extrapolation cancels the O(eps²) error of
						// central differences.
						num := (4*diff(1e-3) - diff(2e-3)) / 3
						if d := math.Abs(num - float64(g[i])); d > 1e-2*math.Max(1e-1, math.Abs(num)) && d > 2e-3 {
							t.Errorf("%s[%d]: analytic %.6g numeric %.6g", name, i, g[i], num)
						}
						checked++
					}
				}
				t.Logf("%d parameters, %d elements checked", len(named), checked)
			})
		}
	}
}

// usedRows returns two element indices in embedding rows the batch uses.
func usedRows(m *Model, p *tensor.Param, b *Batch) []int {
	C := m.Cfg.HiddenSize
	var row int
	switch p {
	case m.WordEmb:
		row = int(b.Tokens[1])
	case m.PosEmb:
		row = m.Cfg.PadTokenID + 2
	case m.TypeEmb:
		row = int(b.Types[1])
	}
	return []int{row*C + 1, row*C + C - 1}
}

// TestPaddingInvariance: a sequence's outputs do not depend on the padding
// around it (positions skip padding, padded keys are masked).
func TestPaddingInvariance(t *testing.T) {
	for _, hc := range headCases {
		t.Run(hc.name, func(t *testing.T) {
			m := newTiny(hc, 5)
			short := []int32{0, 5, 7, 2}
			long := []int32{0, 4, 9, 11, 3, 6, 2}
			if hc.head == HeadMLM {
				alone, _, err := m.MLMLogits([][]int32{short})
				if err != nil {
					t.Fatal(err)
				}
				both, _, err := m.MLMLogits([][]int32{long, short})
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(alone[0], both[1]); d > 1e-5 {
					t.Fatalf("padded row differs by %g", d)
				}
				return
			}
			alone, err := m.Classify([][]int32{short})
			if err != nil {
				t.Fatal(err)
			}
			both, err := m.Classify([][]int32{long, short})
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(alone[0], both[1]); d > 1e-5 {
				t.Fatalf("padded row differs by %g", d)
			}
		})
	}
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func maxRelDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / math.Max(s, 1e-12)
}

func flatClassify(t *testing.T, m *Model, seqs [][]int32) []float32 {
	t.Helper()
	rows, err := m.Classify(seqs)
	if err != nil {
		t.Fatal(err)
	}
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

var testSeqs = [][]int32{{0, 5, 7, 9, 2}, {0, 4, 2}, {0, 11, 3, 6, 8, 10, 2}}

func TestMergeUnmerge(t *testing.T) {
	for _, method := range []string{"hut", "hira", "lora"} {
		t.Run(method, func(t *testing.T) {
			m := newTiny(headCases[0], 7)
			base := flatClassify(t, m, testSeqs)
			w0 := m.Layers[0].Query.W.ReadAll(m.Be)
			if err := m.Attach(&peft.Config{Method: method, R: 4, Targets: []string{"all-linear"}, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			if method == "hut" {
				if d := maxRelDiff(flatClassify(t, m, testSeqs), base); d != 0 {
					t.Fatalf("HUT at init differs from the base model by %g", d)
				}
			}
			randomize(m, rand.New(rand.NewPCG(8, 9)), 0.05)
			adapted := flatClassify(t, m, testSeqs)
			if d := maxRelDiff(adapted, base); d < 1e-4 {
				t.Fatalf("the adapter changes nothing (%g)", d)
			}
			if err := m.Merge(); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(flatClassify(t, m, testSeqs), adapted); d > 1e-5 {
				t.Errorf("merged differs from unmerged by %g (relative)", d)
			}
			if err := m.Unmerge(); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(m.Layers[0].Query.W.ReadAll(m.Be), w0); d > 1e-5 {
				t.Errorf("un-merge does not restore W0 (%g)", d)
			}
			if d := maxRelDiff(flatClassify(t, m, testSeqs), adapted); d > 1e-5 {
				t.Errorf("after un-merge the adapter output changed by %g", d)
			}
		})
	}
}

// TestTargets checks PEFT's suffix semantics on RoBERTa's module paths.
func TestTargets(t *testing.T) {
	m := New(cpu.New(), tinyConfig(), HeadClassifier)
	L := m.Cfg.NumHiddenLayers
	for _, c := range []struct {
		targets []string
		want    int
		check   string
	}{
		{[]string{"query"}, L, "attention.self.query"},
		{[]string{"query", "value"}, 2 * L, ""},
		{[]string{"output.dense"}, 2 * L, "output.dense"}, // attention.output.dense and output.dense
		{[]string{"attention.output.dense"}, L, "attention.output.dense"},
		{[]string{"intermediate.dense"}, L, "intermediate.dense"},
		{[]string{"dense"}, 3 * L, "dense"},
		{[]string{"all-linear"}, 6 * L, ""},
		{[]string{"roberta.encoder.layer.1.attention.self.key"}, 1, "layer.1.attention.self.key"},
	} {
		sel, err := peft.MatchTargets(m.Linears(), c.targets)
		if err != nil {
			t.Fatalf("%v: %v", c.targets, err)
		}
		n := 0
		for i, s := range sel {
			if s {
				n++
				if c.check != "" && !strings.HasSuffix(m.Linears()[i].Name, c.check) {
					t.Errorf("%v selected %s", c.targets, m.Linears()[i].Name)
				}
			}
		}
		if n != c.want {
			t.Errorf("%v selects %d linears, want %d", c.targets, n, c.want)
		}
	}
	if _, err := peft.MatchTargets(m.Linears(), []string{"c_attn"}); err == nil {
		t.Error("c_attn matched a RoBERTa layer")
	}
	// Defaults: LoRA on query and value.
	lm := New(cpu.New(), tinyConfig(), HeadClassifier)
	if err := lm.Attach(&peft.Config{Method: "lora"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(lm.PEFT.Targets, ","); got != "query,value" {
		t.Errorf("LoRA default targets %s, want query,value", got)
	}
}

// TestSaveLoadAdapter saves each method with the classifier as
// modules_to_save in PEFT's key layout and reloads it into a fresh model.
func TestSaveLoadAdapter(t *testing.T) {
	for _, method := range []string{"hut", "hira", "lora"} {
		t.Run(method, func(t *testing.T) {
			m := newTiny(headCases[0], 5)
			if err := m.Attach(&peft.Config{Method: method, R: 2, Targets: []string{"query", "output.dense"}, Seed: 6}); err != nil {
				t.Fatal(err)
			}
			randomize(m, rand.New(rand.NewPCG(1, 2)), 0.1)
			want := flatClassify(t, m, testSeqs)
			dir := t.TempDir()
			if err := m.SaveAdapter(dir, "tiny"); err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.ReadFile(filepath.Join(dir, peft.WeightsFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"base_model.model.classifier.dense.weight", "base_model.model.classifier.dense.bias",
				"base_model.model.classifier.out_proj.weight", "base_model.model.classifier.out_proj.bias"} {
				if f.Info(k) == nil {
					t.Errorf("adapter file has no %s (have %v)", k, f.Names())
				}
			}
			var cj map[string]any
			b, _ := os.ReadFile(filepath.Join(dir, peft.ConfigFile))
			if err := json.Unmarshal(b, &cj); err != nil {
				t.Fatal(err)
			}
			if cj["task_type"] != "SEQ_CLS" || len(cj["modules_to_save"].([]any)) != 1 || cj["modules_to_save"].([]any)[0] != "classifier" {
				t.Errorf("adapter_config.json: task_type %v, modules_to_save %v", cj["task_type"], cj["modules_to_save"])
			}
			m2 := newTiny(headCases[0], 5)
			m2.InitHead(99) // a different random classifier
			if err := m2.LoadAdapter(dir); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(flatClassify(t, m2, testSeqs), want); d != 0 {
				t.Fatalf("reloaded adapter differs by %g", d)
			}
			// Resuming restores the same values into an attached adapter.
			m3 := newTiny(headCases[0], 5)
			if err := m3.Attach(&peft.Config{Method: method, R: 2, Targets: []string{"query", "output.dense"}, Seed: 6}); err != nil {
				t.Fatal(err)
			}
			if err := m3.LoadTrainable(dir); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(flatClassify(t, m3, testSeqs), want); d != 0 {
				t.Fatalf("LoadTrainable differs by %g", d)
			}
		})
	}
}

// TestSaveHFRoundTrip: full fine-tuning and merged exports are written as
// Hugging Face checkpoints that load back to the same outputs; an MLM
// checkpoint loads for classification with a fresh head and a note.
func TestSaveHFRoundTrip(t *testing.T) {
	m := newTiny(headCases[0], 3)
	if err := m.Attach(&peft.Config{Method: "hut", R: 2, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	randomize(m, rand.New(rand.NewPCG(4, 4)), 0.05)
	want := flatClassify(t, m, testSeqs)
	if err := m.Merge(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.SaveHF(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	m2, err := Load(cpu.New(), dir, HeadAuto, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Head != HeadClassifier || m2.Cfg.NumLabels != 3 {
		t.Fatalf("reloaded head %s with %d labels", m2.Head, m2.Cfg.NumLabels)
	}
	if d := maxRelDiff(flatClassify(t, m2, testSeqs), want); d > 1e-6 {
		t.Fatalf("merged export differs by %g", d)
	}

	mlm := newTiny(headCases[2], 8)
	mdir := t.TempDir()
	if err := mlm.SaveHF(mdir, "F32"); err != nil {
		t.Fatal(err)
	}
	wantMLM, _, err := mlm.MLMLogits(testSeqs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(cpu.New(), mdir, HeadAuto, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gotMLM, _, err := back.MLMLogits(testSeqs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(gotMLM[2], wantMLM[2]); d != 0 {
		t.Fatalf("MLM round trip differs by %g", d)
	}
	cls, err := Load(cpu.New(), mdir, HeadClassifier, LoadOptions{NumLabels: 2, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if cls.Cfg.NumLabels != 2 || len(cls.Notes) == 0 || !strings.Contains(strings.Join(cls.Notes, ";"), "initialised it randomly") {
		t.Fatalf("classifier from an MLM checkpoint: %d labels, notes %q", cls.Cfg.NumLabels, cls.Notes)
	}
	if _, err := cls.Classify(testSeqs); err != nil {
		t.Fatal(err)
	}
}

func TestBadInputs(t *testing.T) {
	m := newTiny(headCases[0], 1)
	if _, err := m.Classify([][]int32{{0, 99, 2}}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Errorf("bad token: %v", err)
	}
	long := make([]int32, 11)
	if _, err := m.Classify([][]int32{long}); err == nil || !strings.Contains(err.Error(), "positions") {
		t.Errorf("too long: %v", err)
	}
	b := &Batch{B: 1, T: 3, Tokens: []int32{0, 5, 2}, Labels: []int32{7}, Weights: []float32{1}}
	if err := m.Validate(b); err == nil || !strings.Contains(err.Error(), "label 7") {
		t.Errorf("bad label: %v", err)
	}
	for _, c := range []struct{ json, want string }{
		{`{"model_type":"gpt2"}`, "model_type"},
		{`{"hidden_size":10,"num_attention_heads":3}`, "multiple"},
		{`{"hidden_act":"relu"}`, "hidden_act"},
		{`{"position_embedding_type":"relative_key"}`, "position_embedding_type"},
		{`{"problem_type":"multi_label_classification"}`, "problem_type"},
		{`{"id2label":{"a":"x"}}`, "id2label"},
		{`{"hidden_dropout_prob":1.5}`, "hidden_dropout_prob"},
	} {
		if _, err := ParseConfig([]byte(c.json), "config.json"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.want)
		}
	}
	if err := m.Attach(&peft.Config{Method: "lora", Targets: []string{"c_attn"}}); err == nil || !strings.Contains(err.Error(), "matches no layer") {
		t.Errorf("bad target: %v", err)
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	cfg := tinyConfig()
	cfg.ID2Label = []string{"neg", "neu", "pos"}
	for _, head := range []Head{HeadClassifier, HeadMLM, HeadNone} {
		b, err := cfg.JSON(head)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig(b, "config.json")
		if err != nil {
			t.Fatal(err)
		}
		if back.ConfigHead() != head || back.HiddenSize != cfg.HiddenSize || back.MaxPositionEmbeddings != cfg.MaxPositionEmbeddings {
			t.Errorf("%s: round trip gave %+v", head, back)
		}
		if head == HeadClassifier && strings.Join(back.Labels(), ",") != "neg,neu,pos" {
			t.Errorf("labels %v", back.Labels())
		}
	}
}
