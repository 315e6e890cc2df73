package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startServe runs Serve on a loopback port and returns its base URL and a
// channel with Serve's result.
func startServe(t *testing.T, ctx context.Context, h http.Handler, logger *log.Logger) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, logger) }()
	return strings.TrimSuffix(URL(ln.Addr()), "/"), done
}

// slowHandler blocks /slow until release is closed.
type slowHandler struct {
	next    http.Handler
	started chan struct{}
	release chan struct{}
}

func (s *slowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/slow" {
		s.next.ServeHTTP(w, r)
		return
	}
	close(s.started)
	<-s.release
	io.WriteString(w, "slow done")
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	f := newFixture(t, nil)
	sh := &slowHandler{next: f.h, started: make(chan struct{}), release: make(chan struct{})}
	var logBuf syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := startServe(t, ctx, sh, log.New(&logBuf, "", 0))

	wantStatus(t, getURL(t, base+"/healthz"), 200)
	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		res, err := client.Get(base + "/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- result{res.StatusCode, string(b), err}
	}()
	<-sh.started
	cancel()
	// New connections are refused once shutdown has begun.
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned before the in-flight request finished: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(sh.release)
	r := <-slow
	if r.err != nil || r.code != 200 || r.body != "slow done" {
		t.Fatalf("in-flight request: %+v", r)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after shutdown")
	}
	if !strings.Contains(logBuf.String(), "shutting down") {
		t.Errorf("log lacks the shutdown: %s", logBuf.String())
	}
}

func TestShutdownTimeoutCutsOffStuckRequests(t *testing.T) {
	old := shutdownTimeout
	shutdownTimeout = 200 * time.Millisecond
	defer func() { shutdownTimeout = old }()
	sh := &slowHandler{next: http.NotFoundHandler(), started: make(chan struct{}), release: make(chan struct{})}
	defer close(sh.release)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := startServe(t, ctx, sh, nil)
	go func() {
		if res, err := client.Get(base + "/slow"); err == nil {
			res.Body.Close()
		}
	}()
	<-sh.started
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cut off") {
			t.Errorf("Serve: %v, want a cut-off error", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("shutdown took %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func getURL(t *testing.T, u string) resp {
	t.Helper()
	res, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res, b}
}

// TestLoad runs many concurrent clients over loopback against a mix of
// requests; none may fail.
func TestLoad(t *testing.T) {
	csv := bigText("csv", 20000)
	f := newFixture(t, func(o *Options) {
		o.Data = OpenerFS([]string{"e2e/train.csv"}, func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(csv)), nil })
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := startServe(t, ctx, f.h, nil)
	want := map[string]int{}
	for _, p := range []string{"/", "/app.js", "/style.css", "/models/gpt2/config.json", "/models/gpt2/model.safetensors", "/api/models", "/healthz", "/data/e2e/train.csv"} {
		want[p] = len(getURL(t, base+p).body)
	}
	const clients, perClient = 64, 25
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	lc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	reqCtx, reqCancel := context.WithTimeout(ctx, 15*time.Second)
	defer reqCancel()
	paths := []string{"/", "/app.js", "/style.css", "/models/gpt2/config.json", "/models/gpt2/model.safetensors", "/api/models", "/healthz", "/missing", "/models/gpt2/model.safetensors#range", "/app.js#gzip", "/data/e2e/train.csv", "/data/e2e/train.csv#gzip", "/data/e2e/train.csv#range"}
	var failures atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < perClient; i++ {
				p := paths[(c+i)%len(paths)]
				err := loadOne(reqCtx, lc, base, p, want)
				if err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("client %d: %v", c, err) })
				}
			}
		}(c)
	}
	wg.Wait()
	t.Logf("%d requests from %d clients in %s", clients*perClient, clients, time.Since(start).Round(time.Millisecond))
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d requests failed", n, clients*perClient)
	}
	stop := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stop); d > 2*time.Second {
		t.Errorf("shutdown after the load took %s", d)
	}
}

// TestShutdownIsPromptWithSpareConnections: connections opened ahead of
// need (no request yet) do not hold up the shutdown.
func TestShutdownIsPromptWithSpareConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, done := startServe(t, ctx, http.NotFoundHandler(), nil)
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	getURL(t, base+"/") // a kept-alive idle connection too
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("shutdown waits for spare connections")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("shutdown took %s", d)
	}
}

func loadOne(ctx context.Context, c *http.Client, base, p string, want map[string]int) error {
	path, mode, _ := strings.Cut(p, "#")
	method := http.MethodGet
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		return err
	}
	switch mode {
	case "range":
		req.Header.Set("Range", "bytes=100-199")
	case "gzip":
		req.Header.Set("Accept-Encoding", "gzip")
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s: %v", p, err)
	}
	switch {
	case path == "/missing":
		if res.StatusCode != 404 {
			return fmt.Errorf("%s: %d", p, res.StatusCode)
		}
	case mode == "range":
		if res.StatusCode != 206 || len(b) != 100 {
			return fmt.Errorf("%s: %d, %d bytes", p, res.StatusCode, len(b))
		}
	case mode == "gzip":
		if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" {
			return fmt.Errorf("%s: %d %q", p, res.StatusCode, res.Header.Get("Content-Encoding"))
		}
	default:
		if res.StatusCode != 200 || len(b) != want[path] {
			return fmt.Errorf("%s: %d, %d bytes, want %d", p, res.StatusCode, len(b), want[path])
		}
	}
	return nil
}

func TestLogRequests(t *testing.T) {
	f := newFixture(t, nil)
	var buf syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	base, done := startServe(t, ctx, f.h, log.New(&buf, "", 0))
	getURL(t, base+"/app.js")
	getURL(t, base+"/nope%20x")
	req, _ := http.NewRequest("DELETE", base+"/", nil)
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logText := buf.String()
	for _, re := range []string{
		`(?m)^GET /app\.js 200 \d+B [\d.]+(µs|ms|s) 127\.0\.0\.1:\d+$`,
		`(?m)^GET /nope%20x 404 \d+B [\d.]+(µs|ms|s) 127\.0\.0\.1:\d+$`,
		`(?m)^DELETE / 405 \d+B `,
	} {
		if !regexp.MustCompile(re).MatchString(logText) {
			t.Errorf("log lacks %s:\n%s", re, logText)
		}
	}
	n := len(f.appJS)
	if !strings.Contains(logText, fmt.Sprintf("GET /app.js 200 %dB", n)) {
		t.Errorf("log does not count the %d body bytes:\n%s", n, logText)
	}
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:80":     "http://localhost:80/",
		"[::]:8080":      "http://localhost:8080/",
		"[::1]:8080":     "http://[::1]:8080/",
	} {
		a, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := URL(a); got != want {
			t.Errorf("URL(%s) = %s, want %s", addr, got, want)
		}
	}
}

func TestListenAndServeErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = ListenAndServe(context.Background(), ln.Addr().String(), http.NotFoundHandler(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("port in use: %v", err)
	}
	if err := ListenAndServe(context.Background(), "not an address", http.NotFoundHandler(), nil); err == nil {
		t.Error("bad address: no error")
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
