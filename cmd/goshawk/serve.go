package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/server"
)

func (a *app) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "run schedules, on_poll triggers, the watcher and the HTTP API until SIGINT/SIGTERM",
		Long: `Run the engine until SIGINT or SIGTERM: scheduled playbooks, scheduled polls
and the on_poll playbooks of each new container, the file watcher that
reloads changed playbooks, plugins and config, and the HTTP API on the
config's listen address (api_token is required when it is not loopback).
On shutdown, runs in flight get shutdown_grace to finish.

Opens every asset, so their secrets must be in the environment. For logs a
machine reads, add --log-format json. Unless GOGC or GOMEMLIMIT is set, the
Go garbage collector's GOGC is sized to the live heap after each collection
(a heap of about 32 MB between collections while little is live, never more
than twice a larger live heap): less CPU per run for some memory.`,
		Example: "  goshawk serve\n  goshawk serve --config /etc/goshawk/goshawk.yaml --log-format json",
		Args:    argsBetween(0, 0),
		RunE: body(func(ctx context.Context, _ []string) int {
			return cmdServe(ctx, a)
		}),
	}
}

func cmdServe(ctx context.Context, a *app) int {
	tuneGC(os.LookupEnv)
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	// The same rules validate reports (listen, api_token), and the
	// variables of the top-level keys.
	if err := cfg.RequireServe(); err != nil {
		return a.configFail(err)
	}
	h, err := host.Open(ctx, host.Options{Config: cfg, Registry: a.reg, Log: a.log, Redact: a.redact})
	if errors.Is(err, host.ErrStore) {
		return a.configFail(err) // a config problem: exit 2
	}
	if err != nil {
		return a.fail(err)
	}
	defer h.Close(context.WithoutCancel(ctx))
	return a.serveHost(ctx, h, nil)
}

// serveHost runs the host's triggers, watcher and API until ctx ends.
func (a *app) serveHost(ctx context.Context, h *host.Host, ready func(addr string)) int {
	cfg := h.Config()
	bi := readBuildInfo()
	h.Metrics.SetBuildInfo(bi.Version, bi.Commit)
	api := server.New(server.Options{Host: h, Token: cfg.APIToken, ProtectReads: !config.IsLoopback(cfg.Listen), Log: a.log})
	err := h.Serve(ctx, host.ServeOptions{Handler: api, Lookup: a.lookup, Ready: ready})
	if err != nil {
		return a.fail(err)
	}
	return exitOK
}
