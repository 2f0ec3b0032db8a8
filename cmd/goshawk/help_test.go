package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/goshawk/goshawk/engine/logx"
)

func noEnv(string) (string, bool) { return "", false }

// runCLI runs the CLI in-process with an empty environment.
func runCLI(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, noEnv)
	return out.String(), errb.String(), code
}

// allCommands walks the command tree every invocation builds.
func allCommands() []*cobra.Command {
	a := &app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, lookup: noEnv, redact: logx.NewRedactor()}
	root := a.rootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		out = append(out, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	return out
}

// TestEveryCommandHasHelp enumerates the command tree, so a new command
// cannot ship without help: `goshawk CMD --help` and `goshawk help CMD`
// exit 0 and print the usage line, every flag of the command (its own and
// the global ones) with its description, and an example.
func TestEveryCommandHasHelp(t *testing.T) {
	cmds := allCommands()
	if len(cmds) < 12 {
		t.Fatalf("only %d commands found", len(cmds))
	}
	for _, c := range cmds {
		path := strings.Fields(c.CommandPath())[1:] // without "goshawk"
		t.Run(strings.Join(append([]string{"goshawk"}, path...), " "), func(t *testing.T) {
			if c.Short == "" {
				t.Errorf("no short description")
			}
			variants := [][]string{append(append([]string{}, path...), "--help")}
			if len(path) > 0 && c.Name() != "help" {
				variants = append(variants, append([]string{"help"}, path...))
			}
			for _, args := range variants {
				out, errOut, code := runCLI(args...)
				if code != exitOK {
					t.Fatalf("goshawk %s exited %d: %s", strings.Join(args, " "), code, errOut)
				}
				usage := c.UseLine()
				if !c.Runnable() {
					usage = c.CommandPath() + " [command]"
				}
				if !strings.Contains(out, "Usage:") || !strings.Contains(out, usage) {
					t.Errorf("goshawk %s: no usage line %q:\n%s", strings.Join(args, " "), usage, out)
				}
				if c.Runnable() && c.Name() != "help" && (c.Example == "" || !strings.Contains(out, "Examples:")) {
					t.Errorf("goshawk %s: no example:\n%s", strings.Join(args, " "), out)
				}
				check := func(f *pflag.Flag) {
					if f.Hidden {
						return
					}
					if f.Usage == "" {
						t.Errorf("flag --%s has no description", f.Name)
					}
					if !strings.Contains(out, "--"+f.Name) || !strings.Contains(out, f.Usage) {
						t.Errorf("goshawk %s does not list --%s (%s):\n%s", strings.Join(args, " "), f.Name, f.Usage, out)
					}
				}
				c.LocalFlags().VisitAll(check)
				c.InheritedFlags().VisitAll(check)
			}
		})
	}
}

// TestCommandsOfRecord fails when a command disappears: every command and
// flag of the earlier CLI keeps working.
func TestCommandsOfRecord(t *testing.T) {
	want := map[string][]string{
		"actions":    {"json", "lua"},
		"act":        {"json"},
		"poll":       {"json", "now", "count"},
		"containers": {"json", "asset", "limit", "after"},
		"container":  {"json"},
		"run":        {"json", "container"},
		"runs":       {"json", "playbook", "limit", "status", "trigger", "since", "until"},
		"runs show":  {"json"},
		"validate":   {},
		"serve":      {},
		"demo":       {"serve", "dir", "listen", "force"},
		"emulate":    {"tc-listen", "tq-listen"},
		"prune":      {"dry-run", "json"},
		"version":    {},
		"completion": {},
	}
	have := map[string]*cobra.Command{}
	for _, c := range allCommands() {
		have[strings.TrimPrefix(c.CommandPath(), "goshawk ")] = c
	}
	for name, flags := range want {
		c, ok := have[name]
		if !ok {
			t.Errorf("command %q is gone", name)
			continue
		}
		for _, f := range append(flags, "config", "log-format", "verbose") {
			if c.Flags().Lookup(f) == nil && c.InheritedFlags().Lookup(f) == nil {
				t.Errorf("goshawk %s lost --%s", name, f)
			}
		}
	}
}

func TestRootHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		out, errOut, code := runCLI(args...)
		if code != exitOK || !strings.Contains(out, "Available Commands:") || !strings.Contains(out, "demo") {
			t.Errorf("goshawk %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	// goshawk alone lists the commands, as a usage error.
	if _, errOut, code := runCLI(); code != exitUsage || !strings.Contains(errOut, "Available Commands:") {
		t.Errorf("goshawk alone: exit %d\n%s", code, errOut)
	}
	want := regexp.MustCompile(`(?m)^goshawk \S+\ncommit \S+.*\n` + regexp.QuoteMeta(runtime.Version()) + ` ` + runtime.GOOS + `/` + runtime.GOARCH + `\n$`)
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v", "version"}} {
		out, errOut, code := runCLI(args...)
		if code != exitOK || !want.MatchString(out) {
			t.Errorf("goshawk %v: exit %d, output %q, want version, commit and Go version%s", args, code, out, errOut)
		}
	}
}

func TestUnknownCommandAndFlag(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"contaners"}, `unknown command "contaners"; did you mean "containers"?`},
		{[]string{"help", "contaners"}, `unknown command "contaners"; did you mean "containers"?`},
		{[]string{"help", "runs", "shw"}, `unknown command "shw"; did you mean "show"?`},
		{[]string{"runs", "--staus", "failed"}, `unknown flag: --staus`},
		{[]string{"poll", "tc", "--count", "x"}, `invalid argument "x" for "--count"`},
		{[]string{"container"}, `usage: goshawk container ID`},
		{[]string{"runs", "show"}, `usage: goshawk runs show ID`},
		{[]string{"serve", "extra"}, `usage: goshawk serve`},
		{[]string{"--log-format", "xml", "version"}, `--log-format must be text or json, got "xml"`},
		{[]string{"version", "--log-format", "xml"}, `--log-format must be text or json, got "xml"`},
	}
	for _, c := range cases {
		_, errOut, code := runCLI(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "--help' for usage") {
			t.Errorf("goshawk %v: exit %d, stderr %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// TestSingleDashLongFlags: the flag package the CLI used before took
// -name as well as --name; scripts that use it keep working.
func TestSingleDashLongFlags(t *testing.T) {
	missing := "/nonexistent/goshawk.yaml"
	for _, args := range [][]string{
		{"-config", missing, "runs", "-json"},
		{"runs", "-config=" + missing, "-log-format", "json", "-limit", "5"},
	} {
		_, errOut, code := runCLI(args...)
		if code != exitUsage || !strings.Contains(errOut, missing) || strings.Contains(errOut, "unknown") {
			t.Errorf("goshawk %v: exit %d, stderr %q; want the config %s named", args, code, errOut, missing)
		}
	}
	got := longFlagsSingleDash(allCommands()[0], []string{"-v", "act", "tc", "hunt_ip", "ip=-x", "-json", "-5", "-nosuch", "--", "-json"})
	want := []string{"-v", "act", "tc", "hunt_ip", "ip=-x", "--json", "-5", "-nosuch", "--", "-json"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rewritten %q, want %q", got, want)
	}
}

// TestGlobalFlagsAnywhere: --config, --log-format and -v work before or
// after the command.
func TestGlobalFlagsAnywhere(t *testing.T) {
	missing := "/nonexistent/goshawk.yaml"
	for _, args := range [][]string{
		{"--config", missing, "runs"},
		{"runs", "--config", missing},
		{"runs", "--config=" + missing, "--log-format", "json", "-v"},
		{"-v", "--log-format=json", "containers", "--config", missing},
	} {
		_, errOut, code := runCLI(args...)
		if code != exitUsage || !strings.Contains(errOut, missing) {
			t.Errorf("goshawk %v: exit %d, stderr %q; want the config %s named", args, code, errOut, missing)
		}
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "bash completion", "zsh": "#compdef goshawk", "fish": "complete -c goshawk"} {
		out, errOut, code := runCLI("completion", shell)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, %s, output lacks %q", shell, code, errOut, want)
		}
	}
	// The completion of commands runs through the same tree.
	out, _, code := runCLI("__complete", "con")
	if code != exitOK || !strings.Contains(out, "containers") || !strings.Contains(out, "container\t") {
		t.Errorf("__complete con: %d\n%s", code, out)
	}
	// Providers, the config's assets and their actions, and flag values.
	cfg := filepath.Join(t.TempDir(), "goshawk.yaml")
	writeTestFile(t, filepath.Join(filepath.Dir(cfg), "playbooks", "one.yaml"), "name: named_in_file\nlua: return 1\n")
	writeTestFile(t, filepath.Join(filepath.Dir(cfg), "playbooks", "by_file_name.yaml"), "lua: return 1\n")
	writeTestFile(t, filepath.Join(filepath.Dir(cfg), "playbooks", "by_file_name_test.yaml"), "cases: []\n")
	writeTestFile(t, cfg, "assets:\n  tc:\n    provider: threatconnect\n    base_url: http://127.0.0.1:1\n    access_id: x\n    secret_key: ${UNSET_SECRET}\n")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"actions", ""}, []string{"threatconnect\n", "threatq\n"}},
		{[]string{"--config", cfg, "act", ""}, []string{"tc\n"}},
		{[]string{"act", "--config", cfg, "tc", "hunt_"}, []string{"hunt_ip\t", "hunt_domain\t"}},
		{[]string{"--config", cfg, "poll", ""}, []string{"tc\n"}},
		{[]string{"runs", "--log-format", ""}, []string{"text\n", "json\n"}},
		{[]string{"--config", cfg, "run", ""}, []string{"named_in_file\n", "by_file_name\n"}},
	} {
		out, _, code := runCLI(append([]string{"__complete"}, c.args...)...)
		if strings.Contains(out, "_test") {
			t.Errorf("__complete %v offers a test file:\n%s", c.args, out)
		}
		for _, w := range c.want {
			if code != exitOK || !strings.Contains(out, w) {
				t.Errorf("__complete %v: exit %d, lacks %q:\n%s", c.args, code, w, out)
			}
		}
	}
}
