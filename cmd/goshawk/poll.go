package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/pgstore"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

func openStore(ctx context.Context, cfg *config.Config) (store.Backend, error) {
	var st store.Backend
	var err error
	if pgstore.IsURL(cfg.Store) {
		// The errors of a PostgreSQL URL name where it points, not the
		// password.
		if st, err = pgstore.Open(ctx, cfg.Store); err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err = store.Open(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Store, err)
	}
	return st, nil
}

// openConfiguredStore loads the config and opens its store, for the
// commands that only read or write the store. On failure it has printed the
// error and returns the exit code.
func (a *app) openConfiguredStore(ctx context.Context) (store.Backend, int) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, a.configFail(err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, a.fail(err)
	}
	return st, exitOK
}

// isTerminal reports whether w is a character device, so progress lines are
// drawn only for a person watching, never into a pipe or a file.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressSink reports each committed batch of a poll on a terminal.
type progressSink struct {
	cef.Sink
	w                  io.Writer
	mu                 sync.Mutex
	created, duplicate int
}

func (p *progressSink) Ingest(ctx context.Context, batch []cef.Container, cp *string) (int, int, error) {
	c, d, err := p.Sink.Ingest(ctx, batch, cp)
	p.mu.Lock()
	p.created += c
	p.duplicate += d
	fmt.Fprintf(p.w, "\rpolling: %d containers created, %d duplicates", p.created, p.duplicate)
	p.mu.Unlock()
	return c, d, err
}

type pollFlags struct {
	asJSON, now bool
	count       int
}

func (a *app) pollCommand() *cobra.Command {
	var f pollFlags
	c := &cobra.Command{
		Use:   "poll ASSET",
		Short: "ingest new indicators of an asset as containers",
		Long: `Run the asset's on_poll action once: fetch the indicators added since the
last checkpoint, store each as a container with its artifacts, and move the
checkpoint. --now looks back interval_days instead and leaves the checkpoint
alone. On a terminal, progress is shown as batches commit.

Opens the asset, so its secrets must be in the environment.`,
		Example:           "  goshawk poll tc\n  goshawk poll tc --now --count 10 --json",
		Args:              argsBetween(1, 1),
		ValidArgsFunction: a.completeAssets(false),
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdPoll(ctx, a, pos, f)
		}),
	}
	c.Flags().BoolVar(&f.asJSON, "json", false, "print the poll summary as JSON")
	c.Flags().BoolVar(&f.now, "now", false, "poll now: look back interval_days and leave the checkpoint alone")
	c.Flags().IntVar(&f.count, "count", 0, "with --now: at most N containers (default: the asset's max_containers)")
	return c
}

func cmdPoll(ctx context.Context, a *app, pos []string, f pollFlags) int {
	if f.count < 0 || (f.count > 0 && !f.now) {
		return a.fail(usagef("--count takes a positive number and goes with --now"))
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	asset, err := cfg.OpenAsset(pos[0])
	if err != nil {
		return a.fail(usageError{err})
	}
	defer asset.Close()
	spec, ok := asset.Provider.Action("on_poll")
	if !ok || spec.Kind != providers.Ingest {
		return a.fail(usagef("asset %s (%s) cannot be polled: its provider has no on_poll action", asset.Name, asset.Provider.Name))
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer st.Close()

	var sink cef.Sink = st.AssetSink(asset.Name)
	progress := isTerminal(a.stderrFile())
	if progress {
		sink = &progressSink{Sink: sink, w: a.stderr}
	}
	params := map[string]any{}
	if f.now {
		params["poll_now"] = true
		if f.count > 0 {
			params["container_count"] = strconv.Itoa(f.count)
		}
	}
	res, err := asset.Invoke(ctx, "on_poll", params, providers.Env{Log: a.log.With("asset", asset.Name), Ingest: sink})
	if progress {
		fmt.Fprintln(a.stderr)
	}
	if err != nil {
		return a.fail(usageError{err})
	}
	if !res.OK() {
		fmt.Fprintf(a.stderr, "goshawk: poll %s failed: %s\n", asset.Name, res.Message)
		return exitFailed
	}
	if f.asJSON {
		printJSON(a.stdout, res.Summary)
		return exitOK
	}
	s := res.Summary
	fmt.Fprintf(a.stdout, "%s: fetched %v, containers created %v, duplicates %v, checkpoint %v\n",
		asset.Name, s["fetched"], s["containers_created"], s["duplicates"], s["checkpoint"])
	return exitOK
}

type containersFlags struct {
	asJSON bool
	asset  string
	limit  int
	after  int64
}

func (a *app) containersCommand() *cobra.Command {
	var f containersFlags
	c := &cobra.Command{
		Use:   "containers",
		Short: "list ingested containers",
		Long: `List the containers polls have stored, oldest first: id, asset, severity,
status, artifact type and name. Page with --after (the last id seen) and
--limit. Reads only the store: needs no secrets.`,
		Example: "  goshawk containers\n  goshawk containers --asset tc --limit 20 --after 100\n  goshawk containers --json",
		Args:    argsBetween(0, 0),
		RunE: body(func(ctx context.Context, _ []string) int {
			return cmdContainers(ctx, a, f)
		}),
	}
	c.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&f.asset, "asset", "", "only containers of this asset")
	c.Flags().IntVar(&f.limit, "limit", 100, "at most N containers")
	c.Flags().Int64Var(&f.after, "after", 0, "only containers with an id above this")
	return c
}

func cmdContainers(ctx context.Context, a *app, f containersFlags) int {
	if f.limit < 1 {
		return a.fail(usagef("--limit must be positive, got %d", f.limit))
	}
	st, code := a.openConfiguredStore(ctx)
	if st == nil {
		return code
	}
	defer st.Close()
	cs, err := st.ListContainers(ctx, store.ContainerQuery{Asset: f.asset, AfterID: f.after, Limit: f.limit})
	if err != nil {
		return a.fail(err)
	}
	if f.asJSON {
		if cs == nil {
			cs = []cef.Container{}
		}
		printJSON(a.stdout, cs)
		return exitOK
	}
	for _, c := range cs {
		fmt.Fprintf(a.stdout, "%-6d %-8s %-7s %-6s %-14s %s\n", c.ID, c.Asset, c.Severity, c.Status, artifactKind(c), c.Name)
	}
	if len(cs) == 0 {
		fmt.Fprintln(a.stdout, "no containers yet: run goshawk poll ASSET")
	}
	return exitOK
}

func artifactKind(c cef.Container) string {
	if len(c.Artifacts) == 0 {
		return "-"
	}
	return c.Artifacts[0].Type
}

func (a *app) containerCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "container ID",
		Short: "show one container with its artifacts",
		Long: `Show one stored container: its name, asset, label, severity, status, source
id, tags and notes, and each artifact with its CEF fields and their types.
Reads only the store: needs no secrets.`,
		Example: "  goshawk container 12\n  goshawk container 12 --json",
		Args:    argsBetween(1, 1),
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdContainer(ctx, a, pos, asJSON)
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func cmdContainer(ctx context.Context, a *app, pos []string, asJSON bool) int {
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return a.fail(usagef("container ID must be a positive integer, got %q", pos[0]))
	}
	st, code := a.openConfiguredStore(ctx)
	if st == nil {
		return code
	}
	defer st.Close()
	c, err := st.Container(ctx, id)
	if err != nil {
		return a.fail(err)
	}
	if asJSON {
		printJSON(a.stdout, c)
		return exitOK
	}
	fmt.Fprintf(a.stdout, "container %d  %s\n  asset %s, label %s, severity %s, status %s, source id %s\n  %s\n",
		c.ID, c.Name, c.Asset, c.Label, c.Severity, c.Status, c.SourceDataIdentifier, c.Description)
	for _, t := range c.Tags {
		fmt.Fprintf(a.stdout, "  tag: %s\n", t)
	}
	for _, n := range c.Notes {
		fmt.Fprintf(a.stdout, "  note (%s): %s\n", n.Created.Format("2006-01-02 15:04"), n.Text)
	}
	for _, art := range c.Artifacts {
		fmt.Fprintf(a.stdout, "  artifact %d  %s (%s, label %s)\n", art.ID, art.Name, art.Type, art.Label)
		for _, k := range slices.Sorted(maps.Keys(art.CEF)) {
			types := ""
			if ts := art.CEFTypes[k]; len(ts) > 0 {
				types = fmt.Sprintf("  %v", ts)
			}
			fmt.Fprintf(a.stdout, "    %-26s %v%s\n", k, art.CEF[k], types)
		}
	}
	return exitOK
}
