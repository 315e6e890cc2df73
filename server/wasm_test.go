package server

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tinyPackage writes a main package of its own module into a temp dir.
func tinyPackage(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"))
	writeFile(t, filepath.Join(dir, "main.go"), []byte(src))
	return dir
}

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH: skipping the wasm build tests")
	}
}

func TestBuildWasm(t *testing.T) {
	needGo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pkg := tinyPackage(t, "package main\n\nfunc main() { println(\"one\") }\n")
	out := filepath.Join(t.TempDir(), "cache", "wasm")
	start := time.Now()
	p, err := BuildWasm(ctx, pkg, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %s", time.Since(start).Round(time.Millisecond))
	if p != filepath.Join(out, "main.wasm") {
		t.Errorf("path %s", p)
	}
	b1, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b1, []byte("\x00asm")) {
		t.Fatalf("not WebAssembly: % x", b1[:8])
	}
	glue, err := os.ReadFile(filepath.Join(out, "wasm_exec.js"))
	if err != nil || !bytes.Contains(glue, []byte("Go")) {
		t.Fatalf("wasm_exec.js: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 2 {
		t.Errorf("output dir holds %d entries, want main.wasm and wasm_exec.js", len(ents))
	}

	// A source change rebuilds.
	writeFile(t, filepath.Join(pkg, "main.go"), []byte("package main\n\nfunc main() { println(\"two, a different program\") }\n"))
	if _, err := BuildWasm(ctx, pkg, out); err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(p)
	if bytes.Equal(b1, b2) || !bytes.Contains(b2, []byte("two, a different program")) {
		t.Error("the rebuild did not pick up the change")
	}

	// The server serves what was built, with the glue next to it.
	f := newFixture(t, func(o *Options) { o.WasmPath = p })
	r := f.get(t, "/main.wasm")
	wantStatus(t, r, 200)
	if r.Header.Get("Content-Type") != "application/wasm" || !bytes.Equal(r.body, b2) {
		t.Error("served engine differs")
	}
	if r := f.get(t, "/wasm_exec.js"); !bytes.Equal(r.body, glue) {
		t.Error("served wasm_exec.js differs")
	}
}

func TestBuildWasmErrors(t *testing.T) {
	needGo(t)
	ctx := context.Background()
	out := t.TempDir()

	_, err := BuildWasm(ctx, t.TempDir(), out)
	if !errors.Is(err, ErrNoPackage) {
		t.Errorf("empty dir: %v", err)
	}
	_, err = BuildWasm(ctx, filepath.Join(t.TempDir(), "missing"), out)
	if !errors.Is(err, ErrNoPackage) {
		t.Errorf("missing dir: %v", err)
	}
	bad := tinyPackage(t, "package main\n\nfunc main() { undefinedThing() }\n")
	_, err = BuildWasm(ctx, bad, out)
	if err == nil || !strings.Contains(err.Error(), "undefinedThing") || !strings.Contains(err.Error(), "GOOS=js GOARCH=wasm") {
		t.Errorf("compile error: %v", err)
	}
	lib := tinyPackage(t, "package tiny\n\nfunc F() {}\n")
	_, err = BuildWasm(ctx, lib, out)
	if err == nil {
		t.Error("library package: no error")
	}
	if _, err := os.Stat(filepath.Join(out, "main.wasm")); err == nil {
		t.Error("a failed build left a main.wasm")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := BuildWasm(cctx, tinyPackage(t, "package main\n\nfunc main() {}\n"), out); err == nil {
		t.Error("cancelled build: no error")
	}
}

func TestBuildWasmWithoutGo(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOROOT", "")
	_, err := BuildWasm(context.Background(), tinyPackage(t, "package main\n\nfunc main() {}\n"), t.TempDir())
	if !errors.Is(err, ErrNoGo) {
		t.Errorf("BuildWasm without go: %v", err)
	}
	if _, err := FindWasmExec(context.Background()); !errors.Is(err, ErrNoGo) {
		t.Errorf("FindWasmExec without go: %v", err)
	}
}

func TestFindWasmExec(t *testing.T) {
	needGo(t)
	p, err := FindWasmExec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p) != "wasm_exec.js" {
		t.Errorf("path %s", p)
	}
}

func TestDefaultWasmCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	a, err := DefaultWasmCacheDir("wasm")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DefaultWasmCacheDir("./wasm")
	c, _ := DefaultWasmCacheDir(filepath.Join(t.TempDir(), "wasm"))
	if a != b || a == c || !strings.Contains(a, filepath.Join("hut", "wasm-")) {
		t.Errorf("cache dirs %s %s %s", a, b, c)
	}
}

func TestHasGoFiles(t *testing.T) {
	dir := t.TempDir()
	if ok, err := HasGoFiles(dir); ok || err != nil {
		t.Errorf("empty: %v %v", ok, err)
	}
	writeFile(t, filepath.Join(dir, "x_test.go"), []byte("package x"))
	if ok, _ := HasGoFiles(dir); ok {
		t.Error("test file counted")
	}
	writeFile(t, filepath.Join(dir, "x.go"), []byte("package x"))
	if ok, _ := HasGoFiles(dir); !ok {
		t.Error("x.go not seen")
	}
}
