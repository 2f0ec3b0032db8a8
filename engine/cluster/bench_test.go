package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/cluster"
	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/pgtest"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// The figures of docs/scale-out.md. Run with
//
//	go test -run '^$' -bench . -benchtime 5s ./engine/cluster
//
// BenchmarkDirect is the runner writing its records to PostgreSQL without
// the queue, the counterpart of the runner's SQLite benchmarks;
// BenchmarkQueued sends every run through River to 1 or 3 nodes (all in
// this process, sharing its cores), as webhooks with ?wait=true do.

const trivialYAML = `name: trivial
trigger: {webhook: true}
lua: |
  return 1
concurrency: 16
queue: 10000
`

// emulators starts both vendor emulators and opens the tc and tq assets
// against them for one node.
func emulators(b *testing.B) func() map[string]*providers.Asset {
	tc := tcfake.New(tcfake.Options{})
	b.Cleanup(tc.Close)
	tq := tqfake.New(tqfake.Options{})
	b.Cleanup(tq.Close)
	tq.AddSharedIndicator(time.Now().UTC())
	reg, err := providers.NewRegistry(threatconnect.Provider(), threatq.Provider())
	if err != nil {
		b.Fatal(err)
	}
	yaml := fmt.Sprintf(`assets:
  tc: {provider: threatconnect, base_url: %q, access_id: %q, secret_key: %q}
  tq: {provider: threatq, url: %q, email: %q, password: %q, client_id: %q}
`, tc.URL, tcfake.DefaultAccessID, tcfake.DefaultSecretKey, tq.URL, tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID)
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "goshawk.yaml"), []byte(yaml), reg, os.LookupEnv)
	if err != nil {
		b.Fatal(err)
	}
	return func() map[string]*providers.Asset {
		out := map[string]*providers.Asset{}
		for _, name := range cfg.AssetNames() {
			a, err := cfg.OpenAsset(name)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { a.Close() })
			out[name] = a
		}
		return out
	}
}

var shippedHunt = filepath.Join("..", "..", "playbooks", "hunt_enrich_post.yaml")

func benchNodes(b *testing.B, count int, withHunt bool) []*testNode {
	ctx := context.Background()
	url := pgtest.DB(b)
	var open func() map[string]*providers.Asset
	if withHunt {
		open = emulators(b)
	}
	var nodes []*testNode
	for i := range count {
		ns := nodeSetup{yamls: map[string]string{"trivial": trivialYAML}, work: true}
		if withHunt {
			ns.assets, ns.files = open(), []string{shippedHunt}
		}
		n, err := startNodeWith(ctx, url, fmt.Sprintf("bench-%d", i+1), ns)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.stop)
		nodes = append(nodes, n)
	}
	return nodes
}

func BenchmarkDirect(b *testing.B) {
	for _, kind := range []string{"trivial", "hunt_enrich_post"} {
		b.Run(kind, func(b *testing.B) {
			n := benchNodes(b, 1, kind != "trivial")[0]
			pb := n.books[kind]
			inputs := map[string]any{}
			if kind != "trivial" {
				inputs["ip"] = tcfake.SeedIPv4
			}
			ctx := context.Background()
			if rec, err := n.runner.Run(ctx, runner.Request{Playbook: pb, Inputs: inputs}); err != nil || rec.Status != store.RunSuccess {
				b.Fatalf("first run: %v %+v", err, rec)
			}
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					rec, err := n.runner.Run(ctx, runner.Request{Playbook: pb, Inputs: inputs, Trigger: "manual"})
					if err != nil || rec.Status != store.RunSuccess {
						b.Errorf("run: %v %+v", err, rec)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}

func BenchmarkQueued(b *testing.B) {
	for _, kind := range []string{"trivial", "hunt_enrich_post"} {
		for _, count := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/nodes=%d", kind, count), func(b *testing.B) {
				nodes := benchNodes(b, count, kind != "trivial")
				inputs := map[string]any{}
				if kind != "trivial" {
					inputs["ip"] = tcfake.SeedIPv4
				}
				ctx := context.Background()
				b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
				var next atomic.Int32
				b.ResetTimer()
				b.RunParallel(func(p *testing.PB) {
					// Spread the submitting over the nodes, as a load
					// balancer would.
					n := nodes[int(next.Add(1))%len(nodes)]
					for p.Next() {
						id, err := n.node.Submit(ctx, cluster.Request{Playbook: kind, Inputs: inputs, Trigger: "webhook"})
						if err != nil {
							b.Error(err)
							return
						}
						rec, err := n.node.Wait(ctx, id)
						if err != nil || rec.Status != store.RunSuccess {
							b.Errorf("run: %v %+v", err, rec)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			})
		}
	}
}

// BenchmarkDeathToInterrupted kills a node (SIGKILL) while it runs a
// playbook and reports how long until a live node has marked the run
// interrupted. The default liveness of serve is a heartbeat every 2 s and
// death after 15 s without one; this benchmark uses 200 ms and 2 s.
func BenchmarkDeathToInterrupted(b *testing.B) {
	ctx := context.Background()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		url := pgtest.DB(b)
		child := startChild(b, url, "doomed")
		sub, err := startNodeWith(ctx, url, "submitter", nodeSetup{yamls: testPlaybooks(nil)})
		if err != nil {
			b.Fatal(err)
		}
		job, err := sub.node.Submit(ctx, cluster.Request{Playbook: "slow", Inputs: map[string]any{"ms": 600000}, Trigger: "webhook"})
		if err != nil {
			b.Fatal(err)
		}
		var runID int64
		waitFor(b, "the run to start", func() (bool, error) {
			runs, err := sub.store.JobRuns(ctx, job)
			if len(runs) > 0 {
				runID = runs[0].ID
			}
			return len(runs) > 0, err
		})
		b.StartTimer()
		killed := time.Now()
		child.Process.Signal(syscall.SIGKILL)
		child.Wait()
		waitFor(b, "the run to be interrupted", func() (bool, error) {
			// The submitter runs the liveness checks; it does not fetch.
			if _, err := sub.node.RescueDead(ctx); err != nil {
				return false, err
			}
			r, err := sub.store.GetRun(ctx, runID)
			return r.Status == store.RunInterrupted, err
		})
		total += time.Since(killed)
		b.StopTimer()
		sub.stop()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-interrupted")
}
