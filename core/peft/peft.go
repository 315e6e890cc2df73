// Package peft holds the HUT family of fine-tuning methods behind one
// interface: HUT (hut.go), HiRA (hira.go), LoRA (lora.go) and full
// fine-tuning (full.go). A model exposes its linear layers as *Linear; a
// method attaches an Adapter to each targeted layer, and the layer's forward
// and backward run through it.
//
// Weights are always held in the nn.Linear orientation W [out, in]; models
// whose checkpoints store Conv1D weights [in, out] (GPT-2) transpose once at
// load and save time. Adding a method means one file with a Method value and
// one line in the registry (methods, below).
package peft

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/hutml/hut/core/tensor"
)

// Config selects a method and its hyper-parameters.
type Config struct {
	Method  string   // "hut", "hira", "lora", "full" (or "none" for a frozen model)
	R       int      // rank (HUT, HiRA, LoRA)
	Alpha   float32  // LoRA's lora_alpha (scale alpha/r)
	Dropout float32  // dropout on the adapter input (LoRA, HiRA)
	Targets []string // target module names, PEFT style; "all-linear" for every block linear
	// InitNoise adds zero-sum noise of this standard deviation to HUT's M_A
	// rows and M_B columns (a = b = 1 still holds at step 0).
	InitNoise float32
	Seed      uint64 // initialisation seed
}

// Method is one fine-tuning method.
type Method interface {
	// Name is the method's registry name ("hut").
	Name() string
	// PEFTType is the peft_type of adapter_config.json ("HUT").
	PEFTType() string
	// Defaults fills unset fields of cfg with the method's defaults.
	Defaults(cfg *Config)
	// New builds the adapter of one linear layer.
	New(be tensor.Backend, l *Linear, cfg *Config, rng *rand.Rand) (Adapter, error)
}

// Adapter is the trainable part a method adds to one linear layer.
type Adapter interface {
	// Forward computes y [N, out] from x [N, in], bias included.
	Forward(c *Ctx, l *Linear, y, x tensor.Buf, N int)
	// Backward overwrites dx [N, in] (dx may be nil when not needed) and
	// accumulates the adapter's parameter gradients. x is the forward input.
	Backward(c *Ctx, l *Linear, dx, dy, x tensor.Buf, N int)
	// Params returns the trainable parameters; their Name is the suffix of
	// the PEFT key ("hut_A", "lora_A.weight").
	Params() []*tensor.Param
	// Merge folds the adapter into l.W (zero-latency inference); Unmerge
	// restores W0. While merged, Forward is the plain linear.
	Merge(be tensor.Backend, l *Linear) error
	Unmerge(be tensor.Backend, l *Linear) error
	Merged() bool
}

// Ctx carries what a forward/backward call needs besides its operands.
type Ctx struct {
	Be    tensor.Backend
	WS    *Workspace
	Train bool   // training mode: dropout on, activations kept for Backward
	Seed  uint32 // dropout seed of this layer call
}

// Linear is one linear layer y = x·Wᵀ + bias of a model.
type Linear struct {
	Name    string // full module path, e.g. "transformer.h.0.attn.c_attn"
	In, Out int
	W       *tensor.Param // [Out, In]
	Bias    *tensor.Param // [Out] or nil
	Ad      Adapter       // nil: frozen

	packed bool // W is packed ahead in the backend (packW)
}

// packW has the backend keep the frozen W packed ahead for the
// input-gradient products ·W (tensor.WeightPacker) from the first backward
// pass on: they then skip packing it, for the same bits. A trainable W is
// not packed. The backend packs again only if the copy was dropped (a
// Write to W, for one).
func (l *Linear) packW(be tensor.Backend) {
	if l.W.Trainable() {
		return
	}
	if wp, ok := be.(tensor.WeightPacker); ok {
		wp.PackWeight(l.W.W, l.Out, l.In)
		l.packed = true
	}
}

// unpackW drops W's packed copy; every change to W but the backend's Write,
// Zero and Copy must come after it.
func (l *Linear) unpackW(be tensor.Backend) {
	if !l.packed {
		return
	}
	if wp, ok := be.(tensor.WeightPacker); ok {
		wp.UnpackWeight(l.W.W)
	}
	l.packed = false
}

// Forward runs the layer (through its adapter, if any).
func (l *Linear) Forward(c *Ctx, y, x tensor.Buf, N int) {
	if l.Ad != nil && !l.Ad.Merged() {
		l.Ad.Forward(c, l, y, x, N)
		return
	}
	BaseForward(c.Be, l, y, x, N)
}

// Backward runs the layer's backward pass.
func (l *Linear) Backward(c *Ctx, dx, dy, x tensor.Buf, N int) {
	if l.Ad != nil {
		if l.Ad.Merged() {
			panic("peft: backward through a merged adapter of " + l.Name)
		}
		l.Ad.Backward(c, l, dx, dy, x, N)
		return
	}
	if dx != nil {
		l.packW(c.Be)
		c.Be.MatMul(dx, dy, l.W.W, N, l.In, l.Out, false, false, 1, 0)
	}
}

// BaseForward is the frozen linear: y = x·Wᵀ + bias.
func BaseForward(be tensor.Backend, l *Linear, y, x tensor.Buf, N int) {
	if fl, ok := be.(tensor.FusedLinear); ok {
		fl.LinearForward(y, nil, x, l.W.W, nil, nil, l.bias(), N, l.Out, l.In)
		return
	}
	be.MatMul(y, x, l.W.W, N, l.Out, l.In, false, true, 1, 0)
	if l.Bias != nil {
		be.AddBias(y, l.Bias.W, N, l.Out)
	}
}

// Workspace holds scratch buffers shared by all layers; a slot grows to the
// largest size asked for. Nothing kept across calls may live here.
type Workspace struct {
	be    tensor.Backend
	slots map[int]tensor.Buf
}

// NewWorkspace returns an empty workspace on be.
func NewWorkspace(be tensor.Backend) *Workspace {
	return &Workspace{be: be, slots: map[int]tensor.Buf{}}
}

// Get returns slot i with at least n elements.
func (w *Workspace) Get(i, n int) tensor.Buf {
	b := w.slots[i]
	if b != nil && b.Len() >= n {
		return b
	}
	if b != nil {
		w.be.Free(b)
	}
	b = w.be.NewBuf(n)
	w.slots[i] = b
	return b
}

// Workspace slots used by the adapters (models use their own buffers).
const (
	wsA = iota
	wsB
	wsC
	wsD
)

// grow returns buf if it has n elements, else a new one (freeing buf).
func grow(be tensor.Backend, buf tensor.Buf, n int) tensor.Buf {
	if buf != nil && buf.Len() >= n {
		return buf
	}
	if buf != nil {
		be.Free(buf)
	}
	return be.NewBuf(n)
}

// ---- registry ----

var methods = map[string]Method{}

func register(m Method) { methods[m.Name()] = m }

// Lookup returns the method called name (case-insensitive).
func Lookup(name string) (Method, error) {
	m, ok := methods[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("unknown method %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return m, nil
}

// LookupPEFTType returns the method whose adapter_config.json peft_type is t.
func LookupPEFTType(t string) (Method, error) {
	for _, m := range methods {
		if strings.EqualFold(m.PEFTType(), t) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("unknown peft_type %q (want HUT, HIRA or LORA)", t)
}

// Names lists the registered methods.
func Names() []string {
	out := make([]string, 0, len(methods))
	for n := range methods {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ---- target selection ----

// MatchTargets returns, for each linear, whether a target selects it.
// A target t selects a module named n when n == t or n ends with "."+t, as
// in PEFT; "all-linear" selects every linear the model offers. A target
// that selects nothing is an error.
func MatchTargets(linears []*Linear, targets []string) ([]bool, error) {
	sel := make([]bool, len(linears))
	for _, t := range targets {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		hit := false
		for i, l := range linears {
			if t == "all-linear" || l.Name == t || strings.HasSuffix(l.Name, "."+t) {
				sel[i] = true
				hit = true
			}
		}
		if !hit {
			names := map[string]bool{}
			for _, l := range linears {
				parts := strings.Split(l.Name, ".")
				if len(parts) >= 2 {
					names[parts[len(parts)-2]+"."+parts[len(parts)-1]] = true
				}
				names[parts[len(parts)-1]] = true
			}
			var known []string
			for n := range names {
				known = append(known, n)
			}
			sort.Strings(known)
			return nil, fmt.Errorf("target module %q matches no layer of the model (known: %s, all-linear)", t, strings.Join(known, ", "))
		}
	}
	return sel, nil
}

// Attach builds the method's adapters on the targeted linears. For "full"
// every linear is targeted; the model itself makes its other parameters
// trainable.
func Attach(be tensor.Backend, linears []*Linear, cfg *Config) error {
	if cfg.Method == "" || cfg.Method == "none" {
		return nil
	}
	m, err := Lookup(cfg.Method)
	if err != nil {
		return err
	}
	m.Defaults(cfg)
	if cfg.Method != "full" && cfg.Method != "none" && cfg.R <= 0 {
		return fmt.Errorf("rank r = %d: must be a positive integer", cfg.R)
	}
	if cfg.Dropout < 0 || cfg.Dropout >= 1 {
		return fmt.Errorf("adapter dropout %v: must be in [0, 1)", cfg.Dropout)
	}
	targets := cfg.Targets
	if cfg.Method == "full" {
		targets = []string{"all-linear"}
	}
	sel, err := MatchTargets(linears, targets)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	for i, l := range linears {
		if !sel[i] {
			continue
		}
		if l.Ad != nil {
			return fmt.Errorf("layer %s already has an adapter", l.Name)
		}
		ad, err := m.New(be, l, cfg, rng)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", m.Name(), l.Name, err)
		}
		l.Ad = ad
	}
	return nil
}

// kaimingUniform fills a [rows, fanIn] matrix as nn.init.kaiming_uniform_
// with a = √5 does (the nn.Linear default): U(-1/√fanIn, 1/√fanIn).
func kaimingUniform(rng *rand.Rand, rows, fanIn int) []float32 {
	bound := 1 / math.Sqrt(float64(fanIn))
	w := make([]float32, rows*fanIn)
	for i := range w {
		w[i] = float32((rng.Float64()*2 - 1) * bound)
	}
	return w
}

// newTrainable allocates a trainable parameter with initial values.
func newTrainable(be tensor.Backend, name string, init []float32, shape ...int) *tensor.Param {
	p := tensor.NewParam(be, name, shape...)
	be.Write(p.W, 0, init)
	p.MakeTrainable(be)
	return p
}

// FormatCount prints n with thousands separators, as PEFT does.
func FormatCount(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// TrainableSummary is PEFT's print_trainable_parameters line.
func TrainableSummary(trainable, all int) string {
	pct := 0.0
	if all > 0 {
		pct = 100 * float64(trainable) / float64(all)
	}
	return fmt.Sprintf("trainable params: %s || all params: %s || trainable%%: %.4f", FormatCount(trainable), FormatCount(all), pct)
}
