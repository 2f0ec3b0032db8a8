package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

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

func cmdRun(ctx context.Context, a *app, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the run record as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.fail(err)
	}
	if len(pos) < 1 {
		return a.fail(usagef("usage: goshawk run PLAYBOOK [name=value ...] [--json]"))
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
	if _, ok := h.Playbook(pos[0]); !ok {
		return a.fail(usageError{h.UnknownPlaybook(pos[0])})
	}
	rec, err := h.Run(ctx, pos[0], inputs, "manual")
	if err != nil {
		if errors.Is(err, runner.ErrBadInput) {
			return a.fail(usageError{err})
		}
		return a.fail(err) // the store or the script's compilation: exit 1
	}
	if *asJSON {
		printJSON(a.stdout, rec)
	} else {
		printRun(a.stdout, rec)
	}
	if rec.Status != runner.StatusSuccess {
		return exitFailed
	}
	return exitOK
}

func printRun(w io.Writer, r *store.Run) {
	dur := ""
	if r.Finished != nil {
		dur = " in " + r.Finished.Sub(r.Started).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "run %d  %s (version %s, %s): %s%s\n", r.ID, r.Playbook, r.Version, r.Trigger, r.Status, dur)
	for i, s := range r.Steps {
		fmt.Fprintf(w, "  %2d. %s.%-22s %-7s %8.1f ms  %s\n", i+1, s.Asset, s.Action, s.Status, s.DurationMS, s.Message)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", r.Error)
	}
	if r.Result != nil {
		b, _ := jsonCompact(r.Result)
		fmt.Fprintf(w, "  result: %s\n", b)
	}
}

func cmdRuns(ctx context.Context, a *app, args []string) int {
	fs := flag.NewFlagSet("runs", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	playbook := fs.String("playbook", "", "only runs of this playbook")
	limit := fs.Int("limit", 50, "at most N runs")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.fail(err)
	}
	showID := int64(0)
	switch {
	case len(pos) == 0:
	case len(pos) == 2 && pos[0] == "show":
		if showID, err = strconv.ParseInt(pos[1], 10, 64); err != nil || showID <= 0 {
			return a.fail(usagef("run ID must be a positive integer, got %q", pos[1]))
		}
	default:
		return a.fail(usagef("usage: goshawk runs [--playbook P] [--json] | goshawk runs show ID [--json]"))
	}
	if *limit < 1 {
		return a.fail(usagef("--limit must be positive"))
	}
	st, code := a.openConfiguredStore(ctx)
	if st == nil {
		return code
	}
	defer st.Close()
	if showID > 0 {
		r, err := st.GetRun(ctx, showID)
		if err != nil {
			return a.fail(err)
		}
		if *asJSON {
			printJSON(a.stdout, r)
		} else {
			printRun(a.stdout, &r)
		}
		return exitOK
	}
	runs, err := st.ListRuns(ctx, store.RunQuery{Playbook: *playbook, Limit: *limit})
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
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
		fmt.Fprintln(a.stdout, "no runs yet: try goshawk run PLAYBOOK")
	}
	return exitOK
}

func jsonCompact(v any) (string, error) {
	var b strings.Builder
	enc := jsonEncoder(&b)
	err := enc.Encode(v)
	return strings.TrimSpace(b.String()), err
}
