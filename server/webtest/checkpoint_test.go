package webtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hutml/hut/core/cpu"
	"github.com/hutml/hut/core/model/gpt2"
	"github.com/hutml/hut/core/tokenizer"
)

// ownCheckpoints writes the two checkpoint folders of the "your own
// checkpoint" subtest: a random tiny GPT-2 in BF16 with the GPT-2
// tokenizer files and a README the page must ignore, and a folder whose
// config.json describes GPT-2 Large (774 M parameters) next to a stub
// model.safetensors of one tensor and no tokenizer files.
func ownCheckpoints(t *testing.T) (own, large string, params int) {
	t.Helper()
	dir := t.TempDir()
	own = filepath.Join(dir, "my-gpt2")
	gc := gpt2.Config{
		NLayer: 2, NHead: 2, NEmbd: 32, NPositions: 128, VocabSize: 50257,
		LayerNormEps: 1e-5, Activation: "gelu_new", BOSTokenID: 50256, EOSTokenID: 50256,
	}
	gm := gpt2.New(cpu.New(), gc)
	gm.Init(11)
	if err := gm.SaveHF(own, "BF16"); err != nil {
		t.Fatal(err)
	}
	if err := tokenizer.WriteFiles("gpt2", own); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(own, "README.md"), []byte("# my-gpt2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	large = filepath.Join(dir, "gpt2-large")
	if err := os.MkdirAll(large, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": 36, "n_embd": 1280, "n_head": 20,
  "n_positions": 1024, "n_ctx": 1024, "vocab_size": 50257, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}`
	if err := os.WriteFile(filepath.Join(large, "config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// a valid safetensors file holding one F32 tensor of two numbers
	head := []byte(`{"wte.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)
	for len(head)%8 != 0 {
		head = append(head, ' ')
	}
	st := binary.LittleEndian.AppendUint64(nil, uint64(len(head)))
	st = append(append(st, head...), make([]byte, 8)...)
	if err := os.WriteFile(filepath.Join(large, "model.safetensors"), st, 0o644); err != nil {
		t.Fatal(err)
	}
	return own, large, gm.NumParams()
}

// testOwnCheckpoint drives "Your own checkpoint" in the model menu: a
// checkpoint too large for the tab is refused with the numbers before a
// weight is read; a small random GPT-2 chosen through the folder picker
// (or, where Chromium cannot set a folder, the file picker) is checked,
// loaded through hut.loadModel({files}), trains two steps on the CPU path
// and generates.
func testOwnCheckpoint(t *testing.T, base, art string) {
	own, large, params := ownCheckpoints(t)
	p := newBrowser(t, 2*time.Minute)
	q := "?model=local&method=hut&r=4&lr=0.05&steps=2&batch=4&seq=32&warmup=0&evalEvery=2&evalExamples=8&maxTrain=4&maxDev=16&maxNew=8&cmpSteps=1&backend=cpu"
	if err := chromedp.Do(p.Ctx, chromedp.Navigate(base+q)); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the engine and the checkpoint picker", `document.body.dataset.phase === 'ready' && hutDemo.state.boot !== null &&
		!document.getElementById('local-panel').hidden && document.getElementById('model').value === '__local__'`, 90*time.Second)

	// 1. GPT-2 Large on the CPU path: refused, with the numbers.
	if err := chromedp.Do(p.Ctx, chromedp.SetUploadFiles(chromedp.ID("local-files"),
		[]string{filepath.Join(large, "config.json"), filepath.Join(large, "model.safetensors")})); err != nil {
		t.Fatal(err)
	}
	p.waitFor("the refusal", `document.getElementById('local-verdict').dataset.level === 'refuse'`, 10*time.Second)
	refused := eval[map[string]any](p, `({verdict: document.getElementById('local-verdict').textContent,
		role: document.getElementById('local-verdict').getAttribute('role'),
		list: document.getElementById('local-check').innerText, load: document.getElementById('local-load').disabled})`)
	t.Logf("refused: %v", refused["verdict"])
	verdict := text(refused["verdict"])
	for _, want := range []string{"Too large for this tab", "774.0 M parameters", "GiB of WebAssembly memory on the CPU path", "at most 4 GiB", "hut train"} {
		if !strings.Contains(verdict, want) {
			t.Errorf("the refusal lacks %q: %q", want, verdict)
		}
	}
	list := text(refused["list"])
	for _, want := range []string{"774.0 M parameters", "borrows", "test-gpt2", "limit 4 GiB", "may not belong together"} {
		if !strings.Contains(list, want) {
			t.Errorf("the file check lacks %q:\n%s", want, list)
		}
	}
	if refused["load"] != true || refused["role"] != "alert" {
		t.Errorf("a refused checkpoint must not be loadable and the refusal must be an alert: %v", refused)
	}
	p.screenshot(art, "13-own-checkpoint-refused", "setup")

	// 2. A small GPT-2: the folder picker (webkitdirectory), else the files.
	how := "folder"
	if err := chromedp.Do(p.Ctx, chromedp.SetUploadFiles(chromedp.ID("local-dir"), []string{own})); err != nil {
		t.Logf("Chromium cannot set a folder on the webkitdirectory input (%v): choosing the files instead", err)
		how = "files"
	} else if _, err := chromedp.Run(p.Ctx, chromedp.Poll[bool](`hutDemo.state.local.name === 'my-gpt2'`,
		chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Logf("the folder was not read (%v; %v usable files): choosing the files instead", err,
			eval[float64](p, `Object.keys(hutDemo.state.local.pick.files).length`))
		how = "files"
	}
	if how == "files" {
		var files []string
		for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json", "README.md"} {
			files = append(files, filepath.Join(own, f))
		}
		if err := chromedp.Do(p.Ctx, chromedp.SetUploadFiles(chromedp.ID("local-files"), files)); err != nil {
			t.Fatal(err)
		}
	}
	p.waitFor("the check of my-gpt2", `document.getElementById('local-verdict').dataset.level === 'ok' && !document.getElementById('local-load').disabled`, 10*time.Second)
	ok := eval[map[string]any](p, `({verdict: document.getElementById('local-verdict').textContent, list: document.getElementById('local-check').innerText,
		name: hutDemo.state.local.name, heap: hutDemo.state.local.est.heap, state: hutDemo.state.local.est.S})`)
	if st, _ := ok["state"].(float64); !(st > 0) {
		t.Errorf("the estimate counts no training state for HUT: %v", ok["state"])
	}
	t.Logf("picked by %s: %v", how, ok["verdict"])
	list = text(ok["list"])
	for _, want := range []string{"BF16", "converted to fp32", "vocab.json + merges.txt", "README.md", "Training state"} {
		if !strings.Contains(strings.ToLower(list), strings.ToLower(want)) {
			t.Errorf("the file check lacks %q:\n%s", want, list)
		}
	}
	if v := text(ok["verdict"]); !strings.HasPrefix(v, "Fits:") {
		t.Errorf("verdict %q, want Fits", v)
	}
	p.screenshot(art, "13-own-checkpoint-picker", "setup")

	// 3. Load it (the buffers move to the worker), train, generate.
	p.click("local-load")
	p.waitFor("my-gpt2 loaded", `document.body.dataset.phase === 'ready' && hutDemo.state.loadedKey.startsWith('local:')`, 60*time.Second)
	loaded := eval[map[string]any](p, `({params: hutDemo.state.modelInfo.params, name: hutDemo.state.modelInfo.name, badge: document.getElementById('model-badge').textContent,
		measured: hutDemo.state.local.measured.heap, est: hutDemo.state.local.est.heap, option: document.getElementById('model').selectedOptions[0].textContent,
		shown: (document.getElementById('local-measured') || {}).textContent || ''})`)
	t.Logf("loaded: %v", loaded)
	if loaded["params"] != float64(params) || loaded["name"] != ok["name"] {
		t.Errorf("the engine loaded %v, want %d parameters named %v", loaded, params, ok["name"])
	}
	if m, e := loaded["measured"].(float64), loaded["est"].(float64); !(m > 0 && m <= e) {
		t.Errorf("the engine's WebAssembly memory after loading is %v bytes, estimated peak %v: the estimate must not be below it", m, e)
	}
	if b, _ := loaded["badge"].(string); !strings.Contains(b, ok["name"].(string)) {
		t.Errorf("the model badge says %q", b)
	}
	p.click("train-btn")
	p.waitFor("2 steps of my-gpt2", `document.body.dataset.phase === 'done'`, 90*time.Second)
	losses := eval[[]stepPoint](p, `hutDemo.state.history.loss`)
	ans := eval[tryAnswer](p, `hutDemo.state.lastTry.answer`)
	t.Logf("my-gpt2: losses %v, generated %q", losses, ans.Text)
	if len(losses) != 2 {
		t.Errorf("losses %v, want 2 steps", losses)
	}
	for _, l := range losses {
		if math.IsNaN(l[1]) || math.IsInf(l[1], 0) {
			t.Errorf("loss %v", l)
		}
	}
	if ans.Error != "" || len(ans.PromptIDs) == 0 {
		t.Errorf("generation with my-gpt2: %+v", ans)
	}
	p.screenshot(art, "14-own-checkpoint-trained", "setup")
	heap := eval[float64](p, `hutDemo.heap().then((h) => h.wasmBytes)`)
	if est, _ := loaded["est"].(float64); heap > est {
		t.Errorf("after training the engine's WebAssembly memory is %.0f bytes, above the estimated %.0f", heap, est)
	}
	t.Logf("WebAssembly memory after training: %s (estimated peak %s)", mib(heap), mib(loaded["est"].(float64)))

	// 4. The side-by-side run reads the files again for its two engines.
	p.click("cmp-btn")
	p.waitFor("the comparison on my-gpt2", `['done','error'].includes(hutDemo.state.compare.phase)`, 90*time.Second)
	cmp := eval[map[string]any](p, `({phase: hutDemo.state.compare.phase, status: document.getElementById('cmp-status').textContent,
		hut: hutDemo.state.compare.history.hut.loss.length, lora: hutDemo.state.compare.history.lora.loss.length})`)
	if cmp["phase"] != "done" || cmp["hut"] != float64(1) || cmp["lora"] != float64(1) {
		t.Errorf("comparison on the user's checkpoint: %v", cmp)
	}
	eval[bool](p, `(document.getElementById('cmp-stop').click(), true)`)

	// 5. On a phone the picker and its table do not make the page scroll sideways.
	if err := chromedp.Do(p.Ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	if o := eval[float64](p, `(document.getElementById('local-panel').scrollIntoView(), document.documentElement.scrollWidth - document.documentElement.clientWidth)`); o > 0 {
		t.Errorf("on a 390 px wide phone the page with the checkpoint picker scrolls sideways by %v px", o)
	}
	p.screenshot(art, "15-own-checkpoint-phone", "viewport")
	if exc := p.exceptions(); len(exc) > 0 {
		t.Errorf("uncaught exceptions in the page: %v", exc)
	}
	if errs := p.pageErrors(); len(errs) > 0 {
		t.Errorf("the page reported errors: %v", errs)
	}
}

// text is a string of the page with its no-break spaces (between numbers
// and units) made plain.
func text(v any) string {
	s, _ := v.(string)
	return strings.ReplaceAll(s, "\u00a0", " ")
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
