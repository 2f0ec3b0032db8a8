package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/playtest"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

type testFlags struct {
	asJSON bool
	run    string
}

func (a *app) testCommand() *cobra.Command {
	var f testFlags
	c := &cobra.Command{
		Use:   "test [PATH ...]",
		Short: "run playbook tests offline, from recorded action results",
		Long: `Run the playbook tests in PATH: test files (NAME_test.yaml, beside the
playbook they test) or folders of them; without PATH, the config's playbooks
folder. Every action call is answered from the case's recording, so tests
need no network and no secrets: assets are never opened. Plugins run for real.

Each case prints PASS or FAIL; a failure gives the file:line of the
expectation and what differs; with -v, the failing run's record too. The
last line is "N passed, N failed".
Exit 1 when a case fails or a test file is malformed.

Record cases from real runs with goshawk runs save ID. See docs/testing.md.`,
		Example: "  goshawk test\n  goshawk test playbooks/hunt_enrich_post_test.yaml\n  goshawk test --run 'hunt_enrich_post/malicious' -v\n  goshawk test --json",
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdTest(ctx, a, pos, f)
		}),
	}
	c.Flags().BoolVar(&f.asJSON, "json", false, "print the results as JSON")
	c.Flags().StringVar(&f.run, "run", "", "run only the cases whose PLAYBOOK/CASE name matches this regular expression")
	return c
}

// testResult is one case in --json output.
type testResult struct {
	File       string   `json:"file"`
	Case       string   `json:"case"`
	Line       int      `json:"line"`
	Status     string   `json:"status"` // pass | fail
	Failures   []string `json:"failures,omitempty"`
	DurationMS float64  `json:"duration_ms"`
	RunStatus  string   `json:"run_status,omitempty"`
	RunError   string   `json:"run_error,omitempty"`
}

func cmdTest(ctx context.Context, a *app, pos []string, f testFlags) int {
	var filter *regexp.Regexp
	if f.run != "" {
		re, err := regexp.Compile(f.run)
		if err != nil {
			return a.fail(usagef("--run: %v", err))
		}
		filter = re
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	if len(pos) == 0 {
		pos = []string{relPath(cfg.Playbooks)}
	}
	files, err := playtest.Find(pos)
	if err != nil {
		return a.fail(usageError{err})
	}
	plugins, err := openPlugins(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer plugins.Close(context.WithoutCancel(ctx))
	assets := cfg.Providers()
	lintEnv := host.LintEnv(cfg, plugins)

	var results []testResult
	passed, failed := 0, 0
	books := map[string]map[string]*playbook.Playbook{} // by folder
	for _, file := range files {
		dir := filepath.Dir(file)
		pbs, ok := books[dir]
		if !ok {
			var diags []playbook.Diagnostic
			pbs, diags = playbook.LoadDir(dir, lintEnv)
			for _, d := range diags {
				fmt.Fprintf(a.stderr, "%s\n", d)
			}
			books[dir] = pbs
		}
		tf, diags := playtest.Load(file, &playtest.Env{Playbooks: pbs, Assets: assets})
		if len(diags) > 0 {
			failed++
			var msgs []string
			for _, d := range diags {
				msgs = append(msgs, d.String())
			}
			results = append(results, testResult{File: file, Status: "fail", Failures: msgs})
			if !f.asJSON {
				fmt.Fprintf(a.stdout, "--- FAIL: %s (the test file is malformed)\n", file)
				for _, m := range msgs {
					fmt.Fprintf(a.stdout, "    %s\n", m)
				}
			}
			continue
		}
		suite := &playtest.Suite{Assets: assets, Playbooks: pbs, Plugins: plugins, Redact: a.redact, Log: testLog(a)}
		for _, r := range suite.Run(ctx, tf, filter) {
			tr := testResult{File: r.File, Case: r.Case, Line: r.Line, Status: "pass", DurationMS: float64(r.Duration.Microseconds()) / 1000}
			if r.Run != nil {
				tr.RunStatus, tr.RunError = r.Run.Status, r.Run.Error
			}
			for _, fl := range r.Failures {
				tr.Failures = append(tr.Failures, fl.String())
			}
			if r.Passed {
				passed++
			} else {
				tr.Status = "fail"
				failed++
			}
			results = append(results, tr)
			if !f.asJSON {
				printCase(a.stdout, tf.Playbook, r, a.verbose)
			}
		}
		suite.Close()
	}
	if f.asJSON {
		if results == nil {
			results = []testResult{}
		}
		printJSON(a.stdout, map[string]any{"cases": results, "passed": passed, "failed": failed})
	} else {
		if passed+failed == 0 {
			fmt.Fprintf(a.stdout, "no test cases found in %s; record one with goshawk runs save ID\n", strings.Join(pos, ", "))
		}
		fmt.Fprintf(a.stdout, "%d passed, %d failed\n", passed, failed)
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

func printCase(w io.Writer, pb string, r playtest.Result, verbose bool) {
	dur := r.Duration.Round(10 * time.Microsecond)
	if r.Passed {
		fmt.Fprintf(w, "--- PASS: %s/%s (%s)\n", pb, r.Case, dur)
		return
	}
	fmt.Fprintf(w, "--- FAIL: %s/%s (%s)\n", pb, r.Case, dur)
	for _, f := range r.Failures {
		fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(f.String(), "\n", "\n    "))
	}
	if verbose && r.Run != nil {
		var b strings.Builder
		printRun(&b, r.Run)
		fmt.Fprintf(w, "    run record:\n      %s\n", strings.ReplaceAll(strings.TrimRight(b.String(), "\n"), "\n", "\n      "))
	}
}

// openPlugins loads the configured plugins for commands that run playbooks
// without opening assets.
func openPlugins(ctx context.Context, cfg *config.Config) (*wasm.Host, error) {
	return host.OpenPlugins(ctx, cfg, "", nil, nil)
}

func (a *app) runsSaveCommand() *cobra.Command {
	var to, name string
	c := &cobra.Command{
		Use:   "save ID",
		Short: "save a run as a playbook test case",
		Long: `Save a finished run as a test case: its inputs (or its container, for an
on_poll run), the parameters and result of every step as the recording, its
start time as the case's clock, and its outcome (status, result or error,
and the steps) as the expectation. The case is added to --to, by default
PLAYBOOK_test.yaml beside the playbook; the file is created when missing.
goshawk test then replays the run offline. Reads only the store: needs no
secrets.`,
		Example: "  goshawk runs save 42\n  goshawk runs save 42 --name 'malicious ip' --to playbooks/hunt_enrich_post_test.yaml",
		Args:    argsBetween(1, 1),
		RunE: body(func(ctx context.Context, pos []string) int {
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil || id <= 0 {
				return a.fail(usagef("run ID must be a positive integer, got %q", pos[0]))
			}
			return cmdRunsSave(ctx, a, id, to, name)
		}),
	}
	c.Flags().StringVar(&to, "to", "", "test file to add the case to (default: PLAYBOOK_test.yaml in the playbooks folder)")
	c.Flags().StringVar(&name, "name", "", `name of the case (default "run ID")`)
	return c
}

func cmdRunsSave(ctx context.Context, a *app, id int64, to, name string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer st.Close()
	rec, err := st.GetRun(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return a.fail(usagef("no run %d in %s; list runs with goshawk runs", id, cfg.Store))
		}
		return a.fail(err)
	}
	var container *cef.Container
	if rec.ContainerID != 0 {
		c, err := st.Container(ctx, rec.ContainerID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return a.fail(err)
		}
		if err == nil {
			container = &c
		}
	}
	node, err := playtest.SaveRun(&rec, name, container)
	if err != nil {
		return a.fail(err)
	}
	if to == "" {
		to = filepath.Join(relPath(cfg.Playbooks), testFileName(cfg.Playbooks, rec.Playbook))
	}
	if err := playtest.AppendCase(to, rec.Playbook, node); err != nil {
		return a.fail(err)
	}
	if name == "" {
		name = fmt.Sprintf("run %d", id)
	}
	fmt.Fprintf(a.stdout, "saved run %d (%s, %s) as case %q in %s\nreplay it offline: goshawk test %s\n", id, rec.Playbook, rec.Status, name, to, to)
	return exitOK
}

// testFileName is the test file of the named playbook: beside the
// playbook's own file when it is found (the file name may differ from the
// playbook's name), else NAME_test.yaml.
func testFileName(dir, name string) string {
	books, _ := playbook.LoadDir(dir, nil)
	if pb, ok := books[name]; ok {
		return strings.TrimSuffix(filepath.Base(pb.File), playbook.Ext) + playtest.Suffix
	}
	return name + playtest.Suffix
}

// testLog is the logger of test runs: their log lines are in each case's
// run record, so they reach the terminal only with -v.
func testLog(a *app) *slog.Logger {
	if a.verbose {
		return a.log
	}
	return nil
}

// relPath shows a path below the working folder relative to it, as a user
// would type it; others stay as they are.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return rel
}
