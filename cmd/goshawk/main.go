// Command goshawk runs threat-intelligence automation: ThreatConnect and
// ThreatQ connectors whose actions are Lua functions that YAML playbooks
// call, on demand, on schedules, per ingested container or by webhook.
//
// This package is only the CLI: commands and flags (cobra), wiring and
// output formatting.
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
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatq"
)

// version and commit can be set at build time with
// -ldflags "-X main.version=... -X main.commit=...". Otherwise they come
// from the build info the Go toolchain records (go install ...@v1.2.3, or
// the VCS revision of a build in a checkout).
var (
	version = "0.1.0-dev"
	commit  = ""
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // an action, run or validation failed
	exitUsage  = 2 // a usage or config error
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

// exitError ends a command with an exit code once the command has printed
// why. Every other error a command tree returns is a usage error (an
// unknown command or flag, a wrong number of arguments): exit 2.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run is main without the process: tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	a := &app{lookup: lookup, redact: logx.NewRedactor(), rawStderr: stderr}
	// Everything the CLI prints passes the redactor: a secret that reached a
	// message by any path still never reaches the terminal.
	a.stdout, a.stderr = a.redact.Writer(stdout), a.redact.Writer(stderr)
	// A logger exists before any flag is parsed, so a command never finds
	// it nil; the root's pre-run replaces it with the one the flags ask for.
	a.log = logx.New(a.stderr, "text", slog.LevelInfo, a.redact)

	root := a.rootCommand()
	root.SetArgs(longFlagsSingleDash(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(a.stderr, "goshawk: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return exitUsage
}

const rootLong = `goshawk runs threat-intelligence automation: ThreatConnect and ThreatQ
connectors whose actions are Lua functions that YAML playbooks call, on
demand, on schedules, per ingested container or by webhook; WASM plugins add
sandboxed code.

The config file is --config, else $GOSHAWK_CONFIG, else ./goshawk.yaml.
Global flags (--config, --log-format, -v) go before or after the command.
Secrets are needed only where an asset is used: act and poll need those of
the asset they name, run those of the assets its playbook declares; serve
starts without an asset whose secrets are unset (the playbooks that call it
fail, naming the variable); runs, containers, container, actions, validate,
test and prune need none.

Exit codes: 0 success, 1 an action, run or validation failed, 2 usage or
config error.`

// rootCommand builds the command tree of one invocation.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:     "goshawk",
		Short:   "threat-intelligence automation (ThreatConnect, ThreatQ, Lua playbooks, WASM plugins)",
		Long:    rootLong,
		Example: "  goshawk demo\n  goshawk --config site/goshawk.yaml validate\n  goshawk act tc hunt_ip ip=1.2.3.4 --json\n  goshawk help run",
		Version: versionText(),
		// The command prints its own errors with its exit code.
		SilenceErrors: true,
		SilenceUsage:  true,
		// goshawk alone lists the commands and exits 2; an unknown command
		// says so with a did-you-mean.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return unknownCommand(cmd, args[0])
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			cmd.Usage()
			return exitError{exitUsage}
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setup()
		},
	}
	root.SetVersionTemplate("goshawk {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFlag, "config", "", "config file (default $GOSHAWK_CONFIG, else ./goshawk.yaml)")
	pf.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVarP(&a.verbose, "verbose", "v", false, "verbose: debug logs, and each step's data in printed run records")
	root.Flags().Bool("version", false, "print the version, commit and Go version")
	root.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]cobra.Completion{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))

	root.AddCommand(
		a.actionsCommand(),
		a.actCommand(),
		a.pollCommand(),
		a.containersCommand(),
		a.containerCommand(),
		a.runCommand(),
		a.runsCommand(),
		a.validateCommand(),
		a.testCommand(),
		a.serveCommand(),
		a.demoCommand(),
		a.emulateCommand(),
		a.pruneCommand(),
		a.versionCommand(),
	)
	root.SetHelpCommand(helpCommand())
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	// The completion commands are cobra's; they get examples like the rest.
	// (After SetOut: they capture the output when they are made.)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = "  source <(goshawk completion bash)\n  goshawk completion zsh > \"${fpath[1]}/_goshawk\"\n  goshawk completion fish > ~/.config/fish/completions/goshawk.fish"
		for _, sh := range c.Commands() {
			sh.Example = "  goshawk completion " + sh.Name()
		}
	}
	return root
}

// longFlagsSingleDash rewrites -name and -name=value into --name and
// --name=value when name is a long flag of the command tree: the CLI
// before cobra parsed its flags with the standard flag package, which takes
// both forms, and scripts written for it (goshawk -config x runs -json)
// keep working. A shorthand (-v), a negative number and anything after --
// are left alone.
func longFlagsSingleDash(root *cobra.Command, args []string) []string {
	long := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, len(args))
	for i, arg := range args {
		out[i] = arg
		if arg == "--" {
			copy(out[i:], args[i:])
			break
		}
		if len(arg) > 2 && arg[0] == '-' && arg[1] != '-' {
			name, _, _ := strings.Cut(arg[1:], "=")
			if len(name) > 1 && long[name] {
				out[i] = "-" + arg
			}
		}
	}
	return out
}

// helpCommand is goshawk help [CMD ...]: the help of that command, as
// goshawk CMD --help prints it. Unlike cobra's own, an unknown command is
// a usage error with a did-you-mean, not the root's help.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "print the help of a command",
		Long:    "Print the usage, flags and examples of a command, as goshawk COMMAND --help does; with no command, the list of commands.",
		Example: "  goshawk help\n  goshawk help run\n  goshawk help runs show",
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			target, _, err := c.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range target.Commands() {
				if sub.IsAvailableCommand() && sub.Name() != "help" {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest[0])
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

// setup checks the global flags and builds the logger and the registry.
func (a *app) setup() error {
	if a.logFormat != "text" && a.logFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, got %q", a.logFormat)
	}
	level := slog.LevelInfo
	if a.verbose {
		level = slog.LevelDebug
	}
	a.log = logx.New(a.stderr, a.logFormat, level, a.redact)
	reg, err := providers.NewRegistry(builtinProviders()...)
	if err != nil {
		fmt.Fprintf(a.stderr, "goshawk: %v\n", err)
		return exitError{exitFailed}
	}
	a.reg = reg
	return nil
}

func unknownCommand(root *cobra.Command, name string) error {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	msg := fmt.Sprintf("unknown command %q", name)
	msg += hint.DidYouMean(name, names)
	return errors.New(msg)
}

// body adapts a command body that prints its own errors and returns an
// exit code to cobra.
func body(f func(ctx context.Context, args []string) int) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if code := f(cmd.Context(), args); code != exitOK {
			return exitError{code}
		}
		return nil
	}
}

// argsBetween accepts min to max positional arguments (max < 0: any
// number); anything else is a usage error that shows the usage line.
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= min && (max < 0 || len(args) <= max) {
			return nil
		}
		return fmt.Errorf("wrong number of arguments (%d); usage: %s", len(args), cmd.UseLine())
	}
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

// requireAssets names each of the given assets whose secrets are unset:
// run checks the assets its playbook declares before the run starts.
func requireAssets(cfg *config.Config, names []string) error {
	var errs []error
	for _, name := range names {
		if as, ok := cfg.Assets[name]; ok {
			if err := as.Ready(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
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
// arguments. Commands declare their flags on their cobra command; a body
// that still has a flag set of its own (validate) parses what is left.
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

// buildInfo is what --version and goshawk version print.
type buildInfo struct {
	Version, Commit, Go string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Commit == "" {
			b.Commit = "unknown"
		}
		return b
	}
	b.Go = bi.GoVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
	// go install github.com/goshawk/goshawk/cmd/goshawk@v1.2.3 records the
	// module version; a build in a checkout records (devel).
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" && version == "0.1.0-dev" {
		b.Version = mv
	}
	if b.Commit == "" {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		switch {
		case rev != "":
			b.Commit = rev
			if modified == "true" {
				b.Commit += " (modified)"
			}
		case pseudoCommit(bi.Main.Version) != "":
			b.Commit = pseudoCommit(bi.Main.Version)
		default:
			b.Commit = "unknown"
		}
	}
	return b
}

// pseudoCommit returns the commit prefix of a pseudo-version such as
// v0.0.0-20260101120000-abcdef123456, or "".
func pseudoCommit(v string) string {
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 {
		return ""
	}
	h := v[i+1:]
	for _, r := range h {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return ""
		}
	}
	return h
}

// versionText is the version block: version, commit and Go version.
func versionText() string {
	b := readBuildInfo()
	return fmt.Sprintf("%s\ncommit %s\n%s", b.Version, b.Commit, b.Go)
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print the version, commit and Go version",
		Long:    "Print the version, the commit it was built from and the Go toolchain, from the binary's build info.",
		Example: "  goshawk version\n  goshawk --version",
		Args:    argsBetween(0, 0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "goshawk %s\n", versionText())
			return nil
		},
	}
}

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [PATH ...]",
		Short: "lint config, playbooks, scripts and plugins",
		Long: `Lint without touching the network: the config, every playbook (YAML, Lua,
and each asset.action{...} call against the connector specs) and every
plugin (WASM compile and ABI). With no PATH it checks the config in force
and its playbooks and plugins folders; a PATH is a folder, a config, a
playbook (.yaml), a script (.lua) or a plugin (.wasm). Each problem is
printed as file:line:col: message. Needs no secrets: an unset ${VAR} is
a warning (file:line:col: warning: ...), and warnings don't fail. The
listen and api_token rules are serve's own, so what serve would refuse,
validate reports.

Exits 1 when a problem is found.`,
		Example: "  goshawk validate\n  goshawk --config site/goshawk.yaml validate\n  goshawk validate playbooks/hunt_enrich_post.yaml plugins/reputation.wasm",
		RunE: body(func(ctx context.Context, pos []string) int {
			return cmdValidate(ctx, a, pos)
		}),
	}
}

// completeAssets completes an asset name from the config, then (for act)
// an action of that asset's provider.
func (a *app) completeAssets(withAction bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if a.reg == nil && a.setup() != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := a.loadConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		switch {
		case len(args) == 0:
			return cfg.AssetNames(), cobra.ShellCompDirectiveNoFileComp
		case len(args) == 1 && withAction:
			as, ok := cfg.Assets[args[0]]
			if !ok {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, s := range as.Provider.Actions {
				out = append(out, cobra.CompletionWithDesc(s.Name, s.Summary))
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeProviders completes a provider name.
func (a *app) completeProviders(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 || (a.reg == nil && a.setup() != nil) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return a.reg.Names(), cobra.ShellCompDirectiveNoFileComp
}

// completePlaybooks completes a playbook name from the config's playbooks
// folder: each YAML file's name: key, else its file name.
func (a *app) completePlaybooks(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 || (a.reg == nil && a.setup() != nil) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		files, _ := filepath.Glob(filepath.Join(cfg.Playbooks, pattern))
		for _, f := range files {
			base := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
			if strings.HasSuffix(base, "_test") {
				continue // a playbook's tests (goshawk test)
			}
			if b, err := os.ReadFile(f); err == nil {
				if m := playbookNameRE.FindSubmatch(b); m != nil {
					base = string(m[1])
				}
			}
			out = append(out, base)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

var playbookNameRE = regexp.MustCompile(`(?m)^name:[ \t]*["']?([A-Za-z0-9][A-Za-z0-9._-]*)`)
