package gpt2

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/peft"
	"github.com/hutml/hut/core/safetensors"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/internal/atomicfile"
)

// Prefix is the module path of the transformer inside GPT2LMHeadModel.
const Prefix = "transformer."

// Layer is one transformer block.
type Layer struct {
	LN1W, LN1B *tensor.Param
	Attn       *peft.Linear // c_attn: C → 3C
	AttnProj   *peft.Linear // attn.c_proj: C → C
	LN2W, LN2B *tensor.Param
	FC         *peft.Linear // mlp.c_fc: C → inner
	Proj       *peft.Linear // mlp.c_proj: inner → C
}

// Model is a GPT-2 language model on a backend.
type Model struct {
	Cfg        Config
	Be         tensor.Backend
	WTE, WPE   *tensor.Param
	Layers     []*Layer
	LNFW, LNFB *tensor.Param
	// PEFT is the configuration of the attached method (nil: none).
	PEFT *peft.Config

	linears []*peft.Linear
	params  []*tensor.Param // base parameters in HF order
	ws      *peft.Workspace
	acts    *activations
	merged  bool
}

// New allocates a model with zero weights; use Init or Load to fill it.
func New(be tensor.Backend, cfg Config) *Model {
	C, L := cfg.NEmbd, cfg.NLayer
	m := &Model{Cfg: cfg, Be: be, ws: peft.NewWorkspace(be)}
	p := func(name string, shape ...int) *tensor.Param {
		t := tensor.NewParam(be, Prefix+name, shape...)
		m.params = append(m.params, t)
		return t
	}
	lin := func(name string, in, out int) *peft.Linear {
		l := &peft.Linear{Name: Prefix + name, In: in, Out: out,
			W: p(name+".weight", out, in), Bias: p(name+".bias", out)}
		m.linears = append(m.linears, l)
		return l
	}
	m.WTE = p("wte.weight", cfg.VocabSize, C)
	m.WPE = p("wpe.weight", cfg.NPositions, C)
	for i := 0; i < L; i++ {
		h := fmt.Sprintf("h.%d.", i)
		ly := &Layer{}
		ly.LN1W, ly.LN1B = p(h+"ln_1.weight", C), p(h+"ln_1.bias", C)
		ly.Attn = lin(h+"attn.c_attn", C, 3*C)
		ly.AttnProj = lin(h+"attn.c_proj", C, C)
		ly.LN2W, ly.LN2B = p(h+"ln_2.weight", C), p(h+"ln_2.bias", C)
		ly.FC = lin(h+"mlp.c_fc", C, cfg.Inner())
		ly.Proj = lin(h+"mlp.c_proj", cfg.Inner(), C)
		m.Layers = append(m.Layers, ly)
	}
	m.LNFW, m.LNFB = p("ln_f.weight", C), p("ln_f.bias", C)
	return m
}

// Init fills the weights as Hugging Face's GPT-2 initialises them: normal
// with std 0.02 (c_proj weights 0.02/√(2·n_layer)), zero biases, unit norms.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	// Values are written in chunks so that initialising a large model
	// needs no second copy of it in host memory.
	chunk := make([]float32, 1<<16)
	gen := func(p *tensor.Param, f func() float32) {
		n := p.Size()
		for off := 0; off < n; off += len(chunk) {
			c := chunk[:min(len(chunk), n-off)]
			for i := range c {
				c[i] = f()
			}
			m.Be.Write(p.W, off, c)
		}
	}
	normal := func(p *tensor.Param, std float64) { gen(p, func() float32 { return float32(rng.NormFloat64() * std) }) }
	fill := func(p *tensor.Param, x float32) { gen(p, func() float32 { return x }) }
	projStd := 0.02 / math.Sqrt(2*float64(m.Cfg.NLayer))
	normal(m.WTE, 0.02)
	normal(m.WPE, 0.01)
	for _, ly := range m.Layers {
		fill(ly.LN1W, 1)
		fill(ly.LN2W, 1)
		normal(ly.Attn.W, 0.02)
		normal(ly.AttnProj.W, projStd)
		normal(ly.FC.W, 0.02)
		normal(ly.Proj.W, projStd)
	}
	fill(m.LNFW, 1)
}

// Params returns the base model's parameters (Hugging Face names, with
// the transformer. prefix).
func (m *Model) Params() []*tensor.Param { return m.params }

// Linears returns the block linears in order, for PEFT target selection.
func (m *Model) Linears() []*peft.Linear { return m.linears }

// NumParams counts the base parameters (the tied LM head once).
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.params {
		n += p.Size()
	}
	return n
}

// ---- loading ----

// Load reads a Hugging Face GPT-2 checkpoint directory (config.json and
// model.safetensors) onto be.
func Load(be tensor.Backend, dir string) (*Model, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	sd, err := hf.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	m := New(be, cfg)
	if err := m.LoadStateDict(sd); err != nil {
		return nil, err
	}
	return m, nil
}

// isBuffer reports names of non-parameter buffers that old GPT-2
// checkpoints carry (the causal mask).
func isBuffer(name string) bool {
	return strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias")
}

// LoadStateDict copies the tensors of sd into the model. Names may carry
// the transformer. prefix or not; Conv1D weights are stored [in, out] and
// are transposed here; lm_head.weight, if present, must equal wte.
func (m *Model) LoadStateDict(sd hf.StateDict) error {
	byName := map[string]*hf.Tensor{}
	for k, t := range sd {
		if isBuffer(k) {
			continue
		}
		if k == "lm_head.weight" {
			continue // checked below
		}
		byName[strings.TrimPrefix(k, Prefix)] = t
	}
	conv := map[string]bool{}
	for _, l := range m.linears {
		conv[l.W.Name] = true
	}
	for _, p := range m.params {
		short := strings.TrimPrefix(p.Name, Prefix)
		t, ok := byName[short]
		if !ok {
			return fmt.Errorf("gpt2: checkpoint has no tensor %q (or %q)", short, p.Name)
		}
		delete(byName, short)
		want := p.Shape
		if conv[p.Name] {
			want = []int{p.Shape[1], p.Shape[0]} // Conv1D: [in, out]
		}
		if !slices.Equal(t.Shape, want) {
			return fmt.Errorf("gpt2: tensor %q in %s has shape %v, want %v", short, t.File, t.Shape, want)
		}
		data := t.Data
		if conv[p.Name] {
			data = transpose(data, want[0], want[1])
		}
		for i, v := range data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("gpt2: tensor %q in %s has a non-finite value at element %d", short, t.File, i)
			}
		}
		m.Be.Write(p.W, 0, data)
	}
	if len(byName) > 0 {
		var extra []string
		for k := range byName {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		if len(extra) > 4 {
			extra = append(extra[:4], "…")
		}
		return fmt.Errorf("gpt2: checkpoint has tensors GPT-2 does not have: %s (is this a GPT-2 checkpoint?)", strings.Join(extra, ", "))
	}
	if lm, ok := sd["lm_head.weight"]; ok {
		wte := sd["wte.weight"]
		if wte == nil {
			wte = sd[Prefix+"wte.weight"]
		}
		if !slices.Equal(lm.Shape, wte.Shape) {
			return fmt.Errorf("gpt2: lm_head.weight has shape %v, want the tied wte shape %v", lm.Shape, wte.Shape)
		}
		for i := range lm.Data {
			if lm.Data[i] != wte.Data[i] {
				return fmt.Errorf("gpt2: lm_head.weight differs from wte.weight at element %d: untied LM heads are not supported", i)
			}
		}
	}
	return nil
}

// transpose returns the [cols, rows] transpose of a [rows, cols] matrix.
func transpose(x []float32, rows, cols int) []float32 {
	out := make([]float32, len(x))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = x[r*cols+c]
		}
	}
	return out
}

// ---- saving ----

// StateDict returns the model's weights in Hugging Face layout (Conv1D
// weights [in, out], transformer. prefix). Merged adapters are included
// in the weights; unmerged adapters are not.
func (m *Model) StateDict() []safetensors.Tensor {
	conv := map[string]bool{}
	for _, l := range m.linears {
		conv[l.W.Name] = true
	}
	var ts []safetensors.Tensor
	for _, p := range m.params {
		data := p.ReadAll(m.Be)
		shape := p.Shape
		if conv[p.Name] {
			data = transpose(data, p.Shape[0], p.Shape[1])
			shape = []int{p.Shape[1], p.Shape[0]}
		}
		ts = append(ts, safetensors.Tensor{Name: p.Name, Shape: shape, F32: data})
	}
	return ts
}

// SaveHF writes config.json and model.safetensors (dtype "F32", "F16" or
// "BF16") to dir as a Hugging Face checkpoint.
func (m *Model) SaveHF(dir, dtype string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts := m.StateDict()
	for i := range ts {
		ts[i].DType = dtype
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cj, err := m.Cfg.JSON()
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "config.json"), cj)
}

// ---- PEFT ----

// Attach adds a method of the HUT family to the model. For full
// fine-tuning every parameter becomes trainable.
func (m *Model) Attach(cfg *peft.Config) error {
	if m.PEFT != nil {
		return fmt.Errorf("gpt2: a %s adapter is already attached", m.PEFT.Method)
	}
	if err := peft.Attach(m.Be, m.linears, cfg); err != nil {
		return err
	}
	if cfg.Method == "full" {
		for _, p := range m.params {
			p.MakeTrainable(m.Be)
			if len(p.Shape) == 1 {
				p.NoDecay = true // biases and norms, as HF Trainer does
			}
		}
	}
	m.PEFT = cfg
	return nil
}

// LoadAdapter reads a PEFT-style adapter directory and attaches it.
func (m *Model) LoadAdapter(dir string) error {
	if m.PEFT != nil {
		return fmt.Errorf("gpt2: a %s adapter is already attached", m.PEFT.Method)
	}
	cfg, _, err := peft.Load(dir, m.Be, m.linears, nil)
	if err != nil {
		return err
	}
	m.PEFT = cfg
	return nil
}

// SaveAdapter writes the attached adapter in PEFT layout.
func (m *Model) SaveAdapter(dir, baseModel string) error {
	if m.PEFT == nil {
		return fmt.Errorf("gpt2: no adapter attached")
	}
	if m.PEFT.Method == "full" {
		return m.SaveHF(dir, "F32")
	}
	return peft.Save(dir, m.Be, m.linears, m.PEFT, peft.Meta{BaseModel: baseModel, FanInFanOut: true, TaskType: "CAUSAL_LM"}, nil)
}

// Trainable returns the parameters the optimizer updates.
func (m *Model) Trainable() []*tensor.Param { return peft.Trainable(m.params, m.linears) }

// TrainableNamed returns the trainable parameters with unique names for
// optimizer checkpoints (adapter parameters get their layer's path).
func (m *Model) TrainableNamed() map[string]*tensor.Param {
	return peft.TrainableNamed(m.params, m.linears)
}

// CountParams returns (trainable, all) as PEFT counts them: all = base +
// adapter parameters.
func (m *Model) CountParams() (trainable, all int) {
	return peft.CountParams(m.params, m.linears, m.PEFT)
}

// Merge folds every adapter into its base weight.
func (m *Model) Merge() error {
	if m.merged {
		return fmt.Errorf("gpt2: already merged")
	}
	if err := peft.MergeAll(m.Be, m.linears); err != nil {
		return err
	}
	m.merged = true
	return nil
}

// Unmerge restores the base weights.
func (m *Model) Unmerge() error {
	if !m.merged {
		return fmt.Errorf("gpt2: not merged")
	}
	if err := peft.UnmergeAll(m.Be, m.linears); err != nil {
		return err
	}
	m.merged = false
	return nil
}

// Merged reports whether adapters are merged.
func (m *Model) Merged() bool { return m.merged }
