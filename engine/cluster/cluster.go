// Package cluster runs goshawk on several `goshawk serve` nodes that share
// one PostgreSQL database (engine/store/pgstore), with River
// (github.com/riverqueue/river) as the job queue. Any node may execute any
// run; the database decides who does what, so no node is special.
//
// Runs are River jobs (kind goshawk_run): a webhook or manual run, each
// fire of a schedule and each on_poll run is inserted as one, and whichever
// node fetches it (SKIP LOCKED) executes it. A playbook's concurrency holds
// across the cluster through leased slots, and its queue bounds the
// jobs waiting for them.
//
// Schedules do not use River's PeriodicJob, which only the elected leader
// enqueues (a leader's death left instants unfired for the 18 s a new
// election took). Each scheduled instant is its own unique job, keyed by
// playbook, definition and instant; firing it inserts the next instant's
// job in the same transaction, and records the instant in goshawk_fires,
// so every live node can fire it and none can fire it twice. The asset
// polls of on_poll are chains of the same kind.
//
// A node whose heartbeat stops is dead: pgstore marks its running runs
// interrupted, and this package hands the jobs it held back to the queue
// at once rather than after River's rescue delay, so a retry_interrupted
// playbook re-runs on a live node and a schedule's chain goes on.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/pgstore"
	"github.com/goshawk/goshawk/providers/cef"
)

// Playbook is what the cluster needs to know of one playbook on this node.
type Playbook struct {
	Name    string
	Version string
	// Timeout bounds a run; the job's own timeout and the rescue of a
	// stuck job derive from it.
	Timeout     time.Duration
	Concurrency int // runs at once across the cluster; at least 1
	Queue       int // runs that may wait for a slot across the cluster
	// RetryInterrupted re-runs, once and on another node, a run whose
	// node died.
	RetryInterrupted bool
	// Schedule, when set, fires the playbook: Every (aligned to multiples
	// of the interval since the Unix epoch, so that every node computes
	// the same instants) or a five-field Cron in TZ.
	Every time.Duration
	Cron  string
	TZ    string
	// OnPoll lists the assets whose new containers start a run.
	OnPoll []string
}

// Asset is an asset whose ingest action this node can run.
type Asset struct {
	Name string
	Poll time.Duration // scheduled poll interval; 0: none
}

// Request is one run to execute.
type Request struct {
	Playbook    string         `json:"playbook"`
	Inputs      map[string]any `json:"inputs,omitempty"`
	Trigger     string         `json:"trigger"`
	ContainerID int64          `json:"container_id,omitempty"`
	// At is the scheduled instant of a schedule run.
	At time.Time `json:"at,omitzero"`
}

// ExecFunc executes one run on this node and returns its record. The run
// record must be written through the node's store with the context given,
// which names the job.
type ExecFunc func(ctx context.Context, req Request) (*store.Run, error)

// PollFunc runs the ingest action of asset on this node, writing through
// sink.
type PollFunc func(ctx context.Context, asset string, sink cef.Sink) error

// Options configure a Node.
type Options struct {
	Store *pgstore.Store
	Log   *slog.Logger
	Exec  ExecFunc
	Poll  PollFunc
	// Workers is how many jobs this node executes at once (default 100).
	Workers int
	// FetchInterval is how often an idle node looks for due jobs (default
	// 100 ms): it bounds how late an instant fires.
	FetchInterval time.Duration
	// RescueAfter is River's own backstop for a job stuck running on a
	// node that still heartbeats (default 1 h). Dead nodes are found by
	// their heartbeats within seconds, not by this; it must exceed every
	// job's timeout, or River would hand a job still running on a live
	// node to another, so run jobs are cut a minute before it.
	RescueAfter time.Duration
	// OnSkip, when set, is called for each scheduled instant this node
	// recorded without running it: outcome "skipped" (the previous run
	// was still going) or "missed" (found too late). job names it as a
	// single node's scheduler does: "every:<playbook>" or
	// "schedule:<playbook>".
	OnSkip func(job, outcome string)
	// MissedAfter is how late an instant may fire; an instant found later
	// than that (every node was down) is skipped and counted, not run
	// (default 30 s).
	MissedAfter time.Duration
}

// Node is this process's membership of the cluster.
type Node struct {
	o      Options
	st     *pgstore.Store
	client *river.Client[pgx.Tx]

	mu        sync.RWMutex
	playbooks map[string]Playbook
	assets    map[string]Asset

	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
	stopErr  error
}

// Scheduled runs go before webhook and on_poll runs waiting in the queue
// (River fetches the lowest priority number first), so that a backlog of
// a large poll does not make the next instant find the previous one still
// waiting and skip it.
const (
	prioritySchedule = 1
	priorityOther    = 2
)

// Queue names. Timers (schedule fires and asset polls) have their own
// queue, so that a backlog of runs never delays an instant.
const (
	queueRuns   = river.QueueDefault
	queueTimers = "goshawk_timers"
)

// New prepares a node; Start makes it work.
func New(o Options) (*Node, error) {
	if o.Store == nil || o.Exec == nil {
		return nil, errors.New("cluster: a node needs a PostgreSQL store and an executor")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 100
	}
	if o.FetchInterval <= 0 {
		o.FetchInterval = 100 * time.Millisecond
	}
	if o.MissedAfter <= 0 {
		o.MissedAfter = 30 * time.Second
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = time.Hour
	}
	n := &Node{o: o, st: o.Store, playbooks: map[string]Playbook{}, assets: map[string]Asset{}}
	workers := river.NewWorkers()
	river.AddWorker(workers, &runWorker{n: n})
	river.AddWorker(workers, &fireWorker{n: n})
	river.AddWorker(workers, &pollWorker{n: n})
	client, err := river.NewClient(riverpgxv5.New(o.Store.Pool()), &river.Config{
		ID: o.Store.Node(),
		// A job inserted on any node is announced (LISTEN/NOTIFY) and
		// fetched within the cooldown.
		FetchCooldown: min(o.FetchInterval, 5*time.Millisecond),
		// Fetching polls rather than waiting for a notification, so a
		// timer whose time has come is found within one interval.
		FetchPollInterval:    o.FetchInterval,
		JobTimeout:           -1, // each worker says its own
		RescueStuckJobsAfter: o.RescueAfter,
		MaxAttempts:          5,
		Logger:               slog.New(slog.DiscardHandler),
		Middleware:           []rivertype.Middleware{&dueTimers{}},
		Queues: map[string]river.QueueConfig{
			queueRuns:   {MaxWorkers: o.Workers},
			queueTimers: {MaxWorkers: 10},
		},
		Workers: workers,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.client = client
	return n, nil
}

// dueTimers inserts timer jobs as available with their instant in the
// future, instead of River's "scheduled" state: River moves scheduled jobs
// to available only on its elected leader, so a dead leader would hold
// back every instant until a new election. Available jobs are fetched by
// any node once their scheduled_at has come.
type dueTimers struct{ river.MiddlewareDefaults }

func (*dueTimers) InsertMany(ctx context.Context, many []*rivertype.JobInsertParams, doInner func(context.Context) ([]*rivertype.JobInsertResult, error)) ([]*rivertype.JobInsertResult, error) {
	for _, p := range many {
		if p.Queue == queueTimers && p.State == rivertype.JobStateScheduled {
			p.State = rivertype.JobStateAvailable
		}
	}
	return doInner(ctx)
}

// Start makes the node fetch and execute jobs, and watch for dead nodes.
func (n *Node) Start(ctx context.Context) error {
	if err := n.client.Start(ctx); err != nil {
		return fmt.Errorf("cluster: start node %s: %w", n.st.Node(), err)
	}
	watchCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	n.stop, n.done = stop, make(chan struct{})
	go n.watch(watchCtx)
	return nil
}

// Stop stops fetching jobs, lets those running finish within ctx, and then
// cancels them. Calling it again, or on a node never started, waits for
// the first stop and returns its result.
func (n *Node) Stop(ctx context.Context) error {
	n.stopOnce.Do(func() {
		if n.stop == nil {
			return // never started
		}
		n.stop()
		<-n.done
		if n.stopErr = n.client.Stop(ctx); n.stopErr != nil {
			n.stopErr = n.client.StopAndCancel(context.WithoutCancel(ctx))
		}
	})
	return n.stopErr
}

// Client is the River client, for tests and tools.
func (n *Node) Client() *river.Client[pgx.Tx] { return n.client }

// watch hands the jobs of dead nodes back to the queue.
func (n *Node) watch(ctx context.Context) {
	defer close(n.done)
	t := time.NewTicker(pgstore.DefaultBeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := n.RescueDead(ctx); err != nil && ctx.Err() == nil {
			n.o.Log.Warn("cluster: could not hand back the jobs of dead nodes", "err", err)
		}
	}
}

// RescueDead makes the jobs that dead nodes held running available again,
// and returns how many. It first closes those nodes' runs (pgstore), so a
// retried job finds its run interrupted.
func (n *Node) RescueDead(ctx context.Context) (int, error) {
	if _, err := n.st.InterruptDead(ctx); err != nil {
		return 0, err
	}
	// River records the client id (our node name) that attempted a job in
	// attempted_by; a job running on a node that no longer heartbeats will
	// never be completed by it.
	tag, err := n.st.Pool().Exec(ctx, `
		UPDATE river_job j SET state = 'available', scheduled_at = now()
		WHERE j.state = 'running' AND j.attempted_by IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM goshawk_nodes g
			WHERE g.id = j.attempted_by[array_length(j.attempted_by, 1)]
			AND g.heartbeat > now() - make_interval(secs => $1))`, n.st.Stale().Seconds())
	if err != nil {
		return 0, fmt.Errorf("cluster: rescue the jobs of dead nodes: %w", err)
	}
	if c := tag.RowsAffected(); c > 0 {
		n.o.Log.Warn("cluster: jobs of dead nodes handed back to the queue", "jobs", c)
	}
	return int(tag.RowsAffected()), nil
}

// nodeInfo is what a node publishes of itself in goshawk_nodes.
type nodeInfo struct {
	Playbooks map[string]pbInfo `json:"playbooks"`
	Assets    map[string]string `json:"assets"` // poll interval, "" when none
}

type pbInfo struct {
	Version  string `json:"version"`
	Schedule string `json:"schedule,omitempty"`
}

// Sync tells the cluster this node's playbooks and assets (at start and
// after each reload): it publishes their versions and starts the chains of
// their schedules and polls. Chains that no live node serves any more end
// at their next instant.
func (n *Node) Sync(ctx context.Context, playbooks []Playbook, assets []Asset) error {
	info := nodeInfo{Playbooks: map[string]pbInfo{}, Assets: map[string]string{}}
	pbs := make(map[string]Playbook, len(playbooks))
	for _, p := range playbooks {
		if p.Concurrency < 1 {
			p.Concurrency = 1
		}
		pbs[p.Name] = p
		info.Playbooks[p.Name] = pbInfo{Version: p.Version, Schedule: specOf(p)}
	}
	as := make(map[string]Asset, len(assets))
	for _, a := range assets {
		as[a.Name] = a
		info.Assets[a.Name] = ""
		if a.Poll > 0 {
			info.Assets[a.Name] = a.Poll.String()
		}
	}
	n.mu.Lock()
	n.playbooks, n.assets = pbs, as
	n.mu.Unlock()
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := n.st.SetInfo(ctx, string(b)); err != nil {
		return err
	}
	now := time.Now()
	for _, p := range pbs {
		spec := specOf(p)
		if spec == "" {
			continue
		}
		s, err := parseSpec(spec)
		if err != nil {
			n.o.Log.Error("cluster: schedule not started", "playbook", p.Name, "err", err)
			continue
		}
		args := FireArgs{Playbook: p.Name, Chain: p.Version, Spec: spec, At: s.Next(now)}
		if _, err := n.client.Insert(ctx, args, args.opts()); err != nil {
			return fmt.Errorf("cluster: start the schedule of %s: %w", p.Name, err)
		}
	}
	for _, a := range as {
		if a.Poll <= 0 {
			continue
		}
		spec := "every " + a.Poll.String()
		s, _ := parseSpec(spec)
		args := PollArgs{Asset: a.Name, Spec: spec, At: s.Next(now)}
		if _, err := n.client.Insert(ctx, args, args.opts()); err != nil {
			return fmt.Errorf("cluster: start the polls of %s: %w", a.Name, err)
		}
	}
	return nil
}

func (n *Node) playbook(name string) (Playbook, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	p, ok := n.playbooks[name]
	return p, ok
}

// specOf is a playbook's schedule as the text its jobs carry.
func specOf(p Playbook) string {
	switch {
	case p.Every > 0:
		return "every " + p.Every.String()
	case p.Cron != "":
		return "cron " + p.TZ + "|" + p.Cron
	}
	return ""
}

// parseSpec reads a schedule back from its text, on any node, including
// one that does not have the playbook.
func parseSpec(spec string) (sched.Schedule, error) {
	if d, ok := cutPrefix(spec, "every "); ok {
		dur, err := time.ParseDuration(d)
		if err != nil {
			return nil, err
		}
		if _, err := sched.Every(dur); err != nil {
			return nil, err
		}
		return aligned(dur), nil
	}
	if rest, ok := cutPrefix(spec, "cron "); ok {
		for i := 0; i < len(rest); i++ {
			if rest[i] == '|' {
				return sched.ParseCron(rest[i+1:], rest[:i])
			}
		}
	}
	return nil, fmt.Errorf("unknown schedule %q", spec)
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// aligned fires every d at multiples of d since the Unix epoch, so that
// nodes computing the next instant at different moments agree on it.
type aligned time.Duration

func (a aligned) Next(t time.Time) time.Time {
	d := time.Duration(a)
	return t.Truncate(d).Add(d)
}

// ErrRefused marks, wrapped, a run an ExecFunc refuses for good (its
// inputs do not fit the playbook): its job is cancelled, not retried.
var ErrRefused = errors.New("cluster: run refused")

// ErrQueueFull is returned, wrapped, by Submit when a playbook has as many
// runs running and waiting across the cluster as its concurrency and queue
// allow.
var ErrQueueFull = errors.New("cluster: run queue full")

// ErrUnknownPlaybook is returned, wrapped, by Submit for a playbook this
// node does not serve.
var ErrUnknownPlaybook = errors.New("cluster: no such playbook on this node")

// Submit queues a run for whichever node fetches it first, and returns its
// job id. The playbook's queue bound holds across the cluster: the count
// of its waiting and running jobs is taken under a per-playbook advisory
// lock in the inserting transaction.
func (n *Node) Submit(ctx context.Context, req Request) (int64, error) {
	p, ok := n.playbook(req.Playbook)
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownPlaybook, req.Playbook)
	}
	var id int64
	err := pgx.BeginFunc(ctx, n.st.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockSpaceQueue, playbookKey(p.Name)); err != nil {
			return err
		}
		var pending int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'playbook' = $2
			AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending')`, RunArgs{}.Kind(), p.Name).Scan(&pending)
		if err != nil {
			return err
		}
		if pending >= p.Concurrency+p.Queue {
			return fmt.Errorf("%w: %s has %d runs running or waiting across the cluster (concurrency %d, queue %d); raise them in the playbook, or retry later",
				ErrQueueFull, p.Name, pending, p.Concurrency, p.Queue)
		}
		res, err := n.client.InsertTx(ctx, tx, RunArgs{Request: req}, &river.InsertOpts{Priority: priorityOther})
		if err != nil {
			return err
		}
		id = res.Job.ID
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrQueueFull) {
			return 0, err
		}
		return 0, fmt.Errorf("cluster: queue a run of %s: %w", req.Playbook, err)
	}
	return id, nil
}

// Wait waits until job id is done, on whichever node ran it, and returns
// the record of the run it made (the last one, after a retry). It returns
// store.ErrNotFound when the job ended without a run (a duplicate, or a
// run refused). The run record answers as soon as the run is finished,
// before River marks its job complete.
func (n *Node) Wait(ctx context.Context, id int64) (store.Run, error) {
	delay := 2 * time.Millisecond
	for i := 0; ; i++ {
		runs, err := n.st.JobRuns(ctx, id)
		if err != nil {
			return store.Run{}, err
		}
		if k := len(runs); k > 0 && runs[k-1].Status != store.RunRunning && runs[k-1].Status != store.RunInterrupted {
			return n.st.GetRun(ctx, runs[k-1].ID)
		}
		if i%8 == 7 || len(runs) > 0 && runs[len(runs)-1].Status == store.RunInterrupted {
			// Now and then, and for an interrupted run that may be
			// retried, ask River whether the job is over.
			job, err := n.client.JobGet(ctx, id)
			if err != nil {
				return store.Run{}, fmt.Errorf("cluster: job %d: %w", id, err)
			}
			switch job.State {
			case rivertype.JobStateCompleted, rivertype.JobStateCancelled, rivertype.JobStateDiscarded:
				if runs, err = n.st.JobRuns(ctx, id); err != nil {
					return store.Run{}, err
				}
				if len(runs) == 0 {
					return store.Run{}, fmt.Errorf("cluster: job %d ended (%s) without a run: %w", id, job.State, store.ErrNotFound)
				}
				return n.st.GetRun(ctx, runs[len(runs)-1].ID)
			}
		}
		select {
		case <-ctx.Done():
			return store.Run{}, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// Advisory lock spaces (the first key of the two-key form).
const (
	lockSpaceQueue int32 = 0x67730001 + iota
	lockSpacePoll
)

func playbookKey(name string) int32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int32(h.Sum32())
}

// RunArgs is a queued run.
type RunArgs struct {
	Request
}

// Kind is River's name for run jobs.
func (RunArgs) Kind() string { return "goshawk_run" }

type runWorker struct {
	river.WorkerDefaults[RunArgs]
	n *Node
}

// Timeout lets the runner's own timeout fire first: the job's bound is the
// playbook's timeout plus the time a slot may be awaited.
func (w *runWorker) Timeout(job *river.Job[RunArgs]) time.Duration {
	limit := w.n.o.RescueAfter - time.Minute
	p, ok := w.n.playbook(job.Args.Playbook)
	if !ok || p.Timeout <= 0 {
		return min(10*time.Minute, limit)
	}
	return min(p.Timeout+5*time.Minute, limit)
}

func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	n := w.n
	p, ok := n.playbook(job.Args.Playbook)
	if !ok {
		// Another node queued it; this one has not got the playbook (a
		// drifted folder). Put it back, without using an attempt, for a
		// node that has it; after an hour nobody had it.
		if time.Since(job.CreatedAt) > time.Hour {
			return river.JobCancel(fmt.Errorf("cluster: no live node served playbook %s for an hour", job.Args.Playbook))
		}
		return river.JobSnooze(200 * time.Millisecond)
	}
	if job.Attempt > 1 {
		runs, err := n.st.JobRuns(ctx, job.ID)
		if err != nil {
			return err
		}
		if len(runs) > 0 {
			for _, r := range runs {
				if r.Status == store.RunRunning {
					// Its node is gone, or River would not have handed the
					// job back.
					if _, err := n.st.InterruptRun(ctx, r.ID, "stopped before the run finished"); err != nil {
						return err
					}
				}
			}
			if !p.RetryInterrupted || len(runs) > 1 {
				return nil
			}
			n.o.Log.Info("cluster: re-running an interrupted run (retry_interrupted)", "playbook", p.Name, "run", runs[0].ID, "node", runs[0].Node)
		}
	}
	release, err := n.slot(ctx, p, job.ID)
	if err != nil {
		return err
	}
	defer release()
	rec, err := n.o.Exec(pgstore.WithJob(ctx, job.ID), job.Args.Request)
	if errors.Is(err, store.ErrDuplicateRun) {
		return nil
	}
	if errors.Is(err, ErrRefused) {
		n.o.Log.Error("cluster: run refused; its job is cancelled", "playbook", p.Name, "job", job.ID, "err", err)
		return river.JobCancel(err)
	}
	if err != nil && rec == nil {
		// Nothing was recorded: the store or the node could not start it.
		return err
	}
	return nil
}

// slot takes one of the playbook's concurrency slots across the cluster:
// a lease row naming this node and the job, taken over when its node is
// dead. Waiting for a slot holds no connection, so runs waiting for slots
// never starve the runs holding them.
func (n *Node) slot(ctx context.Context, p Playbook, job int64) (release func(), err error) {
	pool := n.st.Pool()
	delay := 5 * time.Millisecond
	for {
		var slot int
		err := pool.QueryRow(ctx, `
			WITH free AS (
				SELECT s FROM generate_series(0, $4::int - 1) s
				WHERE NOT EXISTS (SELECT 1 FROM goshawk_slots g JOIN goshawk_nodes o ON o.id = g.node
					WHERE g.playbook = $1 AND g.slot = s AND o.heartbeat > now() - make_interval(secs => $5))
				ORDER BY s LIMIT 1)
			INSERT INTO goshawk_slots AS g (playbook, slot, node, job) SELECT $1, s, $2, $3 FROM free
			ON CONFLICT (playbook, slot) DO UPDATE SET node = excluded.node, job = excluded.job
				WHERE NOT EXISTS (SELECT 1 FROM goshawk_nodes o WHERE o.id = g.node
					AND o.heartbeat > now() - make_interval(secs => $5))
			RETURNING g.slot`, p.Name, n.st.Node(), job, p.Concurrency, n.st.Stale().Seconds()).Scan(&slot)
		if err == nil {
			return func() {
				_, err := pool.Exec(context.WithoutCancel(ctx), `DELETE FROM goshawk_slots WHERE playbook = $1 AND slot = $2 AND job = $3`, p.Name, slot, job)
				if err != nil {
					n.o.Log.Warn("cluster: could not free a run slot; it frees when this node stops", "playbook", p.Name, "err", err)
				}
			}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("cluster: take a run slot of %s: %w", p.Name, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// FireArgs is one instant of a playbook's schedule.
type FireArgs struct {
	Playbook string    `json:"playbook"`
	Chain    string    `json:"chain"` // the playbook version that started the chain
	Spec     string    `json:"spec"`
	At       time.Time `json:"at"`
}

// Kind is River's name for schedule instants.
func (FireArgs) Kind() string { return "goshawk_fire" }

func (a FireArgs) opts() *river.InsertOpts { return timerOpts(a.At) }

// timerOpts queues the job of one instant (of a schedule or a poll) to run
// at it, once: a second insert of the same instant is dropped as a
// duplicate.
func timerOpts(at time.Time) *river.InsertOpts {
	return &river.InsertOpts{Queue: queueTimers, ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type fireWorker struct {
	river.WorkerDefaults[FireArgs]
	n *Node
}

func (w *fireWorker) Timeout(*river.Job[FireArgs]) time.Duration { return time.Minute }

// Work fires one instant in one transaction: it records the instant (a
// second attempt, or another chain reaching the same instant, finds it and
// runs nothing), queues the next instant while a live node still serves
// this chain, queues the run unless the previous scheduled run is still
// running or waiting (no pile-up) or the instant is too old, and completes
// the job.
func (w *fireWorker) Work(ctx context.Context, job *river.Job[FireArgs]) error {
	n, a := w.n, job.Args
	s, err := parseSpec(a.Spec)
	if err != nil {
		n.o.Log.Error("cluster: dropping a schedule chain with a bad spec", "playbook", a.Playbook, "spec", a.Spec, "err", err)
		return nil
	}
	var notRun string
	err = pgx.BeginFunc(ctx, n.st.Pool(), func(tx pgx.Tx) error {
		notRun = ""
		now := time.Now()
		outcome := "fired"
		switch {
		case now.Sub(a.At) > n.o.MissedAfter:
			outcome = "missed"
		default:
			var busy bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = $1 AND args->>'playbook' = $2
				AND args->>'trigger' IN ('schedule', 'every') AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending'))`,
				RunArgs{}.Kind(), a.Playbook).Scan(&busy)
			if err != nil {
				return err
			}
			if busy {
				outcome = "skipped"
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO goshawk_fires (playbook, at, chain, node, outcome) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT DO NOTHING`, a.Playbook, a.At, a.Chain, n.st.Node(), outcome)
		if err != nil {
			return err
		}
		// The chain goes on even when another chain (the playbook's other
		// version, during a reload) recorded this instant first: the next
		// instant's job is unique, so continuing twice queues it once, and
		// a chain that stopped here would leave its version unscheduled.
		if err := n.continueChain(ctx, tx, a, s, now); err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			if outcome == "fired" {
				req := Request{Playbook: a.Playbook, Trigger: triggerOf(a.Spec), At: a.At}
				if _, err := n.client.InsertTx(ctx, tx, RunArgs{Request: req}, &river.InsertOpts{Priority: prioritySchedule}); err != nil {
					return err
				}
			} else {
				notRun = outcome
			}
		}
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	if err == nil && notRun != "" {
		n.o.Log.Warn("cluster: scheduled instant not run", "playbook", a.Playbook, "at", a.At, "outcome", notRun)
		if n.o.OnSkip != nil {
			n.o.OnSkip(triggerOf(a.Spec)+":"+a.Playbook, notRun)
		}
	}
	return err
}

// triggerOf names the trigger of a schedule's runs, as a single node
// names them: every for a fixed interval, schedule for cron.
func triggerOf(spec string) string {
	if _, ok := cutPrefix(spec, "every "); ok {
		return "every"
	}
	return "schedule"
}

// continueChain queues the chain's next instant, unless no live node
// serves this chain's version any more. After downtime the next instant is
// the first one after now: the missed ones are skipped, not run in a
// burst.
func (n *Node) continueChain(ctx context.Context, tx pgx.Tx, a FireArgs, s sched.Schedule, now time.Time) error {
	var live bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM goshawk_nodes WHERE heartbeat > now() - make_interval(secs => $1)
		AND info::jsonb -> 'playbooks' -> $2 ->> 'version' = $3 AND info::jsonb -> 'playbooks' -> $2 ->> 'schedule' = $4)`,
		n.st.Stale().Seconds(), a.Playbook, a.Chain, a.Spec).Scan(&live)
	if err != nil || !live {
		return err
	}
	next := s.Next(a.At)
	if now.Sub(next) > n.o.MissedAfter {
		next = s.Next(now)
	}
	if next.IsZero() {
		return nil
	}
	b := a
	b.At = next
	_, err = n.client.InsertTx(ctx, tx, b, b.opts())
	return err
}

// PollArgs is one instant of an asset's scheduled poll.
type PollArgs struct {
	Asset string    `json:"asset"`
	Spec  string    `json:"spec"`
	At    time.Time `json:"at"`
}

// Kind is River's name for poll instants.
func (PollArgs) Kind() string { return "goshawk_poll" }

func (a PollArgs) opts() *river.InsertOpts { return timerOpts(a.At) }

type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	n *Node
}

func (w *pollWorker) Timeout(*river.Job[PollArgs]) time.Duration { return 10 * time.Minute }

// Work queues the next poll, then polls unless another node is polling the
// asset right now (one poll of an asset at a time across the cluster).
func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	n, a := w.n, job.Args
	s, err := parseSpec(a.Spec)
	if err != nil {
		return nil
	}
	now := time.Now()
	var fresh bool
	err = pgx.BeginFunc(ctx, n.st.Pool(), func(tx pgx.Tx) error {
		var live bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM goshawk_nodes WHERE heartbeat > now() - make_interval(secs => $1)
			AND info::jsonb -> 'assets' ->> $2 = $3)`, n.st.Stale().Seconds(), a.Asset, a.Spec[len("every "):]).Scan(&live)
		if err != nil {
			return err
		}
		if live {
			next := s.Next(a.At)
			if now.Sub(next) > n.o.MissedAfter {
				next = s.Next(now)
			}
			b := a
			b.At = next
			if _, err := n.client.InsertTx(ctx, tx, b, b.opts()); err != nil {
				return err
			}
		}
		fresh = now.Sub(a.At) <= n.o.MissedAfter
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	if err != nil || !fresh {
		return err
	}
	if _, ok := n.asset(a.Asset); !ok || n.o.Poll == nil {
		return nil
	}
	return n.PollNow(ctx, a.Asset)
}

func (n *Node) asset(name string) (Asset, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	a, ok := n.assets[name]
	return a, ok
}

// ErrPollBusy is returned by PollNow when another node polls the asset.
var ErrPollBusy = errors.New("cluster: the asset is being polled by another node")

// PollNow runs the asset's ingest action on this node, unless another node
// is polling it (ErrPollBusy). Each batch it ingests commits together with
// the on_poll runs of its new containers.
func (n *Node) PollNow(ctx context.Context, asset string) error {
	conn, err := n.st.Pool().Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := playbookKey(asset)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockSpacePoll, key).Scan(&got); err != nil {
		return err
	}
	if !got {
		return ErrPollBusy
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockSpacePoll, key)
	return n.o.Poll(ctx, asset, n.Sink(asset))
}

// Sink returns the cef.Sink through which asset's ingest writes: each
// batch, its checkpoint and one run job per (on_poll playbook, new
// container) commit in one transaction. The jobs are unique by playbook
// and container, and the run record by the same pair, so a container
// starts each playbook exactly once.
func (n *Node) Sink(asset string) cef.Sink { return &sink{n: n, asset: asset} }

type sink struct {
	n     *Node
	asset string
}

func (s *sink) Checkpoint(ctx context.Context) (string, error) {
	return s.n.st.Checkpoint(ctx, s.asset)
}

func (s *sink) Ingest(ctx context.Context, batch []cef.Container, checkpoint *string) (created, duplicates int, err error) {
	var subscribers []string
	s.n.mu.RLock()
	for _, p := range s.n.playbooks {
		if slices.Contains(p.OnPoll, s.asset) {
			subscribers = append(subscribers, p.Name)
		}
	}
	s.n.mu.RUnlock()
	slices.Sort(subscribers)
	err = pgx.BeginFunc(ctx, s.n.st.Pool(), func(tx pgx.Tx) error {
		var err error
		created, duplicates, err = s.n.st.IngestTx(ctx, tx, s.asset, batch, checkpoint)
		if err != nil || created == 0 || len(subscribers) == 0 {
			return err
		}
		var jobs []river.InsertManyParams
		for _, c := range batch {
			if c.ID == 0 {
				continue
			}
			for _, pb := range subscribers {
				jobs = append(jobs, river.InsertManyParams{
					Args:       RunArgs{Request: Request{Playbook: pb, Trigger: "on_poll", ContainerID: c.ID}},
					InsertOpts: &river.InsertOpts{Priority: priorityOther, UniqueOpts: river.UniqueOpts{ByArgs: true}},
				})
			}
		}
		_, err = s.n.client.InsertManyTx(ctx, tx, jobs)
		return err
	})
	if err != nil {
		for i := range batch {
			batch[i].ID = 0
		}
		return 0, 0, err
	}
	return created, duplicates, nil
}

// NodeStatus is one live node as GET /api/cluster shows it.
type NodeStatus struct {
	ID        string    `json:"id"`
	Self      bool      `json:"self"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	// Playbooks maps each playbook the node serves to its version.
	Playbooks map[string]string `json:"playbooks"`
	// Drifted lists the playbooks whose version here differs from the
	// version most live nodes serve, or that only some nodes serve: the
	// node's folder has drifted.
	Drifted []string `json:"drifted"`
}

// Nodes lists the live nodes by name, with the playbook versions each
// serves and where they drift from the others.
func (n *Node) Nodes(ctx context.Context) ([]NodeStatus, error) {
	live, err := n.st.LiveNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]NodeStatus, 0, len(live))
	votes := map[string]map[string]int{} // playbook -> version -> nodes
	for _, l := range live {
		var info nodeInfo
		_ = json.Unmarshal([]byte(l.Info), &info)
		if info.Playbooks == nil {
			continue // a command-line client of the store, not a serving node
		}
		ns := NodeStatus{ID: l.ID, Self: l.ID == n.st.Node(), Started: l.Started, Heartbeat: l.Heartbeat, Playbooks: map[string]string{}, Drifted: []string{}}
		for name, p := range info.Playbooks {
			ns.Playbooks[name] = p.Version
			if votes[name] == nil {
				votes[name] = map[string]int{}
			}
			votes[name][p.Version]++
		}
		out = append(out, ns)
	}
	for i := range out {
		for name, versions := range votes {
			mine, ok := out[i].Playbooks[name]
			best := 0
			for _, c := range versions {
				best = max(best, c)
			}
			if !ok || versions[mine] < best || len(versions) > 1 && versions[mine] == best && !isOnlyTop(versions, mine) {
				out[i].Drifted = append(out[i].Drifted, name)
			}
		}
		slices.Sort(out[i].Drifted)
	}
	return out, nil
}

// isOnlyTop reports whether v alone has the most votes.
func isOnlyTop(votes map[string]int, v string) bool {
	for k, c := range votes {
		if k != v && c >= votes[v] {
			return false
		}
	}
	return true
}
