package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/store"
)

func (a *app) pruneCommand() *cobra.Command {
	var dryRun, asJSON bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "remove the runs and containers the config's retention no longer keeps",
		Long: `Apply the config's retention: section once, as goshawk serve does every hour:
remove the runs that finished longer than retention.runs ago, and the
containers ingested longer than retention.containers ago. A run still
running is never removed, nor a container that a kept run names or that an
on_poll playbook has not been dispatched yet. --dry-run counts what would go
and removes nothing.

Opens the store and the playbooks, never an asset: needs no secrets.`,
		Example: "  goshawk prune --dry-run\n  goshawk prune\n  goshawk --config /etc/goshawk/goshawk.yaml prune --json",
		Args:    argsBetween(0, 0),
		RunE: body(func(ctx context.Context, _ []string) int {
			return cmdPrune(ctx, a, dryRun, asJSON)
		}),
	}
	c.Flags().BoolVar(&dryRun, "dry-run", false, "count what would be removed; remove nothing")
	c.Flags().BoolVar(&asJSON, "json", false, "print the counts as JSON")
	return c
}

// pruneOutput is the --json shape of goshawk prune.
type pruneOutput struct {
	store.PruneResult
	DryRun bool `json:"dry_run"`
	// Retention is the config's, as written (30d, 12h); "" keeps that
	// kind for ever.
	Retention struct {
		Runs       string `json:"runs"`
		Containers string `json:"containers"`
	} `json:"retention"`
}

func cmdPrune(ctx context.Context, a *app, dryRun, asJSON bool) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	r := cfg.Retention
	if r.Runs == 0 && r.Containers == 0 {
		fmt.Fprintf(a.stderr, "goshawk: %s has no retention: section, so everything is kept and nothing is pruned; add for example\n  retention:\n    runs: 30d\n    containers: 90d\n", cfg.File)
		return exitUsage
	}
	h, err := host.Open(ctx, host.Options{Config: cfg, Registry: a.reg, Log: a.log, Redact: a.redact, NoAssets: true})
	if err != nil {
		return a.fail(err)
	}
	defer h.Close(context.WithoutCancel(ctx))
	res, err := h.Prune(ctx, dryRun)
	if err != nil {
		return a.fail(err)
	}
	if asJSON {
		out := pruneOutput{PruneResult: res, DryRun: dryRun}
		out.Retention.Runs, out.Retention.Containers = durationOrEmpty(r.Runs), durationOrEmpty(r.Containers)
		printJSON(a.stdout, out)
		return exitOK
	}
	verb := "pruned"
	if dryRun {
		verb = "would prune"
	}
	fmt.Fprintf(a.stdout, "%s %d run(s) and %d container(s) (%s)\n", verb, res.Runs, res.Containers, retentionText(r))
	return exitOK
}

func retentionText(r config.Retention) string {
	keep := func(what string, d time.Duration) string {
		if d == 0 {
			return what + " kept for ever"
		}
		return what + " older than " + days(d)
	}
	return keep("runs", r.Runs) + ", " + keep("containers", r.Containers)
}

// days writes a duration as the config does: whole days as 30d.
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

func durationOrEmpty(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return days(d)
}
