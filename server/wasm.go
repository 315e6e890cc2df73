package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoGo reports that the go toolchain is not on PATH, so the engine
// cannot be built.
var ErrNoGo = errors.New("the go toolchain was not found on PATH")

// ErrNoPackage reports that the directory to build holds no Go package.
var ErrNoPackage = errors.New("no Go package there")

// BuildWasm compiles the Go main package in pkgDir for the browser
// (GOOS=js GOARCH=wasm, with -trimpath -ldflags="-s -w") into
// outDir/main.wasm, copies the matching wasm_exec.js of the same go
// toolchain next to it, and returns the path of main.wasm.
//
// The go command's build cache makes a rebuild of unchanged sources take a
// fraction of a second, so calling it at every start keeps the engine in
// step with its sources. The output is written to a temporary name and
// renamed, so a concurrent build or a reader never sees half a file. The
// error wraps ErrNoGo when go is not on PATH, ErrNoPackage when pkgDir has
// no .go files, and otherwise carries the compiler's output.
func BuildWasm(ctx context.Context, pkgDir, outDir string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", ErrNoGo
	}
	if ok, err := HasGoFiles(pkgDir); err != nil {
		return "", fmt.Errorf("wasm package %s: %w", pkgDir, err)
	} else if !ok {
		return "", fmt.Errorf("wasm package %s: %w (no .go files)", pkgDir, ErrNoPackage)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("wasm output directory: %w", err)
	}
	tmpDir, err := os.MkdirTemp(outDir, ".build-*")
	if err != nil {
		return "", fmt.Errorf("wasm output directory: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmpOut := filepath.Join(tmpDir, "main.wasm")
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", tmpOut, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("go build (GOOS=js GOARCH=wasm) in %s: %w", pkgDir, ctx.Err())
		}
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("go build (GOOS=js GOARCH=wasm) in %s failed:\n%s", pkgDir, msg)
	}
	if !isWasm(tmpOut) {
		return "", fmt.Errorf("go build (GOOS=js GOARCH=wasm) in %s made no WebAssembly program: is it package main?", pkgDir)
	}
	execJS, err := findWasmExec(ctx, goBin)
	if err != nil {
		return "", err
	}
	if err := copyFile(execJS, filepath.Join(tmpDir, "wasm_exec.js")); err != nil {
		return "", fmt.Errorf("copy wasm_exec.js: %w", err)
	}
	// wasm_exec.js first: a reader that sees the new main.wasm finds the
	// glue that goes with it.
	if err := os.Rename(filepath.Join(tmpDir, "wasm_exec.js"), filepath.Join(outDir, "wasm_exec.js")); err != nil {
		return "", fmt.Errorf("wasm output: %w", err)
	}
	final := filepath.Join(outDir, "main.wasm")
	if err := os.Rename(tmpOut, final); err != nil {
		return "", fmt.Errorf("wasm output: %w", err)
	}
	return final, nil
}

// HasGoFiles reports whether dir holds a non-test .go file. A missing dir
// is not an error: it has none.
func HasGoFiles(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true, nil
		}
	}
	return false, nil
}

// FindWasmExec returns the path of wasm_exec.js in the go toolchain on
// PATH ($(go env GOROOT)/lib/wasm/wasm_exec.js, or misc/wasm before Go
// 1.24), falling back to $GOROOT when go is not on PATH.
func FindWasmExec(ctx context.Context) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		if gr := os.Getenv("GOROOT"); gr != "" {
			if p, ok := wasmExecIn(gr); ok {
				return p, nil
			}
		}
		return "", ErrNoGo
	}
	return findWasmExec(ctx, goBin)
}

func findWasmExec(ctx context.Context, goBin string) (string, error) {
	out, err := exec.CommandContext(ctx, goBin, "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	if p, ok := wasmExecIn(goroot); ok {
		return p, nil
	}
	return "", fmt.Errorf("wasm_exec.js not found in GOROOT %s (looked in lib/wasm and misc/wasm)", goroot)
}

func wasmExecIn(goroot string) (string, bool) {
	for _, dir := range []string{"lib/wasm", "misc/wasm"} {
		p := filepath.Join(goroot, filepath.FromSlash(dir), "wasm_exec.js")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// DefaultWasmCacheDir returns where the engine built from pkgDir is kept:
// os.UserCacheDir()/hut/wasm-HASH, HASH naming the absolute pkgDir so that
// two checkouts do not share one, or a folder of os.TempDir() when there
// is no user cache directory.
func DefaultWasmCacheDir(pkgDir string) (string, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	base, err := os.UserCacheDir()
	if err != nil {
		base = filepath.Join(os.TempDir(), fmt.Sprintf("hut-cache-%d", os.Getuid()))
	}
	return filepath.Join(base, "hut", "wasm-"+hex.EncodeToString(sum[:6])), nil
}

// isWasm reports whether file starts with the WebAssembly magic number.
// (go build -o of a non-main package writes an archive instead.)
func isWasm(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && bytes.Equal(magic, []byte("\x00asm"))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
