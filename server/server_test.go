package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hutml/hut/web"
)

const secret = "TOP-SECRET-DO-NOT-SERVE"

// fixture is a server over a page in memory, a models directory on disk
// and a secret file outside both roots that no request may reach.
type fixture struct {
	srv       *httptest.Server
	h         *Handler
	dir       string // temp root: models/, outside/, webdir/
	modelsDir string
	tensors   []byte // models/gpt2/model.safetensors
	appJS     []byte
}

func bigText(prefix string, n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s line %d: the quick brown fox jumps over the lazy dog\n", prefix, i)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks not available: %v", err)
	}
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.appJS = bigText("js", 4000)
	webFS := fstest.MapFS{
		"index.html":        {Data: []byte("<!doctype html><title>t</title><p>home " + strings.Repeat("x", 300) + "</p>\n")},
		"app.js":            {Data: f.appJS},
		"style.css":         {Data: bigText("css", 1000)},
		"data.json":         {Data: []byte(`{"a":` + strconv.Quote(strings.Repeat("y", 400)) + "}\n")},
		"notes.txt":         {Data: []byte("short\n")},
		"readme.md":         {Data: bigText("md", 500)},
		"logo.svg":          {Data: []byte("<svg xmlns=\"http://www.w3.org/2000/svg\">" + strings.Repeat(" ", 300) + "</svg>")},
		"img.png":           {Data: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2000)...)},
		"embed.go":          {Data: []byte("package web // " + secret)},
		"notes.xyz":         {Data: []byte(secret)},
		".hidden.js":        {Data: []byte(secret)},
		"sub/index.html":    {Data: []byte("<p>sub index</p>")},
		"sub/page.js":       {Data: []byte("console.log(1)")},
		"nested/only.css":   {Data: []byte("p{}")},
		".git/config":       {Data: []byte(secret)},
		"sub/.env/x.json":   {Data: []byte(secret)},
		"weird name ü.json": {Data: []byte(`{"ok":true}`)},
	}
	f.modelsDir = filepath.Join(f.dir, "models")
	f.tensors = make([]byte, 100_000)
	rand.New(rand.NewSource(1)).Read(f.tensors)
	writeFile(t, filepath.Join(f.modelsDir, "gpt2", "config.json"), []byte(`{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_layer":2,"vocab_size":50257}`))
	writeFile(t, filepath.Join(f.modelsDir, "gpt2", "model.safetensors"), f.tensors)
	writeFile(t, filepath.Join(f.modelsDir, "gpt2", "tokenizer.json"), bigText("tok", 3000))
	writeFile(t, filepath.Join(f.modelsDir, "gpt2", "merges.txt"), bigText("merge", 1000))
	writeFile(t, filepath.Join(f.modelsDir, "gpt2", ".secret.json"), []byte(secret))
	writeFile(t, filepath.Join(f.modelsDir, "gpt2", "weights.pt.gz"), []byte(secret))
	for _, n := range []string{"page.html", "x.js", "x.svg", "x.wasm", "x.css"} {
		writeFile(t, filepath.Join(f.modelsDir, "gpt2", n), []byte(secret))
	}
	writeFile(t, filepath.Join(f.modelsDir, "broken", "config.json"), []byte(`{not json`))
	writeFile(t, filepath.Join(f.modelsDir, "nocfg", "model.safetensors"), []byte("x"))
	writeFile(t, filepath.Join(f.modelsDir, "index.html"), []byte("<p>models index must not be served</p>"))
	writeFile(t, filepath.Join(f.dir, "outside", "secret.json"), []byte(secret))
	writeFile(t, filepath.Join(f.dir, "outside", "model.safetensors"), []byte(secret))
	symlink(t, filepath.Join(f.dir, "outside", "secret.json"), filepath.Join(f.modelsDir, "gpt2", "abs-escape.json"))
	symlink(t, "../../outside/secret.json", filepath.Join(f.modelsDir, "gpt2", "rel-escape.json"))
	symlink(t, "../outside", filepath.Join(f.modelsDir, "linkdir"))
	symlink(t, "config.json", filepath.Join(f.modelsDir, "gpt2", "alias.json"))
	symlink(t, "gpt2", filepath.Join(f.modelsDir, "gpt2-alias"))

	opts := Options{Web: webFS, ModelsDir: f.modelsDir, WasmUnavailable: "test: no engine"}
	if mod != nil {
		mod(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.srv = httptest.NewServer(h) // 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

// client never adds Accept-Encoding nor decompresses, so that the tests
// see exactly what the server sends.
var client = &http.Client{
	Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

type resp struct {
	*http.Response
	body []byte
}

func (f *fixture) do(t *testing.T, method, path string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp{res, b}
}

func (f *fixture) get(t *testing.T, path string, hdr ...string) resp {
	t.Helper()
	return f.do(t, http.MethodGet, path, hdr...)
}

// raw sends a request line exactly as given (no client-side cleaning or
// escaping) and returns the response.
func (f *fixture) raw(t *testing.T, method, target string) resp {
	t.Helper()
	conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method, target)
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res, b}
}

func wantStatus(t *testing.T, r resp, code int) {
	t.Helper()
	if r.StatusCode != code {
		t.Fatalf("%s %s: status %d, want %d; body %q", r.Request.Method, r.Request.URL, r.StatusCode, code, r.body)
	}
}

func TestContentTypes(t *testing.T) {
	f := newFixture(t, nil)
	for path, want := range map[string]string{
		"/":                              "text/html; charset=utf-8",
		"/index.html":                    "text/html; charset=utf-8",
		"/app.js":                        "text/javascript; charset=utf-8",
		"/style.css":                     "text/css; charset=utf-8",
		"/data.json":                     "application/json",
		"/notes.txt":                     "text/plain; charset=utf-8",
		"/readme.md":                     "text/plain; charset=utf-8",
		"/logo.svg":                      "image/svg+xml",
		"/img.png":                       "image/png",
		"/weird%20name%20%C3%BC.json":    "application/json",
		"/models/gpt2/config.json":       "application/json",
		"/models/gpt2/model.safetensors": "application/octet-stream",
		"/models/gpt2/merges.txt":        "text/plain; charset=utf-8",
		"/healthz":                       "text/plain; charset=utf-8",
		"/api/models":                    "application/json",
	} {
		r := f.get(t, path)
		wantStatus(t, r, 200)
		if got := r.Header.Get("Content-Type"); got != want {
			t.Errorf("%s: Content-Type %q, want %q", path, got, want)
		}
	}
	if ct, _, _ := mime.ParseMediaType(contentType("x.wasm")); ct != "application/wasm" {
		t.Errorf("wasm type %q", ct)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	f := newFixture(t, nil)
	etag := f.get(t, "/app.js").Header.Get("ETag")
	cases := []struct {
		method, path string
		hdr          []string
		code         int
	}{
		{"GET", "/", nil, 200},
		{"GET", "/missing.js", nil, 404},
		{"POST", "/", nil, 405},
		{"GET", "/app.js", []string{"If-None-Match", etag}, 304},
		{"GET", "/main.wasm", nil, 503},
		{"GET", "/models/gpt2/model.safetensors", []string{"Range", "bytes=0-9"}, 206},
		{"GET", "/models/gpt2/model.safetensors", []string{"Range", "bytes=999999-"}, 416},
		{"GET", "/sub", nil, 301},
		{"HEAD", "/healthz", nil, 200},
		{"GET", "/api/models", nil, 200},
	}
	for _, c := range cases {
		r := f.do(t, c.method, c.path, c.hdr...)
		wantStatus(t, r, c.code)
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "'wasm-unsafe-eval'", "worker-src 'self' blob:", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s %s: CSP %q lacks %q", c.method, c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "'unsafe-eval'") || strings.Contains(csp, "*") {
			t.Errorf("%s %s: CSP too loose: %q", c.method, c.path, csp)
		}
		for k, v := range map[string]string{
			"X-Content-Type-Options":       "nosniff",
			"Referrer-Policy":              "no-referrer",
			"Cross-Origin-Opener-Policy":   "same-origin",
			"Cross-Origin-Embedder-Policy": "require-corp",
			"Cross-Origin-Resource-Policy": "same-origin",
			"X-Frame-Options":              "DENY",
		} {
			if got := h.Get(k); got != v {
				t.Errorf("%s %s (%d): %s = %q, want %q", c.method, c.path, c.code, k, got, v)
			}
		}
	}
}

func TestMethodsOtherThanGetHeadAre405(t *testing.T) {
	f := newFixture(t, nil)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "BREW"} {
		for _, p := range []string{"/", "/app.js", "/models/gpt2/config.json", "/api/models", "/nope"} {
			r := f.do(t, m, p)
			wantStatus(t, r, 405)
			if got := r.Header.Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s %s: Allow %q", m, p, got)
			}
			if bytes.Contains(r.body, f.appJS[:50]) || bytes.Contains(r.body, []byte("model_type")) {
				t.Errorf("%s %s: body carries the file", m, p)
			}
		}
	}
	// CONNECT has its own request form.
	r := f.raw(t, "CONNECT", "example.com:443")
	if r.StatusCode != 405 && r.StatusCode != 400 {
		t.Errorf("CONNECT: status %d", r.StatusCode)
	}
}

func TestHeadHasHeadersButNoBody(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/", "/app.js", "/models/gpt2/model.safetensors", "/api/models", "/healthz"} {
		for _, ae := range []string{"", "gzip"} {
			g := f.get(t, p, "Accept-Encoding", ae)
			h := f.do(t, "HEAD", p, "Accept-Encoding", ae)
			wantStatus(t, h, 200)
			if len(h.body) != 0 {
				t.Errorf("HEAD %s: body of %d bytes", p, len(h.body))
			}
			if h.Header.Get("Content-Length") != strconv.Itoa(len(g.body)) {
				t.Errorf("HEAD %s (ae %q): Content-Length %q, GET body %d", p, ae, h.Header.Get("Content-Length"), len(g.body))
			}
			for _, k := range []string{"Content-Type", "ETag", "Content-Encoding"} {
				if h.Header.Get(k) != g.Header.Get(k) {
					t.Errorf("HEAD %s: %s %q, GET has %q", p, k, h.Header.Get(k), g.Header.Get(k))
				}
			}
		}
	}
	// On the wire: nothing follows the headers (Go's client would hide a
	// stray body).
	for _, c := range []struct{ path, extra string }{
		{"/app.js", ""},
		{"/app.js", "Accept-Encoding: gzip\r\n"},
		{"/models/gpt2/model.safetensors", "Range: bytes=0-99\r\n"},
		{"/missing", ""},
		{"/main.wasm", ""},
		{"/sub", ""},
	} {
		conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: test\r\n%sConnection: close\r\n\r\n", c.path, c.extra)
		all, err := io.ReadAll(conn)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		head, rest, ok := bytes.Cut(all, []byte("\r\n\r\n"))
		if !ok || len(rest) != 0 {
			t.Errorf("HEAD %s: %d bytes after the headers\n%s", c.path, len(rest), head)
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGzip(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/", "/app.js", "/style.css", "/data.json", "/readme.md", "/logo.svg", "/models/gpt2/tokenizer.json", "/models/gpt2/merges.txt", "/api/models"} {
		plain := f.get(t, p)
		wantStatus(t, plain, 200)
		if plain.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: gzip without Accept-Encoding", p)
		}
		if plain.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: Vary %q on the plain answer", p, plain.Header.Get("Vary"))
		}
		for _, ae := range []string{"gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.5", "*", "x-gzip"} {
			z := f.get(t, p, "Accept-Encoding", ae)
			wantStatus(t, z, 200)
			if z.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s (Accept-Encoding %q): Content-Encoding %q", p, ae, z.Header.Get("Content-Encoding"))
			}
			if z.Header.Get("Vary") != "Accept-Encoding" {
				t.Errorf("%s: Vary %q", p, z.Header.Get("Vary"))
			}
			if !bytes.Equal(gunzip(t, z.body), plain.body) {
				t.Errorf("%s: gunzipped body differs", p)
			}
			if len(z.body) >= len(plain.body) {
				t.Errorf("%s: gzip %d bytes, plain %d", p, len(z.body), len(plain.body))
			}
			if z.Header.Get("ETag") == plain.Header.Get("ETag") || z.Header.Get("ETag") == "" {
				t.Errorf("%s: gzip and plain share the ETag %q", p, z.Header.Get("ETag"))
			}
			if z.Header.Get("Content-Length") != strconv.Itoa(len(z.body)) {
				t.Errorf("%s: Content-Length %q for %d gzip bytes", p, z.Header.Get("Content-Length"), len(z.body))
			}
			// Revalidating the gzip answer.
			nm := f.get(t, p, "Accept-Encoding", ae, "If-None-Match", z.Header.Get("ETag"))
			wantStatus(t, nm, 304)
		}
		for _, ae := range []string{"identity", "gzip;q=0", "br", "*;q=0", "deflate, gzip;q=0, *"} {
			r := f.get(t, p, "Accept-Encoding", ae)
			if r.Header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, plain.body) {
				t.Errorf("%s (Accept-Encoding %q): compressed", p, ae)
			}
		}
		// Never for a range request.
		r := f.get(t, p, "Accept-Encoding", "gzip", "Range", "bytes=0-99")
		wantStatus(t, r, 206)
		if r.Header.Get("Content-Encoding") != "" || !bytes.Equal(r.body, plain.body[:100]) {
			t.Errorf("%s: range answer compressed or wrong", p)
		}
	}
	// Never for incompressible types or tiny files.
	for _, p := range []string{"/models/gpt2/model.safetensors", "/img.png", "/notes.txt", "/healthz"} {
		r := f.get(t, p, "Accept-Encoding", "gzip")
		wantStatus(t, r, 200)
		if r.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: compressed", p)
		}
	}
	if v := f.get(t, "/models/gpt2/model.safetensors").Header.Get("Vary"); v != "" {
		t.Errorf("safetensors Vary %q", v)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for ae, want := range map[string]bool{
		"":                      false,
		"gzip":                  true,
		"GZIP":                  true,
		"gzip;q=0":              false,
		"gzip; q=0.001":         true,
		"gzip;q=0.0":            false,
		"gzip;q=bogus":          false,
		"*":                     true,
		"*;q=0":                 false,
		"identity":              false,
		"br, deflate":           false,
		"gzip;q=0, *":           false,
		"*;q=0, gzip":           true,
		"x-gzip":                true,
		"deflate ,  gzip ;q=.5": true,
	} {
		h := http.Header{}
		if ae != "" {
			h.Set("Accept-Encoding", ae)
		}
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", ae, got, want)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/", "/app.js", "/models/gpt2/config.json", "/models/gpt2/model.safetensors", "/api/models"} {
		r := f.get(t, p)
		wantStatus(t, r, 200)
		etag := r.Header.Get("ETag")
		if etag == "" || strings.HasPrefix(etag, "W/") || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("%s: ETag %q is not strong", p, etag)
		}
		if r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", p, r.Header.Get("Cache-Control"))
		}
		for _, inm := range []string{etag, `"other", ` + etag, "*"} {
			nm := f.get(t, p, "If-None-Match", inm)
			wantStatus(t, nm, 304)
			if len(nm.body) != 0 || nm.Header.Get("ETag") != etag {
				t.Errorf("%s: 304 with body %q, ETag %q", p, nm.body, nm.Header.Get("ETag"))
			}
		}
		wantStatus(t, f.get(t, p, "If-None-Match", `"stale"`), 200)
		for _, ae := range []string{"", "gzip"} {
			r := f.get(t, p, "If-Match", `"stale"`, "Accept-Encoding", ae)
			wantStatus(t, r, 412)
			if r.Header.Get("Content-Encoding") != "" || r.Header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
				t.Errorf("%s: 412 with Content-Encoding %q, Content-Length %q for %d bytes", p, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Length"), len(r.body))
			}
		}
		wantStatus(t, f.get(t, p, "If-None-Match", "W/"+etag), 304) // weak comparison, RFC 9110 13.1.2
		lm := r.Header.Get("Last-Modified")
		if p == "/api/models" {
			continue // generated: ETag only
		}
		if lm == "" {
			t.Fatalf("%s: no Last-Modified", p)
		}
		wantStatus(t, f.get(t, p, "If-Modified-Since", lm), 304)
		wantStatus(t, f.get(t, p, "If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"), 200)
		// If-None-Match wins over If-Modified-Since.
		wantStatus(t, f.get(t, p, "If-None-Match", `"stale"`, "If-Modified-Since", lm), 200)
	}
	// Same content, same ETag; an edit on disk changes it.
	cfg := filepath.Join(f.modelsDir, "gpt2", "config.json")
	e1 := f.get(t, "/models/gpt2/config.json").Header.Get("ETag")
	if e2 := f.get(t, "/models/gpt2/config.json").Header.Get("ETag"); e1 != e2 {
		t.Errorf("ETag not stable: %q then %q", e1, e2)
	}
	writeFile(t, cfg, []byte(`{"model_type":"gpt2","n_layer":3}`))
	r := f.get(t, "/models/gpt2/config.json", "If-None-Match", e1)
	wantStatus(t, r, 200)
	if r.Header.Get("ETag") == e1 || string(r.body) != `{"model_type":"gpt2","n_layer":3}` {
		t.Errorf("edited file: ETag %q (old %q), body %q", r.Header.Get("ETag"), e1, r.body)
	}
}

func TestBigFileETagFromSizeAndMtime(t *testing.T) {
	f := newFixture(t, nil)
	big := filepath.Join(f.modelsDir, "gpt2", "big.safetensors")
	fh, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(hashLimit + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	fh.Close()
	r := f.do(t, "HEAD", "/models/gpt2/big.safetensors")
	wantStatus(t, r, 200)
	etag := r.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"s`) {
		t.Errorf("big file ETag %q, want the size+mtime form", etag)
	}
	wantStatus(t, f.get(t, "/models/gpt2/big.safetensors", "If-None-Match", etag), 304)
	rg := f.get(t, "/models/gpt2/big.safetensors", "Range", "bytes=-4")
	wantStatus(t, rg, 206)
	if !bytes.Equal(rg.body, make([]byte, 4)) {
		t.Errorf("tail %v", rg.body)
	}
	if err := os.Chtimes(big, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, f.get(t, "/models/gpt2/big.safetensors", "If-None-Match", etag), 200)
}

func TestRanges(t *testing.T) {
	f := newFixture(t, nil)
	const p = "/models/gpt2/model.safetensors"
	n := len(f.tensors)
	size := strconv.Itoa(n)
	for _, c := range []struct {
		rng        string
		start, end int // inclusive
	}{
		{"bytes=0-99", 0, 99},
		{"bytes=100-", 100, n - 1},
		{"bytes=-10", n - 10, n - 1},
		{"bytes=50000-50000", 50000, 50000},
		{"bytes=99990-200000", 99990, n - 1}, // end past the size is clipped
	} {
		r := f.get(t, p, "Range", c.rng)
		wantStatus(t, r, 206)
		if want := fmt.Sprintf("bytes %d-%d/%s", c.start, c.end, size); r.Header.Get("Content-Range") != want {
			t.Errorf("%s: Content-Range %q, want %q", c.rng, r.Header.Get("Content-Range"), want)
		}
		if !bytes.Equal(r.body, f.tensors[c.start:c.end+1]) {
			t.Errorf("%s: wrong bytes", c.rng)
		}
	}
	if r := f.get(t, p); r.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("Accept-Ranges %q", r.Header.Get("Accept-Ranges"))
	}
	// Unsatisfiable, invalid, huge, too many.
	for _, rng := range []string{
		"bytes=100000-", "bytes=999999999-1000000000", "bytes=abc", "bytes=5-1", "bytes=-0", "bytes= -000",
		"bytes=0-99999999999999999999999999", "bytes=99999999999999999999999999-",
		"bytes=" + strings.Repeat("0-0,", maxRanges) + "1-1",
	} {
		r := f.get(t, p, "Range", rng)
		if r.StatusCode != 416 {
			t.Errorf("Range %s: status %d, want 416", rng, r.StatusCode)
		}
		if bytes.Contains(r.body, f.tensors[:16]) {
			t.Errorf("%s: 416 carries content", rng)
		}
		if strings.HasPrefix(rng, "bytes=1000") || strings.Contains(rng, "0-0,") || strings.Contains(rng, "-0") {
			if got := r.Header.Get("Content-Range"); got != "bytes */"+size {
				t.Errorf("%s: Content-Range %q", rng, got)
			}
		}
	}
	// A unit other than bytes is not a range we know: no partial answer.
	if r := f.get(t, p, "Range", "items=0-1"); r.StatusCode == 206 {
		t.Error("items range answered 206")
	}
	// Multiple ranges: multipart/byteranges.
	r := f.get(t, p, "Range", "bytes=0-9,1000-1009")
	wantStatus(t, r, 206)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("multi-range Content-Type %q", r.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
	for _, want := range [][]byte{f.tensors[0:10], f.tensors[1000:1010]} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(part)
		if !bytes.Equal(got, want) {
			t.Errorf("multi-range part %v, want %v", got, want)
		}
	}
	// If-Range: the current ETag gives the range, a stale one the whole.
	etag := f.get(t, p).Header.Get("ETag")
	wantStatus(t, f.get(t, p, "Range", "bytes=0-9", "If-Range", etag), 206)
	whole := f.get(t, p, "Range", "bytes=0-9", "If-Range", `"stale"`)
	wantStatus(t, whole, 200)
	if len(whole.body) != n {
		t.Errorf("If-Range stale: %d bytes", len(whole.body))
	}
	// Ranges work on the web root and the engine too.
	wantStatus(t, f.get(t, "/app.js", "Range", "bytes=0-0"), 206)
}

func TestPathEscapesNeverServeTheFile(t *testing.T) {
	f := newFixture(t, nil)
	targets := []string{
		"/../outside/secret.json",
		"/models/../outside/secret.json",
		"/models/gpt2/../../outside/secret.json",
		"/models/%2e%2e/outside/secret.json",
		"/models/%2E%2E/outside/secret.json",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/models/gpt2/%2e%2e%2f%2e%2e%2foutside%2fsecret.json",
		"/models/gpt2%2f..%2f..%2foutside%2fsecret.json",
		"/models%2fgpt2%2fconfig.json",
		"/models/gpt2/..%2f..%2foutside/secret.json",
		"/models/gpt2/..%5c..%5coutside%5csecret.json",
		`/models/gpt2/..\..\outside\secret.json`,
		`/..\outside\secret.json`,
		"/models/gpt2/%5cconfig.json",
		"/models/gpt2/config.json%00",
		"/models/gpt2/config.json%00.js",
		"/%00",
		"/models/gpt2/%0aconfig.json",
		"/models/./gpt2/config.json",
		"/models/gpt2/./config.json",
		"/models/%2e/gpt2/config.json",
		"/models//gpt2/config.json",
		"//outside/secret.json",
		"/models/gpt2/abs-escape.json",
		"/models/gpt2/rel-escape.json",
		"/models/linkdir/secret.json",
		"/models/linkdir/model.safetensors",
		"/models/gpt2/.secret.json",
		"/models/gpt2/%2esecret.json",
		"/models/gpt2/weights.pt.gz",
		"/.hidden.js",
		"/.git/config",
		"/sub/.env/x.json",
		"/embed.go",
		"/notes.xyz",
		"/%zz",
		"/models/gpt2/%",
		"/%c0%ae%c0%ae/outside/secret.json", // overlong UTF-8 dots
		"/%ff.json",
		"/models/index.html",
		"/models/gpt2/page.html",
		"/models/gpt2/x.js",
		"/models/gpt2/x.svg",
		"/models/gpt2/x.wasm",
		"/models/gpt2/x.css",
		"/models/",
	}
	for _, target := range targets {
		r := f.raw(t, "GET", target)
		if r.StatusCode != 400 && r.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 400 or 404", target, r.StatusCode)
		}
		if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte("model_type")) || bytes.Contains(r.body, []byte("must not be served")) {
			t.Errorf("GET %s: the file was served: %q", target, r.body)
		}
		if ct := r.Header.Get("Content-Type"); r.StatusCode >= 400 && ct != "text/plain; charset=utf-8" {
			t.Errorf("GET %s: error Content-Type %q", target, ct)
		}
	}
	// Links that stay inside the root are followed.
	for _, p := range []string{"/models/gpt2/alias.json", "/models/gpt2-alias/config.json"} {
		r := f.get(t, p)
		wantStatus(t, r, 200)
		if !bytes.Contains(r.body, []byte("model_type")) {
			t.Errorf("%s: %q", p, r.body)
		}
	}
}

func TestWebDirOnDisk(t *testing.T) {
	dir := t.TempDir()
	webDir := filepath.Join(dir, "web")
	writeFile(t, filepath.Join(webDir, "index.html"), []byte("<p>from disk</p>"))
	writeFile(t, filepath.Join(webDir, "app.js"), []byte("let v = 1"))
	writeFile(t, filepath.Join(dir, "secret.js"), []byte(secret))
	symlink(t, filepath.Join(dir, "secret.js"), filepath.Join(webDir, "abs.js"))
	symlink(t, "../secret.js", filepath.Join(webDir, "rel.js"))
	symlink(t, "..", filepath.Join(webDir, "up"))
	if err := os.Mkdir(filepath.Join(webDir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.WebDir = webDir })
	r := f.get(t, "/")
	wantStatus(t, r, 200)
	if string(r.body) != "<p>from disk</p>" {
		t.Fatalf("body %q", r.body)
	}
	e1 := f.get(t, "/app.js").Header.Get("ETag")
	writeFile(t, filepath.Join(webDir, "app.js"), []byte("let v = 2"))
	r = f.get(t, "/app.js", "If-None-Match", e1)
	wantStatus(t, r, 200)
	if string(r.body) != "let v = 2" {
		t.Errorf("edit not seen: %q", r.body)
	}
	for _, p := range []string{"/abs.js", "/rel.js", "/up/secret.js", "/up/web/index.html", "/empty/", "/empty"} {
		r := f.raw(t, "GET", p)
		if r.StatusCode != 404 || bytes.Contains(r.body, []byte(secret)) {
			t.Errorf("GET %s: %d %q", p, r.StatusCode, r.body)
		}
	}
}

func TestParsePath(t *testing.T) {
	for raw, want := range map[string]string{
		"/":              "",
		"/a/b.js":        "a|b.js",
		"/a/":            "a|/",
		"/a%20b.js":      "a b.js",
		"/%C3%BC.js":     "ü.js",
		"/a/../b":        "400",
		"/a/%2e%2e/b":    "400",
		"/a%2Fb":         "400",
		"/a%5Cb":         "400",
		"/a%00b":         "400",
		"/a%7fb":         "400",
		"/a%ffb":         "400",
		"/a//b":          "404",
		"/.env":          "404",
		"/a/%2ehtaccess": "404",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		p, code, _ := parsePath(u)
		got := strings.Join(p.segs, "|")
		if p.dir && got != "" {
			got += "|/"
		}
		if code != 0 {
			got = strconv.Itoa(code)
		}
		if got != want {
			t.Errorf("parsePath(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestDirectories(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/")
	wantStatus(t, r, 200)
	if !bytes.Contains(r.body, []byte("home")) {
		t.Errorf("/: %q", r.body)
	}
	r = f.get(t, "/sub/")
	wantStatus(t, r, 200)
	if string(r.body) != "<p>sub index</p>" {
		t.Errorf("/sub/: %q", r.body)
	}
	r = f.get(t, "/sub?x=1")
	wantStatus(t, r, 301)
	if loc := r.Header.Get("Location"); loc != "/sub/?x=1" {
		t.Errorf("/sub redirects to %q", loc)
	}
	for _, p := range []string{"/nested/", "/nested", "/models", "/models/", "/models/gpt2", "/models/gpt2/", "/index.html/", "/app.js/", "/api", "/api/", "/api/models/", "/api/other", "/healthz/", "/main.wasm/"} {
		r := f.get(t, p)
		wantStatus(t, r, 404)
		if r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, r.Header.Get("Content-Type"))
		}
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/missing.js", "/models/gpt2/missing.json", "/models/none/config.json", "/sub/missing.html", "/index.htm"} {
		r := f.get(t, p)
		wantStatus(t, r, 404)
		if r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !bytes.Contains(r.body, []byte("not found")) {
			t.Errorf("%s: %q %q", p, r.Header.Get("Content-Type"), r.body)
		}
		if r.Header.Get("ETag") != "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: error with caching headers", p)
		}
	}
	// Nothing configured: still well-behaved.
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for p, code := range map[string]int{"/": 404, "/models/x/config.json": 404, "/main.wasm": 503, "/wasm_exec.js": 503, "/healthz": 200, "/api/models": 200} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != code {
			t.Errorf("empty server %s: %d, want %d", p, rec.Code, code)
		}
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/healthz")
	wantStatus(t, r, 200)
	if string(r.body) != "ok\n" {
		t.Errorf("healthz %q", r.body)
	}
}

func TestModelsAPI(t *testing.T) {
	f := newFixture(t, nil)
	r := f.get(t, "/api/models")
	wantStatus(t, r, 200)
	var list ModelList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	var names []string
	for _, m := range list.Models {
		names = append(names, m.Name)
	}
	if strings.Join(names, ",") != "broken,gpt2,gpt2-alias" {
		t.Fatalf("models %v", names)
	}
	broken, gpt2 := list.Models[0], list.Models[1]
	if broken.Error == "" || broken.Config != nil {
		t.Errorf("broken: %+v", broken)
	}
	if gpt2.ModelType != "gpt2" || len(gpt2.Architectures) != 1 || gpt2.URL != "/models/gpt2/" {
		t.Errorf("gpt2: %+v", gpt2)
	}
	var cfg map[string]any
	if err := json.Unmarshal(gpt2.Config, &cfg); err != nil || cfg["n_layer"] != 2.0 {
		t.Errorf("gpt2 config %s (%v)", gpt2.Config, err)
	}
	var files []string
	var total int64
	for _, fl := range gpt2.Files {
		files = append(files, fl.Name)
		total += fl.Size
		// Each listed file is served, with the listed size.
		h := f.do(t, "HEAD", fl.URL)
		wantStatus(t, h, 200)
		if h.Header.Get("Content-Length") != strconv.FormatInt(fl.Size, 10) {
			t.Errorf("%s: listed %d, served %s", fl.URL, fl.Size, h.Header.Get("Content-Length"))
		}
	}
	if got := strings.Join(files, ","); got != "alias.json,config.json,merges.txt,model.safetensors,tokenizer.json" {
		t.Errorf("gpt2 files %s", got)
	}
	if total != gpt2.TotalSize {
		t.Errorf("total %d, files sum %d", gpt2.TotalSize, total)
	}
	if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte("escape")) || bytes.Contains(r.body, []byte("linkdir")) {
		t.Errorf("listing shows what is not served: %s", r.body)
	}
}

func TestModelsDirMissingThenCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	f := newFixture(t, func(o *Options) { o.ModelsDir = dir })
	wantStatus(t, f.get(t, "/models/m/config.json"), 404)
	r := f.get(t, "/api/models")
	wantStatus(t, r, 200)
	if strings.Join(strings.Fields(string(r.body)), "") != `{"models":[]}` {
		t.Errorf("empty listing %q", r.body)
	}
	writeFile(t, filepath.Join(dir, "m", "config.json"), []byte(`{"model_type":"roberta"}`))
	wantStatus(t, f.get(t, "/models/m/config.json"), 200)
	if r := f.get(t, "/api/models"); !bytes.Contains(r.body, []byte(`"roberta"`)) {
		t.Errorf("listing after create %s", r.body)
	}
}

func TestWasmRoutes(t *testing.T) {
	dir := t.TempDir()
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bigText("wasm", 20000)...)
	writeFile(t, filepath.Join(dir, "main.wasm"), wasm)
	writeFile(t, filepath.Join(dir, "wasm_exec.js"), []byte("// glue "+strings.Repeat("g", 500)))
	f := newFixture(t, func(o *Options) { o.WasmPath = filepath.Join(dir, "main.wasm") })
	r := f.get(t, "/main.wasm")
	wantStatus(t, r, 200)
	if r.Header.Get("Content-Type") != "application/wasm" || !bytes.Equal(r.body, wasm) {
		t.Errorf("main.wasm: %q, %d bytes", r.Header.Get("Content-Type"), len(r.body))
	}
	z := f.get(t, "/main.wasm", "Accept-Encoding", "gzip")
	if z.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, z.body), wasm) {
		t.Error("main.wasm not gzipped")
	}
	wantStatus(t, f.get(t, "/main.wasm", "If-None-Match", r.Header.Get("ETag")), 304)
	r = f.get(t, "/wasm_exec.js")
	wantStatus(t, r, 200)
	if r.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !bytes.HasPrefix(r.body, []byte("// glue")) {
		t.Errorf("wasm_exec.js: %q %q", r.Header.Get("Content-Type"), r.body[:10])
	}

	// No engine: 503 with the reason.
	f = newFixture(t, nil)
	r = f.get(t, "/main.wasm")
	wantStatus(t, r, 503)
	if !bytes.Contains(r.body, []byte("test: no engine")) {
		t.Errorf("503 body %q", r.body)
	}
	wantStatus(t, f.get(t, "/wasm_exec.js"), 503)

	// No engine given, but one in the web root.
	f = newFixture(t, func(o *Options) {
		o.Web = fstest.MapFS{"main.wasm": {Data: wasm}, "wasm_exec.js": {Data: []byte("// web glue")}}
	})
	r = f.get(t, "/main.wasm")
	wantStatus(t, r, 200)
	if !bytes.Equal(r.body, wasm) {
		t.Error("web root main.wasm not served")
	}
	if r := f.get(t, "/wasm_exec.js"); string(r.body) != "// web glue" {
		t.Errorf("web root wasm_exec.js: %q", r.body)
	}

	// The engine file vanished after start: 503, not a crash.
	gone := filepath.Join(t.TempDir(), "main.wasm")
	writeFile(t, gone, wasm)
	f = newFixture(t, func(o *Options) { o.WasmPath = gone })
	os.Remove(gone)
	wantStatus(t, f.get(t, "/main.wasm"), 503)
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.wasm")
	writeFile(t, file, []byte("x"))
	for name, o := range map[string]Options{
		"missing web dir":    {WebDir: filepath.Join(dir, "nope")},
		"web dir is a file":  {WebDir: file},
		"missing wasm":       {WasmPath: filepath.Join(dir, "nope.wasm")},
		"wasm is a dir":      {WasmPath: dir},
		"missing wasm_exec":  {WasmPath: file, WasmExecPath: filepath.Join(dir, "nope.js")},
		"wasm_exec is a dir": {WasmExecPath: dir},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(Options{ModelsDir: filepath.Join(dir, "nope")}); err != nil {
		t.Errorf("missing models dir: %v", err)
	}
}

func TestEmbeddedWeb(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Web = web.Files })
	r := f.get(t, "/")
	wantStatus(t, r, 200)
	if !bytes.Contains(r.body, []byte("<html")) || r.Header.Get("Last-Modified") == "" {
		t.Errorf("embedded index: %q, Last-Modified %q", r.body, r.Header.Get("Last-Modified"))
	}
	wantStatus(t, f.get(t, "/embed.go"), 404)
}
