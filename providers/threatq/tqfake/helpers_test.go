package tqfake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newServer(t testing.TB, opts tqfake.Options) *tqfake.Server {
	t.Helper()
	s := tqfake.New(opts)
	t.Cleanup(s.Close)
	return s
}

// response is one decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func send(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", req.Method, req.URL, err)
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %v: %s", req.Method, req.URL, err, raw)
		}
	}
	return out
}

// requestToken runs the standard password grant and returns the response.
func requestToken(t testing.TB, s *tqfake.Server, email, password, clientID string) response {
	t.Helper()
	q := url.Values{"grant_type": {"password"}, "client_id": {clientID}}
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/token?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return send(t, req)
}

func login(t testing.TB, s *tqfake.Server) string {
	t.Helper()
	r := requestToken(t, s, tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID)
	token, _ := r.body["access_token"].(string)
	if r.status != http.StatusOK || token == "" {
		t.Fatalf("login: status %d, body %s", r.status, r.raw)
	}
	return token
}

// api is an authenticated caller of one server.
type api struct {
	t     testing.TB
	s     *tqfake.Server
	token string
}

func newAPI(t testing.TB, opts tqfake.Options) *api {
	s := newServer(t, opts)
	return &api{t: t, s: s, token: login(t, s)}
}

func (a *api) do(method, path string, body any) response {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.s.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	return send(a.t, req)
}

// ok calls and requires the status, returning the decoded body.
func (a *api) ok(method, path string, body any, want int) map[string]any {
	a.t.Helper()
	r := a.do(method, path, body)
	if r.status != want {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.raw)
	}
	return r.body
}

func dataList(t testing.TB, body map[string]any) []map[string]any {
	t.Helper()
	list, ok := body["data"].([]any)
	if !ok {
		t.Fatalf("data is not a list: %v", body)
	}
	out := make([]map[string]any, 0, len(list))
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			t.Fatalf("data element is not an object: %v", el)
		}
		out = append(out, m)
	}
	return out
}

func dataObject(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	m, ok := body["data"].(map[string]any)
	if !ok {
		t.Fatalf("data is not an object: %v", body)
	}
	return m
}

func num(t testing.TB, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	return int64(f)
}

func ids(t testing.TB, items []map[string]any) []int64 {
	t.Helper()
	out := make([]int64, 0, len(items))
	for _, m := range items {
		out = append(out, num(t, m["id"]))
	}
	return out
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
