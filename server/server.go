// Package server is the small static HTTP server behind `hut serve`: it
// serves the browser demo's page (the files of package web, or a folder on
// disk), the WebAssembly engine (main.wasm and Go's wasm_exec.js) and model
// checkpoints (config.json, model.safetensors, tokenizer files).
//
// URL space:
//
//	/                 the page: index.html and its assets (web root)
//	/main.wasm        the compiled engine (Options.WasmPath)
//	/wasm_exec.js     Go's JavaScript glue for it (Options.WasmExecPath)
//	/models/NAME/FILE a model checkpoint file (Options.ModelsDir)
//	/data/NAME        a read-only data set file, e.g. /data/e2e/train.csv
//	                  (Options.Data: the embedded data sets)
//	/api/models       JSON listing of the model checkpoints
//	/healthz          "ok"
//
// Rules: only GET and HEAD (others 405); only files with a known extension
// are served, each with its fixed Content-Type; no directory listings (a
// directory answers its index.html or 404); no path escapes (.., encoded
// slashes or dots, backslashes, control bytes, hidden files, symbolic links
// leading outside a root); strong ETags and Last-Modified with 304 answers;
// single and multiple byte ranges; gzip for compressible types when the
// client accepts it (never for range requests); security headers (a
// self-only Content-Security-Policy that allows WebAssembly and blob:
// workers, cross-origin isolation so that SharedArrayBuffer works) on every
// response. docs/server.md describes them in full.
//
// Tests start it in-process:
//
//	h, err := server.New(server.Options{Web: web.Files, ModelsDir: "models"})
//	srv := httptest.NewServer(h)
package server

import (
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Options configures the handler returned by New. The zero value is valid:
// it serves nothing but /healthz, an empty /api/models and 503 for the
// engine.
type Options struct {
	// Web holds the page's static files, typically web.Files. Ignored when
	// WebDir is set; nil serves no page.
	Web fs.FS

	// WebDir serves the page from this directory on disk instead of Web,
	// so that edits show without a rebuild (development). It must exist.
	WebDir string

	// ModelsDir is the directory whose subdirectories are model
	// checkpoints, served under /models/ and listed by /api/models. It is
	// looked up on every request, so it may be absent at start and appear
	// later; while absent, /models/ answers 404 and /api/models an empty
	// list.
	ModelsDir string

	// Data holds read-only data set files served under /data/ (for
	// example OpenerFS(datasets.List(), datasets.Open): /data/e2e/train.csv,
	// /data/glue/sst2/dev.tsv). Only text types are served from it (.csv,
	// .tsv, .txt, .md, .json, .jsonl); nil serves no /data/.
	Data fs.FS

	// WasmPath is the compiled engine served at /main.wasm, typically the
	// output of BuildWasm. When empty, a main.wasm in the web root is
	// served if there is one; otherwise /main.wasm answers 503 with
	// WasmUnavailable as the explanation.
	WasmPath string

	// WasmExecPath is Go's wasm_exec.js, served at /wasm_exec.js. When
	// empty, the wasm_exec.js next to WasmPath is used if present, then
	// one in the web root; otherwise /wasm_exec.js answers 503.
	WasmExecPath string

	// WasmUnavailable explains, in the body of 503 answers for
	// /main.wasm, why no engine is available (for example "the go
	// toolchain was not found"). A generic message is used when empty.
	WasmUnavailable string
}

// Handler serves the demo. It is safe for concurrent use. Create it with
// New.
type Handler struct {
	web      *root
	models   *root
	data     *root
	wasm     string // file served at /main.wasm, or ""
	wasmExec string // file served at /wasm_exec.js, or ""
	wasmWhy  string
	start    time.Time // Last-Modified of files without a modification time (embedded)
	etags    etagCache
	gz       gzipCache
}

// New checks opts and returns the handler. It fails when WebDir,
// WasmPath or WasmExecPath name something that is missing or of the wrong
// kind; a missing ModelsDir is not an error.
func New(opts Options) (*Handler, error) {
	h := &Handler{
		wasmWhy: opts.WasmUnavailable,
		start:   time.Now().Truncate(time.Second),
		etags:   etagCache{m: map[string]string{}},
		gz:      newGzipCache(gzipCacheBytes),
	}
	switch {
	case opts.WebDir != "":
		if err := checkDir(opts.WebDir, "web directory"); err != nil {
			return nil, err
		}
		h.web = &root{name: "web", dir: opts.WebDir}
	case opts.Web != nil:
		h.web = &root{name: "web", fsys: opts.Web, immutable: true}
	}
	if opts.ModelsDir != "" {
		h.models = &root{name: "models", dir: opts.ModelsDir, allow: modelFile}
	}
	if opts.Data != nil {
		h.data = &root{name: "data", fsys: opts.Data, immutable: true, allow: dataFile}
	}
	if opts.WasmPath != "" {
		if err := checkFile(opts.WasmPath, "wasm file"); err != nil {
			return nil, err
		}
		h.wasm = opts.WasmPath
	}
	h.wasmExec = opts.WasmExecPath
	if h.wasmExec != "" {
		if err := checkFile(h.wasmExec, "wasm_exec.js"); err != nil {
			return nil, err
		}
	} else if h.wasm != "" {
		next := filepath.Join(filepath.Dir(h.wasm), "wasm_exec.js")
		if checkFile(next, "") == nil {
			h.wasmExec = next
		}
	}
	if h.wasmWhy == "" {
		h.wasmWhy = "no engine was built or given (start hut serve with --wasm FILE, or from a checkout that has the wasm package)"
	}
	return h, nil
}

func checkDir(dir, what string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s %s is not a directory", what, dir)
	}
	return nil
}

func checkFile(file, what string) error {
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file", what, file)
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed: only GET and HEAD")
		return
	}
	p, code, msg := parsePath(r.URL)
	if code != 0 {
		httpError(w, code, msg)
		return
	}
	segs := p.segs
	switch {
	case len(segs) == 1 && segs[0] == "healthz" && !p.dir:
		h.serveBytes(w, r, "healthz.txt", []byte("ok\n"), time.Time{})
	case len(segs) >= 1 && segs[0] == "api":
		if len(segs) == 2 && segs[1] == "models" && !p.dir {
			h.serveModelList(w, r)
			return
		}
		notFound(w)
	case len(segs) == 1 && segs[0] == "main.wasm" && !p.dir:
		h.serveSpecial(w, r, h.wasm, segs, "main.wasm is not available: "+h.wasmWhy)
	case len(segs) == 1 && segs[0] == "wasm_exec.js" && !p.dir:
		h.serveSpecial(w, r, h.wasmExec, segs, "wasm_exec.js is not available: it comes with the go toolchain ($(go env GOROOT)/lib/wasm/wasm_exec.js); start hut serve where go is installed or pass --wasm-exec FILE")
	case len(segs) >= 1 && segs[0] == "models":
		if h.models == nil || len(segs) == 1 {
			notFound(w)
			return
		}
		h.serveFromRoot(w, r, h.models, segs[1:], p)
	case len(segs) >= 1 && segs[0] == "data":
		if h.data == nil || len(segs) == 1 {
			notFound(w)
			return
		}
		h.serveFromRoot(w, r, h.data, segs[1:], p)
	default:
		if h.web == nil {
			notFound(w)
			return
		}
		h.serveFromRoot(w, r, h.web, segs, p)
	}
}

// serveSpecial serves file from disk, or the same name from the web root
// when file is empty, or 503 with why.
func (h *Handler) serveSpecial(w http.ResponseWriter, r *http.Request, file string, segs []string, why string) {
	if file != "" {
		h.serveDiskFile(w, r, file, segs[0])
		return
	}
	if h.web != nil {
		if st, err := h.web.stat(segs[0]); err == nil && st.Mode().IsRegular() {
			h.serveFromRoot(w, r, h.web, segs, reqPath{segs: segs})
			return
		}
	}
	w.Header().Set("Retry-After", "60")
	httpError(w, http.StatusServiceUnavailable, why)
}

// reqPath is a checked request path.
type reqPath struct {
	segs    []string // decoded segments, each a valid file name
	dir     bool     // the path ended in a slash
	escaped string   // the path as sent, for redirects
}

// parsePath checks the request path segment by segment, on the path as
// sent (so that %2F and %2e%2e are seen for what they are), and returns
// its decoded segments, or an HTTP status and message for a path that is
// refused: 400 for a malformed path or an escape attempt (.., encoded
// slashes, backslashes, control bytes, bad escapes or UTF-8), 404 for
// empty segments and hidden names.
func parsePath(u *url.URL) (reqPath, int, string) {
	raw := u.EscapedPath()
	if !strings.HasPrefix(raw, "/") {
		return reqPath{}, http.StatusBadRequest, "bad request path"
	}
	if len(raw) > 2048 {
		return reqPath{}, http.StatusRequestURITooLong, "request path too long"
	}
	p := reqPath{escaped: raw}
	rest := raw[1:]
	if rest == "" {
		p.dir = true
		return p, 0, ""
	}
	if strings.HasSuffix(rest, "/") {
		p.dir = true
		rest = rest[:len(rest)-1]
	}
	for _, s := range strings.Split(rest, "/") {
		if s == "" {
			return reqPath{}, http.StatusNotFound, "not found"
		}
		dec, err := url.PathUnescape(s)
		if err != nil {
			return reqPath{}, http.StatusBadRequest, "bad escape in request path"
		}
		switch dec {
		case ".", "..":
			return reqPath{}, http.StatusBadRequest, "bad request path: dot segments are not allowed"
		}
		if strings.ContainsAny(dec, `/\`) {
			return reqPath{}, http.StatusBadRequest, "bad request path: encoded slashes and backslashes are not allowed"
		}
		if !validName(dec) {
			return reqPath{}, http.StatusBadRequest, "bad request path: control bytes or invalid UTF-8"
		}
		if strings.HasPrefix(dec, ".") {
			return reqPath{}, http.StatusNotFound, "not found"
		}
		p.segs = append(p.segs, dec)
	}
	return p, 0, ""
}

// validName reports whether name can be a path segment of a served file:
// valid UTF-8 without control bytes, slashes or backslashes, not a dot
// segment, at most 255 bytes.
func validName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == utf8.RuneError {
			return false
		}
	}
	return true
}

// serveFromRoot serves the file named by segs inside rt. A directory
// answers its index.html (after a redirect to the slash form) or 404.
func (h *Handler) serveFromRoot(w http.ResponseWriter, r *http.Request, rt *root, segs []string, p reqPath) {
	name := "."
	if len(segs) > 0 {
		name = strings.Join(segs, "/")
	}
	st, err := rt.stat(name)
	if err != nil {
		notFound(w)
		return
	}
	if st.IsDir() {
		index := "index.html"
		if name != "." {
			index = name + "/index.html"
		}
		ist, err := rt.stat(index)
		if err != nil || !ist.Mode().IsRegular() {
			notFound(w)
			return
		}
		if !p.dir {
			// Relative links in the index need the slash form.
			target := p.escaped + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			w.Header().Set("Location", target)
			httpError(w, http.StatusMovedPermanently, "moved to "+target)
			return
		}
		name, st = index, ist
	} else if p.dir {
		notFound(w) // a file asked for as a directory
		return
	}
	if !st.Mode().IsRegular() || !rt.serves(name) {
		notFound(w)
		return
	}
	f, err := rt.open(name)
	if err != nil {
		notFound(w)
		return
	}
	defer f.Close()
	h.serveFile(w, r, rt.name+":"+name, name, f, st, rt.immutable)
}

// serveDiskFile serves a file given by the operator (the engine), not
// subject to the root rules; its URL name gives the content type.
func (h *Handler) serveDiskFile(w http.ResponseWriter, r *http.Request, file, urlName string) {
	f, err := os.Open(file)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, urlName+" cannot be read on the server (was it deleted after start-up?)")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		httpError(w, http.StatusServiceUnavailable, urlName+" cannot be read on the server")
		return
	}
	h.serveFile(w, r, "file:"+file, urlName, f, st, false)
}

// root is a tree of files served under one URL prefix: an fs.FS (the
// embedded page) or a directory on disk opened with os.OpenRoot on each
// request, so that it may appear, vanish or be replaced while the server
// runs and symbolic links can never lead outside it.
type root struct {
	name      string
	fsys      fs.FS
	dir       string
	immutable bool // content never changes while the server runs (embedded)
	// allow restricts the served names further than a known content
	// type; nil allows every known type.
	allow func(name string) bool
}

// serves reports whether the root serves a file of this name.
func (rt *root) serves(name string) bool {
	return contentType(name) != "" && (rt.allow == nil || rt.allow(name))
}

// modelFile reports whether name is a model checkpoint file type. Model
// directories often come from the internet, so nothing a browser would
// run or render as a page (HTML, JavaScript, SVG, wasm) is served from
// them.
func modelFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".json", ".safetensors", ".bin", ".model", ".txt", ".md":
		return true
	}
	return false
}

func (rt *root) fs() (fs.FS, func(), error) {
	if rt.fsys != nil {
		return rt.fsys, func() {}, nil
	}
	or, err := os.OpenRoot(rt.dir)
	if err != nil {
		return nil, nil, err
	}
	return or.FS(), func() { or.Close() }, nil
}

func (rt *root) stat(name string) (fs.FileInfo, error) {
	fsys, done, err := rt.fs()
	if err != nil {
		return nil, err
	}
	defer done()
	return fs.Stat(fsys, name)
}

// open opens name; the file stays usable after the root is closed.
func (rt *root) open(name string) (fs.File, error) {
	fsys, done, err := rt.fs()
	if err != nil {
		return nil, err
	}
	defer done()
	return fsys.Open(name)
}

// readDir lists a directory of the root.
func (rt *root) readDir(name string) ([]fs.DirEntry, error) {
	fsys, done, err := rt.fs()
	if err != nil {
		return nil, err
	}
	defer done()
	return fs.ReadDir(fsys, name)
}
