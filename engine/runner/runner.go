// Package runner executes playbook runs: it checks inputs, waits for a slot
// within the playbook's concurrency, records the run when it starts and when
// it ends, runs the script on the pooled Lua runtime with the assets and
// plugins the playbook declares, and records every action call as a step.
package runner

import (
	"bytes"
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
}

// Runner runs playbooks. It is safe for concurrent use.
type Runner struct {
	o      Options
	assets atomic.Pointer[map[string]*providers.Asset]

	mu      sync.Mutex
	scripts map[string]*lua.Script // by playbook version
	limits  map[string]*limiter    // by playbook name

	// stop is closed by Interrupt: runs still going are cancelled and
	// recorded as interrupted.
	stop     chan struct{}
	stopOnce sync.Once
	inflight sync.WaitGroup
}

// New returns a Runner.
func New(o Options) *Runner {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Redact == nil {
		o.Redact = logx.NewRedactor()
	}
	r := &Runner{o: o, scripts: map[string]*lua.Script{}, limits: map[string]*limiter{}, stop: make(chan struct{})}
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
}

// Run executes one run and returns its record. The error is non-nil only
// when the run was refused before it was recorded (ErrBadInput,
// ErrQueueFull, ErrDuplicate) or the store failed; a script that fails or
// times out is a recorded run with that status.
func (r *Runner) Run(ctx context.Context, req Request) (*store.Run, error) {
	rec, wait, err := r.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	wait()
	return rec, nil
}

// Start checks the request, waits for a slot, records the run as running
// and starts it in the background. wait blocks until the run is recorded
// as finished. Start returns once the run has an ID.
func (r *Runner) Start(ctx context.Context, req Request) (rec *store.Run, wait func(), err error) {
	pb := req.Playbook
	inputs, err := pb.CheckInputs(req.Inputs)
	if err != nil {
		return nil, nil, fmt.Errorf("playbook %s: %w: %w", pb.Name, ErrBadInput, err)
	}
	script, err := r.script(pb)
	if err != nil {
		return nil, nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	lim := r.limiter(pb)
	if err := lim.acquire(ctx); err != nil {
		return nil, nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	rec = &store.Run{
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
		lim.release()
		return nil, nil, fmt.Errorf("playbook %s: %w", pb.Name, err)
	}
	done := make(chan struct{})
	r.inflight.Add(1)
	go func() {
		defer r.inflight.Done()
		defer close(done)
		defer lim.release()
		r.execute(context.WithoutCancel(ctx), pb, script, inputs, req, rec)
	}()
	return rec, func() { <-done }, nil
}

// execute runs the script and records the outcome. It does not inherit the
// caller's cancellation: an HTTP client that goes away does not kill a run;
// the playbook's timeout and Interrupt do.
func (r *Runner) execute(ctx context.Context, pb *playbook.Playbook, script *lua.Script, inputs map[string]any, req Request, rec *store.Run) {
	ctx, cancel := context.WithTimeout(ctx, pb.Timeout)
	defer cancel()
	interrupted := make(chan struct{})
	go func() {
		select {
		case <-r.stop:
			close(interrupted)
			cancel()
		case <-ctx.Done():
		}
	}()

	log := r.o.Log.With("playbook", pb.Name, "run", rec.ID, "version", pb.Version)
	all := *r.assets.Load()
	assets := make(map[string]*providers.Asset, len(pb.Assets))
	for _, name := range pb.Assets {
		if a, ok := all[name]; ok {
			assets[name] = a
		}
	}
	var stepsMu sync.Mutex
	spec := &lua.RunSpec{
		Script:         script,
		Inputs:         inputs,
		Assets:         assets,
		Env:            providers.Env{Log: log, Now: r.o.Now},
		Plugins:        r.o.Plugins,
		AllowedPlugins: pb.Plugins,
		KV:             kvAdapter{r.o.Store, pb.Name},
		Containers:     containersAdapter{r.o.Store},
		Log:            log,
		OnStep: func(s lua.Step) {
			stepsMu.Lock()
			rec.Steps = append(rec.Steps, store.Step{
				Asset: s.Asset, Action: s.Action, Status: s.Status,
				Message:    r.o.Redact.String(s.Message),
				DurationMS: float64(s.Duration.Microseconds()) / 1000,
			})
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
		rec.Result = r.redactValue(result)
	case isClosed(interrupted):
		rec.Status = StatusInterrupted
		rec.Error = "interrupted: goshawk shut down before the run finished"
	case errors.Is(err, lua.ErrTimeout) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		rec.Status = StatusTimeout
		rec.Error = fmt.Sprintf("timeout: the run exceeded its %s limit; raise timeout: in the playbook or make the script faster", pb.Timeout)
	default:
		rec.Status = StatusFailed
		rec.Error = r.o.Redact.String(err.Error())
	}
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

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Interrupt cancels every run in flight; each is recorded as interrupted.
func (r *Runner) Interrupt() { r.stopOnce.Do(func() { close(r.stop) }) }

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
	s, err := lua.Compile(pb.SourceName, pb.Source)
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
	if v, ok := r.redactValue(m).(map[string]any); ok {
		return v
	}
	return m
}

// redactValue removes secrets from a value bound for the run record by a
// JSON round trip through the redactor.
func (r *Runner) redactValue(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return r.o.Redact.String(fmt.Sprint(v))
	}
	clean := r.o.Redact.String(string(b))
	if clean == string(b) {
		return v
	}
	var out any
	if json.Unmarshal([]byte(clean), &out) != nil {
		return clean
	}
	return out
}

func containerMap(c *cef.Container) map[string]any {
	b, _ := json.Marshal(c)
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	_ = d.Decode(&m)
	return m
}
