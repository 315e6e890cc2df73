// Package browsertest starts headless Chromium for the project's browser
// tests (WebGPU parity, the wasm engine, the web app): one place for the
// binary lookup, the flags that turn WebGPU on (SwiftShader without a GPU),
// console capture and clean shutdown. Tests skip, with a message, only when
// no Chromium is installed; CI installs it.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromeBin finds Chromium: $CHROME_BIN, then the usual names on PATH,
// then Debian's paths.
func ChromeBin() (string, error) {
	if p := os.Getenv("CHROME_BIN"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/lib/chromium/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium, chromium-browser or google-chrome in PATH and CHROME_BIN unset")
}

// WasmGoflags drops the GOFLAGS that js/wasm does not support (race and
// sanitizer instrumentation, coverage) from a CI-wide setting.
func WasmGoflags(flags string) string {
	var keep []string
	for _, f := range strings.Fields(flags) {
		if strings.HasPrefix(f, "-race") || strings.HasPrefix(f, "-msan") || strings.HasPrefix(f, "-asan") || strings.HasPrefix(f, "-cover") {
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, " ")
}

// Options configure a browser.
type Options struct {
	// NoWebGPU leaves out --enable-unsafe-webgpu: navigator.gpu exists but
	// gives no adapter, as on browsers that block the machine's GPU.
	NoWebGPU bool
	// Timeout bounds everything done in the browser (a hung GPU process
	// never settles a promise).
	Timeout time.Duration
	// Width and Height set the window size (0: Chromium's default).
	Width, Height int
	// What is skipped without Chromium, for the skip message.
	What string
}

// Tab is one headless Chromium tab with its console kept.
type Tab struct {
	Ctx  context.Context
	mu   sync.Mutex
	logs []string
	exc  []string
}

// Logf appends a line to the tab's log (shown when the test fails).
func (p *Tab) Logf(format string, args ...any) {
	p.mu.Lock()
	p.logs = append(p.logs, fmt.Sprintf(format, args...))
	p.mu.Unlock()
}

// Logs returns the console lines so far.
func (p *Tab) Logs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.logs)
}

// Exceptions returns the page's uncaught exceptions so far.
func (p *Tab) Exceptions() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.exc)
}

// Open starts Chromium and opens a blank tab. Extra flags can be given in
// HUT_CHROME_FLAGS (e.g. "--use-angle=vulkan --enable-features=Vulkan" on a
// machine with a GPU). The console is logged when the test fails, or always
// with HUT_BROWSER_LOG set under -v.
func Open(t testing.TB, opt Options) *Tab {
	t.Helper()
	bin, err := ChromeBin()
	if err != nil {
		what := opt.What
		if what == "" {
			what = "this browser test"
		}
		t.Skipf("chromium not installed (%v); %s needs it (CI installs it)", err, what)
	}
	if opt.Timeout == 0 {
		opt.Timeout = 3 * time.Minute
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("enable-unsafe-webgpu", !opt.NoWebGPU),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.NoSandbox,
	)
	if opt.Width > 0 && opt.Height > 0 {
		opts = append(opts, chromedp.WindowSize(opt.Width, opt.Height))
	}
	for _, f := range strings.Fields(os.Getenv("HUT_CHROME_FLAGS")) {
		k, v, hasV := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if hasV {
			opts = append(opts, chromedp.Flag(k, v))
		} else {
			opts = append(opts, chromedp.Flag(k, true))
		}
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	cctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(cctx, opt.Timeout)
	p := &Tab{Ctx: ctx}
	t.Cleanup(func() {
		_ = chromedp.Cancel(cctx) // a graceful close; a kill leaves profile folders behind
		cancelT()
		cancelC()
		cancelA()
		if t.Failed() || testing.Verbose() && os.Getenv("HUT_BROWSER_LOG") != "" {
			for _, l := range p.Logs() {
				t.Log(l)
			}
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium %s: %v", bin, err)
	}
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			p.Logf("console.%s: %s", m.Type, m.Text)
			if m.IsException() {
				p.mu.Lock()
				p.exc = append(p.exc, m.Text)
				p.mu.Unlock()
			}
		}
	}()
	return p
}
