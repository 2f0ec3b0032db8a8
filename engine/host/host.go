// Package host assembles a running goshawk from its config: the store, the
// opened assets, the plugin host, the Lua runtime, the runner and the
// playbooks. `goshawk run` uses it for one run; `goshawk serve` and
// `goshawk demo` add triggers, hot reload and the HTTP API: serve.go is the
// serve lifecycle, triggers.go the timed triggers, dispatch.go on_poll and
// its dispatch to playbooks, reload.go hot reload, playbooks.go loading
// playbooks and the rule for their names.
package host

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/engine/cluster"
	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/metrics"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
)

// Options configures Open.
type Options struct {
	Config   *config.Config
	Registry *providers.Registry
	Log      *slog.Logger
	Redact   *logx.Redactor
	Metrics  *metrics.Metrics // nil: a fresh one
	Clock    sched.Clock      // nil: the real clock
	// PluginCache is wazero's compilation cache folder; by default
	// .goshawk-cache/wasm next to the store.
	PluginCache string
	// NoAssets opens no asset, so no asset secret is needed: for commands
	// that read playbooks and the store but run nothing (goshawk prune).
	NoAssets bool
}

// Host is an assembled goshawk.
type Host struct {
	o     Options
	Store store.Backend
	// Cluster is this host's membership of a cluster, when its store is
	// PostgreSQL (engine/cluster); nil on a single node.
	Cluster *cluster.Node
	Plugins *wasm.Host
	Runtime *lua.Runtime
	Runner  *runner.Runner
	Metrics *metrics.Metrics

	// reloadMu serializes playbook loads, so that two reloads never swap
	// their results in out of order.
	reloadMu sync.Mutex
	// dispatchMu guards dispatchLocks, which serializes the on_poll
	// dispatches of each asset (serve.go). One lock per asset: a slow
	// playbook holds back its own asset's polls, never another asset's.
	dispatchMu    sync.Mutex
	dispatchLocks map[string]*sync.Mutex

	mu     sync.RWMutex
	cfg    *config.Config
	assets map[string]*providers.Asset
	// books holds each playbook file's state by the YAML path: its last
	// good version and the error of its latest load, if that failed.
	books map[string]*book
	// byName indexes the good version of each playbook by its name.
	byName map[string]*playbook.Playbook
	// sched runs the timed jobs while the host serves.
	sched *sched.Scheduler
	// retentionWake is poked when the config changes, so that the
	// retention loop picks up a new retention: section.
	retentionWake chan struct{}
}

// book is one playbook file as the host sees it.
type book struct {
	file       string
	pb         *playbook.Playbook // last good version; nil if never loaded
	lastReload time.Time
	lastErr    string
	lastDiags  []diag.Diagnostic // lastErr's diagnostics, each at file:line:col
}

// Open assembles a host. It opens assets without touching the network,
// loads plugins and playbooks, and reports broken ones in their state
// rather than failing: one bad file never takes the others down.
func Open(ctx context.Context, o Options) (h *Host, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Redact == nil {
		o.Redact = logx.NewRedactor()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.Clock == nil {
		o.Clock = sched.RealClock{}
	}
	cfg := o.Config
	o.Redact.Add(cfg.Secrets()...)
	o.Redact.Add(storeSecrets(cfg.Store)...)
	// h is what the caller gets; the host being built is a variable of its
	// own, so that the cleanup still closes it after "return nil, err".
	opened := &Host{o: o, cfg: cfg, Metrics: o.Metrics, books: map[string]*book{}, retentionWake: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			opened.Close(context.WithoutCancel(ctx))
		}
	}()
	h = opened
	if h.Store, err = openStore(ctx, cfg.Store, o.Clock.Now, o.Log); err != nil {
		return nil, err
	}
	if o.NoAssets {
		h.assets = map[string]*providers.Asset{}
	} else if h.assets, err = openAssets(cfg, o.Log); err != nil {
		return nil, err
	}
	h.Plugins, err = OpenPlugins(ctx, cfg, o.PluginCache, o.Log, func(err error) {
		o.Log.Error("plugin not loaded", "err", err)
		h.Metrics.Reloaded("plugin", err)
	})
	if err != nil {
		return nil, err
	}
	h.Runtime = lua.NewRuntime(lua.Options{})
	h.Runner = runner.New(runner.Options{
		Store: h.Store, Runtime: h.Runtime, Plugins: h.Plugins,
		Log: o.Log, Metrics: h.Metrics, Redact: o.Redact, Now: o.Clock.Now,
	})
	h.Runner.SetAssets(h.assets)
	if err := h.openCluster(); err != nil {
		return nil, err
	}
	h.loadPlaybooks()
	return h, nil
}

// openAssets opens every configured asset without touching the network.
// An asset whose environment variables are unset is not opened: it is kept
// so that lint and playbooks still know it, but every call of one of its
// actions fails with the variable to export, and its scheduled poll is off
// until a reload brings the variable. A secret is needed only where it is
// used.
func openAssets(cfg *config.Config, log *slog.Logger) (map[string]*providers.Asset, error) {
	assets := make(map[string]*providers.Asset, len(cfg.Assets))
	for _, name := range cfg.AssetNames() {
		if as := cfg.Assets[name]; as.Ready() != nil {
			notReady := as.Ready()
			log.Warn("asset not opened: its actions fail and its scheduled poll is off until the variable is set", "asset", name, "err", notReady)
			assets[name] = &providers.Asset{Name: name, Provider: as.Provider,
				Replay: func(context.Context, *providers.Asset, *providers.Spec, providers.Values) (*providers.Result, error) {
					return nil, notReady
				}}
			continue
		}
		a, err := cfg.OpenAsset(name)
		if err != nil {
			for _, opened := range assets {
				opened.Close()
			}
			return nil, err
		}
		assets[name] = a
	}
	return assets, nil
}

func pluginLimits(cfg *config.Config) map[string]wasm.Limits {
	out := make(map[string]wasm.Limits, len(cfg.PluginLimits))
	for name, l := range cfg.PluginLimits {
		out[name] = wasm.Limits{MemoryPages: uint32(l.MemoryMB) * 16, Timeout: l.Timeout, Instances: l.Instances}
	}
	return out
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// LintEnv is what playbook lint checks scripts against: the configured
// assets with their providers, and the loaded plugins.
func (h *Host) LintEnv() *playbook.Env {
	h.mu.RLock()
	cfg := h.cfg
	h.mu.RUnlock()
	return LintEnv(cfg, h.Plugins)
}

// LintEnv builds the lint environment of a config and an optional plugin
// host.
func LintEnv(cfg *config.Config, plugins *wasm.Host) *playbook.Env {
	env := &playbook.Env{Assets: cfg.Providers()}
	if plugins != nil {
		env.Plugins = plugins.Functions
	}
	return env
}

// Config returns the config in force.
func (h *Host) Config() *config.Config {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cfg
}

// Playbook returns the current good version of the named playbook.
func (h *Host) Playbook(name string) (*playbook.Playbook, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	pb, ok := h.byName[name]
	return pb, ok
}

// PlaybookNames returns the names of the loaded playbooks, sorted.
func (h *Host) PlaybookNames() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Sorted(maps.Keys(h.byName))
}

// UnknownPlaybook is the error for a name no loaded playbook has.
func (h *Host) UnknownPlaybook(name string) error {
	names := h.PlaybookNames()
	msg := fmt.Sprintf("no playbook %q", name)
	if h := hint.DidYouMean(name, names); h != "" {
		return fmt.Errorf("%s%s", msg, h)
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: no playbooks are loaded from %s", msg, h.Config().Playbooks)
	}
	return fmt.Errorf("%s; loaded playbooks: %s", msg, strings.Join(names, ", "))
}

// PlaybookInfo is the state of one playbook file, for GET /api/playbooks.
type PlaybookInfo struct {
	Name        string         `json:"name"`
	File        string         `json:"file"`
	Description string         `json:"description,omitempty"`
	Version     string         `json:"version"`
	Triggers    map[string]any `json:"triggers"`
	LastReload  time.Time      `json:"last_reload"`
	LastError   string         `json:"last_error,omitempty"`
	// Diagnostics are LastError's problems, each with its file, line,
	// column, severity and message.
	Diagnostics []diag.Diagnostic `json:"diagnostics,omitempty"`
	// Plugins is the state of each plugin the playbook declares: a plugin
	// whose reload failed shows its error here too.
	Plugins []PluginUse `json:"plugins,omitempty"`
}

// PlaybookInfos lists every playbook file's state, sorted by name.
func (h *Host) PlaybookInfos() []PlaybookInfo {
	plugins := h.PluginStatus()
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]PlaybookInfo, 0, len(h.books))
	for _, b := range h.books {
		info := PlaybookInfo{File: filepath.Base(b.file), LastReload: b.lastReload, LastError: b.lastErr, Diagnostics: b.lastDiags, Triggers: map[string]any{}}
		if b.pb != nil {
			info.Name, info.Description, info.Version = b.pb.Name, b.pb.Description, b.pb.Version
			info.Triggers = triggers(b.pb)
			info.Plugins = pluginUses(b.pb.Plugins, plugins)
		} else {
			info.Name = strings.TrimSuffix(filepath.Base(b.file), filepath.Ext(b.file))
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func triggers(pb *playbook.Playbook) map[string]any {
	t := map[string]any{}
	if pb.Trigger.Schedule != "" {
		t["schedule"] = pb.Trigger.Schedule
		if pb.Trigger.Timezone != "" {
			t["timezone"] = pb.Trigger.Timezone
		}
	}
	if pb.Trigger.Every > 0 {
		t["every"] = pb.Trigger.Every.String()
	}
	if pb.Trigger.OnPoll != "" {
		t["on_poll"] = pb.Trigger.OnPoll
	}
	if pb.Trigger.Webhook {
		t["webhook"] = true
	}
	return t
}

// Run runs a playbook by name once and returns the record.
func (h *Host) Run(ctx context.Context, name string, inputs map[string]any, trigger string) (*store.Run, error) {
	pb, ok := h.Playbook(name)
	if !ok {
		return nil, h.UnknownPlaybook(name)
	}
	return h.Runner.Run(ctx, runner.Request{Playbook: pb, Inputs: inputs, Trigger: trigger})
}

// Close releases everything the host opened.
func (h *Host) Close(ctx context.Context) {
	h.mu.Lock()
	assets := h.assets
	h.assets = nil
	h.mu.Unlock()
	for _, a := range assets {
		a.Close()
	}
	if h.Plugins != nil {
		h.Plugins.Close(ctx)
	}
	if h.Cluster != nil {
		h.Cluster.Stop(ctx) // its jobs use the store: stop it first
	}
	if h.Store != nil {
		h.Store.Close()
	}
}

// Now is the host's clock: the time runs, containers and filters use.
func (h *Host) Now() time.Time { return h.o.Clock.Now() }
