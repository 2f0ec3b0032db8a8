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
