package host

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/engine/config"
)

// PluginCacheDir is wazero's compilation cache of a config: .goshawk-cache/wasm
// next to the store.
func PluginCacheDir(cfg *config.Config) string {
	if isURL(cfg.Store) {
		return filepath.Join(cfg.Dir, ".goshawk-cache", "wasm")
	}
	return filepath.Join(filepath.Dir(cfg.Store), ".goshawk-cache", "wasm")
}

// OpenPlugins starts the plugin host of a config, with its per-plugin
// limits, and loads its plugins folder. A plugin that does not load is
// passed to onErr (nil: ignored) and left out; the others load. cacheDir ""
// means PluginCacheDir(cfg).
func OpenPlugins(ctx context.Context, cfg *config.Config, cacheDir string, log *slog.Logger, onErr func(error)) (*wasm.Host, error) {
	if cacheDir == "" {
		cacheDir = PluginCacheDir(cfg)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	plugins, err := wasm.NewHost(ctx, wasm.Options{
		CacheDir:  cacheDir,
		PerPlugin: pluginLimits(cfg),
		Log:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if dirExists(cfg.Plugins) {
		for _, err := range plugins.LoadDir(ctx, cfg.Plugins) {
			if onErr != nil {
				onErr(err)
			}
		}
	}
	return plugins, nil
}

// PluginStatus is the load state of every plugin file: the version that
// serves calls, and why the last load or reload failed. GET /api/plugins
// serves it.
func (h *Host) PluginStatus() []wasm.PluginStatus {
	if h.Plugins == nil {
		return []wasm.PluginStatus{}
	}
	return h.Plugins.Status()
}

// PluginUse is the state of one plugin a playbook declares, as
// GET /api/playbooks shows it.
type PluginUse struct {
	Name    string `json:"name"`
	Running bool   `json:"running"`
	Error   string `json:"error,omitempty"`
}

// pluginUses returns the state of each plugin a playbook declares.
func pluginUses(names []string, status []wasm.PluginStatus) []PluginUse {
	if len(names) == 0 {
		return nil
	}
	out := make([]PluginUse, 0, len(names))
	for _, name := range names {
		use := PluginUse{Name: name, Error: "not loaded: put " + name + ".wasm in the plugins folder"}
		for _, st := range status {
			if st.Name == name {
				use.Running, use.Error = st.Running, st.Error
			}
		}
		out = append(out, use)
	}
	return out
}
