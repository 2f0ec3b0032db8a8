package cluster_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/cluster"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/pgstore"
	"github.com/goshawk/goshawk/internal/pgtest"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

// A child process of the test binary is a cluster node of its own, so
// that a test can kill it outright (SIGKILL) as a machine dies.
const (
	childEnv     = "GOSHAWK_CLUSTER_TEST_NODE" // the node's name
	childURLEnv  = "GOSHAWK_CLUSTER_TEST_URL"
	childReady   = "node ready"
	testBeat     = 200 * time.Millisecond
	testStale    = 2 * time.Second
	testMissed   = 30 * time.Second
	testFetchGap = 50 * time.Millisecond
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(childMain(name, os.Getenv(childURLEnv)))
	}
	os.Exit(pgtest.Main(m))
}

// childMain runs a node until it is killed.
func childMain(name, url string) int {
	ctx := context.Background()
	n, err := startNode(ctx, url, name, testPlaybooks(nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(childReady)
	<-ctx.Done() // forever: the test kills the process
	n.node.Stop(ctx)
	return 0
}

// box is a provider with no network: echo answers at once, and sleep
// waits for its seconds or until the run is cancelled, so a test can hold
// a run in flight on a node it is about to kill.
func box(running *atomic.Int32, peak *atomic.Int32) *providers.Provider {
	return &providers.Provider{
		Name: "box",
		Open: func(string, providers.Values) (providers.Conn, error) { return nopConn{}, nil },
		Actions: []providers.Spec{
			{
				Name: "echo", Kind: providers.Investigate, ReadOnly: true,
				Params: []providers.Param{{Name: "text", Type: providers.String, Required: true}},
				Run: func(_ context.Context, c *providers.Call) *providers.Result {
					return providers.Succeeded(c.Params.String("text"), nil, nil)
				},
			},
			{
				Name: "sleep", Kind: providers.Generic,
				Params: []providers.Param{{Name: "ms", Type: providers.Integer, Required: true}},
				Run: func(ctx context.Context, c *providers.Call) *providers.Result {
					if running != nil {
						n := running.Add(1)
						defer running.Add(-1)
						for {
							p := peak.Load()
							if n <= p || peak.CompareAndSwap(p, n) {
								break
							}
						}
					}
					select {
					case <-time.After(time.Duration(c.Params.Int("ms")) * time.Millisecond):
						return providers.Succeeded("slept", nil, nil)
					case <-ctx.Done():
						return providers.Failedf("sleep: %v", ctx.Err())
					}
				},
			},
		},
	}
}

type nopConn struct{}

func (nopConn) Close() error { return nil }

// testPlaybooks are the YAML of the playbooks every test node serves,
// with extra ones added.
func testPlaybooks(extra map[string]string) map[string]string {
	pbs := map[string]string{
		"echo": `name: echo
trigger: {webhook: true}
inputs:
  text: {type: string}
assets: [box]
lua: |
  local r = box.echo({text = input.text})
  return {said = r.message}
concurrency: 50
queue: 1000
`,
		"slow": `name: slow
trigger: {webhook: true}
inputs:
  ms: {type: number}
assets: [box]
lua: |
  box.sleep({ms = input.ms})
  return {slept = input.ms}
timeout: 60s
retry_interrupted: true
`,
		"triage": `name: triage
trigger: {on_poll: box}
assets: [box]
lua: |
  return {container = container.id}
concurrency: 20
`,
	}
	for k, v := range extra {
		pbs[k] = v
	}
	return pbs
}

// testNode is one cluster node: a PostgreSQL store, a runner over the box
// asset, and the cluster membership.
type testNode struct {
	store  *pgstore.Store
	runner *runner.Runner
	node   *cluster.Node
	books  map[string]*playbook.Playbook
}

// startNode opens a node named name on the database at url, serving the
// playbooks given as YAML, and starts it.
func startNode(ctx context.Context, url, name string, yamls map[string]string) (*testNode, error) {
	return startNodeWith(ctx, url, name, nodeSetup{yamls: yamls, work: true})
}

// nodeSetup is what a test node serves besides the box asset.
type nodeSetup struct {
	yamls         map[string]string
	running, peak *atomic.Int32 // the sleep action's counters
	work          bool          // false: the node only queues jobs
	// assets are opened assets beside box, with their providers for lint.
	assets map[string]*providers.Asset
	// files are playbooks loaded from files (the shipped ones).
	files []string
	// missedAfter overrides testMissed.
	missedAfter time.Duration
	// poll is the node's ingest action; nil does nothing.
	poll cluster.PollFunc
	// onSkip sees the instants recorded without a run.
	onSkip func(job, outcome string)
}

func startNodeWith(ctx context.Context, url, name string, ns nodeSetup) (*testNode, error) {
	st, err := pgstore.Open(ctx, url, pgstore.WithNode(name), pgstore.WithLiveness(testBeat, testStale))
	if err != nil {
		return nil, err
	}
	p := box(ns.running, ns.peak)
	if _, err := providers.NewRegistry(p); err != nil {
		return nil, err
	}
	asset, err := providers.OpenAsset("box", p, map[string]any{})
	if err != nil {
		return nil, err
	}
	rt := lua.NewRuntime(lua.Options{PoolSize: 16})
	r := runner.New(runner.Options{Store: st, Runtime: rt})
	assets := map[string]*providers.Asset{"box": asset}
	env := &playbook.Env{Assets: map[string]*providers.Provider{"box": p}}
	for name, a := range ns.assets {
		assets[name], env.Assets[name] = a, a.Provider
	}
	r.SetAssets(assets)
	n := &testNode{store: st, runner: r, books: map[string]*playbook.Playbook{}}
	var pbs []cluster.Playbook
	dir := os.TempDir()
	for file, y := range ns.yamls {
		pb, diags := playbook.Parse(filepath.Join(dir, file+".yaml"), []byte(y), env)
		if len(diags) > 0 {
			return nil, fmt.Errorf("playbook %s: %v", file, diags)
		}
		n.books[pb.Name] = pb
		pbs = append(pbs, clusterPlaybook(pb))
	}
	for _, file := range ns.files {
		pb, diags := playbook.Load(file, env)
		if len(diags) > 0 {
			return nil, fmt.Errorf("playbook %s: %v", file, diags)
		}
		n.books[pb.Name] = pb
		pbs = append(pbs, clusterPlaybook(pb))
	}
	if ns.poll == nil {
		ns.poll = func(context.Context, string, cef.Sink) error { return nil }
	}
	n.node, err = cluster.New(cluster.Options{
		Store:         st,
		Exec:          n.exec,
		Poll:          ns.poll,
		FetchInterval: testFetchGap,
		MissedAfter:   cmp.Or(ns.missedAfter, testMissed),
		OnSkip:        ns.onSkip,
	})
	if err != nil {
		return nil, err
	}
	if ns.work {
		if err := n.node.Start(ctx); err != nil {
			return nil, err
		}
	}
	if err := n.node.Sync(ctx, pbs, []cluster.Asset{{Name: "box"}}); err != nil {
		return nil, err
	}
	return n, nil
}

// clusterPlaybook is what the cluster needs of a loaded playbook.
func clusterPlaybook(pb *playbook.Playbook) cluster.Playbook {
	cp := cluster.Playbook{
		Name: pb.Name, Version: pb.Version, Timeout: pb.Timeout,
		Concurrency: pb.Concurrency, Queue: pb.Queue, RetryInterrupted: pb.RetryInterrupted,
		Every: pb.Trigger.Every,
	}
	if pb.Trigger.OnPoll != "" {
		cp.OnPoll = []string{pb.Trigger.OnPoll}
	}
	return cp
}

func (n *testNode) exec(ctx context.Context, req cluster.Request) (*store.Run, error) {
	pb, ok := n.books[req.Playbook]
	if !ok {
		return nil, fmt.Errorf("no playbook %s", req.Playbook)
	}
	rr := runner.Request{Playbook: pb, Inputs: req.Inputs, Trigger: req.Trigger}
	if req.ContainerID != 0 {
		c, err := n.store.Container(ctx, req.ContainerID)
		if err != nil {
			return nil, err
		}
		rr.Container = &c
	}
	return n.runner.Run(ctx, rr)
}

// newTestNode starts an in-process node and stops it at the end of the
// test.
func newTestNode(t *testing.T, url, name string, extra map[string]string) *testNode {
	t.Helper()
	n, err := startNode(context.Background(), url, name, testPlaybooks(extra))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.stop() })
	return n
}

func (n *testNode) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Runs in flight end first (recorded interrupted), so the node's jobs
	// finish instead of holding its stop.
	n.runner.Interrupt()
	n.node.Stop(ctx)
	n.runner.Wait(ctx)
	n.store.Close()
}

// waitFor polls cond until it holds; the deadline only guards against a
// hang and is no timing assertion.
func waitFor(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nodeNames(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, prefix+"-"+strconv.Itoa(i+1))
	}
	return out
}
