package hub

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors; test with errors.Is. Every error the package returns
// names the repository, file and URL it concerns.
var (
	// ErrRepoNotFound: the repository does not exist (or is private and no
	// valid token was sent).
	ErrRepoNotFound = errors.New("repository not found")
	// ErrRevisionNotFound: the repository has no such branch, tag or commit.
	ErrRevisionNotFound = errors.New("revision not found")
	// ErrEntryNotFound: the repository has no such file at that revision.
	ErrEntryNotFound = errors.New("file not found")
	// ErrUnauthorized: HTTP 401, a missing or rejected HF_TOKEN.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: HTTP 403, the token has no access (e.g. gated terms
	// not accepted).
	ErrForbidden = errors.New("forbidden")
	// ErrChecksum: the downloaded bytes do not match the hub's size or hash.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNotCached: offline mode and the file is not in the local cache.
	ErrNotCached = errors.New("not in the local cache")
)

// HTTPError is an unsuccessful response from the hub or its CDN.
type HTTPError struct {
	Method     string
	URL        string
	StatusCode int
	// ErrorCode is the hub's X-Error-Code header (RepoNotFound,
	// RevisionNotFound, EntryNotFound, GatedRepo), if any.
	ErrorCode string
	// ServerMessage is the hub's X-Error-Message header, if any.
	ServerMessage        string
	Repo, Revision, File string
	// TokenSet says whether HF_TOKEN (Client.Token) was set; TokenSent
	// whether it was sent with this request.
	TokenSet, TokenSent bool
	Endpoint            string
	kind                error
	retryAfter          time.Duration // from a Retry-After header in seconds
}

// Unwrap returns the matching sentinel error, if any.
func (e *HTTPError) Unwrap() error { return e.kind }

func (e *HTTPError) Error() string {
	var b strings.Builder
	status := fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	switch {
	case e.kind == ErrRepoNotFound:
		fmt.Fprintf(&b, "repository %q not found (%s for %s); check the name", e.Repo, status, e.URL)
		if !e.TokenSet {
			b.WriteString(", or set HF_TOKEN if it is private")
		}
	case e.kind == ErrRevisionNotFound:
		fmt.Fprintf(&b, "revision %q not found in repository %q (%s for %s)", e.Revision, e.Repo, status, e.URL)
	case e.kind == ErrEntryNotFound:
		fmt.Fprintf(&b, "file %q not found in repository %q at revision %q (%s for %s)", e.File, e.Repo, e.Revision, status, e.URL)
	case e.StatusCode == http.StatusNotFound:
		fmt.Fprintf(&b, "%s for %s: repository %q, revision %q or file %q does not exist", status, e.URL, e.Repo, e.Revision, e.File)
	case e.StatusCode == http.StatusUnauthorized:
		fmt.Fprintf(&b, "%s for %s: ", status, e.URL)
		gated := e.ErrorCode == "GatedRepo"
		switch {
		case e.TokenSet && !e.TokenSent:
			b.WriteString("HF_TOKEN is set but was not sent, because the endpoint is neither HTTPS nor loopback")
		case !e.TokenSet && gated:
			fmt.Fprintf(&b, "%q is a gated repository and HF_TOKEN is not set; accept its terms at %s/%s and set HF_TOKEN to a read token", e.Repo, e.Endpoint, e.Repo)
		case !e.TokenSet:
			fmt.Fprintf(&b, "HF_TOKEN is not set; repository %q may be private or gated (or may not exist)", e.Repo)
		case gated:
			fmt.Fprintf(&b, "HF_TOKEN was rejected for the gated repository %q; check the token and accept the terms at %s/%s", e.Repo, e.Endpoint, e.Repo)
		default:
			fmt.Fprintf(&b, "HF_TOKEN was rejected (invalid or expired token, or no access to repository %q)", e.Repo)
		}
	case e.StatusCode == http.StatusForbidden:
		fmt.Fprintf(&b, "%s for %s: the token has no access to repository %q", status, e.URL, e.Repo)
		if e.ErrorCode == "GatedRepo" {
			fmt.Fprintf(&b, " (gated: request access at %s/%s)", e.Endpoint, e.Repo)
		} else {
			b.WriteString(" (a gated repository whose terms were not accepted, or a token without read permission)")
		}
	default:
		fmt.Fprintf(&b, "%s %s: %s", e.Method, e.URL, status)
	}
	if e.ServerMessage != "" {
		fmt.Fprintf(&b, " [server: %s]", e.ServerMessage)
	}
	return b.String()
}

// transient reports whether retrying may help: rate limits and server-side
// failures.
func (e *HTTPError) transient() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusRequestTimeout || e.StatusCode >= 500
}

// ChecksumError is a downloaded file whose size or hash differs from the
// hub's metadata. The bad partial download has been deleted.
type ChecksumError struct {
	File, URL      string
	What           string // "size", "sha256" or "git-sha1"
	Expected, Got  string
	PartialRemoved string // the deleted partial file
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s mismatch for %s from %s: expected %s, got %s (deleted the bad download %s; run again to retry)",
		e.What, e.File, e.URL, e.Expected, e.Got, e.PartialRemoved)
}

// Unwrap returns ErrChecksum.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// netError is a network failure (connection refused or reset, timeout,
// cut body); retried with backoff.
type netError struct {
	op, url string
	err     error
}

func (e *netError) Error() string {
	return fmt.Sprintf("network error during %s %s: %v", e.op, e.url, e.err)
}
func (e *netError) Unwrap() error { return e.err }

// sanitize keeps a server-provided message printable and short.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
