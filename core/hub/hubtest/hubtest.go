// Package hubtest is a stand-in for the Hugging Face Hub for tests: an
// HTTPS server on 127.0.0.1 that serves repositories in the hub's URL
// layout ({repo}/resolve/{revision}/{file}) with the hub's metadata
// headers, a separate CDN server for LFS files, and switches to inject
// faults (cut connections, stalls, ignored ranges, corrupted bytes).
//
// Like the real hub: HEAD and GET on a resolve URL carry X-Repo-Commit;
// ordinary files answer 200 with ETag = git blob sha1; LFS files (by
// default *.safetensors and *.bin) answer 302 to the CDN with X-Linked-Size
// and X-Linked-Etag = sha256; errors carry X-Error-Code (RepoNotFound,
// RevisionNotFound, EntryNotFound, GatedRepo) and X-Error-Message.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Repo is one model repository.
type Repo struct {
	// Files maps file names to contents.
	Files map[string][]byte
	// LFS, if set, says which files are LFS files; by default those ending
	// in .safetensors, .bin or .h5.
	LFS map[string]bool
	// Commit is the commit all revisions resolve to (default: derived from
	// the contents).
	Commit string
	// Refs are extra branch or tag names ("main" always exists).
	Refs []string
	// Gated repositories need the server's Token (401 without it).
	Gated bool
	// Forbidden repositories answer 403 even with a valid token (gated
	// terms not accepted).
	Forbidden bool
}

func (r *Repo) isLFS(name string) bool {
	if r.LFS != nil {
		return r.LFS[name]
	}
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin") || strings.HasSuffix(name, ".h5")
}

// Request is one request the servers saw.
type Request struct {
	Server  string // "hub" or "cdn"
	Method  string
	Path    string
	File    string
	Range   string
	IfRange string
	Auth    string // the Authorization header
}

// Server is a fake hub with its CDN.
type Server struct {
	Hub, CDN *httptest.Server
	// Token is the valid access token for gated repositories.
	Token string

	mu    sync.Mutex
	repos map[string]*Repo
	moved map[string]string // old repo id → new id
	// Fault injection, keyed by file name.
	cut         map[string]int64 // close the connection after n body bytes, once
	hold        map[string]int64 // send n bytes, then stall until the client gives up, once
	corrupt     map[string]bool  // flip a byte of the served content
	ignoreRange bool
	fail        map[string]int // answer 503 this many times
	log         []Request
}

// New starts a hub and a CDN server on 127.0.0.1 with TLS.
func New() *Server {
	s := &Server{
		repos: map[string]*Repo{}, moved: map[string]string{},
		cut: map[string]int64{}, hold: map[string]int64{}, corrupt: map[string]bool{}, fail: map[string]int{},
		Token: "hf_test_token_0123456789",
	}
	s.CDN = httptest.NewTLSServer(http.HandlerFunc(s.serveCDN))
	s.Hub = httptest.NewTLSServer(http.HandlerFunc(s.serveHub))
	return s
}

// NewPlain is New without TLS (plain HTTP on loopback).
func NewPlain() *Server {
	s := &Server{
		repos: map[string]*Repo{}, moved: map[string]string{},
		cut: map[string]int64{}, hold: map[string]int64{}, corrupt: map[string]bool{}, fail: map[string]int{},
		Token: "hf_test_token_0123456789",
	}
	s.CDN = httptest.NewServer(http.HandlerFunc(s.serveCDN))
	s.Hub = httptest.NewServer(http.HandlerFunc(s.serveHub))
	return s
}

// URL is the hub endpoint.
func (s *Server) URL() string { return s.Hub.URL }

// Client returns an HTTP client that trusts both servers' certificate.
func (s *Server) Client() *http.Client { return s.Hub.Client() }

// Close stops both servers.
func (s *Server) Close() {
	s.Hub.CloseClientConnections()
	s.CDN.CloseClientConnections()
	s.Hub.Close()
	s.CDN.Close()
}

// AddRepo adds or replaces a repository.
func (s *Server) AddRepo(id string, r *Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Commit == "" {
		h := sha1.New()
		names := make([]string, 0, len(r.Files))
		for n := range r.Files {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(h, "%s\x00%x\x00", n, sha256.Sum256(r.Files[n]))
		}
		r.Commit = hex.EncodeToString(h.Sum(nil))
	}
	s.repos[id] = r
}

// Move makes old redirect to to, like a renamed repository.
func (s *Server) Move(old, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moved[old] = to
}

// CutOnce makes the next GET of file close the connection after n bytes.
func (s *Server) CutOnce(file string, n int64) { s.mu.Lock(); s.cut[file] = n; s.mu.Unlock() }

// HoldOnce makes the next GET of file send n bytes and then stall until
// the client disconnects.
func (s *Server) HoldOnce(file string, n int64) { s.mu.Lock(); s.hold[file] = n; s.mu.Unlock() }

// Corrupt makes GETs of file serve a corrupted copy (same length).
func (s *Server) Corrupt(file string, on bool) { s.mu.Lock(); s.corrupt[file] = on; s.mu.Unlock() }

// IgnoreRange makes the servers ignore Range headers (always 200).
func (s *Server) IgnoreRange(on bool) { s.mu.Lock(); s.ignoreRange = on; s.mu.Unlock() }

// FailTimes makes the next n requests for file answer 503.
func (s *Server) FailTimes(file string, n int) { s.mu.Lock(); s.fail[file] = n; s.mu.Unlock() }

// Requests returns the requests seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetLog clears the request log.
func (s *Server) ResetLog() { s.mu.Lock(); s.log = nil; s.mu.Unlock() }

// Count returns how many logged requests have the method (and file, if
// not empty).
func (s *Server) Count(method, file string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && (file == "" || r.File == file) {
			n++
		}
	}
	return n
}

// GitBlobSHA1 is the git object id of a file's content (the hub's ETag of
// ordinary files).
func GitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// SHA256 is the hex sha256 of b (the hub's X-Linked-Etag of LFS files).
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *Server) record(server string, r *http.Request, file string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Server: server, Method: r.Method, Path: r.URL.Path, File: file,
		Range: r.Header.Get("Range"), IfRange: r.Header.Get("If-Range"), Auth: r.Header.Get("Authorization")})
}

func hubError(w http.ResponseWriter, code int, errCode, msg string) {
	if errCode != "" {
		w.Header().Set("X-Error-Code", errCode)
	}
	w.Header().Set("X-Error-Message", msg)
	http.Error(w, msg, code)
}

func (s *Server) serveHub(w http.ResponseWriter, r *http.Request) {
	p := r.URL.EscapedPath()
	i := strings.Index(p, "/resolve/")
	if i < 0 {
		s.record("hub", r, "")
		hubError(w, http.StatusNotFound, "", "not a resolve URL")
		return
	}
	repoID, _ := url.PathUnescape(strings.TrimPrefix(p[:i], "/"))
	rest := p[i+len("/resolve/"):]
	revEsc, fileEsc, _ := strings.Cut(rest, "/")
	rev, err1 := url.PathUnescape(revEsc)
	file, err2 := url.PathUnescape(fileEsc)
	s.record("hub", r, file)
	if err1 != nil || err2 != nil || file == "" {
		hubError(w, http.StatusBadRequest, "", "bad path")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hubError(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	s.mu.Lock()
	if to, ok := s.moved[repoID]; ok {
		s.mu.Unlock()
		w.Header().Set("Location", "/"+to+"/resolve/"+revEsc+"/"+fileEsc)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	repo := s.repos[repoID]
	if n := s.fail[file]; n > 0 {
		s.fail[file] = n - 1
		s.mu.Unlock()
		hubError(w, http.StatusServiceUnavailable, "", "try again later")
		return
	}
	s.mu.Unlock()
	if repo == nil {
		hubError(w, http.StatusNotFound, "RepoNotFound", "Repository not found")
		return
	}
	auth := r.Header.Get("Authorization")
	if repo.Gated || repo.Forbidden {
		switch {
		case auth == "":
			hubError(w, http.StatusUnauthorized, "GatedRepo", "Access to model "+repoID+" is restricted. You must be authenticated to access it.")
			return
		case auth != "Bearer "+s.Token:
			hubError(w, http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
			return
		case repo.Forbidden:
			hubError(w, http.StatusForbidden, "GatedRepo", "Access to model "+repoID+" is restricted and you are not in the authorized list.")
			return
		}
	}
	if rev != "main" && rev != repo.Commit && !slices.Contains(repo.Refs, rev) {
		hubError(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return
	}
	w.Header().Set("X-Repo-Commit", repo.Commit)
	content, ok := repo.Files[file]
	if !ok {
		hubError(w, http.StatusNotFound, "EntryNotFound", "Entry not found")
		return
	}
	if repo.isLFS(file) {
		sum := SHA256(content)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(content)))
		w.Header().Set("X-Linked-Etag", `"`+sum+`"`)
		w.Header().Set("ETag", `"`+sum+`"`)
		w.Header().Set("Location", s.CDN.URL+"/blobs/"+sum+"?name="+url.QueryEscape(file))
		w.WriteHeader(http.StatusFound)
		return
	}
	s.serveContent(w, r, file, content, `"`+GitBlobSHA1(content)+`"`)
}

func (s *Server) serveCDN(w http.ResponseWriter, r *http.Request) {
	file := r.URL.Query().Get("name")
	s.record("cdn", r, file)
	sum := strings.TrimPrefix(r.URL.Path, "/blobs/")
	s.mu.Lock()
	var content []byte
	found := false
	for _, repo := range s.repos {
		for _, b := range repo.Files {
			if SHA256(b) == sum {
				content, found = b, true
			}
		}
	}
	s.mu.Unlock()
	if !found {
		http.Error(w, "no such blob", http.StatusNotFound)
		return
	}
	s.serveContent(w, r, file, content, `"`+sum+`"`)
}

// serveContent answers GET/HEAD with Range support via http.ServeContent,
// after applying the injected faults.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, file string, content []byte, etag string) {
	s.mu.Lock()
	if s.ignoreRange {
		r.Header.Del("Range")
	}
	if s.corrupt[file] {
		content = append([]byte(nil), content...)
		if len(content) > 0 {
			content[len(content)/2] ^= 0xff
		}
	}
	var cutAt, holdAt int64 = -1, -1
	if r.Method == http.MethodGet {
		if n, ok := s.cut[file]; ok {
			cutAt = n
			delete(s.cut, file)
		}
		if n, ok := s.hold[file]; ok {
			holdAt = n
			delete(s.hold, file)
		}
	}
	s.mu.Unlock()
	w.Header().Set("ETag", etag)
	w.Header().Set("Accept-Ranges", "bytes")
	if cutAt >= 0 || holdAt >= 0 {
		w = &faultWriter{ResponseWriter: w, cutAt: cutAt, holdAt: holdAt, r: r}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(content))
}

// faultWriter cuts the connection (cutAt) or stalls (holdAt) after a
// number of body bytes.
type faultWriter struct {
	http.ResponseWriter
	cutAt, holdAt int64
	n             int64
	r             *http.Request
}

func (f *faultWriter) Write(p []byte) (int, error) {
	limit := f.cutAt
	if limit < 0 {
		limit = f.holdAt
	}
	if f.n+int64(len(p)) <= limit {
		f.n += int64(len(p))
		return f.ResponseWriter.Write(p)
	}
	k := limit - f.n
	f.ResponseWriter.Write(p[:k])
	f.n += k
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	if f.holdAt >= 0 {
		select {
		case <-f.r.Context().Done():
		case <-time.After(30 * time.Second):
		}
	}
	panic(http.ErrAbortHandler) // drop the connection mid-body
}
