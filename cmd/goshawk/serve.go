package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/server"
)

func cmdServe(ctx context.Context, a *app, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.fail(err)
	}
	if len(pos) > 0 {
		return a.fail(usagef("usage: goshawk [--config FILE] [--log-format text|json] serve (serve takes no arguments)"))
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	if !config.IsLoopback(cfg.Listen) && cfg.APIToken == "" {
		return a.configFail(fmt.Errorf("%s: %w: listen is %s; set api_token (for example api_token: ${GOSHAWK_API_TOKEN}) or listen on 127.0.0.1:8470", cfg.File, host.ErrInsecureListen, cfg.Listen))
	}
	h, err := host.Open(ctx, host.Options{Config: cfg, Registry: a.reg, Log: a.log, Redact: a.redact})
	if err != nil {
		return a.fail(err)
	}
	defer h.Close(context.WithoutCancel(ctx))
	return a.serveHost(ctx, h, nil)
}

// serveHost runs the host's triggers, watcher and API until ctx ends.
func (a *app) serveHost(ctx context.Context, h *host.Host, ready func(addr string)) int {
	cfg := h.Config()
	api := server.New(server.Options{Host: h, Token: cfg.APIToken, ProtectReads: !config.IsLoopback(cfg.Listen), Log: a.log})
	err := h.Serve(ctx, host.ServeOptions{Handler: api, Lookup: a.lookup, Ready: ready})
	if err != nil {
		return a.fail(err)
	}
	return exitOK
}
