package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hutml/hut/internal/progress"
)

var errStalled = errors.New("stalled")

// fetch downloads the file described by info to dst, going through
// dst+".incomplete" (resumed if present) and renaming it to dst only after
// its size and hash have been verified.
func (c *Client) fetch(ctx context.Context, info *FileInfo, dst string) error {
	ep, err := c.endpoint()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	part := dst + ".incomplete"
	vfile := part + ".etag"
	bar := newBar(c.Progress, info.Name, info.Size)
	err = c.retry(ctx, fmt.Sprintf("hub: download %s from %s", info.Name, info.Location), func() (bool, error) {
		return c.fetchOnce(ctx, info, part, vfile, ep, bar)
	})
	bar.done()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (the partial download %s is kept and will be resumed)", err, part)
		}
		return err
	}
	if err := verify(info, part); err != nil {
		os.Remove(part)
		os.Remove(vfile)
		return err
	}
	if err := os.Rename(part, dst); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	os.Remove(vfile)
	return nil
}

// fetchOnce makes one GET request, appending to the partial file when the
// server honours the range and restarting it when it does not.
func (c *Client) fetchOnce(ctx context.Context, info *FileInfo, part, vfile string, ep *url.URL, bar *fileBar) (progressed bool, err error) {
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return false, fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("hub: %w", err)
	}
	have := st.Size()
	restart := func() error {
		os.Remove(vfile)
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		have = 0
		return nil
	}
	if info.Size >= 0 && have > info.Size {
		if err := restart(); err != nil {
			return false, err
		}
	}
	if info.Size >= 0 && have == info.Size {
		return false, nil // complete; verified by the caller
	}
	var validator string
	if have > 0 {
		if b, err := os.ReadFile(vfile); err == nil {
			validator = strings.TrimSpace(string(b))
		}
	}

	stall := c.stallTimeout()
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()
	netErr := func(e error) error {
		if context.Cause(actx) == errStalled {
			e = fmt.Errorf("no data for %v: %w", stall, e)
		}
		return &netError{"GET", info.Location, e}
	}

	req, _, err := c.newRequest(actx, http.MethodGet, info.Location, ep)
	if err != nil {
		return false, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		if validator != "" && !strings.HasPrefix(validator, "W/") {
			req.Header.Set("If-Range", validator)
		}
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return false, netErr(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		et := resp.Header.Get("ETag")
		if !ok || start != have || (info.Size >= 0 && total >= 0 && total != info.Size) || (validator != "" && et != "" && et != validator) {
			// Not the continuation of our partial: start over.
			if err := restart(); err != nil {
				return false, err
			}
			return false, &netError{"GET", info.Location, fmt.Errorf("unexpected partial response (Content-Range %q, ETag %q); restarting", resp.Header.Get("Content-Range"), et)}
		}
	case http.StatusOK:
		// Either a fresh download, or the server ignored our Range, or the
		// content changed (If-Range did not match): start from zero.
		if err := restart(); err != nil {
			return false, err
		}
		if et := resp.Header.Get("ETag"); et != "" {
			if err := os.WriteFile(vfile, []byte(et), 0o644); err != nil {
				return false, fmt.Errorf("hub: %w", err)
			}
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if err := restart(); err != nil {
			return false, err
		}
		return false, &netError{"GET", info.Location, errors.New("range not satisfiable; restarting")}
	default:
		return false, c.httpError(resp, http.MethodGet, info.Location, info.Repo, info.Revision, info.Name, req.Header.Get("Authorization") != "", ep)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return false, fmt.Errorf("hub: %w", err)
	}
	if have > 0 {
		bar.set(have) // resuming
	}
	buf := make([]byte, 256<<10)
	var written int64
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			watchdog.Reset(stall)
			if _, err := f.Write(buf[:n]); err != nil {
				return written > 0, fmt.Errorf("hub: write %s: %w", part, err)
			}
			written += int64(n)
			bar.set(have + written)
			if info.Size >= 0 && have+written > info.Size {
				break // too long: verify reports the size mismatch
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return written > 0, netErr(rerr)
		}
	}
	if err := f.Sync(); err != nil {
		return written > 0, fmt.Errorf("hub: %w", err)
	}
	if info.Size >= 0 && have+written < info.Size {
		return written > 0, netErr(fmt.Errorf("body ended after %d of %d bytes", have+written, info.Size))
	}
	return written > 0, nil
}

// parseContentRange parses "bytes start-end/total" (total may be "*",
// returned as -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, false
		}
	}
	return start, total, true
}

// verify checks a finished download against the hub's size and hash.
func verify(info *FileInfo, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	mismatch := func(what, want, got string) error {
		return &ChecksumError{File: info.Name, URL: info.Location, What: what, Expected: want, Got: got, PartialRemoved: path}
	}
	if info.Size >= 0 && st.Size() != info.Size {
		return mismatch("size", fmt.Sprintf("%d bytes", info.Size), fmt.Sprintf("%d bytes", st.Size()))
	}
	switch {
	case info.SHA256 != "":
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != info.SHA256 {
			return mismatch("sha256", info.SHA256, got)
		}
	case info.GitSHA1 != "":
		h := sha1.New()
		fmt.Fprintf(h, "blob %d\x00", st.Size())
		if _, err := io.Copy(h, f); err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != info.GitSHA1 {
			return mismatch("git-sha1", info.GitSHA1, got)
		}
	}
	return nil
}

// fileBar is a progress bar for one file with byte counts and rate.
type fileBar struct {
	b     *progress.Bar
	total int64
	start time.Time
	base  int64
	init  bool
}

func newBar(w io.Writer, name string, total int64) *fileBar {
	if w == nil {
		return nil
	}
	if len(name) > 32 {
		name = "…" + name[len(name)-31:]
	}
	return &fileBar{b: progress.New(w, fmt.Sprintf("%-32s", name), total), total: total}
}

func (fb *fileBar) set(done int64) {
	if fb == nil {
		return
	}
	now := time.Now()
	if !fb.init || done < fb.base {
		fb.init, fb.base, fb.start = true, done, now
	}
	rate := ""
	if el := now.Sub(fb.start).Seconds(); el > 0.2 {
		rate = "  " + HumanBytes(int64(float64(done-fb.base)/el)) + "/s"
	}
	tot := "?"
	if fb.total >= 0 {
		tot = HumanBytes(fb.total)
	}
	fb.b.Set(done, HumanBytes(done)+" / "+tot+rate)
}

func (fb *fileBar) done() {
	if fb != nil {
		fb.b.Done()
	}
}

// HumanBytes formats a byte count with a binary unit (KiB, MiB, GiB).
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
