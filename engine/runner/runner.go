// Package runner executes playbook runs: it checks inputs, waits for a slot
// within the playbook's concurrency, records the run when it starts and when
// it ends, runs the script on the pooled Lua runtime with the assets and
// plugins the playbook declares, and records every action call as a step.
package runner

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/metrics"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

// Sentinel errors of Run. A run rejected with one of them is not recorded.
var (
	// ErrBadInput wraps an input that failed its declared type, contains
	// types or required flag.
	ErrBadInput = errors.New("bad input")
	// ErrQueueFull means the playbook already has as many runs waiting as
	// its queue allows; the trigger should retry later.
	ErrQueueFull = errors.New("queue full")
	// ErrShuttingDown refuses a run once shutdown has begun: runs still in
	// flight are being interrupted, so a new one would only be recorded
	// as interrupted.
	ErrShuttingDown = errors.New("goshawk is shutting down; retry once it is back")
	// ErrDuplicate means the container already started a run of this
	// playbook (on_poll triggers fire once per container).
	ErrDuplicate = store.ErrDuplicateRun
)

// The run statuses.
const (
	StatusRunning     = "running"
	StatusSuccess     = "success"
	StatusFailed      = "failed"
	StatusTimeout     = "timeout"
	StatusInterrupted = "interrupted"
)

// Options configures a Runner.
type Options struct {
	Store   store.Store
	Runtime *lua.Runtime
	Plugins lua.PluginHost // nil when no plugins are loaded
	Log     *slog.Logger
	Metrics *metrics.Metrics // nil disables metrics
	Redact  *logx.Redactor
	Now     func() time.Time

	// Limits of each run's record; zero takes the default. A run's log
	// (Lua log.* and print, plugin log calls, its actions' logging) goes
	// to the record and to Log until the run has logged LogLines lines
	// (DefaultLogLines) or LogBytes bytes of messages and fields
	// (DefaultLogBytes); further lines are counted and one last line says
	// how many were dropped. Each step keeps its parameters and result up
	// to StepBytes (DefaultStepBytes), marked truncated beyond. A run's
	// error text and a step's message are cut at ErrorBytes
	// (DefaultErrorBytes), the cut marked in the text.
	LogLines, LogBytes, StepBytes, ErrorBytes int
}

// Runner runs playbooks. It is safe for concurrent use.
type Runner struct {
	o      Options
	assets atomic.Pointer[map[string]*providers.Asset]

	mu      sync.Mutex
	scripts map[string]*lua.Script // by playbook version
	limits  map[string]*limiter    // by playbook name

	// stopped is cancelled by Interrupt: runs still going are cancelled
	// and recorded as interrupted.
	stopped  context.Context
	stop     context.CancelFunc
	inflight sync.WaitGroup
}

// New returns a Runner.
func New(o Options) *Runner {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	// Each run and each action call derives a logger with With; most of
	// their lines are debug lines the process log drops, so the process
	// log formats their attributes only once a line of theirs shows.
	o.Log = slog.New(logx.Lazy(o.Log.Handler()))
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Redact == nil {
		o.Redact = logx.NewRedactor()
	}
	o.LogLines = cmp.Or(max(o.LogLines, 0), DefaultLogLines)
	o.LogBytes = cmp.Or(max(o.LogBytes, 0), DefaultLogBytes)
	o.StepBytes = max(cmp.Or(o.StepBytes, DefaultStepBytes), minStepBytes)
	o.ErrorBytes = max(cmp.Or(o.ErrorBytes, DefaultErrorBytes), 64)
	r := &Runner{o: o, scripts: map[string]*lua.Script{}, limits: map[string]*limiter{}}
	r.stopped, r.stop = context.WithCancel(context.Background())
	empty := map[string]*providers.Asset{}
	r.assets.Store(&empty)
	return r
}

// SetAssets swaps the opened assets runs use. Runs in flight keep the set
// they started with.
func (r *Runner) SetAssets(assets map[string]*providers.Asset) {
	r.assets.Store(&assets)
}

// Request asks for one run.
type Request struct {
	Playbook *playbook.Playbook
	Inputs   map[string]any
	// Trigger names what started the run: manual, webhook, schedule,
	// every or on_poll.
	Trigger string
	// Container is the new container of an on_poll trigger.
	Container *cef.Container
	// Queue makes Start return as soon as the run is recorded, without
	// waiting for a slot: the run takes a free slot or a place in the
	// playbook's queue (ErrQueueFull when there is neither) and waits for
	// its slot in the background. A webhook without ?wait answers 202
	// with the run's id this way.
	Queue bool
}

// Run executes one run and returns its record. The error is non-nil only
// when the run was refused before it was recorded (ErrBadInput,
// ErrQueueFull, ErrDuplicate) or the store failed; a script that fails or
// times out is a recorded run with that status.
func (r *Runner) Run(ctx context.Context, req Request) (*store.Run, error) {
	p, err := r.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	// The caller waits anyway, so the run goes on in its goroutine: a hand
	// over to another one would only add latency to every run.
	r.finish(ctx, p)
	return p.rec, nil
}

// Start checks the request, waits for a slot, records the run as running
// and starts it in the background. Start returns once the run has an ID;
// wait blocks until the run is recorded as finished. Until wait returns,
// the caller may read only rec.ID: the run is still filling rec in.
func (r *Runner) Start(ctx context.Context, req Request) (rec *store.Run, wait func(), err error) {
	p, err := r.begin(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.finish(ctx, p)
	}()
	return p.rec, func() { <-done }, nil
}

// pending is a run that holds a slot and is recorded as running.
type pending struct {
	pb     *playbook.Playbook
	script *lua.Script
	inputs map[string]any
	req    Request
	rec    *store.Run
	lim    *limiter
	queued bool // recorded with a place in the queue, not yet a slot
}

// begin does everything that may refuse a run: it checks the inputs, takes
// a slot and records the run as running. On success the caller must call
// finish.
func (r *Runner) begin(ctx context.Context, req Request) (*pending, error) {
	pb := req.Playbook
	if pb == nil {
		return nil, errors.New("runner: no playbook in the request")
	}
	if r.stopped.Err() != nil {
		return nil, fmt.Errorf("playbook %s: %w", pb.Name, ErrShuttingDown)
	}
	inputs, err := pb.CheckInputs(req.Inputs)
	if err != nil {
		return nil, badInput{err} // CheckInputs names the playbook and the input
	}
	script, err := r.script(pb)
	if err != nil {
		return nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	lim := r.limiter(pb)
	slot := true
	if req.Queue {
		slot, err = lim.reserve()
	} else {
		err = lim.acquire(ctx, r.stopped.Done())
	}
	if err != nil {
		return nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	rec := &store.Run{
		Playbook: pb.Name,
		Version:  pb.Version,
		Trigger:  req.Trigger,
		Status:   StatusRunning,
		Inputs:   r.redactMap(inputs),
		Steps:    []store.Step{},
		Started:  r.o.Now().UTC(),
	}
	if req.Container != nil {
		rec.ContainerID = req.Container.ID
	}
	if err := r.o.Store.StartRun(ctx, rec); err != nil {
		if slot {
			lim.release()
		} else {
			lim.leave()
		}
		return nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	r.inflight.Add(1)
	return &pending{pb: pb, script: script, inputs: inputs, req: req, rec: rec, lim: lim, queued: !slot}, nil
}

// finish runs a begun run to its end and releases its slot.
func (r *Runner) finish(ctx context.Context, p *pending) {
	defer r.inflight.Done()
	if p.queued && p.lim.await(context.Background(), r.stopped.Done()) != nil {
		// Shutdown began while the run waited for its slot.
		p.rec.Status = StatusInterrupted
		p.rec.Error = "interrupted: goshawk shut down before the run got a slot"
		fin := r.o.Now().UTC()
		p.rec.Finished = &fin
		if err := r.o.Store.FinishRun(context.WithoutCancel(ctx), p.rec); err != nil {
			r.o.Log.Error("recording the end of a run failed", "playbook", p.pb.Name, "run", p.rec.ID, "err", err)
		}
		if m := r.o.Metrics; m != nil {
			m.RunFinished(p.pb.Name, p.rec.Status, 0)
		}
		return
	}
	defer p.lim.release()
	r.execute(context.WithoutCancel(ctx), p.pb, p.script, p.inputs, p.req, p.rec)
}

// execute runs the script and records the outcome. It does not inherit the
// caller's cancellation: an HTTP client that goes away does not kill a run;
// the playbook's timeout and Interrupt do.
func (r *Runner) execute(ctx context.Context, pb *playbook.Playbook, script *lua.Script, inputs map[string]any, req Request, rec *store.Run) {
	ctx, cancel := context.WithTimeout(ctx, pb.Timeout)
	defer cancel()
	defer context.AfterFunc(r.stopped, cancel)()

	// The runner's own lines go to the process log; the run's lines are
	// kept in its record too, within the run's log limits.
	log := r.o.Log.With("playbook", pb.Name, "run", rec.ID, "version", pb.Version)
	rlog := newRunLog(log.Handler(), r.o.Redact, r.o.LogLines, r.o.LogBytes)
	runLogger, actionLogger := rlog.logger(slog.LevelDebug), rlog.logger(slog.LevelInfo)
	all := *r.assets.Load()
	assets := make(map[string]*providers.Asset, len(pb.Assets))
	for _, name := range pb.Assets {
		if a, ok := all[name]; ok {
			assets[name] = a
		}
	}
	// Configured assets the playbook did not list raise an error that
	// says to add them to assets:, rather than "attempt to index nil".
	var undeclared []string
	for name := range all {
		if _, ok := assets[name]; !ok {
			undeclared = append(undeclared, name)
		}
	}
	var stepsMu sync.Mutex
	spec := &lua.RunSpec{
		Undeclared:     undeclared,
		Script:         script,
		Inputs:         inputs,
		Assets:         assets,
		Env:            providers.Env{Log: actionLogger, Now: r.o.Now},
		Plugins:        r.o.Plugins,
		AllowedPlugins: pb.Plugins,
		KV:             kvAdapter{r.o.Store, pb.Name},
		Containers:     containersAdapter{r.o.Store},
		Log:            runLogger,
		OnStep: func(s lua.Step) {
			st := r.stepRecord(s)
			stepsMu.Lock()
			rec.Steps = append(rec.Steps, st)
			stepsMu.Unlock()
			if m := r.o.Metrics; m != nil {
				m.ActionCalled(s.Asset, s.Action, s.Status, s.Duration)
			}
		},
	}
	if req.Container != nil {
		spec.Container = containerMap(req.Container)
	}
	start := time.Now()
	result, err := r.o.Runtime.Run(ctx, spec)
	elapsed := time.Since(start)

	switch {
	case err == nil:
		rec.Status = StatusSuccess
		if rec.Result, err = r.recordValue(result); err != nil {
			rec.Status = StatusFailed
			rec.Error = fmt.Sprintf("the script's return value cannot be recorded (%v); return tables, strings, booleans and finite numbers", err)
		}
	case r.stopped.Err() != nil && errors.Is(ctx.Err(), context.Canceled):
		rec.Status = StatusInterrupted
		rec.Error = "interrupted: goshawk shut down before the run finished"
	case errors.Is(err, lua.ErrTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		rec.Status = StatusTimeout
		rec.Error = fmt.Sprintf("timeout: the run exceeded its %s limit; raise timeout: in the playbook or make the script faster", pb.Timeout)
	default:
		rec.Status = StatusFailed
		rec.Error = r.o.Redact.String(err.Error())
	}
	// A script can raise an error of any size; the record and every
	// printout get at most ErrorBytes of it.
	rec.Error = cutText(rec.Error, r.o.ErrorBytes)
	rec.Log = rlog.close(ctx)
	fin := r.o.Now().UTC()
	rec.Finished = &fin
	if err := r.o.Store.FinishRun(context.WithoutCancel(ctx), rec); err != nil {
		log.Error("recording the end of a run failed", "err", err)
	}
	if m := r.o.Metrics; m != nil {
		m.RunFinished(pb.Name, rec.Status, elapsed)
	}
	log.Info("run finished", "status", rec.Status, "steps", len(rec.Steps), "duration", elapsed.Round(time.Microsecond))
}

// badInput is an input error: errors.Is(err, ErrBadInput) holds, and its
// text is the input check's own, which already names the playbook.
type badInput struct{ error }

func (b badInput) Is(target error) bool { return target == ErrBadInput }
func (b badInput) Unwrap() error        { return b.error }

// Interrupt cancels every run in flight; each is recorded as interrupted.
func (r *Runner) Interrupt() { r.stop() }

// Wait blocks until no run is in flight or ctx ends.
func (r *Runner) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// script compiles each playbook version once; every run of that version
// shares the compiled prototype.
func (r *Runner) script(pb *playbook.Playbook) (*lua.Script, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.scripts[pb.Version]; ok {
		return s, nil
	}
	src := pb.Source
	if pb.SourceLine > 1 {
		// Inline Lua starts partway down the YAML file; blank lines in
		// front make every Lua error name the line the user edits.
		src = append(bytes.Repeat([]byte("\n"), pb.SourceLine-1), pb.Source...)
	}
	s, err := lua.Compile(pb.SourceName, src)
	if err != nil {
		return nil, err
	}
	if len(r.scripts) >= 1024 { // versions are only made by edits; drop the old ones wholesale
		clear(r.scripts)
	}
	r.scripts[pb.Version] = s
	return s, nil
}

func (r *Runner) limiter(pb *playbook.Playbook) *limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.limits[pb.Name]
	if l == nil || l.size != pb.Concurrency || l.queue != pb.Queue {
		// A reload that changes the limits gets a fresh limiter; runs
		// holding slots of the old one release them there.
		l = newLimiter(pb.Concurrency, pb.Queue)
		r.limits[pb.Name] = l
	}
	return l
}

// Busy reports how many runs of the playbook are running and waiting.
func (r *Runner) Busy(name string) (running, waiting int) {
	r.mu.Lock()
	l := r.limits[name]
	r.mu.Unlock()
	if l == nil {
		return 0, 0
	}
	return l.counts()
}

func (r *Runner) redactMap(m map[string]any) map[string]any {
	if v, err := r.recordValue(m); err == nil {
		if clean, ok := v.(map[string]any); ok {
			return clean
		}
	}
	return m
}

// recordValue returns v as it goes into the run record, with every secret
// removed. It fails when v has no JSON form, such as a NaN. A value without
// a secret, the common case, is returned as it is, not copied.
func (r *Runner) recordValue(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	// The value must be storable as JSON; writing it checks that, and
	// gives the redactor the whole text to look at once.
	enc := getEncoder(r.o.Redact)
	defer putEncoder(enc)
	if err := enc.value(v); err != nil {
		return nil, err
	}
	if !enc.found && !enc.hasSecret() {
		return v, nil
	}
	return r.redactStrings(v), nil
}

// redactStrings replaces secrets in every string of a decoded value, keys
// included. It works on the values, not on marshalled text, so a secret
// that JSON would escape (a quote, <, &) is still found.
func (r *Runner) redactStrings(v any) any {
	switch x := v.(type) {
	case string:
		return r.o.Redact.String(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.o.Redact.String(k)] = r.redactStrings(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.redactStrings(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.redactStrings(e)
		}
		return out
	default:
		return v
	}
}

func containerMap(c *cef.Container) map[string]any {
	b, _ := json.Marshal(c)
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&m)
	return m
}
