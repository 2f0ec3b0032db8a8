package host

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/watch"
)

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
			// The plugin host logs each load and removal itself; a failed
			// load is logged here, and GET /api/plugins keeps its error.
			// Load is bounded in time whatever the module does, so the
			// watcher never waits on a plugin for long.
			name := strings.TrimSuffix(filepath.Base(c.Path), filepath.Ext(c.Path))
			if c.Removed {
				h.Plugins.Remove(name)
			} else if err := h.Plugins.Load(ctx, c.Path); err != nil {
				if _, running := h.Plugins.Functions(name); running {
					h.o.Log.Error("plugin not reloaded; the last good version keeps running", "plugin", name, "err", err)
				} else {
					h.o.Log.Error("plugin not loaded", "plugin", name, "err", err)
				}
				h.Metrics.Reloaded("plugin", err)
			} else {
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
	assets, err := openAssets(next, h.o.Log)
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
	select {
	case h.retentionWake <- struct{}{}:
	default:
	}
}
