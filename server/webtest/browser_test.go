package webtest

// TestBrowserDemo drives the real page (package web) served by the real
// server (package server) with a freshly built engine (./wasm), in headless
// Chromium with WebGPU (SwiftShader on machines without a GPU):
//
//	go test ./server/webtest -run Browser -v
//
// Subtests: page (every section, on the engine's CPU path), webgpu (the
// same run on WebGPU: equal losses, pause and resume), roberta (SST-2,
// classify, the adapter on the CLI path), nowebgpu (a browser without an
// adapter, on a phone-sized screen), checkpoint (the user's own checkpoint
// through the file picker: a refusal for lack of memory, then a small GPT-2
// that loads, trains and generates) and pretrained (models/tiny-gpt2, when
// it is there).
//
// Screenshots go to $HUT_ARTIFACTS/web, else testdata-out/web at the
// repository root (git-ignored). CHROME_BIN overrides the browser; without
// one the test skips. HUT_WEBTEST_BACKEND=webgpu (or auto) runs the page
// subtest on WebGPU instead of the CPU path; HUT_WEBTEST_WASM=FILE uses a
// prebuilt engine instead of building ./wasm.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hutml/hut/internal/browsertest"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/data"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/model/roberta"
	"github.com/hutml/hut/core/tokenizer"
	datasets "github.com/hutml/hut/data"
	"github.com/hutml/hut/server"
	"github.com/hutml/hut/web"
)

// repoRoot is the module root, relative to this package.
const repoRoot = "../.."

// artifactsDir is where screenshots and downloads are kept for people to
// look at after the run.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HUT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot, "testdata-out")
	}
	dir = filepath.Join(dir, "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// buildEngine compiles ./wasm with the server's own build function, or
// returns $HUT_WEBTEST_WASM, a prebuilt engine (wasm_exec.js next to it).
func buildEngine(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HUT_WEBTEST_WASM"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return abs
	}
	pkg := filepath.Join(repoRoot, "wasm")
	if ok, _ := server.HasGoFiles(pkg); !ok {
		t.Fatalf("the engine package %s has no Go files", pkg)
	}
	trackSources(t, "./wasm")
	start := time.Now()
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := server.BuildWasm(ctx, pkg, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the engine in %s", time.Since(start).Round(time.Millisecond))
	return p
}

// trackSources reads every file of the module packages the engine is built
// from: go test caches a result by the files the test opens, and the wasm
// sources are compiled by a subprocess, so without this an edit to them
// would not re-run the test.
func trackSources(t *testing.T, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}{{end}}", pkg)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list the engine's packages: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && p != dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				os.ReadFile(p)
			}
			return nil
		})
	}
}

// checkpoint is a model directory the page can train.
type checkpoint struct {
	name string // the subdirectory of the models directory
	dir  string
}

// testModels writes a random tiny GPT-2 (2 layers, width 32) and a random
// tiny RoBERTa (the same size) with the real GPT-2 and RoBERTa tokenizer
// files into a temporary models directory: quick to train anywhere, and
// deterministic.
func testModels(t *testing.T) (modelsDir string, g, r checkpoint) {
	t.Helper()
	modelsDir = t.TempDir()
	g = checkpoint{name: "test-gpt2", dir: filepath.Join(modelsDir, "test-gpt2")}
	gc := gpt2.Config{
		NLayer: 2, NHead: 2, NEmbd: 32, NPositions: 128, VocabSize: 50257,
		LayerNormEps: 1e-5, Activation: "gelu_new", BOSTokenID: 50256, EOSTokenID: 50256,
	}
	gm := gpt2.New(cpu.New(), gc)
	gm.Init(7)
	if err := gm.SaveHF(g.dir, "F16"); err != nil {
		t.Fatal(err)
	}
	if err := tokenizer.WriteFiles("gpt2", g.dir); err != nil {
		t.Fatal(err)
	}
	r = checkpoint{name: "test-roberta", dir: filepath.Join(modelsDir, "test-roberta")}
	rc := roberta.Base()
	rc.HiddenSize, rc.NumHiddenLayers, rc.NumAttentionHeads, rc.IntermediateSize, rc.MaxPositionEmbeddings = 32, 2, 2, 64, 130
	rc.HiddenDropoutProb, rc.AttentionProbsDropoutProb = 0, 0 // a loss that falls step after step
	rm := roberta.New(cpu.New(), rc, roberta.HeadMLM)
	rm.Init(7)
	if err := rm.SaveHF(r.dir, "F16"); err != nil {
		t.Fatal(err)
	}
	if err := tokenizer.WriteFiles("roberta", r.dir); err != nil {
		t.Fatal(err)
	}
	return modelsDir, g, r
}

// pretrained returns models/tiny-gpt2 when the pretrained checkpoint is
// there (config.json, model.safetensors and the tokenizer files).
func pretrained() (modelsDir string, ck checkpoint, ok bool) {
	dir, err := filepath.Abs(filepath.Join(repoRoot, "models", "tiny-gpt2"))
	if err != nil {
		return "", ck, false
	}
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return "", ck, false
		}
	}
	if _, err := gpt2.ReadConfig(dir); err != nil {
		return "", ck, false
	}
	return filepath.Dir(dir), checkpoint{name: "tiny-gpt2", dir: dir}, true
}

// startServer runs the real handler on a loopback port, as hut serve does.
func startServer(t *testing.T, modelsDir, wasmPath string) string {
	t.Helper()
	h, err := server.New(server.Options{
		Web:       web.Files,
		ModelsDir: modelsDir,
		WasmPath:  wasmPath,
		Data:      server.OpenerFS(datasets.List(), datasets.Open),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, h, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return server.URL(ln.Addr())
}

// browserPage is one headless Chromium tab with the page's console kept.
type browserPage struct {
	*browsertest.Tab
	t *testing.T
}

func (p *browserPage) log(s string) { p.Logf("%s", s) }

func newBrowser(t *testing.T, timeout time.Duration) *browserPage {
	t.Helper()
	return newBrowserGPU(t, timeout, true)
}

// newBrowserGPU starts Chromium with WebGPU (SwiftShader without a GPU)
// or without it (no --enable-unsafe-webgpu: navigator.gpu is there, but no
// adapter, as on browsers that block the machine's GPU).
func newBrowserGPU(t *testing.T, timeout time.Duration, webgpu bool) *browserPage {
	t.Helper()
	tab := browsertest.Open(t, browsertest.Options{NoWebGPU: !webgpu, Timeout: timeout, Width: 1280, Height: 1000,
		What: "this test of the browser demo"})
	return &browserPage{Tab: tab, t: t}
}

func (p *browserPage) exceptions() []string { return p.Exceptions() }

// eval runs a JavaScript expression (awaited when it is a Promise) and
// decodes its JSON value.
func eval[T any](p *browserPage, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.Ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v\n%s", expr, err, p.statusLine())
	}
	return v
}

func (p *browserPage) statusLine() string {
	s, err := chromedp.Run(p.Ctx, chromedp.Evaluate[string](`(document.getElementById('status')||{}).textContent + ' | phase=' + document.body.dataset.phase`))
	if err != nil {
		return "(page status unavailable: " + err.Error() + ")"
	}
	return "page status: " + s
}

// waitFor polls a JavaScript condition until it is true.
func (p *browserPage) waitFor(what, cond string, timeout time.Duration) {
	p.t.Helper()
	start := time.Now()
	_, err := chromedp.Run(p.Ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		p.t.Fatalf("waiting for %s (%s): %v\n%s\nerrors: %v", what, cond, err, p.statusLine(), p.pageErrors())
	}
	p.t.Logf("%s after %s", what, time.Since(start).Round(10*time.Millisecond))
}

func (p *browserPage) pageErrors() []string {
	v, err := chromedp.Run(p.Ctx, chromedp.Evaluate[[]string](`window.hutDemo ? window.hutDemo.state.errors : []`))
	if err != nil {
		return nil
	}
	return v
}

// downloadsTo makes Chromium save downloads into dir/downloads, which it
// returns.
func (p *browserPage) downloadsTo(dir string) string {
	p.t.Helper()
	dl := filepath.Join(dir, "downloads")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(p.Ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl,
	}); err != nil {
		p.t.Fatalf("set the download folder: %v", err)
	}
	return dl
}

func (p *browserPage) click(id string) {
	p.t.Helper()
	if err := chromedp.Do(p.Ctx, chromedp.Click(chromedp.ID(id), chromedp.NodeVisible)); err != nil {
		p.t.Fatalf("click #%s: %v", id, err)
	}
}

// screenshot saves a PNG of the whole page (elementID ""), of the
// viewport ("viewport") or of one element.
func (p *browserPage) screenshot(dir, name, elementID string) {
	p.t.Helper()
	var png []byte
	var err error
	switch elementID {
	case "":
		png, err = chromedp.Run(p.Ctx, chromedp.FullScreenshot(100))
	case "viewport":
		png, err = chromedp.Run(p.Ctx, chromedp.CaptureScreenshot())
	default:
		png, err = chromedp.Run(p.Ctx, chromedp.Screenshot(chromedp.ID(elementID), chromedp.NodeVisible))
	}
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	f := filepath.Join(dir, name+".png")
	if err := os.WriteFile(f, png, 0o644); err != nil {
		p.t.Error(err)
		return
	}
	p.t.Logf("screenshot %s (%d KB)", f, len(png)/1024)
}

type stepPoint [2]float64

type tryAnswer struct {
	Text      string    `json:"text"`
	IDs       []int     `json:"ids"`
	PromptIDs []int     `json:"promptIds"`
	Label     any       `json:"label"`
	Probs     []float64 `json:"probs"`
	Logits    []float64 `json:"logits"`
	Error     string    `json:"error"`
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestBrowserDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the browser demo test takes a minute or two; skipped with -short")
	}
	if _, err := browsertest.ChromeBin(); err != nil {
		t.Skipf("chromium not installed (%v); this test drives the browser demo in it (CI installs it)", err)
	}
	total := time.Now()
	art := artifactsDir(t)
	wasmPath := buildEngine(t)
	modelsDir, g, r := testModels(t)
	base := startServer(t, modelsDir, wasmPath)

	// The whole page runs on the engine's CPU path by default: on a
	// machine without a GPU, WebGPU is SwiftShader, several times slower
	// than the CPU path for a model this small, and the WebGPU subtest
	// below checks that path against this one.
	backend := os.Getenv("HUT_WEBTEST_BACKEND")
	if backend == "" {
		backend = "cpu"
	}
	var ref []float64
	t.Run("page", func(t *testing.T) { ref = testPage(t, base, g, art, backend) })
	t.Run("webgpu", func(t *testing.T) { testWebGPU(t, base, g, art, ref) })
	t.Run("roberta", func(t *testing.T) { testRoBERTa(t, base, r, art, backend) })
	t.Run("nowebgpu", func(t *testing.T) { testNoWebGPU(t, base, g, art) })
	t.Run("checkpoint", func(t *testing.T) { testOwnCheckpoint(t, base, art) })
	t.Run("pretrained", func(t *testing.T) {
		dir, ck, ok := pretrained()
		if !ok {
			t.Skip("models/tiny-gpt2 is not there (config.json, model.safetensors, vocab.json, merges.txt)")
		}
		testPretrained(t, startServer(t, dir, wasmPath), ck, art, backend)
	})
	t.Logf("the whole browser test took %s", time.Since(total).Round(time.Second))
}

// pageSteps is the length of the test's training run.
const pageSteps = 10

// demoQuery presets the form: four training examples and a batch of four,
// so that every step sees the same batch and the loss must fall step after
// step (no batch-to-batch noise), even on a random model whose frozen
// embeddings leave HUT little to learn from a varied set.
func demoQuery(ck checkpoint, steps int, backend string) string {
	return fmt.Sprintf("?model=%s&method=hut&r=4&lr=0.05&steps=%d&batch=4&seq=32&warmup=0&evalEvery=5&evalExamples=8&maxTrain=4&maxDev=16&cmpSteps=2&maxNew=16&backend=%s",
		ck.name, steps, backend)
}

// testPage drives every section of the page and returns the training
// losses.
func testPage(t *testing.T, base string, ck checkpoint, art, backend string) []float64 {
	p := newBrowser(t, 5*time.Minute)
	const steps = pageSteps
	q := demoQuery(ck, steps, backend)
	dl := p.downloadsTo(t.TempDir())

	// 1. The page loads, starts the engine, lists and loads the model.
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(base+q)); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the model and data loaded", `document.body.dataset.phase === 'ready'`, 90*time.Second)
	info := eval[map[string]any](p, `({boot: hutDemo.state.boot, badge: document.getElementById('backend-badge').textContent,
		banner: document.getElementById('gpu-banner').hidden ? '' : document.getElementById('gpu-banner').textContent,
		rows: document.querySelectorAll('#cost-table tbody tr').length, cost: document.getElementById('cost-table').innerText})`)
	t.Logf("engine: %v; banner: %q", info["badge"], info["banner"])
	if n, _ := info["rows"].(float64); n != 4 {
		t.Errorf("the cost table has %v rows, want 4 (HUT, HiRA, LoRA, Full):\n%v", info["rows"], info["cost"])
	}
	if cost, _ := info["cost"].(string); !strings.Contains(cost, "FLOP") || strings.Count(cost, "%") < 4 {
		t.Errorf("the cost table lacks parameter shares or FLOPs:\n%s", cost)
	}
	p.waitFor("the cost table", `document.querySelectorAll('#cost-table tbody td.num').length >= 12`, 30*time.Second)
	p.screenshot(art, "01-loaded", "")
	p.screenshot(art, "01-loaded-top", "viewport")

	// 2. Train: the loss falls, the charts and the teaching view are drawn.
	p.click("train-btn")
	p.waitFor("training started", `['running','done'].includes(document.body.dataset.phase)`, 60*time.Second)
	p.waitFor(fmt.Sprintf("%d training steps", steps), `document.body.dataset.phase === 'done'`, 3*time.Minute)
	losses := eval[[]stepPoint](p, `hutDemo.state.history.loss`)
	if len(losses) != steps {
		t.Fatalf("%d loss points, want %d: %v", len(losses), steps, losses)
	}
	var ls []float64
	for i, pt := range losses {
		if int(pt[0]) != i+1 || math.IsNaN(pt[1]) || math.IsInf(pt[1], 0) {
			t.Fatalf("loss point %d is %v", i, pt)
		}
		ls = append(ls, pt[1])
	}
	first, last := mean(ls[:3]), mean(ls[len(ls)-3:])
	t.Logf("training loss: %.4f → %.4f (first 3 / last 3 steps): %.4v", first, last, ls)
	if !(last < first-0.05) || !(ls[len(ls)-1] < ls[0]) {
		t.Errorf("the loss did not fall: first steps %.4f, last steps %.4f: %.4v", first, last, ls)
	}
	metric := eval[[]stepPoint](p, `hutDemo.state.history.metric`)
	if len(metric) < 2 {
		t.Errorf("validation points: %v, want at step 0 and later", metric)
	}
	for _, id := range []string{"loss-chart", "metric-chart", "hm-a", "hm-b", "hm-w0", "hm-wp", "hm-dw", "sc-main", "sc-delta"} {
		if ink := eval[float64](p, fmt.Sprintf(`hutDemo.ink(%q)`, id)); ink < 0.01 {
			t.Errorf("canvas #%s is (almost) empty: %.4f of its pixels drawn", id, ink)
		}
	}
	teach := eval[map[string]string](p, `({formula: document.getElementById('formula').textContent, facts: document.getElementById('facts').textContent,
		corr: document.getElementById('tc-corr').textContent, acorr: document.getElementById('tc-acorr').textContent})`)
	for _, want := range []string{"diag(a)", "ℝ", "degrees of freedom"} {
		if !strings.Contains(teach["formula"], want) {
			t.Errorf("the formula lacks %q: %q", want, teach["formula"])
		}
	}
	for _, want := range []string{"Effective degrees of freedom", "learning-rate multiplier"} {
		if !strings.Contains(teach["facts"], want) {
			t.Errorf("the facts lack %q", want)
		}
	}
	if teach["corr"] == "—" || teach["acorr"] == "—" {
		t.Errorf("correlations not shown: %v", teach)
	}
	stats := eval[map[string]string](p, `({tps: document.getElementById('st-tps').textContent, backend: document.getElementById('st-backend').textContent})`)
	if stats["tps"] == "—" || stats["backend"] == "—" {
		t.Errorf("tokens/s or backend not shown: %v", stats)
	}
	p.screenshot(art, "02-trained", "")
	p.screenshot(art, "03-train-section", "train")
	p.screenshot(art, "04-teaching-view", "teach")

	// 3. Generate from a meaning representation, before and after.
	p.click("try-btn")
	p.waitFor("generation", `Number(document.getElementById('try-btn').dataset.done || 0) >= 3`, 60*time.Second)
	after := eval[tryAnswer](p, `hutDemo.state.lastTry.answer`)
	before := eval[tryAnswer](p, `hutDemo.state.before.get(hutDemo.state.lastTry.key) || {}`)
	if after.Error != "" || len(after.PromptIDs) == 0 || len(after.IDs) == 0 {
		t.Fatalf("generation after training: %+v", after)
	}
	t.Logf("before: %q\nafter:  %q", before.Text, after.Text)
	if len(before.PromptIDs) == 0 || !slices.Equal(before.PromptIDs, after.PromptIDs) {
		t.Errorf("no “before” answer recorded at step 0 for the same input: %+v", before)
	}
	p.screenshot(art, "05-try", "try")

	// 4. Download the adapter; the command line's library code loads it and
	// predicts exactly the tokens the browser generated.
	p.click("download-btn")
	cfgFile, wFile := filepath.Join(dl, "adapter_config.json"), filepath.Join(dl, "adapter_model.safetensors")
	waitFiles(t, 30*time.Second, cfgFile, wFile)
	checkCLI(t, ck.dir, dl, after)

	// 5. Upload the same files back: the page answers as before.
	if err := chromedp.Do(p.Ctx, chromedp.SetUploadFiles(chromedp.ID("upload"), []string{cfgFile, wFile})); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the uploaded adapter", `/Loaded the uploaded adapter/.test(document.getElementById('adapter-status').textContent)`, 60*time.Second)
	p.waitFor("generation with the uploaded adapter", `Number(document.getElementById('try-btn').dataset.done || 0) >= 4`, 60*time.Second)
	again := eval[tryAnswer](p, `hutDemo.state.lastTry.answer`)
	if !slices.Equal(again.IDs, after.IDs) {
		t.Errorf("after the upload the model generates %v, want %v", again.IDs, after.IDs)
	}

	// 6. Save in IndexedDB and load it back.
	p.click("save-btn")
	p.waitFor("the saved adapter", `document.querySelectorAll('#saved-table tbody button').length >= 2`, 30*time.Second)
	eval[bool](p, `(document.querySelector('#saved-table tbody button').click(), true)`)
	p.waitFor("generation with the saved adapter", `Number(document.getElementById('try-btn').dataset.done || 0) >= 5`, 60*time.Second)
	saved := eval[tryAnswer](p, `hutDemo.state.lastTry.answer`)
	if !slices.Equal(saved.IDs, after.IDs) {
		t.Errorf("after loading from IndexedDB the model generates %v, want %v", saved.IDs, after.IDs)
	}
	p.screenshot(art, "06-adapters", "adapters")

	// 7. HUT and LoRA side by side.
	p.click("cmp-btn")
	p.waitFor("the comparison", `['done','error'].includes(hutDemo.state.compare.phase)`, 3*time.Minute)
	cmp := eval[map[string]any](p, `({phase: hutDemo.state.compare.phase, status: document.getElementById('cmp-status').textContent,
		hut: hutDemo.state.compare.history.hut.loss.length, lora: hutDemo.state.compare.history.lora.loss.length,
		ink: [hutDemo.ink('cmp-loss'), hutDemo.ink('cmp-metric'), hutDemo.ink('cmp-sc-hut'), hutDemo.ink('cmp-sc-lora')]})`)
	if cmp["phase"] != "done" || cmp["hut"] != float64(2) || cmp["lora"] != float64(2) {
		t.Errorf("comparison: %v", cmp)
	}
	if ink, _ := cmp["ink"].([]any); len(ink) == 4 {
		for i, v := range ink {
			if f, _ := v.(float64); f < 0.01 {
				t.Errorf("comparison canvas %d is empty (%v)", i, v)
			}
		}
	}
	p.screenshot(art, "07-compare", "compare")
	p.screenshot(art, "08-full-page", "")
	eval[bool](p, `(document.getElementById('cmp-stop').click(), true)`)

	if exc := p.exceptions(); len(exc) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", exc)
	}
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors: %v", errs)
	}
	return ls
}

// testWebGPU trains with the engine on WebGPU (the page's default,
// "auto"), pauses after three steps, checks the losses against the CPU
// path's (same run: same data, seed and schedule), then resumes and pauses
// again.
func testWebGPU(t *testing.T, base string, ck checkpoint, art string, ref []float64) {
	p := newBrowser(t, 4*time.Minute)
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(base+demoQuery(ck, pageSteps, "auto"))); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the model and data loaded", `document.body.dataset.phase === 'ready'`, 90*time.Second)
	info := eval[map[string]any](p, `({backend: hutDemo.state.boot.backend, note: hutDemo.state.boot.note || '',
		badge: document.getElementById('backend-badge').textContent,
		banner: document.getElementById('gpu-banner').hidden ? '' : document.getElementById('gpu-banner').innerText})`)
	t.Logf("%v; banner: %q", info["badge"], info["banner"])
	if info["backend"] != "webgpu" {
		// No adapter: the page must say so, and the CPU path runs.
		if banner, _ := info["banner"].(string); !strings.Contains(banner, "WebGPU is not in use") {
			t.Errorf("WebGPU is not used and the page does not say so clearly: %v", info)
		}
		t.Skipf("no WebGPU adapter in this browser (%v); the CPU path ran instead", info["note"])
	}
	p.click("train-btn")
	p.waitFor("3 training steps on WebGPU", `hutDemo.state.step >= 3`, 3*time.Minute)
	p.click("train-btn") // Pause
	p.waitFor("the pause", `document.body.dataset.phase === 'paused' && document.getElementById('train-btn').textContent === 'Resume' &&
		!hutDemo.training() && /^Paused at step \d+/.test(document.getElementById('status').textContent)`, time.Minute)
	losses := eval[[]stepPoint](p, `hutDemo.state.history.loss`)
	if len(losses) < 3 || len(losses) >= pageSteps {
		t.Fatalf("%d loss points after the pause, want 3 or a few more", len(losses))
	}
	for i, pt := range losses {
		if i < len(ref) {
			if d := math.Abs(pt[1] - ref[i]); d > 2e-3 {
				t.Errorf("step %d: loss %.6f on WebGPU, %.6f on the CPU path", i+1, pt[1], ref[i])
			}
		}
	}
	if len(ref) == 0 {
		t.Log("no CPU-path losses to compare with (run the page subtest too)")
	}
	t.Logf("WebGPU losses %v, CPU path %.6v", losses, ref[:min(len(losses), len(ref))])
	stats := eval[map[string]string](p, `({tps: document.getElementById('st-tps').textContent, backend: document.getElementById('st-backend').textContent})`)
	if !strings.Contains(stats["backend"], "WebGPU") || stats["tps"] == "—" {
		t.Errorf("the stats do not show WebGPU and tokens/s: %v", stats)
	}
	paused := len(losses)
	p.click("train-btn") // Resume
	p.waitFor("one more step after resuming", fmt.Sprintf(`hutDemo.state.step > %d`, paused), 2*time.Minute)
	p.click("train-btn") // Pause again
	p.waitFor("the second pause", `document.body.dataset.phase === 'paused' && !hutDemo.training()`, time.Minute)
	p.screenshot(art, "09-webgpu-train", "train")
	if exc := p.exceptions(); len(exc) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", exc)
	}
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors: %v", errs)
	}
}

// testRoBERTa trains the tiny RoBERTa on SST-2, classifies a sentence,
// and checks the downloaded adapter (classifier included, as PEFT's
// modules_to_save) on the command line's library path: the same logits.
func testRoBERTa(t *testing.T, base string, ck checkpoint, art, backend string) {
	p := newBrowser(t, 3*time.Minute)
	dl := p.downloadsTo(t.TempDir())
	const steps = 4
	q := fmt.Sprintf("?model=%s&method=hut&r=4&lr=0.01&steps=%d&batch=4&seq=32&warmup=0&evalEvery=2&evalExamples=8&maxTrain=4&maxDev=16&backend=%s",
		ck.name, steps, backend)
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(base+q)); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the model and data loaded", `document.body.dataset.phase === 'ready'`, 90*time.Second)
	ui := eval[map[string]any](p, `({task: document.getElementById('task-line').textContent, sst2: !document.getElementById('try-sst2').hidden,
		e2e: !document.getElementById('try-e2e').hidden, btn: document.getElementById('try-btn').textContent,
		targets: Array.from(document.querySelectorAll('input[name=target]:checked')).map(c => c.value)})`)
	if task, _ := ui["task"].(string); !strings.Contains(task, "SST-2") || ui["sst2"] != true || ui["e2e"] != false || ui["btn"] != "Classify" {
		t.Errorf("the page is not set up for SST-2: %v", ui)
	}
	p.click("train-btn")
	p.waitFor(fmt.Sprintf("%d SST-2 steps", steps), `document.body.dataset.phase === 'done'`, 2*time.Minute)
	losses := eval[[]stepPoint](p, `hutDemo.state.history.loss`)
	metric := eval[[]stepPoint](p, `hutDemo.state.history.metric`)
	t.Logf("SST-2 losses %v, accuracy %v", losses, metric)
	if len(losses) != steps || !(losses[steps-1][1] < losses[0][1]-0.05) {
		t.Errorf("SST-2 training loss did not fall: %v", losses)
	}
	for _, m := range metric {
		if m[1] < 0 || m[1] > 1 {
			t.Errorf("accuracy %v out of [0, 1]", m)
		}
	}
	if name := eval[string](p, `document.getElementById('st-metric-name').textContent`); !strings.Contains(name, "accuracy") {
		t.Errorf("the metric is called %q, want an accuracy", name)
	}
	sentence := "a gorgeous, witty and deeply moving film"
	eval[bool](p, fmt.Sprintf(`(document.getElementById('sentence').value = %q, true)`, sentence))
	done := eval[float64](p, `Number(document.getElementById('try-btn').dataset.done || 0)`)
	p.click("try-btn")
	p.waitFor("the classification", fmt.Sprintf(`Number(document.getElementById('try-btn').dataset.done || 0) > %v`, done), time.Minute)
	ans := eval[tryAnswer](p, `hutDemo.state.lastTry.answer`)
	if ans.Error != "" || len(ans.Probs) != 2 || len(ans.Logits) != 2 || math.Abs(ans.Probs[0]+ans.Probs[1]-1) > 1e-6 {
		t.Fatalf("classification: %+v", ans)
	}
	shown := eval[string](p, `document.getElementById('out-after').textContent`)
	if !strings.Contains(shown, "positive") || !strings.Contains(shown, "negative") || !strings.Contains(shown, "%") {
		t.Errorf("the classification is shown as %q", shown)
	}
	p.screenshot(art, "10-roberta-try", "try")

	p.click("download-btn")
	cfgFile, wFile := filepath.Join(dl, "adapter_config.json"), filepath.Join(dl, "adapter_model.safetensors")
	waitFiles(t, 30*time.Second, cfgFile, wFile)
	n, err := roberta.AdapterClassifier(dl)
	if err != nil || n != 2 {
		t.Fatalf("the adapter's classifier: %d outputs, %v", n, err)
	}
	m, err := roberta.Load(cpu.New(), ck.dir, roberta.HeadClassifier, roberta.LoadOptions{NumLabels: n})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.LoadAdapter(dl); err != nil {
		t.Fatalf("hut eval --adapter: %v", err)
	}
	tok, err := tokenizer.Load(ck.dir)
	if err != nil {
		t.Fatal(err)
	}
	task, err := data.LookupTask("sst2")
	if err != nil {
		t.Fatal(err)
	}
	exs, _, err := roberta.EncodeGLUETexts(tok, task, []data.Example{{Text1: sentence}}, 128)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Classify([][]int32{exs[0].Tokens})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range ans.Logits {
		if d := math.Abs(float64(logits[0][i]) - want); d > 1e-3 {
			t.Errorf("logit %d: %.6f on the CLI path, %.6f in the browser", i, logits[0][i], want)
		}
	}
	t.Logf("SST-2 logits: browser %.6v, CLI path %.6v", ans.Logits, logits[0])
	if exc := p.exceptions(); len(exc) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", exc)
	}
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors: %v", errs)
	}
}

// testNoWebGPU opens the page in a Chromium that offers no WebGPU adapter:
// the page must say so, train on the CPU path, and lay out on a phone.
func testNoWebGPU(t *testing.T, base string, ck checkpoint, art string) {
	p := newBrowserGPU(t, 2*time.Minute, false)
	if err := chromedp.Do(p.Ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(base+demoQuery(ck, 2, "auto"))); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the model and data loaded", `document.body.dataset.phase === 'ready'`, 90*time.Second)
	info := eval[map[string]any](p, `({backend: hutDemo.state.boot.backend, note: hutDemo.state.boot.note || '',
		badge: document.getElementById('backend-badge').textContent, level: document.getElementById('gpu-banner').dataset.level,
		banner: document.getElementById('gpu-banner').hidden ? '' : document.getElementById('gpu-banner').innerText,
		overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth})`)
	t.Logf("without WebGPU: %v", info)
	banner, _ := info["banner"].(string)
	if info["backend"] != "cpu" || info["level"] != "bad" || !strings.Contains(banner, "WebGPU is not in use") ||
		!strings.Contains(banner, "Chrome or Edge 113+") || !strings.Contains(banner, "could not be used") {
		t.Errorf("without WebGPU the page does not say so clearly: %v", info)
	}
	if badge, _ := info["badge"].(string); !strings.Contains(badge, "CPU") {
		t.Errorf("the engine badge says %q", badge)
	}
	if o, _ := info["overflow"].(float64); o > 0 {
		bis := eval[[]string](p, `(() => { const out = []; for (const e of document.querySelectorAll('body *')) { const d = e.style.display; e.style.display = 'none';
			const w = document.documentElement.scrollWidth; e.style.display = d; if (w <= document.documentElement.clientWidth) out.push(e.tagName + '#' + e.id + '.' + e.className); if (out.length > 10) break; } return out; })()`)
		t.Errorf("on a 390 px wide phone the page scrolls sideways by %v px; hiding any of these removes it: %v", o, bis)
	}
	p.click("train-btn")
	p.waitFor("2 steps on the CPU path", `document.body.dataset.phase === 'done'`, time.Minute)
	eval[bool](p, `(window.scrollTo(0, 0), true)`)
	p.screenshot(art, "12-no-webgpu-phone", "viewport")
}

// testPretrained loads the project's pretrained tiny GPT-2 in the page,
// trains two steps and generates from a meaning representation.
func testPretrained(t *testing.T, base string, ck checkpoint, art, backend string) {
	p := newBrowser(t, 4*time.Minute)
	q := fmt.Sprintf("?model=%s&method=hut&r=8&lr=0.01&steps=2&batch=2&seq=32&warmup=0&evalEvery=2&evalExamples=4&maxTrain=8&maxDev=8&maxNew=12&backend=%s", ck.name, backend)
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(base+q)); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the pretrained model loaded", `document.body.dataset.phase === 'ready'`, 2*time.Minute)
	p.click("train-btn")
	p.waitFor("2 steps", `document.body.dataset.phase === 'done'`, 3*time.Minute)
	ans := eval[tryAnswer](p, `hutDemo.state.lastTry.answer`)
	losses := eval[[]stepPoint](p, `hutDemo.state.history.loss`)
	t.Logf("tiny-gpt2: losses %v; generated %q", losses, ans.Text)
	if ans.Error != "" || len(ans.IDs) == 0 || len(losses) != 2 {
		t.Errorf("the pretrained model did not train and generate: %+v, %v", ans, losses)
	}
	p.screenshot(art, "11-pretrained", "")
	if exc := p.exceptions(); len(exc) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", exc)
	}
}

// waitFiles waits until the files exist and Chromium has finished writing
// them (no .crdownload left).
func waitFiles(t *testing.T, timeout time.Duration, files ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, f := range files {
			if st, err := os.Stat(f); err != nil || st.Size() == 0 {
				ok = false
			}
			if _, err := os.Stat(f + ".crdownload"); err == nil {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir(filepath.Dir(files[0]))
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("downloads not complete after %s: have %v", timeout, names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkCLI loads the checkpoint and the downloaded adapter the way
// `hut forward --model DIR --adapter DIR` does (gpt2.Load, LoadAdapter,
// Logits) and checks that, fed the browser's prompt and generated tokens,
// it predicts each generated token (greedy decoding is argmax), and that
// the adapter changes the base model's outputs.
func checkCLI(t *testing.T, modelDir, adapterDir string, gen tryAnswer) {
	t.Helper()
	var cfg map[string]any
	b, err := os.ReadFile(filepath.Join(adapterDir, "adapter_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("adapter_config.json: %v", err)
	}
	if cfg["peft_type"] != "HUT" {
		t.Errorf("adapter_config.json: peft_type %v, want HUT", cfg["peft_type"])
	}
	load := func(withAdapter bool) *gpt2.Model {
		m, err := gpt2.Load(cpu.New(), modelDir)
		if err != nil {
			t.Fatal(err)
		}
		if withAdapter {
			if err := m.LoadAdapter(adapterDir); err != nil {
				t.Fatalf("hut forward --adapter: %v", err)
			}
		}
		return m
	}
	seq := append(slices.Clone(gen.PromptIDs), gen.IDs...)
	toks := make([]int32, len(seq)-1)
	for i, v := range seq[:len(seq)-1] {
		toks[i] = int32(v)
	}
	m := load(true)
	logits, _, err := m.Logits(toks)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Cfg.VocabSize
	for k, want := range gen.IDs {
		pos := len(gen.PromptIDs) - 1 + k
		row := logits[pos*V : (pos+1)*V]
		best := 0
		for i, v := range row {
			if v > row[best] {
				best = i
			}
		}
		if best != want {
			// WebGPU and the CPU round differently: accept a near tie only.
			if gap := row[best] - row[want]; gap > 1e-3 {
				t.Errorf("token %d: the CLI path predicts %d (logit %.5f), the browser generated %d (logit %.5f)", k, best, row[best], want, row[want])
			}
		}
	}
	base, _, err := load(false).Logits(toks)
	if err != nil {
		t.Fatal(err)
	}
	diff := 0.0
	for i := range base {
		diff = math.Max(diff, math.Abs(float64(base[i]-logits[i])))
	}
	t.Logf("CLI path: %d generated tokens re-predicted; the adapter moves the logits by up to %.4g", len(gen.IDs), diff)
	if diff < 1e-5 {
		t.Errorf("the downloaded adapter does not change the model's outputs (max |Δlogit| = %g)", diff)
	}
}
