package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
)

// openHost assembles the engine from the config for commands that run
// playbooks.
func (a *app) openHost(ctx context.Context) (*host.Host, int) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, a.configFail(err)
	}
	h, err := host.Open(ctx, host.Options{Config: cfg, Registry: a.reg, Log: a.log, Redact: a.redact})
	if err != nil {
		return nil, a.fail(err)
	}
	return h, exitOK
}

type runFlags struct {
	asJSON    bool
	container int64
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run PLAYBOOK [name=value ...]",
		Short: "run a playbook once and print its run record",
		Long: `Run a playbook once, now, with the given inputs (name=value, checked against
the playbook's inputs), record the run in the store and print the record:
each step with its status, duration and message, then the result or the
error. Ctrl-C interrupts the run and records it as interrupted.

An on_poll playbook runs on a stored container: --container ID gives it as
the script's container (goshawk containers lists them); the container must
come from the playbook's on_poll asset.

The secrets of the assets the playbook declares (assets:) must be in the
environment; a missing one is named with its asset before the run starts.
Exits 1 when the run does not succeed, 2 on bad input.`,
		Example:           "  goshawk run hunt_enrich_post ip=1.2.3.4\n  goshawk run triage_text text='seen at 1.2.3[.]4' --json\n  goshawk run poll_triage --container 12",
		Args:              argsBetween(1, -1),
		ValidArgsFunction: a.completePlaybooks,
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdRun(ctx, a, pos, f)
		}),
	}
	c.Flags().BoolVar(&f.asJSON, "json", false, "print the run record as JSON")
	c.Flags().Int64Var(&f.container, "container", 0, "run an on_poll playbook on this stored container")
	return c
}

func cmdRun(ctx context.Context, a *app, pos []string, f runFlags) int {
	if f.container < 0 {
		return a.fail(usagef("--container takes a container ID, a positive integer; got %d", f.container))
	}
	inputs, err := parseAssignments(pos[1:])
	if err != nil {
		return a.fail(err)
	}
	h, code := a.openHost(ctx)
	if h == nil {
		return code
	}
	defer h.Close(context.WithoutCancel(ctx))
	// Ctrl-C interrupts the run: it is recorded as interrupted, not left
	// to its timeout.
	defer context.AfterFunc(ctx, h.Runner.Interrupt)()
	pb, ok := h.Playbook(pos[0])
	if !ok {
		return a.fail(usageError{h.UnknownPlaybook(pos[0])})
	}
	if err := requireAssets(h.Config(), pb.Assets); err != nil {
		return a.fail(usageError{err})
	}
	req := runner.Request{Playbook: pb, Inputs: inputs, Trigger: "manual"}
	if err := checkRunContainer(ctx, h, &req, f.container); err != nil {
		return a.fail(err)
	}
	rec, err := h.Runner.Run(ctx, req)
	if err != nil {
		if errors.Is(err, runner.ErrBadInput) {
			return a.fail(usageError{err})
		}
		return a.fail(err) // the store or the script's compilation: exit 1
	}
	if f.asJSON {
		printJSON(a.stdout, rec)
	} else {
		printRunTree(a.stdout, rec, a.verbose)
	}
	if rec.Status != runner.StatusSuccess {
		return exitFailed
	}
	return exitOK
}

// printRun prints a run record as a tree; printRunTree with verbose adds
// each step's data.
func printRun(w io.Writer, r *store.Run) { printRunTree(w, r, false) }

// checkRunContainer gives req the stored container id when the playbook
// is an on_poll one, and says what is wrong otherwise: a container for a
// playbook that takes none, none for one that needs it, an id that does
// not exist, or a container of another asset.
func checkRunContainer(ctx context.Context, h *host.Host, req *runner.Request, id int64) error {
	pb := req.Playbook
	onPoll := pb.Trigger.OnPoll
	switch {
	case id == 0 && onPoll == "":
		return nil
	case id == 0:
		return usagef("playbook %s runs on containers of asset %s (trigger on_poll: %s): give one with --container ID; goshawk containers --asset %s lists them", pb.Name, onPoll, onPoll, onPoll)
	case onPoll == "":
		return usagef("playbook %s is not an on_poll playbook, so it takes no container: --container is for playbooks whose trigger is on_poll; pass its inputs as name=value", pb.Name)
	}
	c, err := h.Store.Container(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return usagef("container %d does not exist; goshawk containers --asset %s lists the stored ones", id, onPoll)
	}
	if err != nil {
		return err
	}
	if c.Asset != onPoll {
		return usagef("container %d came from asset %s, but playbook %s runs on containers of asset %s (trigger on_poll: %s)", id, c.Asset, pb.Name, onPoll, onPoll)
	}
	req.Container = &c
	return nil
}

type runsFlags struct {
	asJSON                    bool
	playbook, status, trigger string
	since, until              string
	limit                     int
}

func (a *app) runsCommand() *cobra.Command {
	var f runsFlags
	c := &cobra.Command{
		Use:   "runs",
		Short: "run history (runs show ID: one run record)",
		Long: `List recorded runs, newest first: id, playbook, version, trigger, status,
number of steps and start time. The filters combine: --playbook, --status
(running, success, failed, timeout, interrupted), --trigger (manual, webhook,
schedule, every, on_poll, test), and --since and --until on the start time,
each an RFC 3339 time (2024-03-04T10:00:00Z), a date (2024-03-04, midnight
UTC) or an age (90m, 24h, 7d). goshawk runs show ID prints one run record.
Reads only the store: needs no secrets.`,
		Example: "  goshawk runs\n  goshawk runs --status failed --since 24h\n  goshawk runs --playbook hunt_enrich_post --trigger webhook --limit 10\n  goshawk runs --since 2024-03-01 --until 2024-03-04 --json\n  goshawk runs show 42 --json",
		Args:    argsBetween(0, 0),
		RunE: body(func(ctx context.Context, _ []string) int {
			return cmdRuns(ctx, a, f)
		}),
	}
	c.Flags().BoolVar(&f.asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&f.playbook, "playbook", "", "only runs of this playbook")
	c.Flags().StringVar(&f.status, "status", "", "only runs with this status: "+strings.Join(store.RunStatuses, ", "))
	c.Flags().StringVar(&f.trigger, "trigger", "", "only runs started by this trigger: "+strings.Join(store.RunTriggers, ", "))
	c.Flags().StringVar(&f.since, "since", "", "only runs started at or after this time, date or age (24h, 7d)")
	c.Flags().StringVar(&f.until, "until", "", "only runs started before this time, date or age")
	c.Flags().IntVar(&f.limit, "limit", 50, "at most N runs, newest first")
	c.AddCommand(a.runsShowCommand(), a.runsSaveCommand())
	return c
}

func (a *app) runsShowCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show ID",
		Short: "show one run record",
		Long: `Show one recorded run: its playbook, version, trigger, status and duration,
its inputs, each step with its parameters, status, duration, message and
summary (-v adds each step's data), the lines the run logged, then the
result or the error. Secrets are redacted; a step over the per-step cap says
what was left out. Reads only the store: needs no secrets.`,
		Example: "  goshawk runs show 42\n  goshawk runs show 42 -v\n  goshawk runs show 42 --json",
		Args:    argsBetween(1, 1),
		RunE: body(func(ctx context.Context, pos []string) int {
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil || id <= 0 {
				return a.fail(usagef("run ID must be a positive integer, got %q", pos[0]))
			}
			return cmdRunsShow(ctx, a, id, asJSON)
		}),
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func cmdRunsShow(ctx context.Context, a *app, id int64, asJSON bool) int {
	st, code := a.openConfiguredStore(ctx)
	if st == nil {
		return code
	}
	defer st.Close()
	r, err := st.GetRun(ctx, id)
	if err != nil {
		return a.fail(err)
	}
	if asJSON {
		printJSON(a.stdout, r)
	} else {
		printRunTree(a.stdout, &r, a.verbose)
	}
	return exitOK
}

func cmdRuns(ctx context.Context, a *app, f runsFlags) int {
	if f.limit < 1 {
		return a.fail(usagef("--limit must be positive, got %d", f.limit))
	}
	q, err := f.query(time.Now())
	if err != nil {
		return a.fail(usageError{err})
	}
	st, code := a.openConfiguredStore(ctx)
	if st == nil {
		return code
	}
	defer st.Close()
	runs, err := st.ListRuns(ctx, q)
	if err != nil {
		return a.fail(err)
	}
	if f.asJSON {
		if runs == nil {
			runs = []store.Run{}
		}
		printJSON(a.stdout, runs)
		return exitOK
	}
	for _, r := range runs {
		fmt.Fprintf(a.stdout, "%-6d %-20s %-12s %-10s %-12s %d steps  %s\n", r.ID, r.Playbook, r.Version, r.Trigger, r.Status, len(r.Steps), r.Started.Format(time.RFC3339))
	}
	if len(runs) == 0 {
		if filters := f.filters(); filters != "" {
			fmt.Fprintf(a.stdout, "No runs match %s\n", filters)
		} else {
			fmt.Fprintln(a.stdout, "no runs yet: try goshawk run PLAYBOOK")
		}
	}
	return exitOK
}

// query is the store query of the flags; a bad value is an error that
// names its flag and the values it takes.
func (f runsFlags) query(now time.Time) (store.RunQuery, error) {
	q := store.RunQuery{Playbook: f.playbook, Status: f.status, Trigger: f.trigger, Limit: f.limit}
	var err error
	if f.since != "" {
		if q.Since, err = store.ParseTimeFilter("--since", f.since, now); err != nil {
			return q, err
		}
	}
	if f.until != "" {
		if q.Until, err = store.ParseTimeFilter("--until", f.until, now); err != nil {
			return q, err
		}
	}
	if err := q.Check(); err != nil {
		return q, fmt.Errorf("runs: %w", err)
	}
	return q, nil
}

// filters repeats the filter flags given, for "No runs match".
func (f runsFlags) filters() string {
	var parts []string
	for _, fl := range []struct{ name, v string }{
		{"--playbook", f.playbook}, {"--status", f.status}, {"--trigger", f.trigger}, {"--since", f.since}, {"--until", f.until},
	} {
		if fl.v != "" {
			parts = append(parts, fl.name+" "+shellQuote(fl.v))
		}
	}
	return strings.Join(parts, " ")
}

func jsonCompact(v any) (string, error) {
	var b strings.Builder
	enc := jsonEncoder(&b)
	err := enc.Encode(v)
	return strings.TrimSpace(b.String()), err
}
