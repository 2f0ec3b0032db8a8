package host

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/metrics"
	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/watch"
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
// It is config's: (*config.Config).RequireServe is the one set of serve
// rules, which validate reports too.
var ErrInsecureListen = config.ErrInsecureListen

// Serve runs the triggers, the watcher and the HTTP API until ctx ends,
// then shuts down gracefully: it stops the triggers, lets runs in flight
// finish within the config's shutdown_grace, marks the rest interrupted,
// and returns. The caller closes the host.
func (h *Host) Serve(ctx context.Context, so ServeOptions) error {
	cfg := h.Config()
	if so.Handler != nil {
		if err := cfg.RequireServe(); err != nil {
			return err
		}
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

	// The config file is watched alone, not its folder: the store's files
	// usually sit beside it, and every commit would wake the watcher.
	paths := []string{cfg.Playbooks, cfg.File}
	if dirExists(cfg.Plugins) {
		paths = append(paths, cfg.Plugins)
	}
	w, err := watch.New(existing(paths), watch.Options{
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
	h.mu.Lock()
	h.sched = sch
	h.mu.Unlock()
	h.Metrics.SetLive(metrics.Live{Playbooks: h.playbookLoads, Jobs: h.metricJobs})
	jobs := map[string]string{}
	if h.Cluster != nil {
		if err := h.runCluster(trigCtx); err != nil {
			if ln != nil {
				ln.Close()
			}
			return err
		}
	}
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
	triggers.Go(func() { h.retain(trigCtx) })

	srvErr := make(chan error, 1)
	if srv != nil {
		go func() { srvErr <- srv.Serve(ln) }()
		if so.Ready != nil {
			so.Ready(ln.Addr().String())
		}
		h.o.Log.Info("serving", "listen", ln.Addr().String(), "playbooks", len(h.PlaybookNames()))
		// What validate warns about (an alias spelling, limits for a plugin
		// that is not there) is said once when serving starts.
		for _, w := range cfg.Warnings {
			h.o.Log.Warn("config", "warning", w.String())
		}
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

// TimedJobs returns the timed jobs of a serving host (schedule:<playbook>,
// every:<playbook> and poll:<asset>) with their next fire, and whether a
// fire is still going; nil when the host is not serving.
func (h *Host) TimedJobs() []sched.JobState {
	h.mu.RLock()
	sch := h.sched
	h.mu.RUnlock()
	if sch == nil {
		return nil
	}
	return sch.Jobs()
}

func (h *Host) metricJobs() []metrics.Job {
	var out []metrics.Job
	for _, j := range h.TimedJobs() {
		out = append(out, metrics.Job{Name: j.Name, Next: j.Next})
	}
	return out
}

// playbookLoads is how busy each loaded playbook is, for the metrics.
func (h *Host) playbookLoads() []metrics.PlaybookLoad {
	names := h.PlaybookNames()
	out := make([]metrics.PlaybookLoad, 0, len(names))
	for _, name := range names {
		running, queued := h.Runner.Busy(name)
		out = append(out, metrics.PlaybookLoad{Playbook: name, Running: running, Queued: queued})
	}
	return out
}

// existing returns the paths that exist, each once.
func existing(paths []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil && !seen[p] {
			out = append(out, p)
			seen[p] = true
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
