package gpt2

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/peft"
)

func tinyConfig() Config {
	return Config{NLayer: 2, NHead: 2, NEmbd: 8, NPositions: 16, VocabSize: 11, LayerNormEps: 1e-5,
		Activation: "gelu_new", ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1, EOSTokenID: 10}
}

func tinyBatch(r *rand.Rand, cfg Config, B, T int) *Batch {
	b := &Batch{B: B, T: T, Tokens: make([]int32, B*T), Targets: make([]int32, B*T), Weights: make([]float32, B*T)}
	cnt := 0
	for i := range b.Tokens {
		b.Tokens[i] = int32(r.IntN(cfg.VocabSize))
		b.Targets[i] = int32(r.IntN(cfg.VocabSize))
		if i%T != 0 { // mask the first position of each row like a prompt token
			cnt++
		}
	}
	for i := range b.Weights {
		if i%T != 0 {
			b.Weights[i] = 1 / float32(cnt)
		}
	}
	return b
}

func loss(m *Model, b *Batch, seeds Seeds, smoothing float32) float64 {
	stats := m.NewStats()
	m.Forward(b, stats, true, false, seeds, smoothing)
	st := make([]float32, 1)
	m.Be.Read(stats, StatLoss, st)
	return float64(st[0])
}

// randomize gives adapter parameters values away from their initialisation
// so that gradient and merge checks see a non-trivial adapter.
func randomize(m *Model, r *rand.Rand, scale float64) {
	for _, p := range m.Trainable() {
		v := p.ReadAll(m.Be)
		for i := range v {
			v[i] += float32(r.NormFloat64() * scale)
		}
		m.Be.Write(p.W, 0, v)
	}
}

// TestGradients checks every trainable parameter of every method against
// central differences of the training loss, dropout and label smoothing on
// (the dropout masks are pure functions of the seeds).
func TestGradients(t *testing.T) {
	for _, method := range []string{"hut", "hira", "lora", "full"} {
		t.Run(method, func(t *testing.T) {
			be := cpu.New()
			cfg := tinyConfig()
			m := New(be, cfg)
			m.Init(1)
			pc := &peft.Config{Method: method, R: 3, Targets: []string{"all-linear"}, Dropout: 0.1, Seed: 2}
			if err := m.Attach(pc); err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(3, 4))
			randomize(m, r, 0.3)
			b := tinyBatch(r, cfg, 2, 5)
			seeds := Seeds(1234)
			m.Forward(b, m.NewStats(), true, true, seeds, 0.1)
			m.Backward(b, seeds)
			for l, la := range m.acts.layers {
				// HUT's c_attn rebuilds qkv from its Z for the backward pass
				// (so the gradients below check that path); the others keep it.
				if kept := la.qkv != nil; kept == (method == "hut") {
					t.Errorf("layer %d: qkv kept = %v", l, kept)
				}
			}
			named := m.TrainableNamed()
			if len(named) == 0 {
				t.Fatal("no trainable parameters")
			}
			for name, p := range named {
				w := cpu.F(p.W)
				g := append([]float32(nil), cpu.F(p.G)...)
				idx := r.Perm(len(w))
				if len(idx) > 6 {
					idx = idx[:6]
				}
				for _, i := range idx {
					old := w[i]
					diff := func(eps float32) float64 {
						w[i] = old + eps
						lp := loss(m, b, seeds, 0.1)
						w[i] = old - eps
						lm := loss(m, b, seeds, 0.1)
						w[i] = old
						return (lp - lm) / (2 * float64(eps))
					}
					// Richardson extrapolation cancels the O(eps²) error of
					// central differences (the adapters make the loss strongly
					// curved in some directions).
					num := (4*diff(1e-3) - diff(2e-3)) / 3
					if d := math.Abs(num - float64(g[i])); d > 1e-2*math.Max(1e-1, math.Abs(num)) && d > 2e-3 {
						t.Errorf("%s[%d]: analytic %.6g numeric %.6g", name, i, g[i], num)
					}
				}
			}
		})
	}
}

func logitsOf(t *testing.T, m *Model, toks []int32) []float32 {
	t.Helper()
	l, _, err := m.Logits(toks)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func maxRelDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / math.Max(s, 1e-12)
}

func TestMergeUnmerge(t *testing.T) {
	toks := []int32{1, 5, 2, 9, 0, 3}
	for _, method := range []string{"hut", "hira", "lora"} {
		t.Run(method, func(t *testing.T) {
			be := cpu.New()
			m := New(be, tinyConfig())
			m.Init(7)
			base := logitsOf(t, m, toks)
			w0 := m.Layers[0].Attn.W.ReadAll(be)
			if err := m.Attach(&peft.Config{Method: method, R: 4, Targets: []string{"all-linear"}, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			if method == "hut" {
				// HUT at init is exactly the base model.
				if d := maxRelDiff(logitsOf(t, m, toks), base); d != 0 {
					t.Fatalf("HUT at init differs from the base model by %g", d)
				}
			}
			randomize(m, rand.New(rand.NewPCG(8, 9)), 0.05)
			adapted := logitsOf(t, m, toks)
			if d := maxRelDiff(adapted, base); d < 1e-4 {
				t.Fatalf("the adapter changes nothing (%g)", d)
			}
			if err := m.Merge(); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(logitsOf(t, m, toks), adapted); d > 1e-5 {
				t.Errorf("merged differs from unmerged by %g (relative)", d)
			}
			if err := m.Unmerge(); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(m.Layers[0].Attn.W.ReadAll(be), w0); d > 1e-5 {
				t.Errorf("un-merge does not restore W0 (%g)", d)
			}
			if d := maxRelDiff(logitsOf(t, m, toks), adapted); d > 1e-5 {
				t.Errorf("after un-merge the adapter output changed by %g", d)
			}
		})
	}
}

// TestHUTNoWeightGradientGEMM checks that HUT leaves W0 frozen and that its
// two factors get identical gradients along the rank dimension.
func TestHUTGradientStructure(t *testing.T) {
	be := cpu.New()
	cfg := tinyConfig()
	m := New(be, cfg)
	m.Init(1)
	if err := m.Attach(&peft.Config{Method: "hut", R: 3, Targets: []string{"c_attn"}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if p.Trainable() {
			t.Fatalf("HUT made base parameter %s trainable", p.Name)
		}
	}
	b := tinyBatch(rand.New(rand.NewPCG(1, 1)), cfg, 1, 4)
	m.Forward(b, m.NewStats(), true, true, 1, 0)
	m.Backward(b, 1)
	l := m.Layers[0].Attn
	ga := cpu.F(l.Ad.Params()[0].G) // [out, r]
	for i := 0; i < l.Out; i++ {
		for k := 1; k < 3; k++ {
			if ga[i*3+k] != ga[i*3] {
				t.Fatalf("hut_A gradient differs across the rank at row %d", i)
			}
		}
	}
	tr, all := m.CountParams()
	if want := 2 * (3*l.Out + 3*l.In); tr != want {
		t.Fatalf("trainable = %d, want %d", tr, want)
	}
	if all != m.NumParams()+tr {
		t.Fatalf("all = %d, want %d", all, m.NumParams()+tr)
	}
}

// TestGeneratorMatchesForward feeds prompts of different lengths through
// the KV cache and compares with full forward passes of each sequence.
func TestGeneratorMatchesForward(t *testing.T) {
	be := cpu.New()
	m := New(be, tinyConfig())
	m.Init(3)
	if err := m.Attach(&peft.Config{Method: "lora", R: 2, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	randomize(m, rand.New(rand.NewPCG(2, 2)), 0.1)
	prompts := [][]int{{1, 2, 3, 4}, {7, 8}}
	g, err := m.NewGenerator(8)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := g.Prefill(prompts)
	if err != nil {
		t.Fatal(err)
	}
	seqs := [][]int32{{1, 2, 3, 4}, {7, 8}}
	V := m.Cfg.VocabSize
	check := func(step int) {
		for r, s := range seqs {
			full := logitsOf(t, m, s)
			want := full[(len(s)-1)*V:]
			if d := maxRelDiff(logits[r], want); d > 1e-5 {
				t.Fatalf("step %d row %d: cached logits differ by %g", step, r, d)
			}
		}
	}
	check(0)
	for step, next := range [][]int{{5, 9}, {0, 3}} {
		logits, err = g.Step(next)
		if err != nil {
			t.Fatal(err)
		}
		for r := range seqs {
			seqs[r] = append(seqs[r], int32(next[r]))
		}
		check(step + 1)
	}
	// Swap and duplicate rows as beam search does.
	if err := g.Reorder([]int{1, 1, 0}); err != nil {
		t.Fatal(err)
	}
	seqs = [][]int32{append([]int32(nil), seqs[1]...), append([]int32(nil), seqs[1]...), seqs[0]}
	logits, err = g.Step([]int{4, 6, 2})
	if err != nil {
		t.Fatal(err)
	}
	for r, tk := range []int32{4, 6, 2} {
		seqs[r] = append(seqs[r], tk)
	}
	check(3)
}

func TestSaveLoadAdapter(t *testing.T) {
	toks := []int32{3, 1, 4, 1, 5}
	for _, method := range []string{"hut", "hira", "lora"} {
		t.Run(method, func(t *testing.T) {
			be := cpu.New()
			cfg := tinyConfig()
			m := New(be, cfg)
			m.Init(5)
			if err := m.Attach(&peft.Config{Method: method, R: 2, Targets: []string{"c_attn", "mlp.c_proj"}, Seed: 6}); err != nil {
				t.Fatal(err)
			}
			randomize(m, rand.New(rand.NewPCG(1, 2)), 0.1)
			want := logitsOf(t, m, toks)
			dir := t.TempDir()
			if err := m.SaveAdapter(dir, "tiny"); err != nil {
				t.Fatal(err)
			}
			m2 := New(be, cfg)
			m2.Init(5)
			if err := m2.LoadAdapter(dir); err != nil {
				t.Fatal(err)
			}
			if d := maxRelDiff(logitsOf(t, m2, toks), want); d != 0 {
				t.Fatalf("reloaded adapter differs by %g", d)
			}
		})
	}
}

func TestBadInputs(t *testing.T) {
	be := cpu.New()
	m := New(be, tinyConfig())
	for _, c := range []struct {
		cfg  peft.Config
		want string
	}{
		{peft.Config{Method: "dora"}, "unknown method"},
		{peft.Config{Method: "lora", R: -1}, "rank"},
		{peft.Config{Method: "hut", Targets: []string{"q_proj"}}, "matches no layer"},
		{peft.Config{Method: "lora", Dropout: 1.5}, "dropout"},
	} {
		err := m.Attach(&c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
	if _, _, err := m.Logits([]int32{1, 99}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Errorf("bad token: %v", err)
	}
}
