//go:build !js

package webgpu

// The parity tests build internal/paritytest for GOOS=js GOARCH=wasm,
// serve it on 127.0.0.1 and run it in headless Chromium with WebGPU
// (SwiftShader on machines without a GPU). Inside the page every op runs
// on the CPU backend and on the WebGPU backend with the same inputs, and
// each comparison comes back as one JSON record.
//
//	go test ./core/webgpu/ -run Parity -v         # all configs
//	HUT_PARITY_FILTER=attention go test ./core/webgpu/ -run Parity
//	go test ./core/webgpu/ -run '^$' -bench MatMul  # GEMM GFLOP/s
//
// CHROME_BIN overrides the browser; without one the tests skip.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hutml/hut/internal/browsertest"
	"github.com/hutml/hut/server"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const indexHTML = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>hut WebGPU parity</title>
<script src="wasm_exec.js"></script>
<script>
window.hutLoad = (async () => {
  const go = new Go();
  const { instance } = await WebAssembly.instantiateStreaming(fetch('parity.wasm'), go.importObject);
  go.run(instance); // not awaited: it resolves only when Go's main returns
  while (!window.__hutReady) await new Promise(r => setTimeout(r, 5));
  return true;
})();
</script></head><body>hut WebGPU parity</body></html>
`

var (
	siteOnce sync.Once
	siteDir  string
	siteErr  error
)

// buildSite compiles the parity program to wasm once per test binary and
// lays out the page next to it.
func buildSite(t testing.TB) string {
	t.Helper()
	siteOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hut-webgpu-parity-")
		if err != nil {
			siteErr = err
			return
		}
		siteDir = dir
		start := time.Now()
		if err := trackSources(); err != nil {
			siteErr = err
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "parity.wasm"), "./internal/paritytest")
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOFLAGS="+browsertest.WasmGoflags(os.Getenv("GOFLAGS")))
		if out, err := cmd.CombinedOutput(); err != nil {
			siteErr = fmt.Errorf("building the wasm parity program: %v\n%s", err, out)
			return
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
		siteErr = os.WriteFile(filepath.Join(dir, "index.html"), []byte(indexHTML), 0o644)
		t.Logf("built parity.wasm in %v", time.Since(start).Round(time.Millisecond))
	})
	if siteErr != nil {
		t.Fatal(siteErr)
	}
	return siteDir
}

// trackSources reads every file of the module packages the wasm program is
// built from. go test caches a result by the files the test opens; the
// wasm-only sources (and the WGSL kernels) are compiled by a subprocess,
// so without this an edit to them would not re-run the test.
func trackSources() error {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}{{end}}", "./internal/paritytest")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "GOFLAGS="+browsertest.WasmGoflags(os.Getenv("GOFLAGS")))
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("go list the wasm program's packages: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
		if filepath.Base(dir) == "webgpu" { // the embedded kernels
			ks, _ := filepath.Glob(filepath.Join(dir, "kernels", "*"))
			for _, k := range ks {
				if _, err := os.ReadFile(k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if siteDir != "" {
		os.RemoveAll(siteDir)
	}
	os.Exit(code)
}

// page is a headless Chromium tab with the parity program loaded.
type page struct{ *browsertest.Tab }

// openPage starts Chromium with WebGPU enabled, serves the site and waits
// until the Go program is ready. Console output is kept for failures.
func openPage(t testing.TB, timeout time.Duration) *page {
	t.Helper()
	tab := browsertest.Open(t, browsertest.Options{Timeout: timeout, What: "the WebGPU parity tests"})
	dir := buildSite(t)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir))) // 127.0.0.1 is a secure context
	t.Cleanup(srv.Close)
	if err := chromedp.Do(tab.Ctx, chromedp.Navigate(srv.URL+"/index.html")); err != nil {
		t.Fatalf("navigate: %v", err)
	}
	if _, err := chromedp.Run(tab.Ctx, chromedp.Evaluate[bool](`window.hutLoad`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("loading parity.wasm: %v", err)
	}
	return &page{tab}
}

// eval evaluates a JS expression returning (a promise of) a string.
func (p *page) eval(expr string) (string, error) {
	return chromedp.Run(p.Ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
}

type parityResult struct {
	Check  string  `json:"check"`
	Op     string  `json:"op"`
	Shape  string  `json:"shape"`
	MaxErr float64 `json:"maxErr"`
	Scale  float64 `json:"scale"`
	Tol    float64 `json:"tol"`
	OK     bool    `json:"ok"`
	Err    string  `json:"err"`
	Ms     float64 `json:"ms"`
}

type parityReport struct {
	Config  string          `json:"config"`
	Info    json.RawMessage `json:"info"`
	Results []parityResult  `json:"results"`
	Stats   json.RawMessage `json:"stats"`
}

// TestWebGPUParity runs every registered check in each config and fails
// naming the check, the op, the shape and the max error.
func TestWebGPUParity(t *testing.T) {
	start := time.Now()
	p := openPage(t, 4*time.Minute)
	t.Logf("browser ready in %v", time.Since(start).Round(time.Millisecond))
	filter := os.Getenv("HUT_PARITY_FILTER")
	for _, config := range []string{"default", "tiled", "split", "tree"} {
		t.Run(config, func(t *testing.T) {
			t0 := time.Now()
			out, err := p.eval(fmt.Sprintf("hutParity(%q, %q)", config, filter))
			if err != nil {
				t.Fatalf("hutParity(%q): %v", config, err)
			}
			var rep parityReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("decoding the report: %v\n%s", err, out)
			}
			t.Logf("adapter and limits: %s", rep.Info)
			t.Logf("gpu work: %s", rep.Stats)
			if len(rep.Results) == 0 && filter == "" {
				t.Fatal("no results")
			}
			worst := map[string]parityResult{}
			dur := map[string]float64{}
			var order []string
			for _, r := range rep.Results {
				if _, ok := dur[r.Check]; !ok {
					order = append(order, r.Check)
				}
				dur[r.Check] = max(dur[r.Check], r.Ms)
				if !r.OK {
					t.Errorf("%s: %s [%s]: max abs err %.3g > %.0e × scale %.3g: %s", r.Check, r.Op, r.Shape, r.MaxErr, r.Tol, r.Scale, r.Err)
				}
				key := r.Check + ": " + strings.SplitN(r.Op, "#", 2)[0]
				if w, ok := worst[key]; !ok || r.MaxErr/r.Scale > w.MaxErr/w.Scale {
					worst[key] = r
				}
			}
			keys := make([]string, 0, len(worst))
			for k := range worst {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				w := worst[k]
				t.Logf("%-60s max err %.2e (scale %.3g) worst shape %s", k, w.MaxErr, w.Scale, w.Shape)
			}
			for _, c := range order {
				t.Logf("check %-22s %8.0f ms", c, dur[c])
			}
			t.Logf("%d comparisons in %v", len(rep.Results), time.Since(t0).Round(time.Millisecond))
		})
	}
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkWebGPUMatMul reports the WebGPU GEMM rate for a square problem
// of HUT_BENCH_SIZE (default 256) with the kernel of HUT_BENCH_KERNEL
// (auto, blocked or tiled), both orientations a linear layer uses.
func BenchmarkWebGPUMatMul(b *testing.B) {
	n := envInt("HUT_BENCH_SIZE", 256)
	kernel := os.Getenv("HUT_BENCH_KERNEL")
	if kernel == "" {
		kernel = "auto"
	}
	p := openPage(b, 10*time.Minute)
	for _, o := range []struct {
		name   string
		tA, tB bool
	}{{"NT", false, true}, {"NN", false, false}, {"TN", true, false}} {
		b.Run(fmt.Sprintf("%s/%d", o.name, n), func(b *testing.B) {
			out, err := p.eval(fmt.Sprintf("hutBenchMatMul(%d, %d, %d, %v, %v, %d, %q)", n, n, n, o.tA, o.tB, max(b.N, 1), kernel))
			if err != nil {
				b.Fatal(err)
			}
			var r struct {
				GFLOPS  float64 `json:"gflops"`
				Ms      float64 `json:"ms"`
				Kernel  string  `json:"kernel"`
				Adapter string  `json:"adapter"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(r.GFLOPS, "GFLOP/s")
			b.ReportMetric(r.Ms, "ms/matmul")
			b.Logf("%s kernel on %s: %.3f GFLOP/s, %.2f ms per %d³ matmul", r.Kernel, r.Adapter, r.GFLOPS, r.Ms, n)
		})
	}
}

// BenchmarkWebGPUDispatch reports the cost of one small op (256 floats):
// the Go and JavaScript recording time and the total with GPU execution.
func BenchmarkWebGPUDispatch(b *testing.B) {
	p := openPage(b, 5*time.Minute)
	b.ResetTimer()
	out, err := p.eval(fmt.Sprintf("hutBenchDispatch(%d)", max(b.N, 100)))
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		RecordUs float64 `json:"recordUs"`
		TotalUs  float64 `json:"totalUs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.RecordUs, "µs-record/op")
	b.ReportMetric(r.TotalUs, "µs-total/op")
}
