package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Timeouts of the HTTP server.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second // GET and HEAD carry no body
	// writeTimeout bounds one response; generous, as a model checkpoint
	// of a few hundred MB may go to a slow client.
	writeTimeout   = 30 * time.Minute
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 64 << 10
)

// shutdownTimeout is how long a shutdown waits for in-flight requests
// before closing their connections. A variable for tests.
var shutdownTimeout = 10 * time.Second

// ListenAndServe listens on addr (host:port; port 0 picks a free one),
// logs the URL to open, and serves h until ctx is done; see Serve.
func ListenAndServe(ctx context.Context, addr string, h http.Handler, logger *log.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	if logger != nil {
		logger.Printf("serving on %s", URL(ln.Addr()))
	}
	return Serve(ctx, ln, h, logger)
}

// Serve serves h on ln until ctx is done, then shuts down gracefully: it
// stops accepting, lets in-flight requests finish for up to 10 seconds,
// then closes the connections that remain. It returns nil after a clean
// shutdown. With a non-nil logger each request is logged (see
// LogRequests), as are the server's own errors and the shutdown.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *log.Logger) error {
	errLog := logger
	if logger != nil {
		h = LogRequests(h, logger)
	} else {
		errLog = log.New(io.Discard, "", 0)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errLog,
	}
	// Shutdown leaves alone, for 5 seconds, a connection that has not
	// sent a byte yet (browsers open such spare connections ahead of
	// need); close those at once so that stopping is prompt.
	var mu sync.Mutex
	fresh := map[net.Conn]struct{}{}
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if s == http.StateNew {
			fresh[c] = struct{}{}
		} else {
			delete(fresh, c)
		}
	}
	srv.RegisterOnShutdown(func() {
		mu.Lock()
		defer mu.Unlock()
		for c := range fresh {
			c.Close()
		}
	})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	errLog.Printf("shutting down: finishing in-flight requests (at most %s)", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: requests still running after %s were cut off: %w", shutdownTimeout, err)
	}
	return nil
}

// URL returns the http URL to open for a listening address; an
// unspecified host (":8080", "0.0.0.0") becomes localhost.
func URL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// LogRequests wraps h so that each request is logged, when it ends, as
//
//	GET /models/gpt2/config.json 200 1234B 1.2ms 127.0.0.1:52144
//
// (method, escaped path, status, body bytes written, duration, remote
// address).
func LogRequests(h http.Handler, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			p := r.URL.EscapedPath()
			if len(p) > 200 {
				p = p[:200] + "…"
			}
			m := r.Method
			if len(m) > 16 {
				m = m[:16] + "…"
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			logger.Printf("%s %s %d %dB %s %s", m, p, code, rec.n, roundDuration(time.Since(start)), r.RemoteAddr)
		}()
		h.ServeHTTP(rec, r)
	})
}

func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e3, 'f', 0, 64) + "µs"
	case d < time.Second:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// recorder remembers the status and counts the body bytes of a response.
type recorder struct {
	http.ResponseWriter
	code int
	n    int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.n += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's sendfile path for big files.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		r.n += n
		return n, err
	}
	return io.Copy(struct{ io.Writer }{r}, src)
}

// Flush implements http.Flusher when the underlying writer does.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
