package gpt2

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/internal/pytorch"
)

// TestPEFTReference checks that hut's adapter files mean what Hugging Face
// PEFT means: an independent PyTorch script (testdata/peft_reference.py)
// applies each adapter file to the base checkpoint with PEFT's formulas
// and must reproduce hut's logits. The committed fixtures
// (testdata/peft/<method>: base checkpoint, adapter, the script's logits)
// always run; with torch installed, fresh adapters are checked live too.
func TestPEFTReference(t *testing.T) {
	toks := []int32{3, 17, 42, 8, 0, 29}
	for _, method := range []string{"lora", "hira", "hut"} {
		dir := filepath.Join("testdata", "peft", method)
		t.Run("fixture/"+method, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want []float64
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			m, err := Load(cpu.New(), filepath.Join(dir, "base"))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LoadAdapter(filepath.Join(dir, "adapter")); err != nil {
				t.Fatal(err)
			}
			compareLogits(t, m, toks, want)
		})
	}
	if _, err := pytorch.Find(); err != nil {
		t.Logf("python3 with torch not available (%v): checked the committed fixtures only", err)
		return
	}
	for _, method := range []string{"lora", "hira", "hut"} {
		t.Run("live/"+method, func(t *testing.T) {
			out := t.TempDir()
			want := makePEFTCase(t, method, out, toks, 11)
			m, err := Load(cpu.New(), filepath.Join(out, "base"))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.LoadAdapter(filepath.Join(out, "adapter")); err != nil {
				t.Fatal(err)
			}
			compareLogits(t, m, toks, want)
		})
	}
}

// makePEFTCase writes a random base checkpoint and a random adapter of the
// method into dir and returns the reference script's logits for toks.
func makePEFTCase(t *testing.T, method, dir string, toks []int32, seed uint64) []float64 {
	t.Helper()
	cfg := Config{NLayer: 2, NHead: 2, NEmbd: 16, NPositions: 16, VocabSize: 50, LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: 49, BOSTokenID: 49}
	m := New(cpu.New(), cfg)
	m.Init(seed)
	if err := m.SaveHF(filepath.Join(dir, "base"), "F32"); err != nil {
		t.Fatal(err)
	}
	pc := &peft.Config{Method: method, R: 3, Alpha: 5, Targets: []string{"c_attn", "mlp.c_fc", "attn.c_proj"}, Seed: seed}
	if err := m.Attach(pc); err != nil {
		t.Fatal(err)
	}
	randomize(m, rand.New(rand.NewPCG(seed, 1)), 0.2)
	if err := m.SaveAdapter(filepath.Join(dir, "adapter"), "base"); err != nil {
		t.Fatal(err)
	}
	ts := make([]string, len(toks))
	for i, v := range toks {
		ts[i] = strconv.Itoa(int(v))
	}
	out, err := exec.Command(pytorch.Python(), "testdata/peft_reference.py", filepath.Join(dir, "base"), filepath.Join(dir, "adapter"), strings.Join(ts, " ")).Output()
	if err != nil {
		t.Fatalf("reference script: %v", err)
	}
	var want []float64
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

func compareLogits(t *testing.T, m *Model, toks []int32, want []float64) {
	t.Helper()
	got, _, err := m.Logits(toks)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d logits, reference %d", len(got), len(want))
	}
	var d float64
	for i := range got {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
	}
	if d > 1e-4 {
		t.Fatalf("max |logit - PEFT reference| = %g", d)
	}
}

// TestMakePEFTFixtures regenerates testdata/peft (HUT_REGEN_FIXTURES=1).
func TestMakePEFTFixtures(t *testing.T) {
	if os.Getenv("HUT_REGEN_FIXTURES") == "" {
		t.Skip("set HUT_REGEN_FIXTURES=1 to regenerate testdata/peft")
	}
	toks := []int32{3, 17, 42, 8, 0, 29}
	for _, method := range []string{"lora", "hira", "hut"} {
		dir := filepath.Join("testdata", "peft", method)
		os.RemoveAll(dir)
		want := makePEFTCase(t, method, dir, toks, 5)
		b, _ := json.Marshal(want)
		if err := os.WriteFile(filepath.Join(dir, "expected.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
