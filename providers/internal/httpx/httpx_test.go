package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/internal/httpx"
)

func newClient(t *testing.T, base string) (*httpx.Client, *[]time.Duration) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	c := httpx.New(httpx.Config{Name: "test", BaseURL: u, VerifyTLS: true, IdlePerHost: 2, Timeout: 10 * time.Second, Policy: httpx.DefaultPolicy()})
	t.Cleanup(func() { c.Close() })
	var waits []time.Duration
	c.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	return c, &waits
}

// A request that never left the process (the dial was refused) cannot have
// been acted on, so even a POST is sent again.
func TestNonIdempotentIsRetriedWhenNeverSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var mu sync.Mutex
	var got []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.RequestURI+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	c, _ := newClient(t, "http://"+addr)
	c.Sleep = func(ctx context.Context, d time.Duration) error {
		// The server comes up between the attempts.
		if srv.URL == "" {
			l2, err := net.Listen("tcp", addr)
			if err != nil {
				t.Skipf("the port was taken meanwhile: %v", err)
			}
			srv.Listener.Close()
			srv.Listener = l2
			srv.Start()
		}
		return nil
	}
	defer func() {
		if srv.URL != "" {
			srv.Close()
		}
	}()
	resp, err := c.Do(context.Background(), httpx.Env{}, &httpx.Request{Method: http.MethodPost, Path: "/v1/things", Query: "a=b%20c", Body: []byte(`{"x":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusCreated || !slices.Equal(got, []string{`POST /v1/things?a=b%20c {"x":1}`}) {
		t.Fatalf("status %d, server saw %q", resp.Status, got)
	}
}

// One debug line per attempt, with the same fields for every connector,
// and the wait before the next attempt on the line that causes it.
func TestOneLogLinePerAttempt(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, waits := newClient(t, srv.URL)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	resp, err := c.Do(context.Background(), httpx.Env{Log: log}, &httpx.Request{Method: http.MethodGet, Path: "/v1/x", Query: "secret=q", Idempotent: true})
	if err != nil || resp.Status != 200 {
		t.Fatalf("resp %v, err %v", resp, err)
	}
	if !slices.Equal(*waits, []time.Duration{3 * time.Second}) {
		t.Fatalf("waits = %v, want the Retry-After", *waits)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want one per attempt:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"method", "path", "attempt", "status", "duration"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d has no %s: %s", i, k, line)
			}
		}
		if m["msg"] != "test: request" || m["path"] != "/v1/x" || m["attempt"] != float64(i+1) {
			t.Errorf("line %d = %s", i, line)
		}
		if _, ok := m["retry_in"]; ok != (i == 0) {
			t.Errorf("line %d: retry_in present = %v", i, ok)
		}
	}
	if strings.Contains(buf.String(), "secret=q") {
		t.Error("the query reached the log")
	}
}

// A 401 is passed to the auth hook once; when it renews, the call is made
// once more and the second answer is final.
func TestAuthRenewsOnceOn401(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c, _ := newClient(t, srv.URL)
	a := &countingAuth{}
	c.Auth = a
	resp, err := c.Do(context.Background(), httpx.Env{}, &httpx.Request{Method: http.MethodGet, Path: "/", Idempotent: true})
	if err != nil || resp.Status != http.StatusUnauthorized {
		t.Fatalf("resp %v err %v", resp, err)
	}
	if !slices.Equal(seen, []string{"token-1", "token-2"}) || a.renewed != 1 {
		t.Fatalf("server saw %v, renewed %d times; want two tokens and one renewal", seen, a.renewed)
	}
	// A sign-in request carries no credentials and is never renewed.
	seen = nil
	if _, err := c.Do(context.Background(), httpx.Env{}, &httpx.Request{Method: http.MethodPost, Path: "/token", NoAuth: true}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{""}) {
		t.Fatalf("sign-in sent %v", seen)
	}
}

type countingAuth struct{ n, renewed int }

func (a *countingAuth) Authorize(_ context.Context, _ httpx.Env, req *http.Request, _ *httpx.Request) error {
	req.Header.Set("Authorization", "token-"+string(rune('0'+a.n+1)))
	return nil
}

func (a *countingAuth) Renew(*http.Request) bool { a.n++; a.renewed++; return true }

// The error of a call that got no answer names the method and the URL
// without its query, and unwraps to its cause.
func TestErrorHidesTheQuery(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, waits := newClient(t, "http://"+addr)
	_, err = c.Do(context.Background(), httpx.Env{}, &httpx.Request{Method: http.MethodGet, Path: "/p", Query: "key=hidden", Idempotent: true})
	var he *httpx.Error
	if !errors.As(err, &he) || he.Sent || he.Response != nil || strings.Contains(err.Error(), "hidden") || !strings.HasPrefix(err.Error(), "GET http://"+addr+"/p: ") {
		t.Fatalf("err = %v", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) || len(*waits) != 2 {
		t.Fatalf("cause %v, waits %v; want a dial error after three attempts", err, *waits)
	}
}
