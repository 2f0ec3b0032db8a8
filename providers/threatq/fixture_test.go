package threatq

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// fixture is one tqfake server and one threatq asset configured against it.
// Retry waits are recorded instead of slept, and every log line and result
// is kept so that tests can check that no secret leaks.
type fixture struct {
	fake  *tqfake.Server
	asset *providers.Asset
	conn  *client
	env   providers.Env

	mu      sync.Mutex
	waits   []time.Duration
	logs    bytes.Buffer
	outputs []string
}

// fakeClock is a settable clock shared by a test's client and server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedWriter serialises log writes from concurrent actions.
type lockedWriter struct{ f *fixture }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.f.mu.Lock()
	defer w.f.mu.Unlock()
	return w.f.logs.Write(p)
}

func newFixture(t testing.TB, opts tqfake.Options, edit func(cfg map[string]any)) *fixture {
	t.Helper()
	fake := tqfake.New(opts)
	t.Cleanup(fake.Close)
	email, password, clientID := opts.Email, opts.Password, opts.ClientID
	if email == "" {
		email = tqfake.DefaultEmail
	}
	if password == "" {
		password = tqfake.DefaultPassword
	}
	if clientID == "" {
		clientID = tqfake.DefaultClientID
	}
	cfg := map[string]any{
		"url":       fake.URL,
		"email":     email,
		"password":  password,
		"client_id": clientID,
		"timeout":   "10s",
	}
	if edit != nil {
		edit(cfg)
	}
	asset, err := providers.OpenAsset("tq", Provider(), cfg)
	if err != nil {
		t.Fatalf("open asset: %v", err)
	}
	t.Cleanup(func() { asset.Close() })
	f := &fixture{fake: fake, asset: asset, conn: asset.Conn.(*client)}
	f.conn.http.Policy.Base = time.Millisecond
	f.conn.http.Sleep = func(ctx context.Context, d time.Duration) error {
		f.mu.Lock()
		f.waits = append(f.waits, d)
		f.mu.Unlock()
		return ctx.Err()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	f.env = providers.Env{
		Log: slog.New(slog.NewTextHandler(lockedWriter{f}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: now,
	}
	return f
}

// invoke runs an action that must be a well-formed call.
func (f *fixture) invoke(t testing.TB, action string, params map[string]any) *providers.Result {
	t.Helper()
	res, err := f.asset.Invoke(context.Background(), action, params, f.env)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	f.keep(res)
	return res
}

func (f *fixture) keep(res *providers.Result) {
	b, _ := json.Marshal(res)
	f.mu.Lock()
	f.outputs = append(f.outputs, string(b))
	f.mu.Unlock()
}

func (f *fixture) recordedWaits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

func (f *fixture) cachedToken() string {
	f.conn.mu.Lock()
	defer f.conn.mu.Unlock()
	return f.conn.token
}

func mustSucceed(t testing.TB, res *providers.Result) {
	t.Helper()
	if !res.OK() {
		t.Fatalf("action failed: %s", res.Message)
	}
}

func mustFail(t testing.TB, res *providers.Result, want string) {
	t.Helper()
	if res.OK() {
		t.Fatalf("action succeeded, want failure %q", want)
	}
	if !bytes.Contains([]byte(res.Message), []byte(want)) {
		t.Fatalf("message = %q, want it to contain %q", res.Message, want)
	}
}

// entry returns data[0], the {status_code, reason, response_headers, json_body} object.
func entry(t testing.TB, res *providers.Result) map[string]any {
	t.Helper()
	if len(res.Data) != 1 {
		t.Fatalf("data has %d elements, want 1", len(res.Data))
	}
	e, ok := res.Data[0].(map[string]any)
	if !ok {
		t.Fatalf("data[0] is %T, want an object", res.Data[0])
	}
	for _, k := range []string{"status_code", "reason", "response_headers", "json_body"} {
		if _, ok := e[k]; !ok {
			t.Fatalf("data[0] has no %s: %v", k, e)
		}
	}
	return e
}

// body returns json_body as an object.
func body(t testing.TB, res *providers.Result) map[string]any {
	t.Helper()
	b, ok := entry(t, res)["json_body"].(map[string]any)
	if !ok {
		t.Fatalf("json_body is %T, want an object", entry(t, res)["json_body"])
	}
	return b
}

// items returns json_body.data as a list of objects.
func items(t testing.TB, res *providers.Result) []map[string]any {
	t.Helper()
	list, ok := body(t, res)["data"].([]any)
	if !ok {
		t.Fatalf("json_body.data is %T, want a list", body(t, res)["data"])
	}
	out := make([]map[string]any, len(list))
	for i, it := range list {
		if out[i], ok = it.(map[string]any); !ok {
			t.Fatalf("json_body.data[%d] is %T, want an object", i, it)
		}
	}
	return out
}

// single returns json_body.data as an object.
func single(t testing.TB, res *providers.Result) map[string]any {
	t.Helper()
	obj, ok := body(t, res)["data"].(map[string]any)
	if !ok {
		t.Fatalf("json_body.data is %T, want an object", body(t, res)["data"])
	}
	return obj
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
