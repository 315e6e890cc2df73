package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hutml/hut/core/hf"
	"github.com/hutml/hut/core/hub/hubtest"
	"github.com/hutml/hut/core/safetensors"
)

// dlServer starts a fake hub with a public and a gated tiny checkpoint.
func dlServer(t *testing.T) *hubtest.Server {
	t.Helper()
	srv := hubtest.New()
	t.Cleanup(srv.Close)
	var st bytes.Buffer
	if err := safetensors.Encode(&st, []safetensors.Tensor{{Name: "wte.weight", Shape: []int{2, 3}, F32: []float32{1, 2, 3, 4, 5, 6}}}, nil); err != nil {
		t.Fatal(err)
	}
	files := func() map[string][]byte {
		return map[string][]byte{
			"config.json":       []byte(`{"model_type":"gpt2"}`),
			"model.safetensors": st.Bytes(),
			"vocab.json":        []byte(`{}`),
			"merges.txt":        []byte("#version: 0.2\n"),
		}
	}
	srv.AddRepo("acme/tiny", &hubtest.Repo{Files: files()})
	srv.AddRepo("acme/gated", &hubtest.Repo{Files: files(), Gated: true})
	old := downloadHTTPClient
	downloadHTTPClient = srv.Client()
	t.Cleanup(func() { downloadHTTPClient = old })
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_ENDPOINT", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HUT_HUB_CACHE", t.TempDir())
	return srv
}

func dlRun(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

func TestDownloadCommand(t *testing.T) {
	srv := dlServer(t)
	out := filepath.Join(t.TempDir(), "tiny")
	// Flags after the repository id, endpoint from the flag.
	code, stdout, stderr := dlRun("download", "acme/tiny", "--endpoint", srv.URL(), "--dir", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if stdout != out+"\n" {
		t.Errorf("stdout %q, want the directory", stdout)
	}
	for _, s := range []string{"acme/tiny@main", "model.safetensors", "4 files (4 downloaded, 0 from the cache)", "no token"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	sd, err := hf.LoadDir(out)
	if err != nil || sd["wte.weight"].Data[5] != 6 {
		t.Fatalf("load: %v", err)
	}
	// Second run: endpoint from HF_ENDPOINT, all from the cache, quiet.
	t.Setenv("HF_ENDPOINT", srv.URL())
	srv.ResetLog()
	code, stdout, stderr = dlRun("download", "--quiet", "acme/tiny")
	if code != 0 || stderr != "" || !strings.Contains(stdout, filepath.Join("models--acme--tiny", "snapshots")) {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if n := srv.Count("GET", ""); n != 0 {
		t.Errorf("cached download made %d GETs", n)
	}
	// Offline, from the cache.
	if code, _, stderr := dlRun("download", "acme/tiny", "--offline", "--endpoint", "https://unreachable.invalid"); code != 0 {
		t.Errorf("offline: exit %d\n%s", code, stderr)
	}
}

func TestDownloadCommandErrors(t *testing.T) {
	srv := dlServer(t)
	t.Setenv("HF_ENDPOINT", srv.URL())
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"download"}, 2, "want exactly one repository id"},
		{[]string{"download", "a/b/c"}, 2, "bad repository id"},
		{[]string{"download", "acme/tiny", "--copy"}, 2, "--copy needs --dir"},
		{[]string{"download", "acme/tiny", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"download", "acme/missing"}, 1, `repository "acme/missing" not found`},
		{[]string{"download", "acme/tiny", "--revision", "v2"}, 1, `revision "v2" not found`},
		{[]string{"download", "acme/gated"}, 1, "HF_TOKEN is not set"},
		{[]string{"download", "acme/tiny", "--offline", "--revision", "dev"}, 1, "offline"},
	}
	for _, c := range cases {
		code, _, stderr := dlRun(c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	// With the token the gated repository downloads, and the token is
	// never printed.
	t.Setenv("HF_TOKEN", srv.Token)
	code, stdout, stderr := dlRun("download", "acme/gated")
	if code != 0 || !strings.Contains(stderr, "with HF_TOKEN") {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if strings.Contains(stdout+stderr, srv.Token) {
		t.Error("token printed")
	}
	t.Setenv("HF_TOKEN", "hf_bad_token_value")
	if code, stdout, stderr := dlRun("download", "acme/gated", "--revision", "0000000000000000000000000000000000000000"); code != 1 || !strings.Contains(stderr, "rejected") || strings.Contains(stdout+stderr, "hf_bad_token_value") {
		t.Errorf("bad token: exit %d, %q", code, stderr)
	}
}

func TestDownloadHelp(t *testing.T) {
	code, _, stderr := dlRun("help", "download")
	if code != 0 || !strings.Contains(stderr, "HF_TOKEN") || !strings.Contains(stderr, "--revision") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}
