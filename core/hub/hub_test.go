package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/hub/hubtest"
	"github.com/hutml/hut/core/safetensors"
)

const (
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
)

// shardedRepo is a small GPT-2-like checkpoint split in two LFS shards,
// with config, index and part of the tokenizer files (ordinary git files).
func shardedRepo(t testing.TB) *hubtest.Repo {
	t.Helper()
	enc := func(ts ...safetensors.Tensor) []byte {
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, ts, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ramp := func(n int, scale float32) []float32 {
		xs := make([]float32, n)
		for i := range xs {
			xs[i] = float32(i) * scale
		}
		return xs
	}
	s1 := enc(safetensors.Tensor{Name: "wte.weight", Shape: []int{256, 256}, F32: ramp(256*256, 0.001)})
	s2 := enc(safetensors.Tensor{Name: "h.0.attn.c_attn.weight", Shape: []int{64, 192}, F32: ramp(64*192, -0.5)},
		safetensors.Tensor{Name: "ln_f.bias", Shape: []int{64}, DType: "F16", F32: ramp(64, 0.25)})
	index, _ := json.Marshal(map[string]any{
		"metadata":   map[string]any{"total_size": len(s1) + len(s2)},
		"weight_map": map[string]string{"wte.weight": shard1, "h.0.attn.c_attn.weight": shard2, "ln_f.bias": shard2},
	})
	return &hubtest.Repo{Files: map[string][]byte{
		"config.json":                  []byte(`{"model_type":"gpt2","n_embd":64,"n_layer":1}`),
		"model.safetensors.index.json": index,
		shard1:                         s1,
		shard2:                         s2,
		"vocab.json":                   []byte(`{"a":0,"b":1}`),
		"merges.txt":                   []byte("#version: 0.2\na b\n"),
		"README.md":                    []byte("not downloaded"),
	}}
}

type fixture struct {
	srv   *hubtest.Server
	c     *Client
	repo  *hubtest.Repo
	cache string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := hubtest.New()
	t.Cleanup(srv.Close)
	repo := shardedRepo(t)
	srv.AddRepo("acme/tiny-gpt2", repo)
	cache := t.TempDir()
	c := &Client{
		Endpoint: srv.URL(), CacheDir: cache, HTTPClient: srv.Client(),
		RetryWait: time.Millisecond, MaxRetryWait: 5 * time.Millisecond, StallTimeout: 5 * time.Second,
	}
	return &fixture{srv: srv, c: c, repo: repo, cache: cache}
}

func (fx *fixture) checkFiles(t *testing.T, snap *Snapshot, names ...string) {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(snap.Dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, fx.repo.Files[n]) {
			t.Fatalf("%s: content differs", n)
		}
	}
}

func TestDownloadSharded(t *testing.T) {
	fx := newFixture(t)
	var progress bytes.Buffer
	fx.c.Progress = &progress
	fx.c.Token = "hf_some_token_for_public_repo"
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"config.json", "model.safetensors.index.json", shard1, shard2, "vocab.json", "merges.txt"}
	if strings.Join(snap.Files, ",") != strings.Join(want, ",") || len(snap.Fetched) != len(want) {
		t.Fatalf("files %v fetched %v, want %v", snap.Files, snap.Fetched, want)
	}
	if snap.Commit != fx.repo.Commit || snap.Dir != filepath.Join(fx.cache, "models--acme--tiny-gpt2", "snapshots", fx.repo.Commit) {
		t.Fatalf("snapshot %+v", snap)
	}
	fx.checkFiles(t, snap, want...)
	if ref, _ := os.ReadFile(filepath.Join(fx.cache, "models--acme--tiny-gpt2", "refs", "main")); string(ref) != fx.repo.Commit {
		t.Errorf("refs/main = %q", ref)
	}
	// Nothing but final files in the snapshot.
	entries, _ := os.ReadDir(snap.Dir)
	if len(entries) != len(want) {
		t.Errorf("snapshot dir has %d entries, want %d", len(entries), len(want))
	}
	// The checkpoint loads.
	sd, err := hf.LoadDir(snap.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != 3 || sd["ln_f.bias"].Data[4] != 1 {
		t.Fatalf("loaded %v", sd.Names())
	}
	// The token goes to the hub, never to the CDN, and never into output.
	for _, r := range fx.srv.Requests() {
		if r.Server == "cdn" && r.Auth != "" {
			t.Errorf("Authorization sent to the CDN: %+v", r)
		}
		if r.Server == "hub" && r.Auth != "Bearer "+fx.c.Token {
			t.Errorf("hub request without the token: %+v", r)
		}
	}
	if strings.Contains(progress.String(), fx.c.Token) {
		t.Error("token printed")
	}
	if !strings.Contains(progress.String(), shard1) {
		t.Errorf("no progress for %s:\n%s", shard1, progress.String())
	}
	// Files the repo lacks were only asked for once, and recorded.
	if _, err := os.Stat(filepath.Join(fx.cache, "models--acme--tiny-gpt2", ".no_exist", fx.repo.Commit, "tokenizer.json")); err != nil {
		t.Errorf("no .no_exist marker: %v", err)
	}
}

func TestCacheHit(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.c.DownloadModel(ctx, "acme/tiny-gpt2", "main"); err != nil {
		t.Fatal(err)
	}
	fx.srv.ResetLog()
	snap, err := fx.c.DownloadModel(ctx, "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	if n := fx.srv.Count("GET", ""); n != 0 {
		t.Errorf("second download made %d GET requests", n)
	}
	if n := len(fx.srv.Requests()); n != 1 {
		t.Errorf("second download made %d requests, want 1 HEAD to resolve main: %+v", n, fx.srv.Requests())
	}
	if len(snap.Fetched) != 0 || len(snap.Files) != 6 {
		t.Errorf("snapshot %+v", snap)
	}
	// Pinned to the commit: no network at all.
	fx.srv.ResetLog()
	if _, err := fx.c.DownloadModel(ctx, "acme/tiny-gpt2", fx.repo.Commit); err != nil {
		t.Fatal(err)
	}
	// Offline: no network, the branch resolves through refs/main.
	fx.c.Offline = true
	if _, err := fx.c.DownloadModel(ctx, "acme/tiny-gpt2", "main"); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.srv.Requests()); n != 0 {
		t.Errorf("pinned/offline downloads made %d requests", n)
	}
	if _, err := fx.c.DownloadModel(ctx, "acme/other", "main"); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline, uncached: %v", err)
	}
}

func TestResumeAfterCut(t *testing.T) {
	fx := newFixture(t)
	half := int64(len(fx.repo.Files[shard1]) / 2)
	fx.srv.CutOnce(shard1, half)
	fx.srv.CutOnce("config.json", 10) // an ordinary (non-LFS) file too
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	fx.checkFiles(t, snap, shard1, "config.json")
	var ranges []string
	for _, r := range fx.srv.Requests() {
		if r.Method == "GET" && (r.File == shard1 || r.File == "config.json") {
			ranges = append(ranges, r.File+":"+r.Range)
		}
	}
	want := []string{"config.json:", "config.json:bytes=10-", shard1 + ":", fmt.Sprintf("%s:bytes=%d-", shard1, half)}
	if strings.Join(ranges, " ") != strings.Join(want, " ") {
		t.Errorf("GETs %v, want %v", ranges, want)
	}
}

func TestCancelLeavesResumablePartial(t *testing.T) {
	fx := newFixture(t)
	n := int64(len(fx.repo.Files[shard2]) / 3)
	fx.srv.HoldOnce(shard2, n)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	part := filepath.Join(fx.cache, "models--acme--tiny-gpt2", "snapshots", fx.repo.Commit, shard2+".incomplete")
	go func() { // "Ctrl-C" once the first n bytes are on disk
		for ctx.Err() == nil {
			if st, err := os.Stat(part); err == nil && st.Size() == n {
				cancel()
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	_, err := fx.c.DownloadModel(ctx, "acme/tiny-gpt2", "main")
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "kept and will be resumed") {
		t.Fatalf("err = %v", err)
	}
	if st, err := os.Stat(part); err != nil || st.Size() != n {
		t.Fatalf("partial: %v %v", st, err)
	}
	fx.srv.ResetLog()
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	fx.checkFiles(t, snap, shard2)
	for _, r := range fx.srv.Requests() {
		if r.Method == "GET" && r.File == shard2 && (r.Range != fmt.Sprintf("bytes=%d-", n) || r.IfRange == "") {
			t.Errorf("resume request %+v", r)
		}
		if r.Method == "GET" && r.File == shard1 {
			t.Errorf("shard 1 fetched again")
		}
	}
}

func TestStalledBodyIsRetried(t *testing.T) {
	fx := newFixture(t)
	fx.c.StallTimeout = 200 * time.Millisecond
	fx.srv.HoldOnce(shard1, 1000)
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	fx.checkFiles(t, snap, shard1)
	if n := fx.srv.Count("GET", shard1); n != 2 {
		t.Errorf("%d GETs of %s, want 2", n, shard1)
	}
}

func TestServerIgnoringRange(t *testing.T) {
	fx := newFixture(t)
	fx.srv.CutOnce(shard1, 5000)
	fx.srv.IgnoreRange(true)
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	fx.checkFiles(t, snap, shard1)
	var got []string
	for _, r := range fx.srv.Requests() {
		if r.Method == "GET" && r.File == shard1 {
			got = append(got, r.Range)
		}
	}
	if len(got) != 2 || got[1] != "bytes=5000-" {
		t.Errorf("ranges %q", got)
	}
}

func TestChangedContentRestarts(t *testing.T) {
	fx := newFixture(t)
	dir := filepath.Join(fx.cache, "models--acme--tiny-gpt2", "snapshots", fx.repo.Commit)
	os.MkdirAll(dir, 0o755)
	// A partial from another version of the file, with its validator.
	os.WriteFile(filepath.Join(dir, shard1+".incomplete"), bytes.Repeat([]byte("x"), 3000), 0o644)
	os.WriteFile(filepath.Join(dir, shard1+".incomplete.etag"), []byte(`"0123stale"`), 0o644)
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	fx.checkFiles(t, snap, shard1)
	for _, r := range fx.srv.Requests() {
		if r.Method == "GET" && r.File == shard1 && (r.Range != "bytes=3000-" || r.IfRange != `"0123stale"`) {
			t.Errorf("request %+v", r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, shard1+".incomplete.etag")); !os.IsNotExist(err) {
		t.Errorf("validator left behind: %v", err)
	}
}

func TestChecksumMismatch(t *testing.T) {
	for _, file := range []string{shard2, "config.json"} {
		t.Run(file, func(t *testing.T) {
			fx := newFixture(t)
			fx.srv.Corrupt(file, true)
			_, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
			var ce *ChecksumError
			if !errors.Is(err, ErrChecksum) || !errors.As(err, &ce) {
				t.Fatalf("err = %v", err)
			}
			want := hubtest.SHA256(fx.repo.Files[file])
			if file == "config.json" {
				want = hubtest.GitBlobSHA1(fx.repo.Files[file])
			}
			for _, s := range []string{file, "expected " + want, "got ", "deleted"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			dir := filepath.Join(fx.cache, "models--acme--tiny-gpt2", "snapshots", fx.repo.Commit)
			for _, p := range []string{file, file + ".incomplete", file + ".incomplete.etag"} {
				if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
					t.Errorf("%s left behind", p)
				}
			}
			// Fixed server: the next run succeeds.
			fx.srv.Corrupt(file, false)
			if _, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	fx := newFixture(t)
	fx.srv.AddRepo("acme/no-weights", &hubtest.Repo{Files: map[string][]byte{"config.json": []byte("{}")}})
	ctx := context.Background()
	cases := []struct {
		repo, rev, file string
		is              error
		want            []string
	}{
		{"acme/missing", "main", "", ErrRepoNotFound, []string{`repository "acme/missing" not found`, "404", "/acme/missing/resolve/main/config.json"}},
		{"acme/tiny-gpt2", "v9", "", ErrRevisionNotFound, []string{`revision "v9" not found in repository "acme/tiny-gpt2"`}},
		{"acme/tiny-gpt2", "main", "nope.txt", ErrEntryNotFound, []string{`file "nope.txt" not found in repository "acme/tiny-gpt2" at revision "main"`}},
		{"acme/no-weights", "main", "", ErrEntryNotFound, []string{`"acme/no-weights"`, "no weights", "model.safetensors", "pytorch_model.bin"}},
	}
	for _, c := range cases {
		var err error
		if c.file != "" {
			_, err = fx.c.DownloadFile(ctx, c.repo, c.rev, c.file)
		} else {
			_, err = fx.c.DownloadModel(ctx, c.repo, c.rev)
		}
		if !errors.Is(err, c.is) {
			t.Errorf("%s@%s %s: err = %v, want %v", c.repo, c.rev, c.file, err, c.is)
			continue
		}
		for _, s := range c.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q lacks %q", err, s)
			}
		}
	}
}

func TestGatedRepo(t *testing.T) {
	fx := newFixture(t)
	r := shardedRepo(t)
	r.Gated = true
	fx.srv.AddRepo("acme/gated", r)
	f := shardedRepo(t)
	f.Forbidden = true
	fx.srv.AddRepo("acme/forbidden", f)
	ctx := context.Background()

	_, err := fx.c.DownloadModel(ctx, "acme/gated", "main")
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN is not set") || !strings.Contains(err.Error(), "gated") {
		t.Errorf("no token: %v", err)
	}
	fx.c.Token = "hf_wrong_secret_value"
	_, err = fx.c.DownloadModel(ctx, "acme/gated", "main")
	if !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "rejected") || strings.Contains(err.Error(), fx.c.Token) {
		t.Errorf("bad token: %v", err)
	}
	fx.c.Token = fx.srv.Token
	_, err = fx.c.DownloadModel(ctx, "acme/forbidden", "main")
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), fx.c.Token) {
		t.Errorf("forbidden: %v", err)
	}
	if _, err := fx.c.DownloadModel(ctx, "acme/gated", "main"); err != nil {
		t.Errorf("valid token: %v", err)
	}
}

func TestTransientErrorsRetried(t *testing.T) {
	fx := newFixture(t)
	fx.srv.FailTimes("config.json", 2)
	fx.srv.FailTimes(shard1, 2)
	if _, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main"); err != nil {
		t.Fatal(err)
	}
	fx2 := newFixture(t)
	fx2.c.Retries = 2
	fx2.srv.FailTimes("config.json", 10)
	_, err := fx2.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
}

func TestNetworkFailure(t *testing.T) {
	fx := newFixture(t)
	ep := fx.srv.URL()
	fx.srv.Close()
	fx.c.Endpoint = ep
	fx.c.Retries = 1
	_, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	var ne *netError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "network error") || !strings.Contains(err.Error(), ep) {
		t.Fatalf("err = %v", err)
	}
}

func TestRenamedRepoAndBinWeights(t *testing.T) {
	fx := newFixture(t)
	fx.srv.AddRepo("openai-community/gpt2", &hubtest.Repo{Files: map[string][]byte{
		"config.json":       []byte(`{"model_type":"gpt2"}`),
		"pytorch_model.bin": []byte("zip bytes"),
		"tokenizer.json":    []byte("{}"),
	}})
	fx.srv.Move("gpt2", "openai-community/gpt2")
	snap, err := fx.c.DownloadModel(context.Background(), "gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(snap.Files, ",") != "config.json,pytorch_model.bin,tokenizer.json" {
		t.Errorf("files %v", snap.Files)
	}
	if !strings.Contains(snap.Dir, "models--gpt2") {
		t.Errorf("dir %s", snap.Dir)
	}
}

func TestExport(t *testing.T) {
	fx := newFixture(t)
	snap, err := fx.c.DownloadModel(context.Background(), "acme/tiny-gpt2", "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, copy := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		if err := snap.Export(dir, copy); err != nil {
			t.Fatal(err)
		}
		if err := snap.Export(dir, copy); err != nil { // idempotent
			t.Fatal(err)
		}
		for _, n := range snap.Files {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil || !bytes.Equal(b, fx.repo.Files[n]) {
				t.Fatalf("%s: %v", n, err)
			}
			a, _ := os.Stat(filepath.Join(dir, n))
			c, _ := os.Stat(filepath.Join(snap.Dir, n))
			if copy && os.SameFile(a, c) {
				t.Errorf("%s: linked despite copy", n)
			}
		}
		if _, err := hf.LoadDir(dir); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidation(t *testing.T) {
	for id, ok := range map[string]bool{
		"gpt2": true, "openai-community/gpt2": true, "FacebookAI/roberta-base": true, "a/b.c_d-e": true,
		"": false, "a/b/c": false, "../x": false, "a--b/c": false, "a/b..c": false, "/gpt2": false, "a/": false, "a b": false, "a/b.": false,
	} {
		if (ValidRepoID(id) == nil) != ok {
			t.Errorf("ValidRepoID(%q) ok=%v", id, !ok)
		}
	}
	for rev, ok := range map[string]bool{"main": true, "v1.0": true, "refs/pr/1": true, strings.Repeat("a", 40): true, "../x": false, "/x": false, "a b": false} {
		if (validRevision(rev) == nil) != ok {
			t.Errorf("validRevision(%q) ok=%v", rev, !ok)
		}
	}
	c := &Client{Endpoint: "ftp://x", CacheDir: t.TempDir()}
	if _, err := c.DownloadModel(context.Background(), "gpt2", ""); err == nil || !strings.Contains(err.Error(), "bad endpoint") {
		t.Errorf("ftp endpoint: %v", err)
	}
	if got := ResolveURL("https://h.co/", "a/b", "refs/pr/1", "sub dir/x.json"); got != "https://h.co/a/b/resolve/refs%2Fpr%2F1/sub%20dir/x.json" {
		t.Errorf("ResolveURL = %s", got)
	}
}

func TestTokenOnlyOverHTTPSOrLoopback(t *testing.T) {
	c := &Client{Token: "secret"}
	for u, want := range map[string]bool{
		"https://huggingface.co/x":  true,
		"http://huggingface.co/x":   false,
		"http://127.0.0.1:8080/x":   true,
		"https://cdn.example.com/x": false,
	} {
		req, _ := http.NewRequest("GET", u, nil)
		ep := req.URL
		if strings.Contains(u, "cdn") {
			ep, _ = req.URL.Parse("https://huggingface.co")
		}
		if got := c.authorize(req, ep); got != want || (req.Header.Get("Authorization") != "") != want {
			t.Errorf("%s: sent=%v, want %v", u, got, want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	for s, want := range map[string][2]int64{"bytes 10-99/100": {10, 100}, "bytes 0-0/*": {0, -1}} {
		a, b, ok := parseContentRange(s)
		if !ok || a != want[0] || b != want[1] {
			t.Errorf("%q: %d %d %v", s, a, b, ok)
		}
	}
	for _, s := range []string{"", "bytes x-1/2", "items 1-2/3", "bytes 1-2"} {
		if _, _, ok := parseContentRange(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestNewClientFromEnv(t *testing.T) {
	t.Setenv("HF_ENDPOINT", "https://mirror.example")
	t.Setenv("HF_TOKEN", " tok ")
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HUT_HUB_CACHE", "/tmp/x")
	c := NewClient()
	if c.Endpoint != "https://mirror.example" || c.Token != "tok" || !c.Offline || c.CacheDir != "/tmp/x" {
		t.Errorf("%+v", c)
	}
	if d, _ := DefaultCacheDir(); d != "/tmp/x" {
		t.Errorf("DefaultCacheDir = %s", d)
	}
}
