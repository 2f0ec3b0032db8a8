package runner_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
)

// testSecret is a recognisable secret: anywhere in a run record it is a leak.
const testSecret = "box-token-0f1e2d3c4b5a"

// gate is the connection of the test provider's asset. Its wait action
// blocks until the test releases it, so a test decides when a run's
// script may go on.
type gate struct {
	entered chan struct{} // one value per wait call that started
	release chan struct{} // closed to let every wait call return

	cur, peak atomic.Int32 // wait calls in progress, and their maximum
}

// Close does nothing: the gate holds no resources.
func (*gate) Close() error { return nil }

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 1024), release: make(chan struct{})}
}

// boxProvider is a small provider with no network: echo answers with its
// text, refuse fails with it, and wait blocks on the gate.
func boxProvider(g *gate) *providers.Provider {
	text := []providers.Param{{Name: "text", Type: providers.String, Required: true}}
	return &providers.Provider{
		Name:   "box",
		Config: []providers.Param{{Name: "token", Type: providers.String, Required: true, Secret: true}},
		Open:   func(string, providers.Values) (providers.Conn, error) { return g, nil },
		Actions: []providers.Spec{
			{
				Name: "echo", Kind: providers.Investigate, ReadOnly: true, Params: text,
				Run: func(_ context.Context, c *providers.Call) *providers.Result {
					return providers.Succeeded(c.Params.String("text"), []any{map[string]any{"text": c.Params.String("text")}}, nil)
				},
			},
			{
				// chat logs through the run's logger as a connector does:
				// a debug line per request, and an info line.
				Name: "chat", Kind: providers.Investigate, ReadOnly: true, Params: text,
				Run: func(_ context.Context, c *providers.Call) *providers.Result {
					c.Env.Log.Debug("request sent", "text", c.Params.String("text"))
					c.Env.Log.Info("answer received", "text", c.Params.String("text"))
					return providers.Succeeded("chatted", nil, nil)
				},
			},
			{
				Name: "refuse", Kind: providers.Generic, Params: text,
				Run: func(_ context.Context, c *providers.Call) *providers.Result {
					return providers.Failedf("box refused %s", c.Params.String("text"))
				},
			},
			{
				Name: "wait", Kind: providers.Generic,
				Run: func(ctx context.Context, c *providers.Call) *providers.Result {
					g := c.Conn.(*gate)
					n := g.cur.Add(1)
					defer g.cur.Add(-1)
					for {
						p := g.peak.Load()
						if n <= p || g.peak.CompareAndSwap(p, n) {
							break
						}
					}
					g.entered <- struct{}{}
					select {
					case <-g.release:
						return providers.Succeeded("released", nil, nil)
					case <-ctx.Done():
						return providers.Failedf("wait: %v", ctx.Err())
					}
				},
			},
		},
	}
}

// env is a runner over an in-memory store and one box asset.
type env struct {
	t      testing.TB
	store  *store.SQLite
	runner *runner.Runner
	gate   *gate
	lint   *playbook.Env
	dir    string
	redact *logx.Redactor
}

// fixedNow is the clock of the test runner, so records carry known times.
var fixedNow = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// newEnv returns a runner whose Lua runtime keeps one idle state, so that
// consecutive runs reuse the same state, as most runs do in production.
func newEnv(t testing.TB) *env { return newEnvPool(t, 1) }

func newEnvPool(t testing.TB, pool int) *env { return newEnvWith(t, pool, nil) }

// newEnvWith is newEnvPool with the runner's options adjusted by opt.
func newEnvWith(t testing.TB, pool int, opt func(*runner.Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenMemory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := newGate()
	p := boxProvider(g)
	if _, err := providers.NewRegistry(p); err != nil {
		t.Fatal(err)
	}
	asset, err := providers.OpenAsset("box", p, map[string]any{"token": testSecret})
	if err != nil {
		t.Fatal(err)
	}
	rt := lua.NewRuntime(lua.Options{PoolSize: pool})
	t.Cleanup(rt.Close)
	redact := logx.NewRedactor(testSecret)
	o := runner.Options{
		Store:   st,
		Runtime: rt,
		Redact:  redact,
		Now:     func() time.Time { return fixedNow },
	}
	if opt != nil {
		opt(&o)
	}
	r := runner.New(o)
	r.SetAssets(map[string]*providers.Asset{"box": asset})
	t.Cleanup(func() {
		// Let any run a failed test left blocked finish before the store
		// closes.
		r.Interrupt()
		r.Wait(context.Background())
	})
	return &env{t: t, store: st, runner: r, gate: g, redact: redact,
		lint: &playbook.Env{Assets: map[string]*providers.Provider{"box": p}}, dir: t.TempDir()}
}

// playbook parses and lints a playbook as the host would load it.
func (e *env) playbook(name, yaml string) *playbook.Playbook {
	e.t.Helper()
	pb, diags := playbook.Parse(filepath.Join(e.dir, name+".yaml"), []byte(yaml), e.lint)
	if len(diags) > 0 {
		e.t.Fatalf("playbook %s does not load: %v", name, diags)
	}
	return pb
}

// unlinted builds a playbook whose script lint never saw. Lint refuses
// plain sandbox escapes like io.open, but a script can reach the same names
// dynamically (_G["i" .. "o"]), so the runner must hold on its own.
func unlinted(name, src string) *playbook.Playbook {
	sum := sha256.Sum256([]byte(src))
	return &playbook.Playbook{
		Name:        name,
		File:        name + ".yaml",
		Source:      []byte(src),
		SourceName:  name + ".lua",
		SourceLine:  1,
		Timeout:     10 * time.Second,
		Concurrency: playbook.DefaultConcurrency,
		Queue:       playbook.DefaultQueue,
		Version:     hex.EncodeToString(sum[:6]),
	}
}

// run runs pb once and fails the test if the run was refused.
func (e *env) run(pb *playbook.Playbook, inputs map[string]any) *store.Run {
	e.t.Helper()
	rec, err := e.runner.Run(context.Background(), runner.Request{Playbook: pb, Inputs: inputs, Trigger: "manual"})
	if err != nil {
		e.t.Fatalf("run of %s refused: %v", pb.Name, err)
	}
	return rec
}

// stored reads a run back from the store.
func (e *env) stored(id int64) store.Run {
	e.t.Helper()
	r, err := e.store.GetRun(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// awaitEntered waits until n more wait calls have started.
func (e *env) awaitEntered(n int) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		<-e.gate.entered
	}
}

// outcome is the part of a step that says what the call did: its asset,
// action, status and message.
func outcome(s store.Step) stepOutcome {
	return stepOutcome{Asset: s.Asset, Action: s.Action, Status: s.Status, Message: s.Message}
}

type stepOutcome struct{ Asset, Action, Status, Message string }
