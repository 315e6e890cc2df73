package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveBuffer is a bytes.Buffer safe for concurrent use.
type serveBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *serveBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *serveBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type serveRun struct {
	base           string
	stdout, stderr *serveBuffer
	stop           func() int // cancels and returns the exit code
}

var serveURLRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+`)

// startServeCmd runs `hut serve args...` in-process until stop is called.
func startServeCmd(t *testing.T, args ...string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	old := serveContext
	serveContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	t.Cleanup(func() { serveContext = old })
	r := &serveRun{stdout: &serveBuffer{}, stderr: &serveBuffer{}}
	code := make(chan int, 1)
	go func() { code <- Main(append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), r.stdout, r.stderr) }()
	var once sync.Once
	exit := -1
	r.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(15 * time.Second):
				t.Error("hut serve did not stop")
			}
		})
		return exit
	}
	t.Cleanup(func() { r.stop() })
	deadline := time.Now().Add(2 * time.Minute) // a cold wasm build is slow
	for r.base == "" {
		select {
		case c := <-code:
			t.Fatalf("hut serve exited with %d before serving\nstdout: %s\nstderr: %s", c, r.stdout, r.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		r.base = serveURLRE.FindString(r.stdout.String())
		if time.Now().After(deadline) {
			t.Fatalf("no URL printed\nstderr: %s", r.stderr)
		}
	}
	return r
}

func (r *serveRun) get(t *testing.T, path string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(r.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

func TestServeWithoutEngine(t *testing.T) {
	models := t.TempDir()
	if err := os.MkdirAll(filepath.Join(models, "tiny"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(models, "tiny", "config.json"), []byte(`{"model_type":"gpt2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startServeCmd(t, "--wasm-pkg", t.TempDir(), "--models", models)
	if !strings.Contains(r.stdout.String(), "open "+r.base+"/") {
		t.Errorf("stdout %q", r.stdout)
	}
	if code, _, body := r.get(t, "/"); code != 200 || !strings.Contains(body, "loading") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, _, body := r.get(t, "/main.wasm"); code != 503 || !strings.Contains(body, "no .go files") {
		t.Errorf("/main.wasm: %d %q", code, body)
	}
	if code, _, body := r.get(t, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _, body := r.get(t, "/api/models"); code != 200 || !strings.Contains(body, `"tiny"`) {
		t.Errorf("/api/models: %d %q", code, body)
	}
	if code, h, _ := r.get(t, "/models/tiny/config.json"); code != 200 || h.Get("Content-Type") != "application/json" {
		t.Errorf("config.json: %d %q", code, h.Get("Content-Type"))
	}
	// The embedded data sets, read-only under /data/.
	if code, h, body := r.get(t, "/data/e2e/dev.csv"); code != 200 || h.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(body, "mr,ref") {
		t.Errorf("/data/e2e/dev.csv: %d %q %.40q", code, h.Get("Content-Type"), body)
	}
	if code, _, body := r.get(t, "/data/glue/sst2/dev.tsv"); code != 200 || !strings.HasPrefix(body, "sentence\tlabel") {
		t.Errorf("/data/glue/sst2/dev.tsv: %d %.40q", code, body)
	}
	if code, _, _ := r.get(t, "/data/glue/"); code != 404 {
		t.Errorf("/data/glue/: %d, want 404 (no listings)", code)
	}
	if c := r.stop(); c != 0 {
		t.Errorf("exit code %d; stderr %s", c, r.stderr)
	}
	errText := r.stderr.String()
	for _, want := range []string{"browser engine's Go package was not found", "/main.wasm answers 503", "GET /healthz 200 3B", "stopped"} {
		if !strings.Contains(errText, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errText)
		}
	}
}

func TestServePrebuiltWasmAndWebDir(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "engine.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm\x01\x00\x00\x00fake"), 0o644); err != nil {
		t.Fatal(err)
	}
	webDir := filepath.Join(dir, "web")
	if err := os.MkdirAll(webDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(webDir, "index.html"), []byte("<p>dev page</p>"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startServeCmd(t, "--wasm", wasm, "--web", webDir, "--models", filepath.Join(dir, "absent"), "--quiet")
	if code, h, body := r.get(t, "/main.wasm"); code != 200 || h.Get("Content-Type") != "application/wasm" || !strings.HasSuffix(body, "fake") {
		t.Errorf("/main.wasm: %d %q %q", code, h.Get("Content-Type"), body)
	}
	if code, _, body := r.get(t, "/"); code != 200 || body != "<p>dev page</p>" {
		t.Errorf("/: %d %q", code, body)
	}
	if _, err := exec.LookPath("go"); err == nil {
		if code, _, _ := r.get(t, "/wasm_exec.js"); code != 200 {
			t.Errorf("/wasm_exec.js: %d", code)
		}
	}
	if code, _, _ := r.get(t, "/models/x/config.json"); code != 404 {
		t.Errorf("absent models: %d", code)
	}
	r.stop()
	if errText := r.stderr.String(); !strings.Contains(errText, "no models directory") || strings.Contains(errText, "GET /") {
		t.Errorf("stderr (quiet, absent models):\n%s", errText)
	}
}

func TestServeBuildsEngine(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	pkg := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(pkg, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/engine\n\ngo 1.22\n")
	write("main.go", "package main\n\nfunc main() { println(\"engine\") }\n")
	r := startServeCmd(t, "--wasm-pkg", pkg)
	code, h, body := r.get(t, "/main.wasm")
	if code != 200 || h.Get("Content-Type") != "application/wasm" || !strings.HasPrefix(body, "\x00asm") {
		t.Errorf("/main.wasm: %d %q", code, h.Get("Content-Type"))
	}
	if code, _, body := r.get(t, "/wasm_exec.js"); code != 200 || !strings.Contains(body, "Go") {
		t.Errorf("/wasm_exec.js: %d", code)
	}
	r.stop()
	if errText := r.stderr.String(); !regexp.MustCompile(`building the browser engine \(GOOS=js GOARCH=wasm\) from .*… done in [\d.]+s`).MatchString(errText) {
		t.Errorf("stderr lacks the build progress:\n%s", errText)
	}

	// A broken engine: the server starts anyway and says why.
	write("main.go", "package main\n\nfunc main() { undefinedThing() }\n")
	r = startServeCmd(t, "--wasm-pkg", pkg, "--quiet")
	if code, _, body := r.get(t, "/main.wasm"); code != 503 || !strings.Contains(body, "undefinedThing") {
		t.Errorf("broken engine: %d %q", code, body)
	}
	r.stop()
	if errText := r.stderr.String(); !strings.Contains(errText, "failed") || !strings.Contains(errText, "undefinedThing") {
		t.Errorf("stderr lacks the build failure:\n%s", errText)
	}
}

func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--bogus"}, 2, "bogus"},
		{[]string{"--wasm", filepath.Join(dir, "missing.wasm")}, 1, "wasm file"},
		{[]string{"--web", filepath.Join(dir, "missing")}, 1, "web directory"},
		{[]string{"--addr", "127.0.0.1:99999"}, 1, "listen on"},
	} {
		var out, errb bytes.Buffer
		args := append([]string{"serve", "--wasm-pkg", dir, "--models", dir}, c.args...)
		if got := Main(args, &out, &errb); got != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("hut %v: exit %d (want %d), stderr %q (want %q)", args, got, c.code, errb.String(), c.msg)
		}
	}
	var out bytes.Buffer
	if got := Main([]string{"help", "serve"}, &out, &out); got != 0 || !strings.Contains(out.String(), "-addr") || !strings.Contains(out.String(), "-wasm-pkg") {
		t.Errorf("help serve: %d %q", got, out.String())
	}
}
