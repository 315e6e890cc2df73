package server

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits of the content handling.
const (
	// hashLimit is the largest file whose ETag is a hash of its content;
	// a bigger file (a model checkpoint) gets one made of its size and
	// modification time, like nginx's, which costs no read.
	hashLimit = 64 << 20
	// gzipMinSize and gzipMaxSize bound the files that are gzipped.
	gzipMinSize = 256
	gzipMaxSize = 64 << 20
	// gzipCacheBytes bounds the memory kept for gzipped bodies.
	gzipCacheBytes = 256 << 20
	// maxRanges is the most byte ranges one request may ask for.
	maxRanges = 16
	// etagCacheEntries bounds the remembered content hashes.
	etagCacheEntries = 4096
)

// types maps the served file extensions to their Content-Type and
// whether they are worth gzipping. A file with any other extension is
// never served (404), so sources, backups and the like stay private.
var types = map[string]struct {
	ctype string
	gzip  bool
}{
	".html":        {"text/html; charset=utf-8", true},
	".htm":         {"text/html; charset=utf-8", true},
	".js":          {"text/javascript; charset=utf-8", true},
	".mjs":         {"text/javascript; charset=utf-8", true},
	".css":         {"text/css; charset=utf-8", true},
	".json":        {"application/json", true},
	".map":         {"application/json", true},
	".webmanifest": {"application/manifest+json", true},
	".wasm":        {"application/wasm", true},
	".txt":         {"text/plain; charset=utf-8", true},
	".md":          {"text/plain; charset=utf-8", true},
	".csv":         {"text/csv; charset=utf-8", true},
	".tsv":         {"text/tab-separated-values; charset=utf-8", true},
	".jsonl":       {"application/jsonl", true},
	".svg":         {"image/svg+xml", true},
	".safetensors": {"application/octet-stream", false},
	".bin":         {"application/octet-stream", false},
	".model":       {"application/octet-stream", false}, // sentencepiece
	".png":         {"image/png", false},
	".jpg":         {"image/jpeg", false},
	".jpeg":        {"image/jpeg", false},
	".gif":         {"image/gif", false},
	".webp":        {"image/webp", false},
	".ico":         {"image/x-icon", false},
	".woff":        {"font/woff", false},
	".woff2":       {"font/woff2", false},
}

// contentType returns the Content-Type for a file name, or "" for a name
// that is not served.
func contentType(name string) string {
	return types[strings.ToLower(path.Ext(name))].ctype
}

// compressible reports whether a file of this name is worth gzipping.
func compressible(name string) bool {
	return types[strings.ToLower(path.Ext(name))].gzip
}

// serveFile serves an open file. key identifies it in the caches; name is
// its URL name (for the content type).
func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, key, name string, f fs.File, st fs.FileInfo, immutable bool) {
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		// Every fs.FS used here (embed, os.Root) gives seekable files;
		// buffer anything else, bounded.
		if st.Size() > gzipMaxSize {
			httpError(w, http.StatusInternalServerError, "internal error: file not seekable")
			return
		}
		b, err := io.ReadAll(io.LimitReader(f, st.Size()+1))
		if err != nil {
			httpError(w, http.StatusInternalServerError, "internal error: read failed")
			return
		}
		rs = bytes.NewReader(b)
	}
	mod := st.ModTime()
	if mod.IsZero() {
		mod = h.start
	}
	etag, err := h.etags.get(key, st.Size(), mod, rs)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "internal error: read failed")
		return
	}
	h.serveContent(w, r, key, name, rs, st.Size(), mod, etag)
}

// serveBytes serves generated content; a zero mod omits Last-Modified.
func (h *Handler) serveBytes(w http.ResponseWriter, r *http.Request, name string, b []byte, mod time.Time) {
	h.serveContent(w, r, "bytes:"+name, name, bytes.NewReader(b), int64(len(b)), mod, hashETag(b))
}

// serveContent applies the content rules: Content-Type, Cache-Control,
// Vary, the range limit, gzip, ETag, and leaves conditional requests,
// ranges and HEAD to http.ServeContent.
func (h *Handler) serveContent(w http.ResponseWriter, r *http.Request, key, name string, rs io.ReadSeeker, size int64, mod time.Time, etag string) {
	hd := w.Header()
	hd.Set("Content-Type", contentType(name))
	// Always revalidate: cheap with ETags (304), and a rebuilt engine or
	// an edited page is never served stale.
	hd.Set("Cache-Control", "no-cache")
	comp := compressible(name)
	if comp {
		hd.Add("Vary", "Accept-Encoding")
	}
	rangeHdr := r.Header.Get("Range")
	if msg := refuseRange(rangeHdr); msg != "" {
		hd.Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
		httpError(w, http.StatusRequestedRangeNotSatisfiable, msg)
		return
	}
	if comp && rangeHdr == "" && size >= gzipMinSize && size <= gzipMaxSize && acceptsGzip(r.Header) {
		gz, err := h.gz.get(key+"|"+etag, func() ([]byte, error) { return gzipAll(rs, size) })
		if err == nil {
			hd.Set("Content-Encoding", "gzip")
			hd.Set("ETag", gzipETag(etag))
			// ServeContent leaves Content-Length out when an encoding is
			// set; the length is known, so a 200 (HEAD included) gets it.
			lw := &lengthWriter{ResponseWriter: w, n: strconv.Itoa(len(gz))}
			http.ServeContent(lw, r, "", mod, bytes.NewReader(gz))
			return
		}
		// Serve it uncompressed instead.
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			httpError(w, http.StatusInternalServerError, "internal error: seek failed")
			return
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", mod, rs)
}

// lengthWriter sets Content-Length on a 200 answer only: the 304 and 412
// answers of http.ServeContent carry neither it nor Content-Encoding.
type lengthWriter struct {
	http.ResponseWriter
	n string
}

func (l *lengthWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		l.Header().Set("Content-Length", l.n)
	} else {
		l.Header().Del("Content-Encoding") // no gzip body follows
	}
	l.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (l *lengthWriter) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// refuseRange returns why a Range header is refused before
// http.ServeContent sees it, or "": more than maxRanges ranges, or a
// zero-length suffix range ("bytes=-0", unsatisfiable by RFC 9110 14.1.3,
// which ServeContent would answer with an empty 206).
func refuseRange(h string) string {
	if h == "" {
		return ""
	}
	if strings.Count(h, ",") >= maxRanges {
		return fmt.Sprintf("too many ranges (at most %d)", maxRanges)
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		return ""
	}
	for _, r := range strings.Split(spec, ",") {
		r = strings.TrimSpace(r)
		if n, ok := strings.CutPrefix(r, "-"); ok && strings.Trim(strings.TrimSpace(n), "0") == "" && strings.TrimSpace(n) != "" {
			return "zero-length suffix range"
		}
	}
	return ""
}

// gzipAll reads rs from the start and returns it gzipped.
func gzipAll(rs io.ReadSeeker, size int64) ([]byte, error) {
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(int(size / 3))
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, io.LimitReader(rs, size)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip:
// "gzip" or "x-gzip" with a nonzero q, or "*" with a nonzero q when gzip is
// not named.
func acceptsGzip(h http.Header) bool {
	gz, star := -1.0, -1.0
	for _, v := range h.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
					if err != nil || f < 0 || f > 1 {
						f = 0
					}
					q = f
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gz = max(gz, q)
			case "*":
				star = max(star, q)
			}
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}

// hashETag is a strong ETag made from a content hash.
func hashETag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
}

// gzipETag is the ETag of the gzipped representation: a different one,
// as the bytes differ.
func gzipETag(etag string) string {
	return strings.TrimSuffix(etag, `"`) + `-gz"`
}

// etagCache remembers the content hashes of files, keyed by name, size
// and modification time, so that a file is hashed once per version.
type etagCache struct {
	mu sync.Mutex
	m  map[string]string
}

// get returns the ETag of the file rs (which it leaves at offset 0): a
// hash of the content up to hashLimit bytes, else one of size and
// modification time.
func (c *etagCache) get(key string, size int64, mod time.Time, rs io.ReadSeeker) (string, error) {
	if size > hashLimit {
		return `"s` + strconv.FormatInt(size, 36) + "-" + strconv.FormatInt(mod.UnixNano(), 36) + `"`, nil
	}
	k := key + "|" + strconv.FormatInt(size, 10) + "|" + strconv.FormatInt(mod.UnixNano(), 10)
	c.mu.Lock()
	etag, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return etag, nil
	}
	sha := sha256.New()
	if _, err := io.Copy(sha, io.LimitReader(rs, size)); err != nil {
		return "", err
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	sum := sha.Sum(nil)
	etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	c.mu.Lock()
	if len(c.m) >= etagCacheEntries {
		clear(c.m)
	}
	c.m[k] = etag
	c.mu.Unlock()
	return etag, nil
}

// gzipCache keeps gzipped bodies, least recently used first out, within
// a byte budget; concurrent requests for the same body compress it once.
type gzipCache struct {
	mu   sync.Mutex
	max  int64
	used int64
	m    map[string]*list.Element
	lru  list.List // of *gzEntry, most recent at the front
}

type gzEntry struct {
	key  string
	once sync.Once
	data []byte
	err  error
	size int64 // bytes counted in used
}

func newGzipCache(max int64) gzipCache {
	return gzipCache{max: max, m: map[string]*list.Element{}}
}

func (c *gzipCache) get(key string, compress func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	el, ok := c.m[key]
	if ok {
		c.lru.MoveToFront(el)
	} else {
		el = c.lru.PushFront(&gzEntry{key: key})
		c.m[key] = el
	}
	e := el.Value.(*gzEntry)
	c.mu.Unlock()
	e.once.Do(func() {
		e.data, e.err = compress()
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.m[key] != el {
			return // evicted meanwhile
		}
		if e.err != nil || int64(len(e.data)) > c.max {
			c.remove(el) // retry next time / too big to keep
			return
		}
		e.size = int64(len(e.data))
		c.used += e.size
		for c.used > c.max {
			back := c.lru.Back()
			if back == el {
				break
			}
			c.remove(back)
		}
	})
	return e.data, e.err
}

func (c *gzipCache) remove(el *list.Element) {
	e := el.Value.(*gzEntry)
	c.lru.Remove(el)
	delete(c.m, e.key)
	c.used -= e.size
}

// Security headers, set on every response.
const contentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self' 'wasm-unsafe-eval'; " +
	"worker-src 'self' blob:; " +
	"connect-src 'self'; " +
	"img-src 'self' data: blob:; " +
	"style-src 'self'; " +
	"font-src 'self'; " +
	"object-src 'none'; " +
	"base-uri 'self'; " +
	"form-action 'self'; " +
	"frame-ancestors 'none'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Cross-origin isolation, so that the page may use SharedArrayBuffer.
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// httpError answers a plain-text error. msg is fixed text, never a part of
// the request.
func httpError(w http.ResponseWriter, code int, msg string) {
	hd := w.Header()
	for _, k := range []string{"ETag", "Last-Modified", "Content-Encoding", "Accept-Ranges"} {
		hd.Del(k)
	}
	body := strconv.Itoa(code) + " " + http.StatusText(code) + ": " + msg + "\n"
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func notFound(w http.ResponseWriter) {
	httpError(w, http.StatusNotFound, "not found")
}
