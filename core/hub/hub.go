// Package hub downloads model repositories from the Hugging Face Hub (or a
// mirror speaking the same protocol) into a local cache.
//
// Files are fetched from the hub's resolve URLs,
//
//	{endpoint}/{repo_id}/resolve/{revision}/{filename}
//
// after a HEAD request on the same URL that yields the commit the revision
// points to (X-Repo-Commit), the file's size (X-Linked-Size or
// Content-Length) and its hash: for files stored with Git LFS,
// X-Linked-Etag is the sha256 of the content; for ordinary git files the
// ETag is the git blob sha1. Both are verified before a download is
// accepted.
//
// The cache uses the snapshot layout of huggingface_hub without its blob
// store:
//
//	{cache}/models--{org}--{name}/refs/{revision}             commit the revision last resolved to
//	{cache}/models--{org}--{name}/snapshots/{commit}/{file}   verified files
//	{cache}/models--{org}--{name}/snapshots/{commit}/{file}.incomplete       partial download
//	{cache}/models--{org}--{name}/snapshots/{commit}/{file}.incomplete.etag  its HTTP validator
//	{cache}/models--{org}--{name}/.no_exist/{commit}/{file}   the file is known to be absent
//
// A partial download is continued with a Range request (guarded by
// If-Range); a server that ignores the range or whose content changed
// answers 200 and the download restarts from zero. A file appears under its
// final name only after its size and hash have been checked, by an atomic
// rename. Transient failures (connection errors, cut or stalled bodies, 429
// and 5xx responses) are retried with exponential backoff; cancelling the
// context leaves the partial file to be resumed by the next run.
//
// The access token (HF_TOKEN) is sent as "Authorization: Bearer" only to
// the endpoint itself, and only over HTTPS or to a loopback address; it is
// never printed.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hutml/hut/core/hf"
)

// DefaultEndpoint is the Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the branch downloaded when none is given.
const DefaultRevision = "main"

// Client downloads files from a hub. The zero value is usable: it talks to
// DefaultEndpoint without a token and caches under DefaultCacheDir.
type Client struct {
	// Endpoint is the hub's base URL (default DefaultEndpoint).
	Endpoint string
	// Token is the access token for private and gated repositories.
	Token string
	// CacheDir is the cache root (default DefaultCacheDir()).
	CacheDir string
	// HTTPClient makes the requests (default: a client with sensible
	// timeouts). Its CheckRedirect is not used for HEAD requests.
	HTTPClient *http.Client
	// Retries is how many times a transient failure is retried without
	// progress before giving up (default 5; negative: none).
	Retries int
	// RetryWait is the first backoff; it doubles after each failure up to
	// MaxRetryWait (defaults 1s and 16s).
	RetryWait, MaxRetryWait time.Duration
	// StallTimeout aborts (and retries) a request that receives no data for
	// this long (default 60s).
	StallTimeout time.Duration
	// Offline serves files from the cache only (HF_HUB_OFFLINE=1).
	Offline bool
	// Progress, if set, receives a progress bar per downloaded file and a
	// line per file found in the cache.
	Progress io.Writer
	// UserAgent is sent with every request (default "hut").
	UserAgent string
}

// NewClient returns a client configured from the environment: HF_ENDPOINT
// (the hub's base URL), HF_TOKEN (access token), HF_HUB_OFFLINE (1/true:
// use the cache only) and HUT_HUB_CACHE (the cache root).
func NewClient() *Client {
	c := &Client{
		Endpoint: strings.TrimSpace(os.Getenv("HF_ENDPOINT")),
		Token:    strings.TrimSpace(os.Getenv("HF_TOKEN")),
		CacheDir: os.Getenv("HUT_HUB_CACHE"),
	}
	switch strings.ToLower(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "true", "yes", "on":
		c.Offline = true
	}
	return c
}

// DefaultCacheDir returns $HUT_HUB_CACHE, or hut/hub under the user's cache
// directory (os.UserCacheDir: ~/.cache on Linux, ~/Library/Caches on
// macOS, %LocalAppData% on Windows).
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("HUT_HUB_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("hub: no cache directory (set HUT_HUB_CACHE or pass a cache dir): %w", err)
	}
	return filepath.Join(d, "hut", "hub"), nil
}

func (c *Client) endpoint() (*url.URL, error) {
	ep := c.Endpoint
	if ep == "" {
		ep = DefaultEndpoint
	}
	u, err := url.Parse(strings.TrimRight(ep, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("hub: bad endpoint %q: want an http(s) base URL such as %s", ep, DefaultEndpoint)
	}
	return u, nil
}

func (c *Client) cacheDir() (string, error) {
	if c.CacheDir != "" {
		return c.CacheDir, nil
	}
	return DefaultCacheDir()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return defaultHTTPClient
}

var defaultHTTPClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	TLSHandshakeTimeout:   30 * time.Second,
	ResponseHeaderTimeout: 60 * time.Second,
	IdleConnTimeout:       90 * time.Second,
	MaxIdleConnsPerHost:   4,
	ForceAttemptHTTP2:     true,
}}

func (c *Client) retries() int {
	switch {
	case c.Retries < 0:
		return 0
	case c.Retries == 0:
		return 5
	}
	return c.Retries
}

func (c *Client) backoff(attempt int) time.Duration {
	w, maxW := c.RetryWait, c.MaxRetryWait
	if w <= 0 {
		w = time.Second
	}
	if maxW <= 0 {
		maxW = 16 * time.Second
	}
	for i := 1; i < attempt && w < maxW; i++ {
		w *= 2
	}
	return min(w, maxW)
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout > 0 {
		return c.StallTimeout
	}
	return 60 * time.Second
}

var (
	repoPartRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$`)
	commitRE   = regexp.MustCompile(`^[0-9a-f]{40}$`)
	sha256RE   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidRepoID checks a model id: "name" or "org/name", each part of
// letters, digits, '.', '_' and '-', without "--" or "..", as the hub
// requires.
func ValidRepoID(id string) error {
	parts := strings.Split(id, "/")
	if len(parts) > 2 || strings.Contains(id, "--") || strings.Contains(id, "..") {
		return fmt.Errorf("hub: bad repository id %q: want \"name\" or \"org/name\"", id)
	}
	for _, p := range parts {
		if !repoPartRE.MatchString(p) || strings.HasSuffix(p, ".") || strings.HasSuffix(p, "-") {
			return fmt.Errorf("hub: bad repository id %q: want \"name\" or \"org/name\" of letters, digits, '.', '_' and '-'", id)
		}
	}
	return nil
}

// validRevision checks a branch, tag or commit name; it becomes a path
// under refs/ in the cache, so it must stay inside that directory.
func validRevision(rev string) error {
	if rev == "" || len(rev) > 255 || !hf.ValidShardName(rev) || strings.ContainsAny(rev, " ~^?*[") {
		return fmt.Errorf("hub: bad revision %q: want a branch, tag or commit", rev)
	}
	return nil
}

// IsCommit reports whether rev is a full 40-hex-digit commit id.
func IsCommit(rev string) bool { return commitRE.MatchString(rev) }

// ResolveURL returns the hub URL of a file at a revision.
func ResolveURL(endpoint, repo, revision, filename string) string {
	segs := strings.Split(filename, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimRight(endpoint, "/") + "/" + repo + "/resolve/" + url.PathEscape(revision) + "/" + strings.Join(segs, "/")
}

// FileInfo is the hub's metadata of one file at one revision.
type FileInfo struct {
	Repo, Revision, Name string
	// URL is the resolve URL; Location is where the content is fetched
	// from (the resolve URL, or the CDN URL it redirects to).
	URL, Location string
	// Commit is the commit the revision resolved to.
	Commit string
	// ETag is the normalized entity tag (X-Linked-Etag or ETag).
	ETag string
	// Size in bytes, or -1 if the hub did not say.
	Size int64
	// SHA256 (LFS files) or GitSHA1 (git blob id of ordinary files) is
	// the expected hash, lower-case hex; at most one is set.
	SHA256, GitSHA1 string
}

// Stat asks the hub for a file's metadata with a HEAD request.
func (c *Client) Stat(ctx context.Context, repo, revision, filename string) (*FileInfo, error) {
	if err := ValidRepoID(repo); err != nil {
		return nil, err
	}
	if revision == "" {
		revision = DefaultRevision
	}
	if err := validRevision(revision); err != nil {
		return nil, err
	}
	if !hf.ValidShardName(filename) {
		return nil, fmt.Errorf("hub: bad file name %q", filename)
	}
	if c.Offline {
		return nil, fmt.Errorf("hub: %s/%s: offline mode (HF_HUB_OFFLINE) forbids network access: %w", repo, filename, ErrNotCached)
	}
	var info *FileInfo
	err := c.retry(ctx, fmt.Sprintf("hub: %s: metadata of %s", repo, filename), func() (bool, error) {
		var err error
		info, err = c.head(ctx, repo, revision, filename)
		return false, err
	})
	return info, err
}

// authorize adds the token to requests for the endpoint's own host, and
// only over HTTPS or to a loopback address.
func (c *Client) authorize(req *http.Request, ep *url.URL) bool {
	if c.Token == "" || req.URL.Host != ep.Host || req.URL.Scheme != ep.Scheme {
		return false
	}
	if req.URL.Scheme != "https" && !isLoopback(req.URL.Hostname()) {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Client) newRequest(ctx context.Context, method, u string, ep *url.URL) (*http.Request, bool, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, false, fmt.Errorf("hub: bad URL %s: %v", u, err)
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "hut"
	}
	req.Header.Set("User-Agent", ua)
	// Sizes and ranges refer to the stored bytes: no transparent gzip.
	req.Header.Set("Accept-Encoding", "identity")
	return req, c.authorize(req, ep), nil
}

// head runs one HEAD request, following relative redirects (renamed
// repositories) but not redirects to other hosts (the CDN), whose URL is
// returned as the Location.
func (c *Client) head(ctx context.Context, repo, revision, filename string) (*FileInfo, error) {
	ep, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	u := ResolveURL(ep.String(), repo, revision, filename)
	info := &FileInfo{Repo: repo, Revision: revision, Name: filename, URL: u, Size: -1}
	hc := *c.httpClient()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cur := u
	for hop := 0; ; hop++ {
		ctx, cancel := context.WithTimeout(ctx, c.stallTimeout())
		req, sent, err := c.newRequest(ctx, http.MethodHead, cur, ep)
		if err != nil {
			cancel()
			return nil, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			cancel()
			return nil, &netError{"HEAD", cur, err}
		}
		resp.Body.Close()
		cancel()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("hub: HEAD %s: redirect without a usable Location: %v", cur, err)
			}
			if loc.Host == ep.Host && loc.Scheme == ep.Scheme && resp.Header.Get("X-Linked-Size") == "" && hop < 5 {
				cur = loc.String() // renamed repository: follow
				continue
			}
			info.Location = loc.String()
		} else if resp.StatusCode != http.StatusOK {
			return nil, c.httpError(resp, http.MethodHead, cur, repo, revision, filename, sent, ep)
		} else {
			info.Location = cur
		}
		h := resp.Header
		info.Commit = h.Get("X-Repo-Commit")
		if !IsCommit(info.Commit) {
			return nil, fmt.Errorf("hub: HEAD %s: the response has no valid X-Repo-Commit header (got %q); is %s a Hugging Face hub endpoint?", cur, info.Commit, ep)
		}
		linked := normalizeETag(h.Get("X-Linked-Etag"))
		info.ETag = linked
		if info.ETag == "" {
			info.ETag = normalizeETag(h.Get("ETag"))
		}
		switch {
		case linked != "" && sha256RE.MatchString(strings.ToLower(linked)):
			info.SHA256 = strings.ToLower(linked)
		case linked == "" && commitRE.MatchString(strings.ToLower(info.ETag)):
			info.GitSHA1 = strings.ToLower(info.ETag)
		}
		sz := h.Get("X-Linked-Size")
		if sz == "" && info.Location == cur {
			sz = h.Get("Content-Length")
		}
		if sz != "" {
			n, err := strconv.ParseInt(sz, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("hub: HEAD %s: bad size %q", cur, sz)
			}
			info.Size = n
		}
		return info, nil
	}
}

// normalizeETag strips the weak marker and quotes.
func normalizeETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

func (c *Client) httpError(resp *http.Response, method, u, repo, revision, file string, sent bool, ep *url.URL) error {
	e := &HTTPError{
		Method: method, URL: u, StatusCode: resp.StatusCode,
		ErrorCode:     sanitize(resp.Header.Get("X-Error-Code")),
		ServerMessage: sanitize(resp.Header.Get("X-Error-Message")),
		Repo:          repo, Revision: revision, File: file,
		TokenSet: c.Token != "", TokenSent: sent,
		Endpoint: ep.String(),
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.retryAfter = time.Duration(min(secs, 60)) * time.Second
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// The hub also answers 401 (RepoNotFound) for private repositories.
		e.kind = ErrUnauthorized
	case resp.StatusCode == http.StatusForbidden:
		e.kind = ErrForbidden
	case e.ErrorCode == "RepoNotFound":
		e.kind = ErrRepoNotFound
	case e.ErrorCode == "RevisionNotFound":
		e.kind = ErrRevisionNotFound
	case e.ErrorCode == "EntryNotFound":
		e.kind = ErrEntryNotFound
	}
	return e
}

// retry runs op until it succeeds, fails permanently, or has failed
// transiently more than c.retries() times in a row without progress.
func (c *Client) retry(ctx context.Context, what string, op func() (progressed bool, err error)) error {
	failures := 0
	for {
		progressed, err := op()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		}
		var he *HTTPError
		var ne *netError
		switch {
		case errors.As(err, &he) && he.transient():
		case errors.As(err, &ne):
		default:
			return err
		}
		if progressed {
			failures = 0
		}
		failures++
		if failures > c.retries() {
			return fmt.Errorf("%s: giving up after %d attempts: %w", what, failures, err)
		}
		wait := c.backoff(failures)
		if he != nil && he.retryAfter > wait {
			wait = he.retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}
