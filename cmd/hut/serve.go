package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	datasets "github.com/hutml/hut/data"
	"github.com/hutml/hut/models"
	"github.com/hutml/hut/server"
	"github.com/hutml/hut/web"
)

func init() {
	register("serve", "serve the browser demo (page, WebAssembly engine, models) over HTTP", runServe)
}

// serveContext returns the context that stops the server on SIGINT or
// SIGTERM; tests replace it.
var serveContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[flags]", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address host:port (port 0 picks a free port; a host other than loopback exposes the server to the network)")
	webDir := fs.String("web", "", "serve the page from this directory on disk instead of the copy embedded in the binary (development: edits show on reload)")
	modelsDir := fs.String("models", "models", "directory of model checkpoints served under /models/ (may be missing)")
	wasmFile := fs.String("wasm", "", "serve this prebuilt main.wasm instead of building the wasm package")
	wasmPkg := fs.String("wasm-pkg", "wasm", "directory of the Go package built with GOOS=js GOARCH=wasm at start-up")
	wasmExec := fs.String("wasm-exec", "", "wasm_exec.js to serve (default: the one of the go toolchain that built the engine)")
	quiet := fs.Bool("quiet", false, "do not log each request")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}

	ctx, stop := serveContext()
	defer stop()
	go func() {
		// Once the first signal has started the shutdown, a second one
		// ends the process at once.
		<-ctx.Done()
		stop()
	}()
	warn := func(format string, a ...any) { fmt.Fprintf(stderr, "hut serve: "+format+"\n", a...) }

	opts := server.Options{Web: web.Files, WebDir: *webDir, ModelsDir: *modelsDir, WasmPath: *wasmFile, WasmExecPath: *wasmExec,
		// The embedded data sets, read-only under /data/ (e2e/train.csv,
		// glue/sst2/dev.tsv, …): the page's worker fetches them for training.
		Data: server.OpenerFS(datasets.List(), datasets.Open)}
	if *wasmFile == "" {
		path, why, err := buildEngine(ctx, *wasmPkg, stderr)
		if err != nil {
			return err
		}
		opts.WasmPath, opts.WasmUnavailable = path, why
		if why != "" {
			warn("%s\nhut serve: serving the rest; /main.wasm answers 503 until this is fixed and hut serve restarted (or pass --wasm FILE)", why)
		}
	}
	// The glue must come from the toolchain that built the engine: the
	// copy next to it, else the go on PATH. Without an engine, a main.wasm
	// in the web root goes with the wasm_exec.js there; failing both, the
	// go on PATH gives one so that the page's script loads and its
	// fetch of /main.wasm reports why the engine is missing.
	if opts.WasmExecPath == "" && needWasmExec(opts) {
		if p, err := server.FindWasmExec(ctx); err == nil {
			opts.WasmExecPath = p
		} else {
			warn("wasm_exec.js not found (%v); /wasm_exec.js answers 503 (pass --wasm-exec FILE)", err)
		}
	}
	if st, err := os.Stat(*modelsDir); err != nil || !st.IsDir() {
		abs, _ := filepath.Abs(*modelsDir)
		if dir, err := extractEmbeddedModels(); err == nil && *modelsDir == "models" {
			// Started outside the repository: serve the models carried in the binary.
			opts.ModelsDir = dir
			warn("no models directory at %s: serving the embedded models (%s) from %s", abs, strings.Join(models.Names(), ", "), dir)
		} else {
			warn("no models directory at %s: /models/ answers 404 and /api/models lists none until it appears (set it with --models DIR)", abs)
		}
	}
	h, err := server.New(opts)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? try --addr 127.0.0.1:0)", *addr, err)
	}
	if host, _, err := net.SplitHostPort(ln.Addr().String()); err == nil {
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			warn("listening on %s: reachable from other machines, not only this one", ln.Addr())
		}
	}
	fmt.Fprintf(stdout, "hut serve: open %s in a browser with WebGPU (Ctrl-C to stop)\n", server.URL(ln.Addr()))
	var logger *log.Logger
	if !*quiet {
		logger = log.New(stderr, "", log.LstdFlags)
	}
	if err := server.Serve(ctx, ln, h, logger); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "hut serve: stopped")
	return nil
}

// buildEngine builds the wasm package into the cache. It returns the
// engine's path, or why there is none (the server still starts); err is
// set only when the user interrupted the build.
func buildEngine(ctx context.Context, pkg string, stderr io.Writer) (path, why string, err error) {
	ok, err := server.HasGoFiles(pkg)
	if err != nil || !ok {
		abs, _ := filepath.Abs(pkg)
		return "", fmt.Sprintf("the browser engine's Go package was not found at %s (no .go files); nothing to build", abs), nil
	}
	out, err := server.DefaultWasmCacheDir(pkg)
	if err != nil {
		return "", fmt.Sprintf("no cache directory for the browser engine: %v", err), nil
	}
	fmt.Fprintf(stderr, "hut serve: building the browser engine (GOOS=js GOARCH=wasm) from %s… ", pkg)
	start := time.Now()
	path, err = server.BuildWasm(ctx, pkg, out)
	switch {
	case err == nil:
		size := ""
		if st, err := os.Stat(path); err == nil {
			size = fmt.Sprintf(", %.1f MB", float64(st.Size())/1e6)
		}
		fmt.Fprintf(stderr, "done in %.1fs%s\n", time.Since(start).Seconds(), size)
		return path, "", nil
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "interrupted")
		return "", "", fmt.Errorf("interrupted while building the browser engine")
	case errors.Is(err, server.ErrNoGo):
		fmt.Fprintln(stderr, "failed")
		return "", "the go toolchain was not found on PATH, so the browser engine cannot be built (install Go from https://go.dev/dl/ or pass --wasm FILE)", nil
	default:
		fmt.Fprintln(stderr, "failed")
		return "", fmt.Sprintf("building the browser engine failed: %v", err), nil
	}
}

// needWasmExec reports whether opts leave wasm_exec.js to be found: no
// copy next to the engine, or no engine and no main.wasm in the web root.
func needWasmExec(opts server.Options) bool {
	if opts.WasmPath != "" {
		return !serveFileExists(filepath.Join(filepath.Dir(opts.WasmPath), "wasm_exec.js"))
	}
	webFS := opts.Web
	if opts.WebDir != "" {
		webFS = os.DirFS(opts.WebDir)
	}
	if webFS == nil {
		return true
	}
	st, err := fs.Stat(webFS, "main.wasm")
	return err != nil || !st.Mode().IsRegular()
}

func serveFileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
