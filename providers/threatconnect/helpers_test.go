package threatconnect

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// testSecret is recognisable, so a leak into any message or log is found.
const testSecret = "S3CR3T-never-print-me-7f4e"

// fixture is one tcfake server and one asset opened against it.
type fixture struct {
	srv    *tcfake.Server
	asset  *providers.Asset
	client *Client
	logs   *syncBuffer
	waits  *[]time.Duration // what the client slept between attempts
}

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

// newFixture starts tcfake with testSecret and opens an asset on it; cfg
// overrides or adds config keys. The client never sleeps for real: its
// waits are recorded instead.
func newFixture(t testing.TB, opts tcfake.Options, cfg map[string]any) *fixture {
	t.Helper()
	opts.SecretKey = testSecret
	srv := tcfake.New(opts)
	t.Cleanup(srv.Close)
	raw := map[string]any{
		"base_url":   srv.URL,
		"access_id":  tcfake.DefaultAccessID,
		"secret_key": testSecret,
	}
	for k, v := range cfg {
		raw[k] = v
	}
	a, err := providers.OpenAsset("tc", Provider(), raw)
	if err != nil {
		t.Fatalf("OpenAsset: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	c := a.Conn.(*Client)
	if opts.Now != nil {
		c.signer.now = opts.Now
	}
	var mu sync.Mutex
	waits := []time.Duration{}
	c.http.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return &fixture{srv: srv, asset: a, client: c, logs: &syncBuffer{}, waits: &waits}
}

func (f *fixture) env(sink cef.Sink, now time.Time) providers.Env {
	e := providers.Env{Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Ingest: sink}
	if !now.IsZero() {
		e.Now = func() time.Time { return now }
	}
	return e
}

// invoke runs action and fails the test on a malformed call. It also checks
// that the secret is nowhere in the result or the logs.
func (f *fixture) invoke(t testing.TB, action string, params map[string]any) *providers.Result {
	t.Helper()
	return f.invokeEnv(t, action, params, f.env(nil, time.Time{}))
}

func (f *fixture) invokeEnv(t testing.TB, action string, params map[string]any, env providers.Env) *providers.Result {
	t.Helper()
	r, err := f.asset.Invoke(context.Background(), action, params, env)
	if err != nil {
		t.Fatalf("Invoke(%s, %v): %v", action, params, err)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("result of %s does not marshal: %v", action, err)
	}
	if strings.Contains(string(out), testSecret) || strings.Contains(f.logs.String(), testSecret) {
		t.Fatalf("the secret key leaked into the result or the logs of %s", action)
	}
	for _, req := range f.srv.Requests() {
		if sig := req.Header.Get("Authorization"); sig != "" && sig != "[REDACTED]" && (strings.Contains(string(out), sig) || strings.Contains(f.logs.String(), sig)) {
			t.Fatalf("a request signature leaked into the result or the logs of %s", action)
		}
	}
	return r
}

// roundTrip gives v the shape a caller sees after JSON, for easy indexing.
func roundTrip(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var out any
	if err := d.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// indicators returns data[0].data of a hunt result.
func indicators(t testing.TB, r *providers.Result) []any {
	t.Helper()
	if len(r.Data) != 1 {
		t.Fatalf("data has %d entries, want 1", len(r.Data))
	}
	env, _ := roundTrip(t, r.Data[0]).(map[string]any)
	if env["status"] != "Success" {
		t.Fatalf("data[0].status = %v, want Success", env["status"])
	}
	list, ok := env["data"].([]any)
	if !ok {
		t.Fatalf("data[0].data is %T, want a list", env["data"])
	}
	return list
}

// memSink is an in-memory cef.Sink that keeps the transactional contract:
// a batch and its checkpoint commit together or not at all.
type memSink struct {
	mu         sync.Mutex
	checkpoint string
	order      []string // source data identifiers, in commit order
	byID       map[string]cef.Container
	failAfter  int // fail the Ingest call after this many succeeded; 0 = never
	calls      int
}

func newMemSink() *memSink { return &memSink{byID: map[string]cef.Container{}} }

func (s *memSink) Checkpoint(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint, nil
}

func (s *memSink) Ingest(_ context.Context, batch []cef.Container, checkpoint *string) (int, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.failAfter > 0 && s.calls > s.failAfter {
		return 0, 0, errDiskFull
	}
	created, dups := 0, 0
	for _, c := range batch {
		if err := c.Validate(); err != nil {
			return 0, 0, err
		}
		if _, ok := s.byID[c.SourceDataIdentifier]; ok {
			dups++
			continue
		}
		created++
	}
	for _, c := range batch {
		if _, ok := s.byID[c.SourceDataIdentifier]; !ok {
			s.byID[c.SourceDataIdentifier] = c
			s.order = append(s.order, c.SourceDataIdentifier)
		}
	}
	if checkpoint != nil {
		s.checkpoint = *checkpoint
	}
	return created, dups, nil
}

type sinkError string

func (e sinkError) Error() string { return string(e) }

const errDiskFull = sinkError("disk full")
