package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/watch"
	"github.com/goshawk/goshawk/providers"
)

// ServeOptions configures Serve.
type ServeOptions struct {
	// Handler is the HTTP API; nil serves no HTTP.
	Handler http.Handler
	// Ready is called with the address the HTTP API listens on.
	Ready func(addr string)
	// Lookup resolves ${VAR} when the config file is reloaded.
	Lookup func(string) (string, bool)
	// Debounce of the file watcher (default 100ms).
	Debounce time.Duration
}

// ErrInsecureListen refuses a non-loopback listen address without a token.
var ErrInsecureListen = errors.New("refusing to serve the HTTP API on a non-loopback address without api_token")

// Serve runs the triggers, the watcher and the HTTP API until ctx ends,
// then shuts down gracefully: it stops the triggers, lets runs in flight
// finish within the config's shutdown_grace, marks the rest interrupted,
// and returns. The caller closes the host.
func (h *Host) Serve(ctx context.Context, so ServeOptions) error {
	cfg := h.Config()
	if so.Handler != nil && !config.IsLoopback(cfg.Listen) && cfg.APIToken == "" {
		return fmt.Errorf("%w: listen is %s; set api_token in %s (for example api_token: ${GOSHAWK_API_TOKEN}) or listen on 127.0.0.1", ErrInsecureListen, cfg.Listen, cfg.File)
	}
	var srv *http.Server
	var ln net.Listener
	if so.Handler != nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
		// No WriteTimeout: ?wait=true answers when the run ends.
		srv = &http.Server{Handler: so.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	}

	dirs := []string{cfg.Playbooks, filepath.Dir(cfg.File)}
	if dirExists(cfg.Plugins) {
		dirs = append(dirs, cfg.Plugins)
	}
	w, err := watch.New(existing(dirs), watch.Options{
		Debounce: so.Debounce,
		Match: func(p string) bool {
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".lua", ".wasm":
				return true
			}
			return false
		},
		OnError: func(err error) { h.o.Log.Warn("file watcher", "err", err) },
	})
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	defer w.Close()
	// The watcher's baseline is the files as they are now: load them once
	// more, so that an edit made since Open is not missed.
	h.loadPlaybooks()

	trigCtx, stopTriggers := context.WithCancel(ctx)
	defer stopTriggers()
	sch := sched.New(sched.Options{Clock: h.o.Clock, OnSkip: func(job string, _ time.Time) { h.Metrics.ScheduleSkipped(job) }})
	jobs := map[string]string{}
	h.syncTriggers(trigCtx, sch, jobs)

	// Everything that may start runs is tracked, so that shutdown can stop
	// it all before it waits for the runs themselves.
	var triggers sync.WaitGroup
	triggers.Go(func() {
		for {
			select {
			case <-trigCtx.Done():
				return
			case changes, ok := <-w.Events():
				if !ok {
					return
				}
				h.applyChanges(trigCtx, changes, so.Lookup)
				h.syncTriggers(trigCtx, sch, jobs)
			}
		}
	})
	triggers.Go(func() {
		if err := sch.Run(trigCtx); err != nil {
			h.o.Log.Error("scheduler stopped", "err", err)
		}
	})
	// Containers ingested before a restart still start their playbooks.
	triggers.Go(func() { h.dispatchAll(trigCtx) })

	srvErr := make(chan error, 1)
	if srv != nil {
		go func() { srvErr <- srv.Serve(ln) }()
		if so.Ready != nil {
			so.Ready(ln.Addr().String())
		}
		h.o.Log.Info("serving", "listen", ln.Addr().String(), "playbooks", len(h.PlaybookNames()))
	} else if so.Ready != nil {
		so.Ready("")
	}

	var httpErr error
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		httpErr = fmt.Errorf("http: %w", err)
		h.o.Log.Error("the HTTP API stopped; shutting down", "err", err)
	}
	h.shutdown(srv, stopTriggers, &triggers)
	return httpErr
}

func existing(dirs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		if dirExists(d) && !seen[d] {
			out = append(out, d)
			seen[d] = true
		}
	}
	return out
}

// shutdown stops what starts runs, then gives the runs in flight the
// config's shutdown_grace to finish and interrupts the rest. The order
// matters: the HTTP API drains before the runner is waited for, so no run
// can start while shutdown waits.
func (h *Host) shutdown(srv *http.Server, stopTriggers func(), triggers *sync.WaitGroup) {
	grace := h.Config().ShutdownGrace
	h.o.Log.Info("shutting down", "grace", grace)
	stopTriggers()
	triggers.Wait()
	graceCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if srv != nil {
		// Shutdown also waits for ?wait=true requests, whose runs are in
		// flight; past the grace period they are interrupted below.
		if err := srv.Shutdown(graceCtx); err != nil {
			h.interrupt(grace)
			srv.Close()
		}
	}
	if err := h.Runner.Wait(graceCtx); err != nil {
		h.interrupt(grace)
	}
	// An interrupted run ends at its script's next instruction or action
	// call; this bound only guards against a stuck connector.
	last, cancelLast := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLast()
	if err := h.Runner.Wait(last); err != nil {
		h.o.Log.Error("runs did not stop after being interrupted; their records stay running until the store is next opened", "err", err)
	}
}

func (h *Host) interrupt(grace time.Duration) {
	h.o.Log.Warn("runs still going after the grace period are interrupted", "grace", grace)
	h.Runner.Interrupt()
}

// syncTriggers makes the scheduler's jobs match the playbooks and assets
// in force: a new playbook starts, a deleted one stops, a changed trigger
// is replaced. jobs remembers each job's definition so unchanged ones keep
// their timing.
func (h *Host) syncTriggers(ctx context.Context, sch *sched.Scheduler, jobs map[string]string) {
	want := map[string]string{}
	type jobDef struct {
		s    sched.Schedule
		fire sched.FireFunc
	}
	defs := map[string]jobDef{}
	for _, name := range h.PlaybookNames() {
		pb, ok := h.Playbook(name)
		if !ok {
			continue
		}
		if pb.Trigger.Cron != nil { // parsed and checked when the playbook loaded
			key := "schedule:" + name
			want[key] = pb.Trigger.Schedule + "@" + pb.Trigger.Timezone
			defs[key] = jobDef{pb.Trigger.Cron, h.fireFunc(name, "schedule")}
		}
		if pb.Trigger.Every > 0 {
			if s, err := sched.Every(pb.Trigger.Every); err == nil {
				key := "every:" + name
				want[key] = pb.Trigger.Every.String()
				defs[key] = jobDef{s, h.fireFunc(name, "every")}
			}
		}
		if pb.Trigger.OnPoll != "" {
			h.subscribe(ctx, name, pb.Trigger.OnPoll)
		}
	}
	cfg := h.Config()
	for _, name := range cfg.AssetNames() {
		a := cfg.Assets[name]
		if a.Poll <= 0 {
			continue
		}
		if s, err := sched.Every(a.Poll); err == nil {
			key := "poll:" + name
			want[key] = a.Poll.String()
			asset := name
			defs[key] = jobDef{s, func(ctx context.Context, _ time.Time) { h.PollAsset(ctx, asset, false, 0) }}
		}
	}
	for key, def := range want {
		if jobs[key] != def {
			sch.Set(key, defs[key].s, defs[key].fire)
			jobs[key] = def
		}
	}
	for key := range jobs {
		if _, ok := want[key]; !ok {
			sch.Remove(key)
			delete(jobs, key)
		}
	}
}

// fireFunc runs the current version of a playbook for a timed trigger and
// waits for it, so the scheduler never piles fires up.
func (h *Host) fireFunc(name, trigger string) sched.FireFunc {
	return func(ctx context.Context, _ time.Time) {
		pb, ok := h.Playbook(name)
		if !ok {
			return
		}
		_, done, err := h.Runner.Start(ctx, runner.Request{Playbook: pb, Trigger: trigger})
		if err != nil {
			if ctx.Err() == nil {
				h.o.Log.Error("timed run not started", "playbook", name, "trigger", trigger, "err", err)
			}
			return
		}
		// Waiting keeps the scheduler from piling up fires of a slow
		// playbook; at shutdown the run goes on under the grace period.
		finished := make(chan struct{})
		go func() { done(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
		}
	}
}

// PollAsset runs one on_poll of an asset, then starts the playbooks
// subscribed to its new containers. It returns the action result.
func (h *Host) PollAsset(ctx context.Context, asset string, now bool, count int) (*providers.Result, error) {
	h.mu.RLock()
	a := h.assets[asset]
	h.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("no asset %q", asset)
	}
	params := map[string]any{}
	if now {
		params["poll_now"] = true
		if count > 0 {
			params["container_count"] = int64(count)
		}
	}
	log := h.o.Log.With("asset", asset, "action", "on_poll")
	start := time.Now()
	res, err := a.Invoke(ctx, "on_poll", params, providers.Env{Log: log, Ingest: h.Store.AssetSink(asset), Now: h.o.Clock.Now})
	if err != nil {
		log.Error("poll failed", "err", err)
		return nil, err
	}
	h.Metrics.ActionCalled(asset, "on_poll", res.Status, time.Since(start))
	if !res.OK() {
		log.Error("poll failed", "message", res.Message)
		return res, nil
	}
	fetched, _ := toInt(res.Summary["fetched"])
	created, _ := toInt(res.Summary["containers_created"])
	h.Metrics.Polled(asset, int(fetched), int(created))
	log.Info("polled", "fetched", fetched, "containers_created", created)
	h.dispatch(ctx, asset)
	return res, nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// The on_poll dispatch cursor of each (playbook, asset) lives in the
// store's key-value area, so a restart resumes where it stopped; the
// store's one-run-per-(playbook, container) rule makes a replay harmless.
const dispatchNS = "goshawk:on_poll" // playbook names cannot contain ":"

func cursorKey(playbook, asset string) string { return playbook + "@" + asset }

// subscribe starts a playbook's on_poll subscription at the newest
// container of the asset: it reacts to containers ingested from now on.
func (h *Host) subscribe(ctx context.Context, playbook, asset string) {
	key := cursorKey(playbook, asset)
	_, ok, err := h.Store.KVGet(ctx, dispatchNS, key)
	if err == nil && !ok {
		var last int64
		if last, err = h.Store.LastContainerID(ctx, asset); err == nil {
			err = h.Store.KVSet(ctx, dispatchNS, key, strconv.FormatInt(last, 10))
		}
	}
	if err != nil {
		h.o.Log.Error("on_poll subscription not started; the next reload or restart retries it", "playbook", playbook, "asset", asset, "err", err)
	}
}

// SubscribeAll starts the on_poll subscriptions of every loaded playbook
// that has none yet.
func (h *Host) SubscribeAll(ctx context.Context) {
	for _, name := range h.PlaybookNames() {
		if pb, ok := h.Playbook(name); ok && pb.Trigger.OnPoll != "" {
			h.subscribe(ctx, name, pb.Trigger.OnPoll)
		}
	}
}

func (h *Host) dispatchAll(ctx context.Context) {
	for _, name := range h.Config().AssetNames() {
		h.dispatch(ctx, name)
	}
}

// dispatch starts each subscribed playbook once for every container of the
// asset past its cursor. Dispatches of one asset are serialized: a poll and
// the catch-up at startup must not move one cursor in two directions. A
// playbook whose slots are all busy makes dispatch wait, which holds back
// that asset's next poll: backpressure, not an unbounded backlog.
func (h *Host) dispatch(ctx context.Context, asset string) {
	h.dispatchMu.Lock()
	if h.dispatchLocks == nil {
		h.dispatchLocks = map[string]*sync.Mutex{}
	}
	lock := h.dispatchLocks[asset]
	if lock == nil {
		lock = &sync.Mutex{}
		h.dispatchLocks[asset] = lock
	}
	h.dispatchMu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	for _, name := range h.PlaybookNames() {
		if pb, ok := h.Playbook(name); ok && pb.Trigger.OnPoll == asset {
			h.dispatchPlaybook(ctx, pb, asset)
		}
	}
}

// dispatchPlaybook starts one playbook for the containers past its cursor,
// moving the cursor past each container whose run is recorded. It stops at
// the first run it cannot start; the next poll or restart retries from
// there.
func (h *Host) dispatchPlaybook(ctx context.Context, pb *playbook.Playbook, asset string) {
	key := cursorKey(pb.Name, asset)
	log := h.o.Log.With("playbook", pb.Name, "asset", asset)
	raw, ok, err := h.Store.KVGet(ctx, dispatchNS, key)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			log.Error("on_poll cursor not read; the next poll retries", "err", err)
		}
		return
	}
	cursor, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		log.Error("on_poll cursor unreadable; the playbook's subscription is skipped", "cursor", raw)
		return
	}
	for ctx.Err() == nil {
		cs, err := h.Store.ListContainers(ctx, store.ContainerQuery{Asset: asset, AfterID: cursor, Limit: 100})
		if err != nil {
			if ctx.Err() == nil {
				log.Error("on_poll containers not read; the next poll retries", "err", err)
			}
			return
		}
		if len(cs) == 0 {
			return
		}
		for i := range cs {
			c := cs[i]
			_, _, err := h.Runner.Start(ctx, runner.Request{Playbook: pb, Trigger: "on_poll", Container: &c})
			switch {
			case err == nil, errors.Is(err, runner.ErrDuplicate):
			case errors.Is(err, runner.ErrBadInput):
				// The container can never start this playbook; holding
				// the cursor would block every container after it.
				log.Error("on_poll run refused; the container is skipped", "container", c.ID, "err", err)
			default:
				if ctx.Err() == nil && !errors.Is(err, runner.ErrQueueFull) {
					log.Error("on_poll run not started; the next poll or restart retries it", "container", c.ID, "err", err)
				}
				return
			}
			cursor = c.ID
			// The run is recorded: save the cursor even when shutdown has
			// begun. The store refuses duplicate runs, so a cursor that
			// was not saved only costs a replay.
			if err := h.Store.KVSet(context.WithoutCancel(ctx), dispatchNS, key, strconv.FormatInt(cursor, 10)); err != nil {
				log.Warn("on_poll cursor not saved", "err", err)
			}
		}
	}
}

// applyChanges reloads what the changed files affect: playbooks, plugins or
// the config.
func (h *Host) applyChanges(ctx context.Context, changes []watch.Change, lookup func(string) (string, bool)) {
	cfg := h.Config()
	reloadBooks := false
	for _, c := range changes {
		switch {
		case sameFile(c.Path, cfg.File):
			h.reloadConfig(ctx, c, lookup)
			reloadBooks = true
		case strings.EqualFold(filepath.Ext(c.Path), ".wasm") && filepath.Dir(c.Path) == filepath.Clean(cfg.Plugins):
			name := strings.TrimSuffix(filepath.Base(c.Path), filepath.Ext(c.Path))
			if c.Removed {
				h.Plugins.Remove(name)
				h.o.Log.Info("plugin removed", "plugin", name)
			} else if err := h.Plugins.Load(ctx, c.Path); err != nil {
				h.o.Log.Error("plugin not reloaded; the last good version keeps running", "plugin", name, "err", err)
				h.Metrics.Reloaded("plugin", err)
			} else {
				h.o.Log.Info("plugin reloaded", "plugin", name)
				h.Metrics.Reloaded("plugin", nil)
			}
			reloadBooks = true // lint sees the plugin's functions
		case filepath.Dir(c.Path) == filepath.Clean(cfg.Playbooks):
			reloadBooks = true
		}
	}
	if reloadBooks {
		h.loadPlaybooks()
	}
}

func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// reloadConfig applies an edited goshawk.yaml. Assets and plugin limits
// reload in place; a change to the store, folders, listen address or API
// token needs a restart, and the log says so.
func (h *Host) reloadConfig(ctx context.Context, c watch.Change, lookup func(string) (string, bool)) {
	old := h.Config()
	if c.Removed {
		h.o.Log.Warn("config file removed; keeping the config in force", "file", old.File)
		return
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	next, err := config.Parse(old.File, c.Data, h.o.Registry, lookup)
	if err != nil {
		h.o.Log.Error("config not reloaded; the running config stays", "err", err)
		h.Metrics.Reloaded("config", err)
		return
	}
	h.o.Redact.Add(next.Secrets()...)
	var restart []string
	if next.Store != old.Store {
		restart = append(restart, "store")
	}
	if next.Playbooks != old.Playbooks {
		restart = append(restart, "playbooks")
	}
	if next.Plugins != old.Plugins {
		restart = append(restart, "plugins")
	}
	if next.Listen != old.Listen {
		restart = append(restart, "listen")
	}
	if next.APIToken != old.APIToken {
		restart = append(restart, "api_token")
	}
	if !reflect.DeepEqual(next.PluginLimits, old.PluginLimits) {
		restart = append(restart, "plugin_limits")
	}
	if len(restart) > 0 {
		h.o.Log.Warn("config changes that need a restart are not applied until goshawk serve restarts", "keys", strings.Join(restart, ", "))
		// Keep the running values of what cannot change live.
		next.Store, next.Playbooks, next.Plugins, next.Listen, next.APIToken = old.Store, old.Playbooks, old.Plugins, old.Listen, old.APIToken
		next.PluginLimits = old.PluginLimits
	}
	assets, err := openAssets(next)
	if err != nil {
		h.o.Log.Error("config not reloaded: an asset does not open; the running config stays", "err", err)
		h.Metrics.Reloaded("config", err)
		return
	}
	h.mu.Lock()
	oldAssets := h.assets
	h.cfg, h.assets = next, assets
	h.mu.Unlock()
	h.Runner.SetAssets(assets)
	for _, a := range oldAssets {
		a.Close() // idle connections only; calls in flight finish
	}
	h.Metrics.Reloaded("config", nil)
	h.o.Log.Info("config reloaded", "assets", len(assets))
}
