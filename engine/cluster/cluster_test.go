package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goshawk/goshawk/engine/cluster"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/pgtest"
	"github.com/goshawk/goshawk/providers/cef"
)

// TestSubmitAnyNodeRuns queues runs from one node and waits for each on
// whichever node executed it: every run is recorded once, by a node of the
// cluster.
func TestSubmitAnyNodeRuns(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	a := newTestNode(t, url, "a", nil)
	newTestNode(t, url, "b", nil)
	const runs = 40
	ids := make([]int64, runs)
	for i := range runs {
		id, err := a.node.Submit(ctx, cluster.Request{Playbook: "echo", Inputs: map[string]any{"text": fmt.Sprint(i)}, Trigger: "webhook"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	seen := map[int64]bool{}
	for i, id := range ids {
		rec, err := a.node.Wait(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != store.RunSuccess || rec.Trigger != "webhook" || fmt.Sprint(rec.Result) != fmt.Sprintf("map[said:%d]", i) {
			t.Errorf("run of job %d = %+v", id, rec)
		}
		if seen[rec.ID] {
			t.Errorf("run %d returned for two jobs", rec.ID)
		}
		seen[rec.ID] = true
	}
	all, err := a.store.ListRuns(ctx, store.RunQuery{Playbook: "echo", Limit: 1000})
	if err != nil || len(all) != runs {
		t.Fatalf("%d echo runs recorded, %v; want %d", len(all), err, runs)
	}
	perNode := countByNode(t, a, "echo")
	if perNode["a"]+perNode["b"] != runs {
		t.Errorf("runs by node = %v; want all %d on a or b", perNode, runs)
	}
	if _, err := a.node.Submit(ctx, cluster.Request{Playbook: "nope"}); !errors.Is(err, cluster.ErrUnknownPlaybook) {
		t.Errorf("Submit of an unknown playbook = %v, want ErrUnknownPlaybook", err)
	}
}

func countByNode(t *testing.T, n *testNode, playbook string) map[string]int {
	t.Helper()
	rows, err := n.store.Pool().Query(context.Background(), `SELECT node, count(*) FROM goshawk_runs WHERE playbook = $1 GROUP BY node`, playbook)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var node string
		var c int
		if err := rows.Scan(&node, &c); err != nil {
			t.Fatal(err)
		}
		out[node] = c
	}
	return out
}

// TestConcurrencyAndQueueAcrossNodes has a playbook with concurrency 1 and
// queue 2 on two nodes: never two runs at once across the cluster, and a
// fourth waiting run is refused whichever node it is sent to.
func TestConcurrencyAndQueueAcrossNodes(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	one := map[string]string{"one": `name: one
trigger: {webhook: true}
inputs:
  ms: {type: number}
assets: [box]
lua: |
  box.sleep({ms = input.ms})
  return {}
concurrency: 1
queue: 2
`}
	var running, peak atomic.Int32
	var nodes []*testNode
	for _, name := range []string{"a", "b"} {
		n, err := startNodeWith(ctx, url, name, nodeSetup{yamls: testPlaybooks(one), running: &running, peak: &peak, work: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.stop)
		nodes = append(nodes, n)
	}
	var ids []int64
	for i := range 3 {
		id, err := nodes[i%2].node.Submit(ctx, cluster.Request{Playbook: "one", Inputs: map[string]any{"ms": 300}, Trigger: "webhook"})
		if err != nil {
			t.Fatalf("run %d refused: %v", i+1, err)
		}
		ids = append(ids, id)
	}
	_, err := nodes[1].node.Submit(ctx, cluster.Request{Playbook: "one", Inputs: map[string]any{"ms": 300}, Trigger: "webhook"})
	if !errors.Is(err, cluster.ErrQueueFull) || !strings.Contains(err.Error(), "concurrency 1, queue 2") {
		t.Fatalf("a fourth run = %v; want ErrQueueFull naming the bounds", err)
	}
	for _, id := range ids {
		if rec, err := nodes[0].node.Wait(ctx, id); err != nil || rec.Status != store.RunSuccess {
			t.Fatalf("run of job %d: %+v, %v", id, rec, err)
		}
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("%d runs of a concurrency-1 playbook ran at once across the cluster", p)
	}
	// The queue drained: runs are accepted again.
	if _, err := nodes[1].node.Submit(ctx, cluster.Request{Playbook: "one", Inputs: map[string]any{"ms": 1}, Trigger: "webhook"}); err != nil {
		t.Errorf("run after the queue drained: %v", err)
	}
}

// TestScheduleExactlyOnce runs an every-second schedule on three nodes and
// stops one of them half way: each instant between the first and the last
// is recorded exactly once, and each that fired made exactly one run job.
// On a loaded machine an instant may be recorded skipped or missed rather
// than fired (the no-pile-up rule); that is a recorded outcome, not a loss.
func TestScheduleExactlyOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	tick := map[string]string{"tick": `name: tick
trigger: {every: 1s}
assets: [box]
lua: |
  return {}
`}
	var nodes []*testNode
	for _, name := range nodeNames("n", 3) {
		nodes = append(nodes, newTestNode(t, url, name, tick))
	}
	fires := func() ([]time.Time, error) {
		rows, err := nodes[0].store.Pool().Query(ctx, `SELECT at FROM goshawk_fires WHERE playbook = 'tick' AND outcome = 'fired' ORDER BY at`)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[time.Time])
	}
	waitFor(t, "4 instants", func() (bool, error) { at, err := fires(); return len(at) >= 4, err })
	nodes[2].stop() // the node leaves mid-way; the chain goes on
	var before int
	if at, err := fires(); err == nil {
		before = len(at)
	}
	waitFor(t, "4 more instants", func() (bool, error) { at, err := fires(); return len(at) >= before+4, err })
	for _, n := range nodes[:2] {
		n.stop()
	}
	db, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	// Every instant is recorded once, with its outcome: "fired", or, on a
	// loaded machine, "skipped" (the last scheduled run had not finished)
	// or "missed" (found too late). None is lost or doubled.
	rows, err := db.Query(ctx, `SELECT at, outcome FROM goshawk_fires WHERE playbook = 'tick' ORDER BY at`)
	if err != nil {
		t.Fatal(err)
	}
	type instant struct {
		At      time.Time
		Outcome string
	}
	all, err := pgx.CollectRows(rows, pgx.RowToStructByPos[instant])
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for i, in := range all {
		if i > 0 {
			if d := in.At.Sub(all[i-1].At); d != time.Second {
				t.Errorf("instants %s and %s are %s apart: an instant was lost or doubled", all[i-1].At, in.At, d)
			}
		}
		switch in.Outcome {
		case "fired":
			at = append(at, in.At)
		case "skipped", "missed":
		default:
			t.Errorf("instant %s recorded %q", in.At, in.Outcome)
		}
	}
	// Each fired instant queued exactly one run job; a job queued by the
	// last fires may not have run before the nodes stopped, and no run is
	// doubled.
	var jobs, runs, distinct int
	err = db.QueryRow(ctx, `SELECT (SELECT count(*) FROM river_job WHERE kind = 'goshawk_run' AND args->>'playbook' = 'tick'),
		(SELECT count(*) FROM goshawk_runs WHERE playbook = 'tick'),
		(SELECT count(DISTINCT job_id) FROM goshawk_runs WHERE playbook = 'tick')`).Scan(&jobs, &runs, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if jobs != len(at) || runs != distinct || runs > jobs {
		t.Errorf("%d fired instants queued %d run jobs, which made %d runs (%d distinct jobs); want one job per instant and at most one run per job", len(at), jobs, runs, distinct)
	}
}

// TestOnPollExactlyOnce has two nodes ingest the same 1,000 indicators at
// once: 1,000 containers and exactly one triage run for each.
func TestOnPollExactlyOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	a := newTestNode(t, url, "a", nil)
	b := newTestNode(t, url, "b", nil)
	const total = 1000
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, n := range []*testNode{a, b} {
		wg.Go(func() {
			sink := n.node.Sink("box")
			for from := 0; from < total; from += 100 {
				var batch []cef.Container
				for i := from; i < from+100; i++ {
					batch = append(batch, cef.Container{Name: fmt.Sprint("10.0.0.", i), Label: "box", SourceDataIdentifier: fmt.Sprint(i),
						Artifacts: []cef.Artifact{{Name: "ip", Label: "event", Type: "Address", SourceDataIdentifier: fmt.Sprint(i),
							CEF: map[string]any{"deviceAddress": fmt.Sprint("10.0.0.", i)}}}})
				}
				cp := fmt.Sprint(from + 100)
				if _, _, err := sink.Ingest(ctx, batch, &cp); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var containers, runs, distinct, done int
	waitFor(t, "1,000 triage runs", func() (bool, error) {
		err := a.store.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM goshawk_containers),
			(SELECT count(*) FROM goshawk_runs WHERE playbook = 'triage'),
			(SELECT count(DISTINCT container_id) FROM goshawk_runs WHERE playbook = 'triage'),
			(SELECT count(*) FROM goshawk_runs WHERE playbook = 'triage' AND status = 'success')`).Scan(&containers, &runs, &distinct, &done)
		return done >= total || err != nil, err
	})
	if containers != total || runs != total || distinct != total {
		t.Errorf("%d containers, %d triage runs for %d containers; want %d of each", containers, runs, distinct, total)
	}
}

// TestDeadNodeInterruptedAndRetried starts a node in a child process, has
// it take a long run, and kills it with SIGKILL: the run is marked
// interrupted, naming the node, within the playbook timeout plus 30 s, and
// (retry_interrupted) re-run once on the live node.
func TestDeadNodeInterruptedAndRetried(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	child := startChild(t, url, "doomed")
	// The submitter only queues: the child is the one node that works
	// until the run is in flight there.
	sub, err := startNodeWith(ctx, url, "submitter", nodeSetup{yamls: testPlaybooks(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.stop)
	job, err := sub.node.Submit(ctx, cluster.Request{Playbook: "slow", Inputs: map[string]any{"ms": 600000}, Trigger: "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	var victim store.Run
	waitFor(t, "the run to start on the child", func() (bool, error) {
		runs, err := sub.store.JobRuns(ctx, job)
		if err != nil || len(runs) == 0 {
			return false, err
		}
		victim, err = sub.store.GetRun(ctx, runs[0].ID)
		return true, err
	})
	if victim.Status != store.RunRunning {
		t.Fatalf("the run on the child is %s, want running", victim.Status)
	}
	live := newTestNode(t, url, "live", nil)
	killed := time.Now()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	var rec store.Run
	waitFor(t, "the run to be interrupted", func() (bool, error) {
		var err error
		rec, err = live.store.GetRun(ctx, victim.ID)
		return rec.Status != store.RunRunning, err
	})
	took := time.Since(killed)
	if rec.Status != store.RunInterrupted || !strings.Contains(rec.Error, "node doomed") {
		t.Errorf("the dead node's run = %s %q; want interrupted naming node doomed", rec.Status, rec.Error)
	}
	if bound := time.Minute + 30*time.Second; took > bound {
		t.Errorf("marked interrupted %s after the kill; the bound is the timeout plus 30 s, %s", took, bound)
	}
	t.Logf("death to interrupted: %s", took.Round(time.Millisecond))

	// retry_interrupted: one more run of the same job, on the live node.
	waitFor(t, "the retry", func() (bool, error) {
		runs, err := live.store.JobRuns(ctx, job)
		return len(runs) == 2, err
	})
	runs, _ := live.store.JobRuns(ctx, job)
	if runs[1].Node != "live" {
		t.Errorf("the retry ran on %s, want the live node", runs[1].Node)
	}
}

// startChild starts a node in a child process and waits until it serves.
func startChild(t testing.TB, url, name string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+name, childURLEnv+"="+url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == childReady {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the child node exited before it was ready")
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the child node did not get ready")
	}
	return cmd
}

// TestRestartAfterDowntime stops every node of a running schedule and
// starts one again after the instants it missed: the overdue instant is
// recorded missed, not run, the missed ones are not run in a burst, and
// the schedule goes on from the next instant.
func TestRestartAfterDowntime(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	tick := map[string]string{"tick": "name: tick\ntrigger: {every: 1s}\nlua: return 1\n"}
	const missedAfter = time.Second
	a, err := startNodeWith(ctx, url, "a", nodeSetup{yamls: testPlaybooks(tick), work: true, missedAfter: missedAfter})
	if err != nil {
		t.Fatal(err)
	}
	count := func(outcome string) (n int, err error) {
		err = a.store.Pool().QueryRow(ctx, `SELECT count(*) FROM goshawk_fires WHERE playbook = 'tick' AND outcome = $1`, outcome).Scan(&n)
		return n, err
	}
	waitFor(t, "2 instants", func() (bool, error) { n, err := count("fired"); return n >= 2, err })
	a.stop()

	time.Sleep(4 * time.Second) // every node down for several instants
	var mu sync.Mutex
	var skips []string
	onSkip := func(job, outcome string) { mu.Lock(); skips = append(skips, job+" "+outcome); mu.Unlock() }
	b, err := startNodeWith(ctx, url, "b", nodeSetup{yamls: testPlaybooks(tick), work: true, missedAfter: missedAfter, onSkip: onSkip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stop)
	restarted := time.Now()
	var missed int
	waitFor(t, "an instant after the restart", func() (bool, error) {
		var n int
		err := b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM goshawk_fires WHERE playbook = 'tick' AND outcome = 'fired' AND at > $1`, restarted).Scan(&n)
		return n >= 2, err
	})
	if err := b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM goshawk_fires WHERE playbook = 'tick' AND outcome = 'missed'`).Scan(&missed); err != nil {
		t.Fatal(err)
	}
	if missed < 1 {
		t.Errorf("no instant recorded missed; want the one overdue at the restart")
	}
	mu.Lock()
	if len(skips) < 1 || skips[0] != "every:tick missed" {
		t.Errorf("OnSkip saw %q; want every:tick missed, counted as a single node counts its skipped fires", skips)
	}
	mu.Unlock()
	var burst int
	err = b.store.Pool().QueryRow(ctx, `SELECT count(*) FROM goshawk_fires WHERE playbook = 'tick' AND outcome = 'fired'
		AND at < $1 AND fired > $1`, restarted).Scan(&burst)
	if err != nil {
		t.Fatal(err)
	}
	if burst != 0 {
		t.Errorf("%d instants from the downtime were run after the restart; want none", burst)
	}
}

// TestOnePollAtATime polls one asset from two nodes at once: while the
// first node's poll runs, the second is told the asset is busy.
func TestOnePollAtATime(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	entered, release := make(chan struct{}), make(chan struct{})
	slowPoll := func(ctx context.Context, _ string, _ cef.Sink) error {
		close(entered)
		<-release
		return nil
	}
	a, err := startNodeWith(ctx, url, "a", nodeSetup{yamls: testPlaybooks(nil), work: true, poll: slowPoll})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	b := newTestNode(t, url, "b", nil)
	done := make(chan error, 1)
	go func() { done <- a.node.PollNow(ctx, "box") }()
	<-entered
	if err := b.node.PollNow(ctx, "box"); !errors.Is(err, cluster.ErrPollBusy) {
		t.Errorf("a second poll while the first runs = %v, want ErrPollBusy", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := b.node.PollNow(ctx, "box"); err != nil {
		t.Errorf("a poll after the first ended = %v", err)
	}
}

// TestReloadKeepsSchedule changes a scheduled playbook's version on the
// nodes (a reload) while it fires every second: the instants go on, each
// fired once, with no gap at the switch.
func TestReloadKeepsSchedule(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	tick := map[string]string{"tick": "name: tick\ntrigger: {every: 1s}\nlua: return 1\n"}
	a := newTestNode(t, url, "a", tick)
	b := newTestNode(t, url, "b", tick)
	fired := func() (at []time.Time, err error) {
		rows, err := a.store.Pool().Query(ctx, `SELECT at FROM goshawk_fires WHERE playbook = 'tick' ORDER BY at`)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[time.Time])
	}
	waitFor(t, "3 instants", func() (bool, error) { at, err := fired(); return len(at) >= 3, err })
	// Both nodes reload to a new version of tick (same schedule), four
	// times: at each switch the old and the new chain race for an instant.
	for v := range 4 {
		for _, n := range []*testNode{a, b} {
			pb := clusterPlaybook(n.books["tick"])
			pb.Version = fmt.Sprintf("v%d-%s", v+2, pb.Version)
			var pbs []cluster.Playbook
			for name, book := range n.books {
				if name != "tick" {
					pbs = append(pbs, clusterPlaybook(book))
				}
			}
			if err := n.node.Sync(ctx, append(pbs, pb), []cluster.Asset{{Name: "box"}}); err != nil {
				t.Fatal(err)
			}
		}
		before, _ := fired()
		waitFor(t, "3 instants after the reload", func() (bool, error) { at, err := fired(); return len(at) >= len(before)+3, err })
	}
	at, err := fired()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(at); i++ {
		if d := at[i].Sub(at[i-1]); d != time.Second {
			t.Errorf("instants %s and %s are %s apart across the reload", at[i-1].Format(time.TimeOnly), at[i].Format(time.TimeOnly), d)
		}
	}
	var chains int
	if err := a.store.Pool().QueryRow(ctx, `SELECT count(DISTINCT chain) FROM goshawk_fires WHERE playbook = 'tick' AND at > $1`, at[len(at)-1].Add(-2*time.Second)).Scan(&chains); err != nil || chains != 1 {
		t.Errorf("the last instants came from %d chains, %v; want only the new version's", chains, err)
	}
}
