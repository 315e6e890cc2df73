//go:build !js

package main

// Browser tests of the engine. TestMain builds the engine (this package)
// and the full-step parity program (internal/stepparity/cmd) with
// GOOS=js GOARCH=wasm, writes tiny test checkpoints next to them and serves
// the lot on 127.0.0.1 with hut serve's own handler, together with
// testdata/ (a test page that runs the engine in a Web Worker) and
// ../web/bench.{html,js}. The tests drive
// headless Chromium with WebGPU (SwiftShader on a machine without a GPU)
// through chromedp:
//
//	go test ./wasm/ -v                       # everything (about a minute)
//	go test ./wasm/ -run Parity -v           # the full-step parity numbers
//	HUT_BENCH=1 go test ./wasm/ -run Bench -v  # the full benchmark, JSON on stdout
//
// CHROME_BIN picks the browser; HUT_CHROME_FLAGS adds flags (space
// separated), e.g. "--use-angle=vulkan --enable-features=Vulkan" on a
// machine with a GPU. Without a browser the tests skip and say so.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hutml/hut/internal/browsertest"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/server"
	"github.com/hutml/hut/wasm/engine"
	"github.com/hutml/hut/wasm/internal/stepparity"
	"github.com/hutml/hut/wasm/internal/testmodels"
)

var (
	siteOnce sync.Once
	siteDir  string
	siteErr  error
	wasmSize int64
)

func wasmEnv() []string {
	return append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOFLAGS="+browsertest.WasmGoflags(os.Getenv("GOFLAGS")))
}

// trackSources reads the files of every module package the wasm programs
// are built from, so that go test's cache notices edits to them (they are
// compiled by a subprocess).
func trackSources(pkgs ...string) error {
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}{{end}}"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = wasmEnv()
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list the wasm programs' packages: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != dir && d.Name() != "kernels" {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				_, err = os.ReadFile(p)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	for _, f := range []string{"testdata/index.html", "testdata/rpc.js", "testdata/rpc-worker.js", "testdata/parity.html", "testdata/parity.js", "../web/bench.html", "../web/bench.js"} {
		if _, err := os.ReadFile(f); err != nil {
			return err
		}
	}
	return nil
}

// buildSite builds the engine and the parity program once per test
// binary and writes the test checkpoints.
func buildSite(t testing.TB) string {
	t.Helper()
	siteOnce.Do(func() {
		start := time.Now()
		dir, err := os.MkdirTemp("", "hut-wasm-test-")
		if err != nil {
			siteErr = err
			return
		}
		siteDir = dir
		if err := trackSources(".", "./internal/stepparity/cmd"); err != nil {
			siteErr = err
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		www := filepath.Join(dir, "www")
		if err := os.MkdirAll(www, 0o755); err != nil {
			siteErr = err
			return
		}
		for _, f := range []string{"testdata/index.html", "testdata/rpc.js", "testdata/rpc-worker.js", "testdata/parity.html", "testdata/parity.js", "../web/bench.html", "../web/bench.js"} {
			b, err := os.ReadFile(f)
			if err == nil {
				err = os.WriteFile(filepath.Join(www, filepath.Base(f)), b, 0o644)
			}
			if err != nil {
				siteErr = err
				return
			}
		}
		for i, b := range []struct{ out, pkg string }{{"main.wasm", "."}, {"www/parity.wasm", "./internal/stepparity/cmd"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The engine is built as hut serve builds it.
				cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, b.out), b.pkg)
				cmd.Env = wasmEnv()
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("building %s for js/wasm: %v\n%s", b.pkg, err, out)
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				siteErr = err
				return
			}
		}
		if st, err := os.Stat(filepath.Join(dir, "main.wasm")); err == nil {
			wasmSize = st.Size()
		}
		execJS, err := server.FindWasmExec(context.Background())
		if err != nil {
			siteErr = err
			return
		}
		js, err := os.ReadFile(execJS)
		if err != nil {
			siteErr = fmt.Errorf("wasm_exec.js: %v", err)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "wasm_exec.js"), js, 0o644); err != nil {
			siteErr = err
			return
		}
		for name, files := range map[string]testmodels.Files{
			"tiny-gpt2-test":    testmodels.TinyGPT2(testmodels.DefaultGPT2),
			"tiny-roberta-test": testmodels.TinyRoBERTa(testmodels.DefaultRoBERTa),
		} {
			md := filepath.Join(dir, "models", name)
			if err := os.MkdirAll(md, 0o755); err != nil {
				siteErr = err
				return
			}
			for f, b := range files {
				if err := os.WriteFile(filepath.Join(md, f), b, 0o644); err != nil {
					siteErr = err
					return
				}
			}
		}
		t.Logf("built main.wasm (%d bytes) and parity.wasm in %v", wasmSize, time.Since(start).Round(time.Millisecond))
	})
	if siteErr != nil {
		t.Fatal(siteErr)
	}
	return siteDir
}

// siteHandler is hut serve's own handler (server.New: its MIME types,
// Content-Security-Policy and /models/ rules) over the build: main.wasm and
// wasm_exec.js, the web root www/ (testdata/ plus ../web/bench.*) and the
// test checkpoints in models/.
func siteHandler(t testing.TB, dir string) http.Handler {
	h, err := server.New(server.Options{WebDir: filepath.Join(dir, "www"), ModelsDir: filepath.Join(dir, "models"),
		WasmPath: filepath.Join(dir, "main.wasm"), WasmExecPath: filepath.Join(dir, "wasm_exec.js")})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMain(m *testing.M) {
	code := m.Run()
	if siteDir != "" {
		os.RemoveAll(siteDir)
	}
	os.Exit(code)
}

// page is one Chromium tab on the test site.
type page struct {
	*browsertest.Tab
	url string
}

// openPage starts Chromium with WebGPU, serves the site and opens path.
func openPage(t testing.TB, path string, timeout time.Duration) *page {
	t.Helper()
	tab := browsertest.Open(t, browsertest.Options{Timeout: timeout, What: "the browser tests"})
	dir := buildSite(t)
	srv := httptest.NewServer(siteHandler(t, dir)) // 127.0.0.1 is a secure context
	t.Cleanup(srv.Close)
	p := &page{Tab: tab, url: srv.URL}
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(srv.URL+path)); err != nil {
		t.Fatalf("navigate to %s: %v", path, err)
	}
	return p
}

// eval evaluates expr (awaiting a promise) and decodes its JSON value.
func eval[T any](t testing.TB, p *page, expr string) T {
	t.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", short(expr), err)
	}
	return v
}

func short(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// rpcResult is what window.rpc resolves to.
type rpcResult struct {
	Result map[string]any `json:"result"`
	Error  *string        `json:"error"`
}

// call runs hut.method(args) in the worker and fails the test on an error.
func call(t testing.TB, p *page, method, args string) map[string]any {
	t.Helper()
	r := rpc(t, p, method, args)
	if r.Error != nil {
		t.Fatalf("hut.%s(%s): %s", method, short(args), *r.Error)
	}
	return r.Result
}

func rpc(t testing.TB, p *page, method, args string) rpcResult {
	t.Helper()
	if args == "" {
		args = "undefined"
	}
	t0 := time.Now()
	r := eval[rpcResult](t, p, fmt.Sprintf("rpc(%q, %s)", method, args))
	if d := time.Since(t0); d > 2*time.Second || os.Getenv("HUT_BROWSER_TIMES") != "" {
		t.Logf("hut.%s(%s): %v", method, short(args), d.Round(time.Millisecond))
	}
	return r
}

// callErr runs a call that must fail with a message containing want.
func callErr(t testing.TB, p *page, method, args, want string) {
	t.Helper()
	r := rpc(t, p, method, args)
	if r.Error == nil {
		t.Fatalf("hut.%s(%s) succeeded, want an error about %q", method, short(args), want)
	}
	if !strings.Contains(*r.Error, want) {
		t.Fatalf("hut.%s(%s): error %q, want it to mention %q", method, short(args), *r.Error, want)
	}
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func startWorker(t testing.TB, p *page, query string) map[string]any {
	t.Helper()
	return eval[map[string]any](t, p, fmt.Sprintf("startWorker(%q)", query))
}

// TestBrowserAPI runs the whole JavaScript API on WebGPU in a Web Worker:
// every call of docs/wasm-api.md, the events, and the errors.
func TestBrowserAPI(t *testing.T) {
	start := time.Now()
	p := openPage(t, "/index.html", 3*time.Minute)
	rd := startWorker(t, p, "")
	t.Logf("engine ready in the worker %.0f ms after the fetch started (browser up in %v); main.wasm is %d bytes", num(rd["loadMs"]), time.Since(start).Round(time.Millisecond), wasmSize)

	in := call(t, p, "init", `{backend: "auto"}`)
	if in["backend"] != "webgpu" {
		t.Fatalf("init: backend %v (note: %v), want webgpu", in["backend"], in["note"])
	}
	ad, _ := in["adapter"].(map[string]any)
	t.Logf("init: adapter %v/%v fallback=%v, matmul %v; note: %v", ad["vendor"], ad["architecture"], ad["isFallback"], in["matmul"], in["note"])

	// Model by URL, with download progress events.
	lm := call(t, p, "loadModel", `{url: "/models/tiny-gpt2-test/"}`)
	if lm["arch"] != "gpt2" || lm["task"] != "causal-lm" || lm["name"] != "tiny-gpt2-test" || num(lm["params"]) < 1000 {
		t.Fatalf("loadModel = %v", lm)
	}
	ev := eval[[]map[string]any](t, p, `hutEvents.filter(e => e.type === "hut-progress" && e.what === "model.safetensors")`)
	if len(ev) == 0 || num(ev[len(ev)-1]["done"]) != num(ev[len(ev)-1]["total"]) || num(ev[len(ev)-1]["total"]) <= 0 {
		t.Fatalf("download progress events: %v", ev)
	}

	e2eTrain, e2eDev := jsString(testmodels.E2E(64, 1)), jsString(testmodels.E2E(16, 2))
	lt := call(t, p, "loadTask", fmt.Sprintf(`{task: "e2e", train: %s, dev: %s}`, e2eTrain, e2eDev))
	if num(lt["train"]) != 64 || num(lt["dev"]) != 16 || lt["metric"] != "loss" {
		t.Fatalf("loadTask = %v", lt)
	}
	est := call(t, p, "estimate", `{method: "lora", r: 4, batch: 4, seq: 96, targets: ["all-linear"]}`)
	su := call(t, p, "setup", `{method: "hut", r: 4, lr: 0.01, batch: 4, seq: 96, steps: 40, warmup: 2, seed: 7, targets: ["all-linear"]}`)
	if su["method"] != "hut" || num(su["trainable"]) <= 0 || num(su["all"]) <= num(su["trainable"]) || num(su["flopsPerStep"]) <= 0 || !strings.Contains(fmt.Sprint(su["summary"]), "trainable params") {
		t.Fatalf("setup = %v", su)
	}
	if num(est["trainable"]) != num(su["trainable"]) || num(est["flopsPerStep"]) <= num(su["flopsPerStep"]) {
		t.Fatalf("LoRA and HUT of rank 4 on every linear both train r·(in+out) per layer (%v, %v), and LoRA's step costs more FLOPs (%v, %v)", est["trainable"], su["trainable"], est["flopsPerStep"], su["flopsPerStep"])
	}
	ev0 := call(t, p, "evaluate", `{}`)
	var losses []float64
	for i := 0; i < 2; i++ {
		st := call(t, p, "step", `{n: 10}`)
		if num(st["step"]) != float64(10*(i+1)) || num(st["tokensPerSec"]) <= 0 || num(st["elapsedMs"]) <= 0 {
			t.Fatalf("step = %v", st)
		}
		for _, l := range st["losses"].([]any) {
			losses = append(losses, num(l))
		}
	}
	ev1 := call(t, p, "evaluate", `{maxExamples: 8}`)
	t.Logf("e2e on WebGPU: train loss %.3f → %.3f, eval loss %.3f → %.3f (8 examples)", losses[0], losses[len(losses)-1], num(ev0["evalLoss"]), num(ev1["evalLoss"]))
	if !stepparity.Decreasing(losses, 0.01) {
		t.Fatalf("loss does not go down: %v", losses)
	}
	steps := eval[[]map[string]any](t, p, `hutEvents.filter(e => e.type === "hut-progress" && e.what === "step")`)
	if len(steps) != 20 || num(steps[19]["loss"]) != losses[19] {
		t.Fatalf("step events: %d, want 20 with the losses", len(steps))
	}

	g := call(t, p, "generate", `{mr: "name[Zizzi], eatType[pub], food[Indian]", maxNew: 12, minNew: 6}`)
	if len(g["ids"].([]any)) == 0 {
		t.Fatalf("generate = %v", g)
	}
	gb := call(t, p, "generate", `{mr: "name[Zizzi], eatType[pub]", maxNew: 8, minNew: 4, beams: 3}`)
	t.Logf("generate: greedy %q, beam %q", g["text"], gb["text"])

	ins := call(t, p, "inspect", `{layer: 1, module: "attn.c_attn", rows: 3, cols: 4}`)
	if len(ins["a"].([]any)) != 96 || len(ins["b"].([]any)) != 32 || len(ins["w0"].([]any)) != 3 || len(ins["wPrime"].([]any)[0].([]any)) != 4 || num(ins["corr"]) <= 0 {
		t.Fatalf("inspect = %v", ins)
	}
	callErr(t, p, "inspect", `{layer: 0, module: "c_proj"}`, "ambiguous")

	// Merge: generation with the merged weights is the same.
	if r := call(t, p, "merge", ""); r["merged"] != true {
		t.Fatalf("merge = %v", r)
	}
	gm := call(t, p, "generate", `{mr: "name[Zizzi], eatType[pub], food[Indian]", maxNew: 12, minNew: 6}`)
	if gm["text"] != g["text"] {
		t.Fatalf("generation after merge %q, before %q", gm["text"], g["text"])
	}
	callErr(t, p, "step", `{n: 1}`, "unmerge")
	callErr(t, p, "exportAdapter", "", "unmerge")
	call(t, p, "unmerge", "")

	// Export, then import into a fresh setup: the same generation.
	ex := eval[map[string]any](t, p, `(async () => {
		const r = await call("exportAdapter");
		const cfg = r.files["adapter_config.json"], w = r.files["adapter_model.safetensors"];
		if (typeof cfg !== "string" || !(w instanceof Uint8Array)) throw new Error("exportAdapter: unexpected file types");
		await call("setup", {method: "lora", steps: 3, seq: 96});
		const imp = await call("importAdapter", {files: r.files});
		return {config: JSON.parse(cfg), bytes: w.length, method: imp.method};
	})()`)
	if ex["method"] != "hut" || num(ex["bytes"]) < 1000 || ex["config"].(map[string]any)["peft_type"] != "HUT" {
		t.Fatalf("export/import = %v", ex)
	}
	gi := call(t, p, "generate", `{mr: "name[Zizzi], eatType[pub], food[Indian]", maxNew: 12, minNew: 6}`)
	if gi["text"] != g["text"] {
		t.Fatalf("generation after import %q, before export %q", gi["text"], g["text"])
	}

	info := call(t, p, "info", "")
	if info["backend"] != "webgpu" || info["model"] != "tiny-gpt2-test" || info["method"] != "hut" || num(info["memoryBytes"]) <= 0 {
		t.Fatalf("info = %v", info)
	}

	// Errors reject with messages that name the problem.
	callErr(t, p, "setup", `{rnk: 4}`, `unknown option "rnk"`)
	callErr(t, p, "setup", `{r: "four"}`, "option r: want a number")
	callErr(t, p, "setup", `{method: "dora"}`, `method "dora"`)
	callErr(t, p, "loadModel", `{url: "/models/nope/"}`, "404")
	callErr(t, p, "loadModel", `{files: {"config.json": "{}"}}`, "model_type")
	callErr(t, p, "classify", `{text: "great"}`, "classification head")
	callErr(t, p, "loadTask", `{task: "e2e", train: "mr,ref\n\"unterminated"}`, "train")
	callErr(t, p, "bench", `{sizes: [0]}`, "GEMM size 0")

	// RoBERTa: SST-2 classification, the same numbers as the native engine.
	sstTrain, sstDev := testmodels.SST2(128, 1), testmodels.SST2(32, 2)
	ne := engine.New(cpu.New(), "cpu")
	defer ne.Close()
	mustNative := func(_ map[string]any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustNative(ne.LoadModel(engine.ModelFiles(testmodels.TinyRoBERTa(testmodels.DefaultRoBERTa)), "tiny-roberta-test"))
	mustNative(ne.LoadTask(engine.TaskOptions{Task: "sst2", Train: sstTrain, Dev: sstDev}))
	mustNative(ne.Setup(engine.TrainOptions{Method: "full", LR: 1e-3, Batch: 16, Seq: 32, Steps: 30}))
	mustNative(ne.Step(engine.StepOptions{N: 30}))
	nev, err := ne.Evaluate(engine.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ncl, err := ne.Classify(engine.ClassifyOptions{Text: "a wonderful story , really wonderful"})
	if err != nil {
		t.Fatal(err)
	}
	call(t, p, "loadModel", `{url: "/models/tiny-roberta-test"}`)
	call(t, p, "loadTask", fmt.Sprintf(`{task: "sst2", train: %s, dev: %s}`, jsString(sstTrain), jsString(sstDev)))
	call(t, p, "setup", `{method: "full", lr: 0.001, batch: 16, seq: 32, steps: 30}`)
	call(t, p, "step", `{n: 30}`)
	sev := call(t, p, "evaluate", "")
	cl := call(t, p, "classify", `{text: "a wonderful story , really wonderful"}`)
	t.Logf("sst2 after 30 full fine-tuning steps: eval loss WebGPU %.6f, native %.6f; P(positive) WebGPU %.6f, native %.6f",
		num(sev["evalLoss"]), nev["evalLoss"], num(cl["probs"].([]any)[1]), ncl["probs"].([]float64)[1])
	if d := math.Abs(num(sev["evalLoss"]) - nev["evalLoss"].(float64)); d > 1e-4 {
		t.Fatalf("sst2 eval loss on WebGPU %v, native %v", sev["evalLoss"], nev["evalLoss"])
	}
	if d := math.Abs(num(cl["probs"].([]any)[1]) - ncl["probs"].([]float64)[1]); d > 1e-4 || cl["label"] != ncl["label"] {
		t.Fatalf("classify on WebGPU %v, native %v", cl, ncl)
	}

	// Device loss: the pending state is dropped, the page gets hut-error,
	// calls reject until init.
	call(t, p, "_loseDevice", "")
	errs := eval[[]map[string]any](t, p, `(async () => {
		for (let i = 0; i < 500 && !hutEvents.some(e => e.type === "hut-error"); i++) await new Promise(r => setTimeout(r, 10));
		return hutEvents.filter(e => e.type === "hut-error");
	})()`)
	callErr(t, p, "classify", `{text: "a dull film"}`, "device was lost")
	if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs[0]["message"]), "hut.init()") {
		t.Fatalf("hut-error events after device loss: %v", errs)
	}
	re := call(t, p, "init", `{backend: "cpu"}`)
	if re["backend"] != "cpu" || !strings.Contains(fmt.Sprint(re["note"]), "loaded again") {
		t.Fatalf("init after device loss = %v", re)
	}
	call(t, p, "setup", `{method: "hut", seq: 32, steps: 2}`)
	call(t, p, "step", `{n: 2}`)
	call(t, p, "classify", `{text: "a dull film"}`)

	// Only the default limits, and GPU buffers of 36 KiB: the token
	// embedding (41 KB) and the logits are split across buffers (the other
	// activations of a 1 × 64 batch fit one), and training gives the native
	// losses.
	ge := engine.New(cpu.New(), "cpu")
	defer ge.Close()
	mustNative(ge.LoadModel(engine.ModelFiles(testmodels.TinyGPT2(testmodels.DefaultGPT2)), "tiny-gpt2-test"))
	mustNative(ge.LoadTask(engine.TaskOptions{Task: "e2e", Train: testmodels.E2E(64, 1)}))
	seven := uint64(7)
	mustNative(ge.Setup(engine.TrainOptions{Method: "hut", R: 4, LR: 0.01, Batch: 1, Seq: 64, Steps: 40, Warmup: 2, Seed: &seven, Targets: []string{"all-linear"}}))
	nst, err := ge.Step(engine.StepOptions{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	si := call(t, p, "init", `{backend: "webgpu", defaultLimits: true, maxChunkBytes: 36864}`)
	if si["backend"] != "webgpu" || !strings.Contains(fmt.Sprint(si["note"]), "128 MiB per storage binding") {
		t.Fatalf("init with the default limits = %v", si)
	}
	lm = call(t, p, "loadModel", `{url: "/models/tiny-gpt2-test/"}`)
	if !strings.Contains(fmt.Sprint(lm["notes"]), "wte.weight") || !strings.Contains(fmt.Sprint(lm["notes"]), "split across 2 GPU buffers") {
		t.Fatalf("loadModel notes with 36 KiB buffers: %v", lm["notes"])
	}
	call(t, p, "loadTask", fmt.Sprintf(`{task: "e2e", train: %s}`, e2eTrain))
	call(t, p, "setup", `{method: "hut", r: 4, lr: 0.01, batch: 1, seq: 64, steps: 40, warmup: 2, seed: 7, targets: ["all-linear"]}`)
	sst := call(t, p, "step", `{n: 3}`)
	for i, l := range sst["losses"].([]any) {
		if d := math.Abs(num(l) - nst["losses"].([]float64)[i]); d > 1e-4 {
			t.Fatalf("split buffers: step %d loss %v, native %v", i+1, l, nst["losses"].([]float64)[i])
		}
	}
	t.Logf("split buffers (%v): losses %v, native %v", lm["notes"], sst["losses"], nst["losses"])
	t.Logf("TestBrowserAPI: %v", time.Since(start).Round(time.Millisecond))
}

// TestBrowserCPUFallback: without WebGPU the engine says so and runs on the
// CPU path in wasm; the loader variants (hutOnEvent, a Go-made hutReady)
// work.
func TestBrowserCPUFallback(t *testing.T) {
	p := openPage(t, "/index.html", 2*time.Minute)
	startWorker(t, p, "?nogpu=1&direct=1&plain=1")
	// The first call initialises the backend by itself ("auto").
	lm := call(t, p, "loadModel", `{url: "/models/tiny-gpt2-test/"}`)
	if lm["arch"] != "gpt2" {
		t.Fatalf("loadModel = %v", lm)
	}
	info := call(t, p, "info", "")
	if info["backend"] != "cpu" || !strings.Contains(fmt.Sprint(info["note"]), "navigator.gpu is missing") || !strings.Contains(fmt.Sprint(info["note"]), "CPU") {
		t.Fatalf("info without WebGPU = %v", info)
	}
	direct := eval[int](t, p, `hutEvents.filter(e => e.direct).length`)
	if direct == 0 {
		t.Fatal("no events through self.hutOnEvent")
	}
	callErr(t, p, "init", `{backend: "webgpu"}`, "WebGPU unavailable")
	call(t, p, "loadTask", fmt.Sprintf(`{task: "e2e", train: %s}`, jsString(testmodels.E2E(32, 1))))
	call(t, p, "setup", `{method: "lora", r: 2, seq: 96, steps: 4}`)
	st := call(t, p, "step", `{n: 4}`)
	t.Logf("CPU path in wasm: %v tokens/s; note: %v", st["tokensPerSec"], info["note"])
	// stop ends a long step call after the current step.
	r := eval[map[string]any](t, p, `(async () => {
		await call("setup", {method: "hut", seq: 96, steps: 500});
		const pr = rpc("step", {n: 500});
		while (!hutEvents.some(e => e.what === "step" && e.step === 2)) await new Promise(r => setTimeout(r, 5));
		worker.postMessage({id: -1, method: "stop"});
		return (await pr).result;
	})()`)
	if n := num(r["steps"]); n >= 500 || r["stopped"] != true {
		t.Fatalf("step after stop = %v", r)
	}
}

// TestBrowserStepParity is the full training step on WebGPU (and on the
// CPU backend compiled to wasm) against the native CPU backend: one step
// of a tiny GPT-2 with HUT and with LoRA (forward, backward with dropout,
// gradient norm, clipping, AdamW) gives the same loss and gradients to
// 1e-4 relative to scale, and 50 steps follow the native loss curve.
func TestBrowserStepParity(t *testing.T) {
	var native []*stepparity.Result
	t0 := time.Now()
	for _, spec := range stepparity.Specs() {
		r, err := stepparity.Run(cpu.New(), "native", spec)
		if err != nil {
			t.Fatal(err)
		}
		native = append(native, r)
	}
	t.Logf("native runs in %v", time.Since(t0).Round(time.Millisecond))
	nj, err := json.Marshal(native)
	if err != nil {
		t.Fatal(err)
	}
	p := openPage(t, "/parity.html", 4*time.Minute)
	eval[bool](t, p, "hutLoad")
	t1 := time.Now()
	out := eval[string](t, p, fmt.Sprintf("hutStepParity(%s, %q)", jsString(string(nj)), "webgpu,cpu"))
	var res struct {
		Adapter string              `json:"adapter"`
		MatMul  string              `json:"matmul"`
		Reports []stepparity.Report `json:"reports"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("decoding the report: %v", err)
	}
	var extra map[string]any
	_ = json.Unmarshal([]byte(out), &extra)
	t.Logf("browser runs in %v on %s (matmul %s)", time.Since(t1).Round(time.Millisecond), res.Adapter, res.MatMul)
	if len(res.Reports) != 3*len(native) {
		t.Fatalf("%d reports, want %d", len(res.Reports), 3*len(native))
	}
	for _, r := range res.Reports {
		worstGrad, worstParam := stepparity.Check{}, stepparity.Check{}
		for _, c := range r.Checks {
			if !c.OK {
				t.Errorf("%s, %s vs %s: %s: max err %.3g > %.0e × scale %.3g (%s)", r.Method, r.Got, r.Want, c.What, c.MaxErr, c.Tol, c.Scale, c.Where)
			}
			rel := c.MaxErr / c.Scale
			if strings.Contains(c.What, "after AdamW") {
				if rel >= worstParam.MaxErr/max(worstParam.Scale, 1e-30) {
					worstParam = c
				}
			} else if c.What != "loss curve" && rel >= worstGrad.MaxErr/max(worstGrad.Scale, 1e-30) {
				worstGrad = c
			}
		}
		t.Logf("%-4s %-8s vs %-8s: %d checks; worst step check %q %.2e (scale %.3g); worst parameter after AdamW %q %.2e (scale %.3g); loss curve %.4f → %.4f over %d steps, max |Δloss| %.2e (tolerance %.0e·max(1,|loss|)); %d steps clipped",
			r.Method, r.Got, r.Want, len(r.Checks), worstGrad.What, worstGrad.MaxErr, worstGrad.Scale, worstParam.What, worstParam.MaxErr, worstParam.Scale,
			r.FirstLoss, r.LastLoss, 50, r.CurveMaxDiff, stepparity.TolCurve, r.Clipped)
	}
	for _, n := range native {
		if !stepparity.Decreasing(n.Losses, 0.02) {
			t.Errorf("%s: the native loss does not go down: %v", n.Spec.Method, n.Losses)
		}
		if l, ok := extra["losses-webgpu-"+n.Spec.Method].([]any); ok {
			var ls []float64
			for _, v := range l {
				ls = append(ls, num(v))
			}
			if !stepparity.Decreasing(ls, 0.02) {
				t.Errorf("%s: the WebGPU loss does not go down: %v", n.Spec.Method, ls)
			}
		}
		t.Logf("%s: native %.0f ms, WebGPU %.0f ms, wasm CPU %.0f ms (50 steps each, with loading)", n.Spec.Method, n.Ms,
			num(extra["ms-webgpu-"+n.Spec.Method]), num(extra["ms-wasm-cpu-"+n.Spec.Method]))
	}
}

// TestBrowserBench drives web/bench.html: a small smoke run by default;
// HUT_BENCH=1 runs the default benchmark and prints its JSON (HUT_BENCH_OUT
// also writes it to a file). HUT_BENCH_OPTS replaces the options (a JSON
// object, as hut.bench takes).
func TestBrowserBench(t *testing.T) {
	opts := `{steps: 2, sizes: [64], reps: 2, config: {nLayer: 1, nEmbd: 32, nHead: 2, vocab: 256, batch: 2, seq: 32}}`
	full := os.Getenv("HUT_BENCH") != ""
	if full {
		opts = `{steps: 5, sizes: [256, 512, 1024], reps: 5}`
	}
	if o := os.Getenv("HUT_BENCH_OPTS"); o != "" {
		opts = o
	}
	timeout := 3 * time.Minute
	if full {
		timeout = 20 * time.Minute
	}
	p := openPage(t, "/bench.html", timeout)
	t0 := time.Now()
	r := eval[map[string]any](t, p, "hutBench("+opts+")")
	b, _ := json.MarshalIndent(r, "", "  ")
	if full {
		fmt.Printf("%s\n", b)
		if f := os.Getenv("HUT_BENCH_OUT"); f != "" {
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	w, c := r["webgpu"].(map[string]any), r["cpu"].(map[string]any)
	if w == nil || c == nil || num(w["tokensPerSec"]) <= 0 || num(c["tokensPerSec"]) <= 0 || len(r["gemm"].([]any)) == 0 {
		t.Fatalf("bench = %s", b)
	}
	g := r["gemm"].([]any)[0].(map[string]any)
	t.Logf("bench in %v on %v: WebGPU %.0f tokens/s, wasm CPU %.0f tokens/s, GEMM %v³ %.3g GFLOP/s (wasm CPU %.3g)", time.Since(t0).Round(time.Millisecond),
		r["adapter"], num(w["tokensPerSec"]), num(c["tokensPerSec"]), g["n"], num(g["gflops"]), num(g["cpuGflops"]))
}
