package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/cputime"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// BenchmarkTrivialRun measures the runner's own cost per run: input check,
// slot, the two store writes and a pooled Lua state, around a script that
// does nothing.
func BenchmarkTrivialRun(b *testing.B) {
	e := newEnv(b)
	pb := e.playbook("trivial", "lua: return 1\n")
	ctx := context.Background()
	req := runner.Request{Playbook: pb, Trigger: "manual"}
	b.ReportAllocs()
	cpu0, _ := cputime.Process()
	for b.Loop() {
		rec, err := e.runner.Run(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if rec.Status != runner.StatusSuccess {
			b.Fatalf("run %s: %s", rec.Status, rec.Error)
		}
	}
	reportRate(b, cpu0, false)
}

// BenchmarkTrivialRunParallel is BenchmarkTrivialRun with eight callers at
// once, as triggers and webhooks call the runner.
func BenchmarkTrivialRunParallel(b *testing.B) {
	e := newEnvPool(b, 16)
	runParallel(b, e.runner, e.playbook("trivial", "lua: return 1\nconcurrency: 8\n"), nil)
}

// runParallel runs pb from about eight goroutines until the benchmark ends
// and reports runs per second.
func runParallel(b *testing.B, r *runner.Runner, pb *playbook.Playbook, inputs map[string]any) {
	ctx := context.Background()
	req := runner.Request{Playbook: pb, Inputs: inputs, Trigger: "manual"}
	b.ReportAllocs()
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	cpu0, _ := cputime.Process()
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			rec, err := r.Run(ctx, req)
			if err != nil {
				b.Error(err)
				return
			}
			if rec.Status != runner.StatusSuccess {
				b.Errorf("run %s: %s", rec.Status, rec.Error)
				return
			}
		}
	})
	b.StopTimer()
	reportRate(b, cpu0, true)
}

// reportRate reports runs per second of wall time and, since other work
// may share the machine, the CPU time one run took. For parallel runs it
// adds the rate that CPU time allows on GOMAXPROCS cores of their own.
func reportRate(b *testing.B, cpu0 time.Duration, parallel bool) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	cpu1, ok := cputime.Process()
	if !ok || cpu1 <= cpu0 {
		return
	}
	perRun := (cpu1 - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(perRun*1e6, "cpu-µs/run")
	if parallel {
		b.ReportMetric(float64(runtime.GOMAXPROCS(0))/perRun, "cpu-bound-runs/s")
	}
}

// BenchmarkHuntEnrichPost runs the shipped hunt -> enrich -> post playbook
// against both emulators, eight runs at a time, over a store file as in
// production. Each run makes four HTTP calls: a ThreatConnect hunt, a
// ThreatQ search, a ThreatConnect post and a ThreatQ event.
func BenchmarkHuntEnrichPost(b *testing.B) {
	tc := tcfake.New(tcfake.Options{})
	b.Cleanup(tc.Close)
	tq := tqfake.New(tqfake.Options{})
	b.Cleanup(tq.Close)
	tq.AddSharedIndicator(time.Now().UTC())

	reg, err := providers.NewRegistry(threatconnect.Provider(), threatq.Provider())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	yaml := fmt.Sprintf(`assets:
  tc: {provider: threatconnect, base_url: %q, access_id: %q, secret_key: %q}
  tq: {provider: threatq, url: %q, email: %q, password: %q, client_id: %q}
`, tc.URL, tcfake.DefaultAccessID, tcfake.DefaultSecretKey, tq.URL, tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID)
	cfg, err := config.Parse(filepath.Join(dir, "goshawk.yaml"), []byte(yaml), reg, os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	assets := map[string]*providers.Asset{}
	lint := &playbook.Env{Assets: map[string]*providers.Provider{}}
	for _, name := range cfg.AssetNames() {
		a, err := cfg.OpenAsset(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { a.Close() })
		assets[name], lint.Assets[name] = a, a.Provider
	}
	pb, diags := playbook.Load(filepath.Join("..", "..", "playbooks", "hunt_enrich_post.yaml"), lint)
	if len(diags) > 0 {
		b.Fatal(diags)
	}
	if pb.Concurrency < 8 {
		b.Fatalf("the shipped playbook allows %d runs at once; the benchmark needs 8", pb.Concurrency)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "goshawk.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	rt := lua.NewRuntime(lua.Options{PoolSize: 16})
	b.Cleanup(rt.Close)
	r := runner.New(runner.Options{Store: st, Runtime: rt, Redact: logx.NewRedactor(cfg.Secrets()...)})
	r.SetAssets(assets)

	// One run first, so that the OAuth token and the connections are in
	// place and a broken setup fails before the timer starts.
	rec, err := r.Run(context.Background(), runner.Request{Playbook: pb, Inputs: map[string]any{"ip": tcfake.SeedIPv4}})
	if err != nil || rec.Status != runner.StatusSuccess || len(rec.Steps) != 4 {
		b.Fatalf("first run: %v %+v", err, rec)
	}
	runParallel(b, r, pb, map[string]any{"ip": tcfake.SeedIPv4})
}

// BenchmarkTimeoutOverrun reports how long past its deadline a script that
// never yields is stopped.
func BenchmarkTimeoutOverrun(b *testing.B) {
	e := newEnv(b)
	const timeout = 20 * time.Millisecond
	pb := e.playbook("spin", fmt.Sprintf("timeout: %s\nlua: while true do end\n", timeout))
	var over time.Duration
	for b.Loop() {
		start := time.Now()
		rec := e.run(pb, nil)
		over += time.Since(start) - timeout
		if rec.Status != runner.StatusTimeout {
			b.Fatalf("status %s: %s", rec.Status, rec.Error)
		}
	}
	b.ReportMetric(float64(over.Microseconds())/1000/float64(b.N), "ms-overrun/op")
}
