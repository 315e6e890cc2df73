//go:build js && wasm

// Command paritytest runs in a browser page (Go compiled to WebAssembly)
// and holds the WebGPU backend to the CPU reference: every registered check
// runs the same ops on both backends with the same random inputs and
// compares the results. It exports to JavaScript:
//
//	hutParity(config, filter) → Promise<JSON string>
//	    config: "default" (adapter limits, automatic MatMul kernel),
//	            "tiled" / "blocked" (the MatMul checks with that kernel),
//	            "split" (WebGPU default limits and 4 KiB GPU buffers, so that
//	            tensors are split across several buffers),
//	            "tree" / "seq" (the row-wise checks with those row kernels;
//	            the default on SwiftShader is seq);
//	    filter: a substring of the check names to run ("" = all of the
//	            config). The JSON is {"info": …, "results": [{check, op,
//	            shape, maxErr, scale, tol, ok, err, ms}, …]}.
//	hutBenchMatMul(m, n, k, transA, transB, reps, kernel) → Promise<JSON>
//	    GFLOP/s of the WebGPU MatMul ({gflops, ms, kernel, adapter}).
//	hutBenchDispatch(count) → Promise<JSON>
//	    µs per small op: {recordUs (Go + JS recording), totalUs (incl. GPU)}.
//	hutChecks() → JSON list of the registered checks and their configs.
//
// It sets window.__hutReady = true once the functions are installed. New
// checks (for example a whole training step once the model lands) are added
// with register in checks.go.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall/js"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/webgpu"
	"github.com/hutml/hut/core/webgpu/gpu"
)

// result is one comparison (or one failure) reported to the Go test.
type result struct {
	Check  string  `json:"check"`
	Op     string  `json:"op"`
	Shape  string  `json:"shape"`
	MaxErr float64 `json:"maxErr"`
	Scale  float64 `json:"scale"`
	Tol    float64 `json:"tol"`
	OK     bool    `json:"ok"`
	Err    string  `json:"err,omitempty"`
	Ms     float64 `json:"ms"`
}

// check is a registered parity check.
type check struct {
	name    string
	configs []string
	fn      func(e *env)
}

var checks []check

// register adds a check run in the given configs ("default" when none).
func register(name string, fn func(e *env), configs ...string) {
	if len(configs) == 0 {
		configs = []string{"default"}
	}
	checks = append(checks, check{name: name, configs: configs, fn: fn})
}

// tolerance is the allowed max |gpu - cpu| relative to max(max|cpu|, 1).
const tolerance = 1e-4

// env is what a check works with: both backends and a seeded generator.
type env struct {
	cpu     *cpu.Backend
	gpu     *webgpu.Backend
	r       *rand.Rand
	check   string
	results []result
	t0      float64
}

// pair is one buffer on both backends with the same contents.
type pair struct {
	c, g tensor.Buf
	n    int
}

// ipair is one int buffer on both backends.
type ipair struct {
	c, g tensor.IBuf
	n    int
}

// sel picks one backend's side of the pairs.
type sel struct {
	Be  tensor.Backend
	gpu bool
}

// B returns p's buffer on this side (nil for a nil pair).
func (s sel) B(p *pair) tensor.Buf {
	if p == nil {
		return nil
	}
	if s.gpu {
		return p.g
	}
	return p.c
}

// I returns p's int buffer on this side (nil for a nil pair).
func (s sel) I(p *ipair) tensor.IBuf {
	if p == nil {
		return nil
	}
	if s.gpu {
		return p.g
	}
	return p.c
}

func now() float64 { return js.Global().Get("performance").Call("now").Float() }

// vals makes a pair holding x.
func (e *env) vals(x []float32) *pair {
	p := &pair{c: e.cpu.NewBuf(len(x)), g: e.gpu.NewBuf(len(x)), n: len(x)}
	e.cpu.Write(p.c, 0, x)
	e.gpu.Write(p.g, 0, x)
	return p
}

// randn makes a pair of n normal values times scale.
func (e *env) randn(n int, scale float32) *pair { return e.vals(e.randv(n, scale)) }

func (e *env) randv(n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(e.r.NormFloat64()) * scale
	}
	return x
}

// zeros makes a zero-filled pair.
func (e *env) zeros(n int) *pair {
	return &pair{c: e.cpu.NewBuf(n), g: e.gpu.NewBuf(n), n: n}
}

// ints makes an int pair holding x.
func (e *env) ints(x []int32) *ipair {
	p := &ipair{c: e.cpu.NewIBuf(len(x)), g: e.gpu.NewIBuf(len(x)), n: len(x)}
	e.cpu.WriteI(p.c, 0, x)
	e.gpu.WriteI(p.g, 0, x)
	return p
}

// randInts makes n ints in [0, hi).
func (e *env) randInts(n, hi int) *ipair {
	x := make([]int32, n)
	for i := range x {
		x[i] = int32(e.r.IntN(hi))
	}
	return e.ints(x)
}

// both runs fn on the CPU side, then on the WebGPU side.
func (e *env) both(fn func(s sel)) {
	fn(sel{Be: e.cpu})
	fn(sel{Be: e.gpu, gpu: true})
}

// cmp reads every pair back from both backends and records the max error,
// named op and shape.
func (e *env) cmp(op, shape string, ps ...*pair) {
	for i, p := range ps {
		name := op
		if len(ps) > 1 {
			name = fmt.Sprintf("%s#%d", op, i)
		}
		want := make([]float32, p.n)
		got := make([]float32, p.n)
		e.cpu.Read(p.c, 0, want)
		e.gpu.Read(p.g, 0, got)
		e.record(name, shape, want, got)
	}
}

// cmpNamed is cmp with a name per pair.
func (e *env) cmpNamed(op, shape string, names []string, ps ...*pair) {
	for i, p := range ps {
		want := make([]float32, p.n)
		got := make([]float32, p.n)
		e.cpu.Read(p.c, 0, want)
		e.gpu.Read(p.g, 0, got)
		e.record(op+"."+names[i], shape, want, got)
	}
}

// record compares want (CPU) and got (WebGPU).
func (e *env) record(op, shape string, want, got []float32) {
	res := result{Check: e.check, Op: op, Shape: shape, Tol: tolerance}
	scale := 1.0
	for _, w := range want {
		if a := math.Abs(float64(w)); a > scale && !math.IsInf(a, 0) {
			scale = a
		}
	}
	var maxErr float64
	bad := -1
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		var d float64
		switch {
		case math.IsNaN(w) && math.IsNaN(g), w == g:
			d = 0
		case math.IsNaN(w) || math.IsNaN(g) || math.IsInf(w, 0) || math.IsInf(g, 0):
			d = math.Inf(1)
		default:
			d = math.Abs(w - g)
		}
		if d > maxErr {
			maxErr, bad = d, i
		}
	}
	res.MaxErr, res.Scale = maxErr, scale
	res.OK = maxErr <= tolerance*scale
	if !res.OK && bad >= 0 {
		res.Err = fmt.Sprintf("worst at index %d of %d: cpu %g, webgpu %g", bad, len(want), want[bad], got[bad])
	}
	if err := e.gpu.Err(); err != nil {
		res.OK = false
		res.Err = strings.TrimSpace(res.Err + " backend error: " + err.Error())
		e.gpu.ClearErr()
	}
	res.Ms = now() - e.t0
	e.results = append(e.results, res)
}

// expect records a pass/fail outcome that is not a numeric comparison.
func (e *env) expect(op string, ok bool, format string, args ...any) {
	res := result{Check: e.check, Op: op, OK: ok, Ms: now() - e.t0}
	if !ok {
		res.Err = fmt.Sprintf(format, args...)
	}
	e.results = append(e.results, res)
}

func seedOf(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

func newBackend(ctx context.Context, config, kernel string) (*webgpu.Backend, error) {
	var opts []webgpu.Option
	switch config {
	case "split":
		opts = append(opts, webgpu.WithDefaultLimits(), webgpu.WithMaxChunkBytes(4096))
	case "tiled":
		opts = append(opts, webgpu.WithMatMulKernel(webgpu.MatMulTiled))
	case "blocked":
		opts = append(opts, webgpu.WithMatMulKernel(webgpu.MatMulBlocked))
	case "tree":
		opts = append(opts, webgpu.WithRowKernels(webgpu.RowTree))
	case "seq":
		opts = append(opts, webgpu.WithRowKernels(webgpu.RowSeq))
	}
	if kernel != "" {
		opts = append(opts, webgpu.WithMatMulKernel(kernel))
	}
	return webgpu.New(ctx, opts...)
}

func runParity(config, filter string) (any, error) {
	ctx := context.Background()
	g, err := newBackend(ctx, config, "")
	if err != nil {
		return nil, err
	}
	defer g.Close()
	out := map[string]any{"config": config, "info": g.Info()}
	var results []result
	for _, c := range checks {
		if !slices.Contains(c.configs, config) || (filter != "" && !strings.Contains(c.name, filter)) {
			continue
		}
		e := &env{cpu: cpu.New(), gpu: g, r: rand.New(rand.NewPCG(seedOf(c.name), 7)), check: c.name, t0: now()}
		func() {
			defer func() {
				if p := recover(); p != nil {
					e.expect("panic", false, "check panicked: %v", p)
				}
			}()
			c.fn(e)
		}()
		if err := g.Err(); err != nil {
			e.expect("backend", false, "error after the check: %v", err)
			g.ClearErr()
		}
		if len(e.results) == 0 {
			e.expect("none", false, "the check compared nothing")
		}
		results = append(results, e.results...)
	}
	out["results"] = results
	out["stats"] = g.Stats()
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func benchMatMul(a []js.Value) (any, error) {
	if len(a) < 7 {
		return nil, fmt.Errorf("hutBenchMatMul(m, n, k, transA, transB, reps, kernel)")
	}
	g, err := newBackend(context.Background(), "default", a[6].String())
	if err != nil {
		return nil, err
	}
	defer g.Close()
	gf, ms, err := g.BenchMatMul(a[0].Int(), a[1].Int(), a[2].Int(), a[3].Bool(), a[4].Bool(), a[5].Int())
	if err != nil {
		return nil, err
	}
	info := g.Info()
	b, _ := json.Marshal(map[string]any{"gflops": gf, "ms": ms, "kernel": info.MatMulKernel,
		"adapter": info.Vendor + "/" + info.Architecture, "fallback": info.IsFallback})
	return string(b), nil
}

// benchDispatch times count small element-wise ops (256 floats each),
// recorded and submitted in batches, and returns µs per op: the recording
// overhead plus the adapter's per-dispatch cost.
func benchDispatch(a []js.Value) (any, error) {
	count := 1000
	if len(a) > 0 && a[0].Type() == js.TypeNumber {
		count = a[0].Int()
	}
	g, err := newBackend(context.Background(), "default", "")
	if err != nil {
		return nil, err
	}
	defer g.Close()
	x := g.NewBuf(256)
	g.Scale(x, x, 1, 256) // compile the pipeline
	if err := g.Sync(); err != nil {
		return nil, err
	}
	t0 := now()
	for i := 0; i < count; i++ {
		g.Scale(x, x, 1.0001, 256)
	}
	t1 := now()
	if err := g.Sync(); err != nil {
		return nil, err
	}
	t2 := now()
	b, _ := json.Marshal(map[string]any{"recordUs": (t1 - t0) * 1000 / float64(count), "totalUs": (t2 - t0) * 1000 / float64(count), "stats": g.Stats()})
	return string(b), nil
}

func main() {
	js.Global().Set("hutBenchDispatch", js.FuncOf(func(_ js.Value, a []js.Value) any {
		args := slices.Clone(a)
		return gpu.Promise(func() (any, error) { return benchDispatch(args) })
	}))
	js.Global().Set("hutParity", js.FuncOf(func(_ js.Value, a []js.Value) any {
		config, filter := "default", ""
		if len(a) > 0 && a[0].Type() == js.TypeString {
			config = a[0].String()
		}
		if len(a) > 1 && a[1].Type() == js.TypeString {
			filter = a[1].String()
		}
		return gpu.Promise(func() (any, error) { return runParity(config, filter) })
	}))
	js.Global().Set("hutBenchMatMul", js.FuncOf(func(_ js.Value, a []js.Value) any {
		args := slices.Clone(a)
		return gpu.Promise(func() (any, error) { return benchMatMul(args) })
	}))
	js.Global().Set("hutChecks", js.FuncOf(func(_ js.Value, _ []js.Value) any {
		var l []map[string]any
		for _, c := range checks {
			l = append(l, map[string]any{"name": c.name, "configs": c.configs})
		}
		b, _ := json.Marshal(l)
		return string(b)
	}))
	js.Global().Set("__hutReady", true)
	select {}
}
