// Command goshawk runs threat-intelligence automation: ThreatConnect and
// ThreatQ connectors whose actions are Lua functions that YAML playbooks
// call, on demand, on schedules, per ingested container or by webhook.
//
// This package is only the CLI: flags, wiring and output formatting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatq"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // an action, run or validation failed
	exitUsage   = 2 // a usage or config error
	exitTimeout = 1
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv)
	stop()
	os.Exit(code)
}

// builtinProviders lists the providers this binary carries. The registry is
// built from this explicit list; nothing registers itself.
func builtinProviders() []*providers.Provider {
	return []*providers.Provider{threatconnect.Provider(), threatq.Provider()}
}

// app is one invocation of the CLI.
type app struct {
	stdout, stderr io.Writer
	rawStderr      io.Writer // for terminal detection only
	lookup         func(string) (string, bool)
	reg            *providers.Registry
	redact         *logx.Redactor
	log            *slog.Logger

	configFlag string
	logFormat  string
	verbose    bool
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, a *app, args []string) int
}

func commands() []command {
	return []command{
		{"actions", "[PROVIDER] [--json | --lua]", "list providers, their actions and parameters (--lua: type stubs for editors)", cmdActions},
		{"act", "ASSET ACTION [name=value ...] [--json]", "run one action and print its result", cmdAct},
		{"poll", "ASSET [--now] [--count N] [--json]", "ingest new indicators of an asset as containers", cmdPoll},
		{"containers", "[--asset A] [--limit N] [--after ID] [--json]", "list ingested containers", cmdContainers},
		{"container", "ID [--json]", "show one container with its artifacts", cmdContainer},
		{"run", "PLAYBOOK [name=value ...] [--json]", "run a playbook once and print its run record", cmdRun},
		{"runs", "[--playbook P] [--json] | runs show ID [--json]", "run history", cmdRuns},
		{"validate", "[PATH ...]", "lint config, playbooks, scripts and plugins", cmdValidate},
		{"serve", "", "run schedules, on_poll triggers, the watcher and the HTTP API until SIGINT/SIGTERM (JSON logs: goshawk --log-format json serve)", cmdServe},
		{"demo", "[--serve] [--dir DIR] [--listen ADDR]", "run everything against the built-in emulators", cmdDemo},
		{"version", "", "print the version", cmdVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "goshawk %s: threat-intelligence automation (ThreatConnect, ThreatQ, Lua playbooks, WASM plugins)\n\n", version)
	fmt.Fprintf(w, "Usage: goshawk [--config FILE] [--log-format text|json] [-v] COMMAND [ARGS]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(w, "\nThe config file is --config, else $GOSHAWK_CONFIG, else ./goshawk.yaml.\n")
	fmt.Fprintf(w, "Exit codes: 0 success, 1 an action, run or validation failed, 2 usage or config error.\n")
	fmt.Fprintf(w, "Start with: goshawk demo\n")
}

// run is main without the process: tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	a := &app{lookup: lookup, redact: logx.NewRedactor(), rawStderr: stderr}
	// Everything the CLI prints passes the redactor: a secret that reached a
	// message by any path still never reaches the terminal.
	a.stdout, a.stderr = a.redact.Writer(stdout), a.redact.Writer(stderr)

	fs := flag.NewFlagSet("goshawk", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&a.configFlag, "config", "", "config file")
	fs.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&a.verbose, "v", false, "verbose (debug) logs")
	help := fs.Bool("help", false, "show help")
	fs.BoolVar(help, "h", false, "show help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(a.stderr, "goshawk: %v\n\n", err)
		usage(a.stderr)
		return exitUsage
	}
	if *help || fs.NArg() == 0 {
		usage(a.stdout)
		if *help {
			return exitOK
		}
		return exitUsage
	}
	if a.logFormat != "text" && a.logFormat != "json" {
		fmt.Fprintf(a.stderr, "goshawk: --log-format must be text or json, got %q\n", a.logFormat)
		return exitUsage
	}
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	a.log = logx.New(a.stderr, a.logFormat, level, a.redact)

	reg, err := providers.NewRegistry(builtinProviders()...)
	if err != nil {
		fmt.Fprintf(a.stderr, "goshawk: %v\n", err)
		return exitFailed
	}
	a.reg = reg

	name, rest := fs.Arg(0), fs.Args()[1:]
	if name == "help" {
		usage(a.stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, a, rest)
		}
	}
	names := make([]string, 0)
	for _, c := range commands() {
		names = append(names, c.name)
	}
	msg := fmt.Sprintf("goshawk: unknown command %q", name)
	msg += hint.DidYouMean(name, names)
	fmt.Fprintf(a.stderr, "%s\nRun goshawk --help for the commands.\n", msg)
	return exitUsage
}

// loadConfig finds and loads the config. Its secrets join the redactor
// before anything else can print them.
func (a *app) loadConfig() (*config.Config, error) {
	getenv := func(k string) string { v, _ := a.lookup(k); return v }
	path := config.Find(a.configFlag, getenv)
	cfg, err := config.Load(path, a.reg, a.lookup)
	if err != nil {
		return nil, err
	}
	a.redact.Add(cfg.Secrets()...)
	return cfg, nil
}

func (a *app) stderrFile() io.Writer { return a.rawStderr }

// usageError marks an error that exits with code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// fail prints err and returns its exit code.
func (a *app) fail(err error) int {
	fmt.Fprintf(a.stderr, "goshawk: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailed
}

// configFail prints a config error: every config problem exits 2.
func (a *app) configFail(err error) int {
	fmt.Fprintf(a.stderr, "%v\n", err)
	return exitUsage
}

// parseFlags parses fs from args, allowing flags after positional
// arguments (goshawk act tc hunt_ip ip=1.2.3.4 --json).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseAssignments turns name=value arguments into a raw parameter map.
func parseAssignments(args []string) (map[string]any, error) {
	raw := make(map[string]any, len(args))
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok || name == "" {
			return nil, usagef("argument %q is not name=value", arg)
		}
		if _, dup := raw[name]; dup {
			return nil, usagef("parameter %q given twice", name)
		}
		raw[name] = value
	}
	return raw, nil
}

func cmdVersion(_ context.Context, a *app, _ []string) int {
	fmt.Fprintf(a.stdout, "goshawk %s\n", version)
	return exitOK
}
