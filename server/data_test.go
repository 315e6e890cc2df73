package server

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	datasets "github.com/hutml/hut/data"
)

// dataFixture serves a small in-memory data tree under /data/, built with
// OpenerFS over an opener that counts its calls.
func dataFixture(t *testing.T) (*fixture, map[string][]byte, *atomic.Int64) {
	t.Helper()
	files := map[string][]byte{
		"e2e/train.csv":       append([]byte("mr,ref\n"), bigText("e2e", 5000)...),
		"e2e/notes.txt":       []byte("short\n"),
		"glue/sst2/dev.tsv":   append([]byte("sentence\tlabel\n"), bigText("sst", 3000)...),
		"glue/sst2/SOURCE.md": []byte("# source\n"),
		"evil/page.html":      []byte("<script>" + secret + "</script>"),
		"evil/x.js":           []byte(secret),
		"evil/x.svg":          []byte(secret),
		"evil/x.wasm":         []byte(secret),
		"evil/blob.bin":       []byte(secret),
		"broken/fails.csv":    nil, // the opener fails
	}
	var opens atomic.Int64
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	names = append(names, "../outside.csv", "/abs.csv", "e2e/./dup.csv") // invalid: skipped
	dfs := OpenerFS(names, func(name string) (io.ReadCloser, error) {
		opens.Add(1)
		b, ok := files[name]
		if !ok || b == nil {
			return nil, errors.New("no such data set")
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	})
	f := newFixture(t, func(o *Options) { o.Data = dfs })
	return f, files, &opens
}

func TestOpenerFSIsAValidFS(t *testing.T) {
	files := map[string][]byte{"a/b/c.csv": []byte("1,2\n"), "a/d.tsv": []byte("x\ty\n"), "top.txt": []byte("top")}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	dfs := OpenerFS(names, func(name string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files[name])), nil
	})
	if err := fstest.TestFS(dfs, "a/b/c.csv", "a/d.tsv", "top.txt"); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(dfs, "a/d.tsv")
	if err != nil || string(b) != "x\ty\n" {
		t.Fatalf("ReadFile: %q, %v", b, err)
	}
	if _, err := dfs.Open("../a/d.tsv"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Open(../a/d.tsv): %v, want ErrInvalid", err)
	}
	if _, err := dfs.Open("a/missing.csv"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(a/missing.csv): %v, want ErrNotExist", err)
	}
}

func TestDataRoot(t *testing.T) {
	f, files, opens := dataFixture(t)
	for path, ctype := range map[string]string{
		"/data/e2e/train.csv":       "text/csv; charset=utf-8",
		"/data/e2e/notes.txt":       "text/plain; charset=utf-8",
		"/data/glue/sst2/dev.tsv":   "text/tab-separated-values; charset=utf-8",
		"/data/glue/sst2/SOURCE.md": "text/plain; charset=utf-8",
	} {
		r := f.get(t, path)
		wantStatus(t, r, 200)
		if got := r.Header.Get("Content-Type"); got != ctype {
			t.Errorf("%s: Content-Type %q, want %q", path, got, ctype)
		}
		if want := files[strings.TrimPrefix(path, "/data/")]; !bytes.Equal(r.body, want) {
			t.Errorf("%s: body of %d bytes, want %d", path, len(r.body), len(want))
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("Last-Modified") == "" || r.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: caching headers %v", path, r.Header)
		}
		if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing", path)
		}
	}

	// Each file is read from its opener once, however often it is served.
	before := opens.Load()
	for i := 0; i < 5; i++ {
		wantStatus(t, f.get(t, "/data/e2e/train.csv"), 200)
	}
	if n := opens.Load() - before; n != 0 {
		t.Errorf("the opener was called %d more times for a file already served", n)
	}

	// gzip, with its own ETag, and 304 on both representations.
	plain := f.get(t, "/data/e2e/train.csv")
	gz := f.get(t, "/data/e2e/train.csv", "Accept-Encoding", "gzip")
	wantStatus(t, gz, 200)
	if gz.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, gz.body), files["e2e/train.csv"]) {
		t.Fatalf("gzip: %v", gz.Header)
	}
	if gz.Header.Get("Vary") != "Accept-Encoding" || gz.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Errorf("gzip: Vary %q, ETag %q vs %q", gz.Header.Get("Vary"), gz.Header.Get("ETag"), plain.Header.Get("ETag"))
	}
	wantStatus(t, f.get(t, "/data/e2e/train.csv", "If-None-Match", plain.Header.Get("ETag")), 304)
	wantStatus(t, f.get(t, "/data/e2e/train.csv", "If-None-Match", gz.Header.Get("ETag"), "Accept-Encoding", "gzip"), 304)

	// HEAD: headers and length of the GET, no body.
	h := f.do(t, http.MethodHead, "/data/glue/sst2/dev.tsv")
	wantStatus(t, h, 200)
	if len(h.body) != 0 || h.ContentLength != int64(len(files["glue/sst2/dev.tsv"])) {
		t.Errorf("HEAD: %d body bytes, Content-Length %d", len(h.body), h.ContentLength)
	}

	// Ranges, and refused ranges.
	r := f.get(t, "/data/e2e/train.csv", "Range", "bytes=0-6")
	wantStatus(t, r, 206)
	if string(r.body) != "mr,ref\n" {
		t.Errorf("range body %q", r.body)
	}
	for _, rg := range []string{"bytes=99999999999-", "bytes=-0", "bytes=" + strings.Repeat("0-1,", 20) + "0-1"} {
		r := f.get(t, "/data/e2e/train.csv", "Range", rg)
		wantStatus(t, r, 416)
		if bytes.Contains(r.body, []byte("e2e line")) {
			t.Errorf("Range %s: content in the 416 body", rg)
		}
	}
	// A huge but satisfiable range is clipped to the file.
	r = f.get(t, "/data/e2e/notes.txt", "Range", "bytes=0-999999999999999")
	wantStatus(t, r, 206)
	if string(r.body) != "short\n" {
		t.Errorf("clipped range: %q", r.body)
	}

	// Methods other than GET and HEAD.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "PROPFIND"} {
		r := f.do(t, m, "/data/e2e/train.csv")
		wantStatus(t, r, 405)
		if r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: Allow %q", m, r.Header.Get("Allow"))
		}
	}
}

func TestDataRootRefusals(t *testing.T) {
	f, _, _ := dataFixture(t)
	for _, target := range []string{
		"/data/",
		"/data",
		"/data/e2e",
		"/data/e2e/",
		"/data/glue/sst2/",
		"/data/missing.csv",
		"/data/e2e/missing.csv",
		"/data/e2e/train.csv/",
		"/data/broken/fails.csv", // the opener failed
		"/data/evil/page.html",   // only text data types under /data/
		"/data/evil/x.js",
		"/data/evil/x.svg",
		"/data/evil/x.wasm",
		"/data/evil/blob.bin",
		"/data/../outside.csv",
		"/data/%2e%2e/outside.csv",
		"/data/e2e/%2e%2e/%2e%2e/outside/secret.json",
		"/data/e2e%2ftrain.csv",
		"/data%2fe2e%2ftrain.csv",
		"/data/e2e/..%2f..%2fmodels%2fgpt2%2fconfig.json",
		`/data/e2e\train.csv`,
		"/data/e2e%5ctrain.csv",
		"/data/e2e/train.csv%00",
		"/data/e2e/%0atrain.csv",
		"/data/./e2e/train.csv",
		"/data//e2e/train.csv",
		"/data/.hidden.csv",
		"/data/%zz",
		"/data/%c0%ae%c0%ae/outside.csv",
		"/data/e2e/./dup.csv",
		"/data/abs.csv",
	} {
		r := f.raw(t, "GET", target)
		if r.StatusCode != 400 && r.StatusCode != 404 {
			t.Errorf("GET %s: status %d, want 400 or 404", target, r.StatusCode)
		}
		if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte("e2e line")) || bytes.Contains(r.body, []byte("model_type")) {
			t.Errorf("GET %s: content was served: %.80q", target, r.body)
		}
		// (net/http itself answers a few malformed targets, without our headers.)
		if r.Header.Get("Content-Type") != "text/plain; charset=utf-8" || (r.Header.Get("Content-Security-Policy") != "" && r.Header.Get("Cache-Control") != "no-store") {
			t.Errorf("GET %s: error headers %v", target, r.Header)
		}
	}
	// Without Options.Data, /data/ is not found (and never falls through
	// to the page's root).
	g := newFixture(t, nil)
	for _, p := range []string{"/data/", "/data/e2e/train.csv"} {
		wantStatus(t, g.get(t, p), 404)
	}
}

// TestEmbeddedDataSets serves the real embedded data sets, as hut serve
// does, and checks them against package datasets.
func TestEmbeddedDataSets(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Data = OpenerFS(datasets.List(), datasets.Open) })
	for _, name := range []string{"e2e/train.csv", "e2e/dev.csv", "glue/sst2/train.tsv", "glue/sst2/dev.tsv"} {
		want, err := datasets.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		r := f.get(t, "/data/"+name, "Accept-Encoding", "gzip")
		wantStatus(t, r, 200)
		if got := gunzip(t, r.body); !bytes.Equal(got, want) {
			t.Errorf("/data/%s: %d bytes, want %d", name, len(got), len(want))
		}
		if len(r.body) >= len(want) {
			t.Errorf("/data/%s: gzip body %d bytes for %d", name, len(r.body), len(want))
		}
	}
}
