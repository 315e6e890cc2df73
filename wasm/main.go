//go:build js && wasm

// Command wasm is hut's browser engine: the engine package bound to
// JavaScript. Built with GOOS=js GOARCH=wasm (hut serve does it at
// start-up), it runs inside a Web Worker and installs one global object,
// self.hut, whose methods return Promises. docs/wasm-api.md is the
// contract.
//
// Every call runs on its own goroutine (WebGPU read-backs block on
// JavaScript promises, which must never happen inside a js.FuncOf
// callback) and calls are served one at a time, in the order they were
// made. A panic is recovered at this boundary and rejects the call's
// Promise with its message; nothing the page passes can crash the engine.
package main

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/tensor"
	"github.com/hutml/hut/core/webgpu"
	"github.com/hutml/hut/core/webgpu/gpu"
	"github.com/hutml/hut/wasm/engine"
)

// Version is the API version in hut.version.
const Version = "1"

var (
	mu    sync.Mutex                      // one call at a time
	eng   = engine.New(cpu.New(), "none") // a placeholder until init
	gpuBe *webgpu.Backend                 // the engine's backend when it is WebGPU
	lost  atomic.Pointer[error]
	// initDone: an explicit init happened (otherwise the first call that
	// needs a backend runs init({backend: "auto"})).
	initDone bool
	lastInit map[string]any
)

// call wraps fn as a JS function returning a Promise: fn runs on a new
// goroutine, one call at a time, with panics turned into rejections.
func call(name string, fn func(args js.Value) (any, error)) js.Func {
	return js.FuncOf(func(_ js.Value, a []js.Value) any {
		arg := js.Undefined()
		if len(a) > 0 {
			arg = a[0]
		}
		var h js.Func
		h = js.FuncOf(func(_ js.Value, pa []js.Value) any {
			resolve, reject := pa[0], pa[1]
			go func() {
				defer h.Release()
				v, err := run(name, func() (any, error) { return fn(arg) })
				if err != nil {
					reject.Invoke(js.Global().Get("Error").New(err.Error()))
					return
				}
				resolve.Invoke(toJS(v))
			}()
			return nil
		})
		return js.Global().Get("Promise").New(h)
	})
}

// run serialises fn with the other calls and recovers its panics.
func run(name string, fn func() (any, error)) (v any, err error) {
	mu.Lock()
	defer mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("hut.%s: internal error: %v (please report it with this message)\n%s", name, p, firstFrames(debug.Stack()))
		}
	}()
	if lp := lost.Load(); lp != nil && name != "init" && name != "info" && name != "bench" {
		eng.SetLost(*lp)
	}
	v, err = fn()
	if err != nil && !strings.HasPrefix(err.Error(), "hut.") {
		err = fmt.Errorf("hut.%s: %w", name, err)
	}
	return v, err
}

// firstFrames keeps the top of a stack trace for the error message.
func firstFrames(st []byte) string {
	lines := strings.Split(string(st), "\n")
	if len(lines) > 16 {
		lines = lines[:16]
	}
	return strings.Join(lines, "\n")
}

// post sends an event to the page: self.hutOnEvent(msg) when the loader
// installed one, else self.postMessage(msg) (a worker's channel to the
// page; on a page's main thread window.postMessage(msg, "*")).
func post(msg map[string]any) {
	g := js.Global()
	v := toJS(msg)
	if f := g.Get("hutOnEvent"); f.Type() == js.TypeFunction {
		f.Invoke(v)
		return
	}
	pm := g.Get("postMessage")
	if pm.Type() != js.TypeFunction {
		return
	}
	if g.Get("document").Type() == js.TypeObject { // a window, not a worker
		g.Call("postMessage", v, "*")
		return
	}
	g.Call("postMessage", v)
}

// progress posts {type: "hut-progress", what, done, total, ...extra},
// at most every 50 ms for the same `what` unless it is the last report.
func progressPoster() engine.ProgressFunc {
	var lastWhat string
	var last time.Time
	return func(what string, done, total int64, extra map[string]any) {
		final := total > 0 && done >= total
		if what == lastWhat && !final && time.Since(last) < 50*time.Millisecond && extra == nil {
			return
		}
		lastWhat, last = what, time.Now()
		msg := map[string]any{"type": "hut-progress", "what": what, "done": float64(done), "total": float64(total)}
		for k, v := range extra {
			msg[k] = v
		}
		post(msg)
	}
}

// onBackendError gets every error the WebGPU backend records; device loss
// and out-of-memory are posted to the page at once (the pending call
// rejects with the same message).
func onBackendError(err error) {
	msg := err.Error()
	fatal := strings.Contains(msg, "device lost")
	if fatal || strings.Contains(msg, "out of GPU memory") {
		if fatal {
			lost.Store(&err)
		}
		post(map[string]any{"type": "hut-error", "message": explain(msg)})
	}
}

// explain adds what the user can do to a backend error.
func explain(msg string) string {
	switch {
	case strings.Contains(msg, "device lost"):
		return "WebGPU device lost: " + msg + ". The GPU was reset, the tab ran out of GPU memory or the browser removed the device; call hut.init() to start again (on the GPU, or with {backend: \"cpu\"}). The trained adapter is lost unless it was exported."
	case strings.Contains(msg, "out of GPU memory"):
		return "out of GPU memory: " + msg + ". Use a smaller batch or seq, a smaller model, or the CPU backend (hut.init({backend: \"cpu\"}))."
	}
	return msg
}

// ensureInit runs init({backend: "auto"}) before the first call that needs
// a backend, when the page did not call init.
func ensureInit() error {
	if initDone {
		return nil
	}
	_, err := doInit(initOptions{Backend: "auto"})
	return err
}

func main() {
	hut := js.Global().Get("Object").New()
	methods := map[string]func(js.Value) (any, error){
		"init":          initCall,
		"loadModel":     loadModelCall,
		"loadTask":      withInit(loadTaskCall),
		"setup":         withInit(setupCall),
		"estimate":      withInit(estimateCall),
		"step":          withInit(stepCall),
		"evaluate":      withInit(evaluateCall),
		"generate":      withInit(generateCall),
		"classify":      withInit(classifyCall),
		"inspect":       withInit(inspectCall),
		"merge":         withInit(func(js.Value) (any, error) { return eng.Merge() }),
		"unmerge":       withInit(func(js.Value) (any, error) { return eng.Unmerge() }),
		"exportAdapter": withInit(func(js.Value) (any, error) { return eng.ExportAdapter() }),
		"importAdapter": withInit(importAdapterCall),
		"bench":         benchCall,
		"info":          infoCall,
		"_loseDevice":   loseDeviceCall,
	}
	for name, fn := range methods {
		hut.Set(name, call(name, fn))
	}
	// stop is synchronous and does not wait for the running call.
	hut.Set("stop", js.FuncOf(func(js.Value, []js.Value) any {
		return js.Global().Get("Promise").Call("resolve", toJS(map[string]any{"stopping": eng.Stop()}))
	}))
	hut.Set("version", Version)
	eng.SetProgress(progressPoster())
	g := js.Global()
	g.Set("hut", hut)
	// self.hutReady: resolve the loader's promise (self.hutReadyResolve),
	// or provide a resolved one.
	if r := g.Get("hutReadyResolve"); r.Type() == js.TypeFunction {
		r.Invoke(hut)
	}
	if hr := g.Get("hutReady"); hr.Type() != js.TypeObject || hr.Get("then").Type() != js.TypeFunction {
		g.Set("hutReady", g.Get("Promise").Call("resolve", hut))
	}
	select {}
}

func withInit(fn func(js.Value) (any, error)) func(js.Value) (any, error) {
	return func(a js.Value) (any, error) {
		if err := ensureInit(); err != nil {
			return nil, err
		}
		return fn(a)
	}
}

// ---- init ----

type initOptions struct {
	Backend       string `json:"backend"`
	DefaultLimits bool   `json:"defaultLimits"`
	MaxChunkBytes int    `json:"maxChunkBytes"`
	MatMul        string `json:"matmul"`
}

func initCall(a js.Value) (any, error) {
	var o initOptions
	if err := parseArgs("init", a, &o); err != nil {
		return nil, err
	}
	return doInit(o)
}

// newWebGPU creates a WebGPU backend with the adapter's limits, falling
// back to the WebGPU defaults when the device cannot be created with
// them. It returns notes for the page.
func newWebGPU(o initOptions, onError func(error)) (*webgpu.Backend, []string, error) {
	var opts []webgpu.Option
	if onError != nil {
		opts = append(opts, webgpu.WithErrorHandler(onError))
	}
	if o.MaxChunkBytes > 0 {
		opts = append(opts, webgpu.WithMaxChunkBytes(o.MaxChunkBytes))
	}
	if o.MatMul != "" {
		opts = append(opts, webgpu.WithMatMulKernel(o.MatMul))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var notes []string
	if !o.DefaultLimits {
		be, err := webgpu.New(ctx, opts...)
		if err == nil || errors.Is(err, gpu.ErrUnavailable) || ctx.Err() != nil {
			return be, nil, err
		}
		notes = append(notes, fmt.Sprintf("the GPU refused a device with the adapter's limits (%v); running with the WebGPU default limits: tensors over 128 MiB are split across GPU buffers", err))
	}
	be, err := webgpu.New(ctx, append(opts, webgpu.WithDefaultLimits())...)
	return be, notes, err
}

func doInit(o initOptions) (any, error) {
	switch o.Backend {
	case "", "auto", "webgpu", "cpu":
	default:
		return nil, fmt.Errorf("init: backend %q: want \"auto\", \"webgpu\" or \"cpu\"", o.Backend)
	}
	if o.MatMul != "" && o.MatMul != webgpu.MatMulAuto && o.MatMul != webgpu.MatMulBlocked && o.MatMul != webgpu.MatMulTiled {
		return nil, fmt.Errorf("init: matmul %q: want \"auto\", \"blocked\" or \"tiled\"", o.MatMul)
	}
	var be tensor.Backend
	var gb *webgpu.Backend
	var notes []string
	name := "cpu"
	out := map[string]any{"adapter": nil, "limits": nil, "features": []string{}}
	if o.Backend != "cpu" {
		var err error
		gb, notes, err = newWebGPU(o, onBackendError)
		if err != nil {
			if o.Backend == "webgpu" {
				return nil, fmt.Errorf("init: %w", err)
			}
			notes = append(notes, fmt.Sprintf("%v — the engine runs on the CPU in WebAssembly (one thread; expect it to be 10–100× slower than a GPU)", err))
		} else {
			be, name = gb, "webgpu"
			in := gb.Info()
			out["adapter"] = map[string]any{"vendor": in.Vendor, "architecture": in.Architecture, "device": in.Device,
				"description": in.Description, "isFallback": in.IsFallback}
			l := in.Limits
			out["limits"] = map[string]any{"maxStorageBufferBindingSize": l.MaxStorageBufferBindingSize, "maxBufferSize": l.MaxBufferSize,
				"maxComputeWorkgroupStorageSize": l.MaxComputeWorkgroupStorageSize, "maxStorageBuffersPerShaderStage": l.MaxStorageBuffersPerShaderStage,
				"chunkBytes": l.ChunkBytes}
			out["features"] = in.Features
			out["matmul"] = in.MatMulKernel
			if in.IsFallback {
				notes = append(notes, fmt.Sprintf("WebGPU runs on a software adapter (%s %s): correct but slow, often slower than the CPU path", in.Vendor, in.Architecture))
			}
			if l.MaxStorageBufferBindingSize <= 128<<20 {
				notes = append(notes, fmt.Sprintf("the device allows %d MiB per storage binding: larger tensors (GPT-2's token embedding) are split across GPU buffers", l.MaxStorageBufferBindingSize>>20))
			}
			for _, f := range in.Features {
				if f == "shader-f16" {
					notes = append(notes, "the GPU has shader-f16; this engine keeps weights in f32 (f16 storage is not implemented)")
				}
			}
		}
	} else {
		notes = append(notes, "CPU backend requested: the engine runs on the CPU in WebAssembly (one thread)")
	}
	if be == nil {
		be = cpu.New()
		eng.SetYield(func() { time.Sleep(time.Millisecond) }) // let the worker's event loop run between steps
	} else {
		eng.SetYield(nil)
	}
	more, err := eng.SetBackend(be, name)
	old := gpuBe
	gpuBe = gb
	if old != nil {
		old.Close()
	}
	lost.Store(nil)
	initDone = true
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	notes = append(notes, more...)
	out["backend"] = name
	out["note"] = strings.Join(notes, "; ")
	out["notes"] = notes
	lastInit = out
	return out, nil
}

// ---- the other calls ----

func loadModelCall(a js.Value) (any, error) {
	if err := ensureInit(); err != nil {
		return nil, err
	}
	if a.Type() != js.TypeObject {
		return nil, errors.New("loadModel: want {url} or {files}")
	}
	if err := checkKeys("loadModel", a, "url", "files", "name"); err != nil {
		return nil, err
	}
	var files engine.ModelFiles
	var name string
	if n := a.Get("name"); n.Type() == js.TypeString {
		name = n.String()
	}
	switch u, f := a.Get("url"), a.Get("files"); {
	case u.Type() == js.TypeString && f.Type() == js.TypeObject:
		return nil, errors.New("loadModel: give url or files, not both")
	case u.Type() == js.TypeString:
		var err error
		files, err = fetchModel(u.String())
		if err != nil {
			return nil, err
		}
		if name == "" {
			name = modelName(u.String())
		}
	case f.Type() == js.TypeObject:
		var err error
		files, err = filesArg("loadModel", f)
		if err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("loadModel: want {url: \"/models/NAME/\"} or {files: {\"config.json\": …, \"model.safetensors\": …}}")
	}
	if name == "" {
		name = "model"
	}
	res, err := eng.LoadModel(files, name)
	if err != nil {
		return nil, err
	}
	if gpuBe != nil {
		res["notes"] = append(res["notes"].([]string), splitNotes(res)...)
	}
	return res, nil
}

// splitNotes says which weights exceed one GPU binding.
func splitNotes(res map[string]any) []string {
	var out []string
	chunk := gpuBe.Info().Limits.ChunkBytes
	for _, p := range eng.BaseParams() {
		if b := 4 * p.Size(); b > chunk {
			out = append(out, fmt.Sprintf("%s (%s) exceeds the GPU's %s per buffer: it is split across %d GPU buffers", p.Name, sizeStr(b), sizeStr(chunk), (b+chunk-1)/chunk))
		}
	}
	return out
}

// sizeStr prints a byte count in KiB, MiB or GiB.
func sizeStr(b int) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
}

func loadTaskCall(a js.Value) (any, error) {
	var o engine.TaskOptions
	if err := parseArgs("loadTask", a, &o); err != nil {
		return nil, err
	}
	return eng.LoadTask(o)
}

func setupCall(a js.Value) (any, error) {
	var o engine.TrainOptions
	if err := parseArgs("setup", a, &o); err != nil {
		return nil, err
	}
	return eng.Setup(o)
}

func estimateCall(a js.Value) (any, error) {
	var o engine.TrainOptions
	if err := parseArgs("estimate", a, &o); err != nil {
		return nil, err
	}
	return eng.Estimate(o)
}

func stepCall(a js.Value) (any, error) {
	var o engine.StepOptions
	if err := parseArgs("step", a, &o); err != nil {
		return nil, err
	}
	return eng.Step(o)
}

func evaluateCall(a js.Value) (any, error) {
	var o engine.EvalOptions
	if err := parseArgs("evaluate", a, &o); err != nil {
		return nil, err
	}
	return eng.Evaluate(o)
}

func generateCall(a js.Value) (any, error) {
	var o engine.GenerateOptions
	if err := parseArgs("generate", a, &o); err != nil {
		return nil, err
	}
	return eng.Generate(o)
}

func classifyCall(a js.Value) (any, error) {
	var o engine.ClassifyOptions
	if err := parseArgs("classify", a, &o); err != nil {
		return nil, err
	}
	return eng.Classify(o)
}

func inspectCall(a js.Value) (any, error) {
	var o engine.InspectOptions
	if err := parseArgs("inspect", a, &o); err != nil {
		return nil, err
	}
	return eng.Inspect(o)
}

func importAdapterCall(a js.Value) (any, error) {
	if a.Type() != js.TypeObject || a.Get("files").Type() != js.TypeObject {
		return nil, errors.New("importAdapter: want {files: {\"adapter_config.json\": …, \"adapter_model.safetensors\": …}}")
	}
	if err := checkKeys("importAdapter", a, "files"); err != nil {
		return nil, err
	}
	files, err := filesArg("importAdapter", a.Get("files"))
	if err != nil {
		return nil, err
	}
	return eng.ImportAdapter(files)
}

func infoCall(js.Value) (any, error) {
	out := eng.Info()
	out["version"] = Version
	out["initialized"] = initDone
	if lastInit != nil {
		out["adapter"] = lastInit["adapter"]
		out["note"] = lastInit["note"]
	}
	if gpuBe != nil {
		s := gpuBe.Stats()
		out["gpu"] = map[string]any{"dispatches": s.Dispatches, "submits": s.Submits, "pipelines": s.Pipelines, "buffers": s.Buffers}
	}
	if lp := lost.Load(); lp != nil {
		out["lost"] = (*lp).Error()
	}
	return out, nil
}

// loseDeviceCall destroys the WebGPU device under the engine, as a GPU
// reset would (a testing hook for the page's error handling).
func loseDeviceCall(js.Value) (any, error) {
	if gpuBe == nil {
		return nil, errors.New("_loseDevice: the engine is not on WebGPU")
	}
	gpuBe.GPUDevice().Destroy()
	return map[string]any{"destroyed": true}, nil
}
