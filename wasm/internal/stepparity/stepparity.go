// Package stepparity runs the full-training-step parity check of the
// browser engine: the engine (package engine, exactly the code behind
// hut.setup and hut.step) trains a tiny GPT-2 with a method on some
// backend, and the result — the loss, gradient norm and every trainable
// gradient of the first steps, the parameters after AdamW, and the loss
// curve of the whole run — is compared across backends.
//
// The same code runs natively on the CPU backend (the Go test driver) and
// in the browser on WebGPU and on the CPU backend compiled to wasm
// (./cmd, driven by wasm/browser_test.go).
package stepparity

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/wasm/engine"
	"github.com/hutml/hut/wasm/internal/testmodels"
)

// Spec is one parity run.
type Spec struct {
	Method    string  `json:"method"`
	Steps     int     `json:"steps"`     // optimizer steps in all (the loss curve)
	GradSteps int     `json:"gradSteps"` // first steps whose gradients are compared
	LR        float32 `json:"lr"`
	R         int     `json:"r"`
	Batch     int     `json:"batch"`
	Seq       int     `json:"seq"`
	Dropout   float32 `json:"dropout"` // adapter dropout (LoRA)
	Clip      float32 `json:"clip"`
}

// Specs are the checks the tests run: HUT and LoRA on every block linear of
// a 2-layer, width-32 GPT-2 with dropout 0.1 everywhere, clipping and
// AdamW. The learning rates keep the 50-step runs out of the chaotic
// regime: with LoRA at lr 1e-2, flipping the last bit of a quarter of the
// GEMM outputs moves the loss curve by 0.1 (AdamW turns gradients within
// rounding of zero into ±lr updates), at 5e-3 by 2e-5.
func Specs() []Spec {
	return []Spec{
		{Method: "hut", Steps: 50, GradSteps: 2, LR: 1e-2, R: 4, Batch: 4, Seq: 64, Clip: 0.1},
		{Method: "lora", Steps: 50, GradSteps: 2, LR: 5e-3, R: 4, Batch: 4, Seq: 64, Dropout: 0.1, Clip: 1},
	}
}

// StepData is what one of the first steps produced.
type StepData struct {
	Loss     float64              `json:"loss"`
	GradNorm float64              `json:"gradNorm"`
	Grads    map[string][]float32 `json:"grads"`  // ∂L/∂p of the step (before clipping)
	Params   map[string][]float32 `json:"params"` // p after the step's AdamW update
}

// Result is one run on one backend.
type Result struct {
	Backend   string     `json:"backend"`
	Spec      Spec       `json:"spec"`
	First     []StepData `json:"first"`
	Losses    []float64  `json:"losses"`
	GradNorms []float64  `json:"gradNorms"`
	Ms        float64    `json:"ms"`
}

// Run trains spec on be through the engine.
func Run(be tensor.Backend, name string, spec Spec) (*Result, error) {
	t0 := time.Now()
	e := engine.New(be, name)
	defer e.Close()
	if _, err := e.LoadModel(engine.ModelFiles(testmodels.TinyGPT2(testmodels.DefaultGPT2)), "tiny-gpt2-parity"); err != nil {
		return nil, err
	}
	if _, err := e.LoadTask(engine.TaskOptions{Task: "e2e", Train: testmodels.E2E(64, 1)}); err != nil {
		return nil, err
	}
	seed := uint64(11)
	clip := spec.Clip
	if _, err := e.Setup(engine.TrainOptions{Method: spec.Method, R: spec.R, LR: spec.LR, Batch: spec.Batch, Seq: spec.Seq,
		Steps: spec.Steps, Seed: &seed, Dropout: spec.Dropout, Clip: &clip, Targets: []string{"all-linear"}}); err != nil {
		return nil, err
	}
	res := &Result{Backend: name, Spec: spec}
	add := func(r map[string]any) {
		res.Losses = append(res.Losses, r["losses"].([]float64)...)
		res.GradNorms = append(res.GradNorms, r["gradNorms"].([]float64)...)
	}
	for i := 0; i < spec.GradSteps; i++ {
		r, err := e.Step(engine.StepOptions{N: 1})
		if err != nil {
			return nil, err
		}
		add(r)
		sd := StepData{Loss: r["loss"].(float64), GradNorm: r["gradNorm"].(float64), Grads: map[string][]float32{}, Params: map[string][]float32{}}
		for k, p := range e.TrainableParams() {
			g := make([]float32, p.Size())
			be.Read(p.G, 0, g)
			sd.Grads[k] = g
			sd.Params[k] = p.ReadAll(be)
		}
		if err := be.Err(); err != nil {
			return nil, err
		}
		res.First = append(res.First, sd)
	}
	if rest := spec.Steps - spec.GradSteps; rest > 0 {
		r, err := e.Step(engine.StepOptions{N: rest})
		if err != nil {
			return nil, err
		}
		add(r)
	}
	res.Ms = time.Since(t0).Seconds() * 1000
	return res, nil
}

// Tolerances of Compare.
const (
	// TolStep bounds every loss, gradient norm and gradient of the first
	// steps: max |got − want| ≤ TolStep · max(max |want|, 1).
	TolStep = 1e-4
	// TolCurve bounds the loss curve: |got − want| ≤ TolCurve ·
	// max(|want|, 1) at every step.
	TolCurve = 1e-4
)

// Check is one comparison.
type Check struct {
	What   string  `json:"what"`
	MaxErr float64 `json:"maxErr"`
	Scale  float64 `json:"scale"`
	Tol    float64 `json:"tol"`
	OK     bool    `json:"ok"`
	Where  string  `json:"where,omitempty"`
}

// Report compares one backend's result to a reference.
type Report struct {
	Method string  `json:"method"`
	Got    string  `json:"got"`
	Want   string  `json:"want"`
	Checks []Check `json:"checks"`
	OK     bool    `json:"ok"`
	// CurveMaxDiff is the largest |loss difference| over the run, and
	// FirstLoss/LastLoss the reference's loss at the first and last step
	// (the run must lower it).
	CurveMaxDiff float64 `json:"curveMaxDiff"`
	FirstLoss    float64 `json:"firstLoss"`
	LastLoss     float64 `json:"lastLoss"`
	// Clipped counts the reference's steps whose gradient norm exceeded
	// the clipping threshold (so clipping was exercised).
	Clipped int `json:"clipped"`
}

func compare(what string, want, got []float32, tol float64) Check {
	c := Check{What: what, Tol: tol, Scale: 1}
	if len(want) != len(got) {
		c.Where = fmt.Sprintf("length %d, want %d", len(got), len(want))
		c.MaxErr = math.Inf(1)
		return c
	}
	for _, w := range want {
		c.Scale = math.Max(c.Scale, math.Abs(float64(w)))
	}
	bad := -1
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		if d > c.MaxErr {
			c.MaxErr, bad = d, i
		}
	}
	c.OK = c.MaxErr <= tol*c.Scale
	if !c.OK && bad >= 0 {
		c.Where = fmt.Sprintf("worst at %d of %d: want %g, got %g", bad, len(want), want[bad], got[bad])
	}
	return c
}

func f32(xs ...float64) []float32 {
	out := make([]float32, len(xs))
	for i, x := range xs {
		out[i] = float32(x)
	}
	return out
}

// Compare holds got to want: losses, gradient norms and every gradient of
// the first steps to TolStep, the parameters after AdamW (reported, with
// the tolerance of one step of a sign-flipped update where a gradient is
// within rounding of zero), and the loss curve to TolCurve.
func Compare(want, got *Result) Report {
	rep := Report{Method: want.Spec.Method, Got: got.Backend, Want: want.Backend, OK: true}
	add := func(c Check) {
		rep.Checks = append(rep.Checks, c)
		rep.OK = rep.OK && c.OK
	}
	if len(got.First) != len(want.First) {
		add(Check{What: "first steps", MaxErr: math.Inf(1), Where: fmt.Sprintf("%d steps, want %d", len(got.First), len(want.First))})
		return rep
	}
	for s := range want.First {
		w, g := want.First[s], got.First[s]
		add(compare(fmt.Sprintf("step %d loss", s+1), f32(w.Loss), f32(g.Loss), TolStep))
		add(compare(fmt.Sprintf("step %d grad norm", s+1), f32(w.GradNorm), f32(g.GradNorm), TolStep))
		names := make([]string, 0, len(w.Grads))
		for n := range w.Grads {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			add(compare(fmt.Sprintf("step %d ∂%s", s+1, n), w.Grads[n], g.Grads[n], TolStep))
		}
		// AdamW's first update is lr·sign(g) where |g| ≫ eps: a gradient
		// within rounding of zero may flip it, so parameters get 2·lr.
		for _, n := range names {
			c := compare(fmt.Sprintf("step %d %s after AdamW", s+1, n), w.Params[n], g.Params[n], TolStep)
			if !c.OK {
				tol := 2.05 * float64(want.Spec.LR) * float64(s+1) / c.Scale
				c.Tol, c.OK = tol, c.MaxErr <= tol*c.Scale
			}
			add(c)
		}
	}
	if len(got.Losses) != len(want.Losses) {
		add(Check{What: "loss curve", MaxErr: math.Inf(1), Where: fmt.Sprintf("%d steps, want %d", len(got.Losses), len(want.Losses))})
		return rep
	}
	c := Check{What: "loss curve", Tol: TolCurve, Scale: 1, OK: true}
	for i := range want.Losses {
		d := math.Abs(got.Losses[i] - want.Losses[i])
		rep.CurveMaxDiff = math.Max(rep.CurveMaxDiff, d)
		if !(d <= TolCurve*math.Max(1, math.Abs(want.Losses[i]))) {
			c.OK = false
			if c.Where == "" {
				c.Where = fmt.Sprintf("step %d: want %g, got %g", i+1, want.Losses[i], got.Losses[i])
			}
		}
		if d > c.MaxErr || math.IsNaN(d) {
			c.MaxErr = d
		}
	}
	add(c)
	n := len(want.Losses)
	rep.FirstLoss, rep.LastLoss = want.Losses[0], want.Losses[n-1]
	for _, g := range want.GradNorms {
		if g > float64(want.Spec.Clip) {
			rep.Clipped++
		}
	}
	return rep
}

// Decreasing reports whether a loss curve goes down: the mean of its last
// fifth is below the mean of its first fifth by at least frac of the
// latter.
func Decreasing(losses []float64, frac float64) bool {
	k := max(1, len(losses)/5)
	var a, b float64
	for i := 0; i < k; i++ {
		a += losses[i]
		b += losses[len(losses)-1-i]
	}
	return b < a*(1-frac)
}
