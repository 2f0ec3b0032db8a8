package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/playtest"
)

// cmdValidate lints without touching the network: the config, every
// playbook (YAML, Lua and each asset.action{...} call against the
// connector specs) and every plugin (WASM compile and ABI). With no PATH it
// checks the config and its playbooks and plugins folders.
func cmdValidate(ctx context.Context, a *app, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return a.fail(err)
	}
	// Every problem is a diagnostic, carried from the decoder as is; an
	// error without a position becomes one with its text.
	var problems []diag.Diagnostic
	report := func(err error) { problems = append(problems, diag.From(err)...) }

	var yamls, dirs, wasms, luas []string
	cfgPath := ""
	for _, p := range pos {
		fi, err := os.Stat(p)
		if err != nil {
			report(fmt.Errorf("%s: %v", p, errors.Unwrap(err)))
			continue
		}
		if fi.IsDir() {
			if _, err := os.Stat(filepath.Join(p, config.FileName)); err == nil {
				cfgPath = filepath.Join(p, config.FileName)
			}
			w, _ := filepath.Glob(filepath.Join(p, "*.wasm"))
			dirs, wasms = append(dirs, p), append(wasms, w...)
			continue
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".wasm":
			wasms = append(wasms, p)
		case ".lua":
			luas = append(luas, p)
		case ".yaml", ".yml":
			if filepath.Base(p) == config.FileName {
				cfgPath = p
			} else {
				yamls = append(yamls, p)
			}
		default:
			report(fmt.Errorf("%s: not a config (.yaml), playbook (.yaml), script (.lua) or plugin (.wasm)", p))
		}
	}

	// The config gives lint its assets. Without PATHs it is the config in
	// force, and its folders are checked too.
	var cfg *config.Config
	if len(pos) == 0 || cfgPath != "" {
		if cfgPath != "" {
			a.configFlag = cfgPath
		}
		cfg, err = a.loadConfig()
		if err != nil {
			report(err)
		} else {
			// What serve would refuse, validate reports: one set of rules.
			problems = append(problems, cfg.Warnings...)
			problems = append(problems, cfg.ServeProblems()...)
			if len(pos) == 0 {
				w, _ := filepath.Glob(filepath.Join(cfg.Plugins, "*.wasm"))
				dirs, wasms = []string{cfg.Playbooks}, w
			}
		}
	} else if c, err := a.loadConfig(); err == nil {
		cfg = c // lint against the config in force when there is one
	}

	plugins, err := wasm.NewHost(ctx, wasm.Options{})
	if err != nil {
		return a.fail(err)
	}
	defer plugins.Close(ctx)
	sort.Strings(wasms)
	for _, w := range wasms {
		if err := plugins.Load(ctx, w); err != nil {
			report(err)
		}
	}
	if cfg != nil && (len(pos) == 0 || cfgPath != "") {
		var loaded []string
		w, _ := filepath.Glob(filepath.Join(cfg.Plugins, "*.wasm"))
		for _, f := range w {
			loaded = append(loaded, strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)))
		}
		problems = append(problems, cfg.CheckPluginLimits(loaded)...)
	}
	for _, l := range luas {
		src, err := os.ReadFile(l)
		if err != nil {
			report(err)
			continue
		}
		if _, err := lua.Compile(l, src); err != nil {
			report(err)
		}
	}
	var env *playbook.Env
	if cfg != nil {
		env = host.LintEnv(cfg, plugins)
	}
	books, tests := 0, 0
	var diags []diag.Diagnostic
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue // a config whose playbooks folder doesn't exist yet has none
		}
		pbs, ds := playbook.LoadDir(d, env)
		books += len(pbs)
		diags = append(diags, ds...)
		files, _ := playtest.Find([]string{d})
		tests += len(files)
		diags = append(diags, lintTests(files, pbs, cfg)...)
	}
	sort.Strings(yamls)
	for _, y := range yamls {
		if playtest.IsTestFile(y) {
			pbs, _ := playbook.LoadDir(filepath.Dir(y), env)
			tests++
			diags = append(diags, lintTests([]string{y}, pbs, cfg)...)
			continue
		}
		pb, ds := playbook.Load(y, env)
		if pb != nil && len(ds) == 0 {
			books++
		}
		diags = append(diags, ds...)
	}
	problems = append(problems, diags...)
	errs := 0
	for _, p := range problems {
		fmt.Fprintln(a.stdout, p)
		if !p.IsWarning() {
			errs++
		}
	}
	if errs > 0 {
		fmt.Fprintf(a.stderr, "goshawk: validate found %d problem(s)\n", errs)
		return exitFailed
	}
	what := []string{}
	if cfg != nil {
		what = append(what, "config "+cfg.File)
	}
	what = append(what, fmt.Sprintf("%d playbook(s)", books), fmt.Sprintf("%d plugin(s)", len(wasms)))
	if len(luas) > 0 {
		what = append(what, fmt.Sprintf("%d script(s)", len(luas)))
	}
	if tests > 0 {
		what = append(what, fmt.Sprintf("%d test file(s)", tests))
	}
	if warns := len(problems); warns > 0 {
		what = append(what, fmt.Sprintf("%d warning(s)", warns))
	}
	fmt.Fprintf(a.stdout, "ok: %s\n", strings.Join(what, ", "))
	return exitOK
}

// lintTests checks test files against the playbooks beside them and the
// config's assets (without a config, only their form is checked).
func lintTests(files []string, books map[string]*playbook.Playbook, cfg *config.Config) []diag.Diagnostic {
	var env *playtest.Env
	if cfg != nil {
		env = &playtest.Env{Playbooks: books, Assets: cfg.Providers()}
	}
	var out []diag.Diagnostic
	for _, f := range files {
		_, ds := playtest.Load(f, env)
		out = append(out, ds...)
	}
	return out
}
