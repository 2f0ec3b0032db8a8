package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/playbooks"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// demoConfig is the demo folder's goshawk.yaml. The emulators' addresses
// are filled in; the credentials are the emulators' own demo ones, read
// from the environment the demo sets so the file shows the ${VAR} form a
// real deployment uses.
const demoConfig = `# goshawk demo config: written by goshawk demo, pointing at its built-in
# emulators of ThreatConnect and ThreatQ.
store: goshawk.db
playbooks: playbooks
plugins: plugins
listen: %s
assets:
  tc:
    provider: threatconnect
    base_url: %s
    access_id: %s
    secret_key: ${GOSHAWK_DEMO_TC_SECRET}
    max_containers: 100
    interval_days: 7
  tq:
    provider: threatq
    url: %s
    email: %s
    password: ${GOSHAWK_DEMO_TQ_PASSWORD}
    client_id: %s
`

func cmdDemo(ctx context.Context, a *app, args []string) int {
	fset := flag.NewFlagSet("demo", flag.ContinueOnError)
	serve := fset.Bool("serve", false, "keep the HTTP API and the watcher running after the demo")
	dir := fset.String("dir", "goshawk-demo", "the demo's folder: config, store and playbooks (its store is reset)")
	listen := fset.String("listen", "127.0.0.1:8470", "with --serve: the HTTP API address")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return a.fail(err)
	}
	if len(pos) > 0 {
		return a.fail(usagef("usage: goshawk demo [--serve] [--dir DIR] [--listen ADDR]"))
	}
	out := a.stdout
	if !a.verbose {
		// The summary tells the story; per-run log lines would bury it.
		a.log = logx.New(a.stderr, a.logFormat, slog.LevelWarn, a.redact)
	}

	tc := tcfake.New(tcfake.Options{})
	defer tc.Close()
	tq := tqfake.New(tqfake.Options{})
	defer tq.Close()
	// The two platforms share some intelligence, as real ones do, so the
	// enrichment step has something to find.
	now := time.Now().UTC()
	tq.AddIndicator(tqfake.Indicator{TypeID: 15, StatusID: 1, Class: "network", Value: tcfake.SeedIPv4, Score: 9,
		Description: "C2 node seen in two campaigns", CreatedAt: now, UpdatedAt: now, TouchedAt: now,
		Sources: []tqfake.Source{{Name: "Partner Feed"}}})

	cfgPath, err := writeDemoFolder(*dir, *listen, tc.URL, tq.URL)
	if err != nil {
		return a.fail(err)
	}
	secrets := map[string]string{"GOSHAWK_DEMO_TC_SECRET": tcfake.DefaultSecretKey, "GOSHAWK_DEMO_TQ_PASSWORD": tqfake.DefaultPassword}
	outer := a.lookup
	a.lookup = func(k string) (string, bool) {
		if v, ok := secrets[k]; ok {
			return v, true
		}
		return outer(k)
	}
	a.configFlag = cfgPath
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}
	pluginNote := buildDemoPlugin(ctx, cfg.Plugins)

	h, err := host.Open(ctx, host.Options{Config: cfg, Registry: a.reg, Log: a.log, Redact: a.redact})
	if err != nil {
		return a.fail(err)
	}
	defer h.Close(context.WithoutCancel(ctx))

	fmt.Fprintf(out, "goshawk demo\n  ThreatConnect emulator  %s\n  ThreatQ emulator        %s\n  folder                  %s (config, store, playbooks)\n", tc.URL, tq.URL, filepath.Dir(cfgPath))
	if pluginNote != "" {
		fmt.Fprintf(out, "  plugins                 %s\n", pluginNote)
	}
	for _, info := range h.PlaybookInfos() {
		if info.LastError != "" {
			fmt.Fprintf(out, "  playbook %s not loaded:\n    %s\n", info.Name, strings.ReplaceAll(info.LastError, "\n", "\n    "))
		}
	}

	// 1. poll -> triage
	fmt.Fprintf(out, "\n1. poll -> triage: ingest ThreatConnect indicators as containers; poll_triage runs once per new container\n")
	h.SubscribeAll(ctx)
	res, err := h.PollAsset(ctx, "tc", false, 0)
	if err != nil {
		return a.fail(err)
	}
	if !res.OK() {
		return a.fail(fmt.Errorf("poll tc: %s", res.Message))
	}
	s := res.Summary
	fmt.Fprintf(out, "   polled tc: fetched %v, containers created %v, duplicates %v\n", s["fetched"], s["containers_created"], s["duplicates"])
	if err := h.Runner.Wait(ctx); err != nil {
		return a.fail(err)
	}
	if code := a.demoTriageSummary(ctx, out, h, tq); code != exitOK {
		return code
	}

	// 2. hunt -> enrich -> post
	fmt.Fprintf(out, "\n2. hunt -> enrich -> post: hunt in ThreatConnect, enrich from ThreatQ, post the verdict back\n")
	failed := false
	for _, in := range []map[string]any{
		{"ip": tcfake.SeedIPv4},
		{"hash": tcfake.SeedFileSHA256},
		{"domain": tcfake.SeedHost},
	} {
		rec, err := h.Run(ctx, "hunt_enrich_post", in, "manual")
		if err != nil {
			return a.fail(err)
		}
		failed = failed || rec.Status != runner.StatusSuccess
		printDemoRun(out, rec)
	}
	if _, ok := h.Playbook("triage_text"); ok {
		fmt.Fprintf(out, "\n3. triage_text: the reputation plugin (WASM) extracts defanged indicators from a report and scores them\n")
		rec, err := h.Run(ctx, "triage_text", map[string]any{"text": demoReport}, "manual")
		if err != nil {
			return a.fail(err)
		}
		failed = failed || rec.Status != runner.StatusSuccess
		printDemoRun(out, rec)
	}

	// What was written back.
	fmt.Fprintf(out, "\nposted back\n")
	for _, ind := range tc.Indicators() {
		for _, t := range ind.Tags {
			if strings.HasPrefix(t.Name, "goshawk:") {
				fmt.Fprintf(out, "   ThreatConnect  %-10s %-66s tag %s, rating %v, confidence %v\n", ind.Type, ind.Summary, t.Name, deref(ind.Rating), derefInt(ind.Confidence))
			}
		}
	}
	for _, ev := range tq.Events() {
		if strings.HasPrefix(ev.Title, "goshawk:") {
			fmt.Fprintf(out, "   ThreatQ event  #%d %q at %s\n", ev.ID, ev.Title, ev.HappenedAt.Format("2006-01-02 15:04:05"))
		}
	}
	if failed {
		fmt.Fprintln(a.stderr, "goshawk: demo: a run failed; see its error above")
		return exitFailed
	}
	if !*serve {
		fmt.Fprintf(out, "\nexplore: goshawk --config %s containers | runs | runs show ID | validate\n", cfgPath)
		fmt.Fprintf(out, "serve:   goshawk demo --serve   (HTTP API, webhooks, live reload of %s)\n", cfg.Playbooks)
		return exitOK
	}
	return a.serveHost(ctx, h, func(addr string) {
		fmt.Fprintf(out, "\nserving the HTTP API on http://%s (Ctrl-C to stop)\n", addr)
		fmt.Fprintf(out, "   curl -s -X POST 'http://%s/api/playbooks/hunt_enrich_post/run?wait=true' -d '{\"ip\":\"%s\"}'\n", addr, tcfake.SeedIPv4)
		fmt.Fprintf(out, "   curl -s http://%s/api/playbooks\n", addr)
		fmt.Fprintf(out, "   edit %s and watch it reload\n", filepath.Join(cfg.Playbooks, "hunt_enrich_post.lua"))
	})
}

// demoReport is threat-report prose with defanged indicators, as analysts
// paste it.
const demoReport = `Beaconing from 123.23.124[.]32 to hxxp://www[.]test[.]com/list/oz/ observed;
dropper AAAA30BA2F79F45ED475BA35205D6332ABF201830A4979355C53C66F3220AAAA staged by
abcxyz[@]test.com. Also seen: vclub[.]credit.`

func deref(f *float64) any {
	if f == nil {
		return "-"
	}
	return *f
}

func derefInt(i *int) any {
	if i == nil {
		return "-"
	}
	return *i
}

// writeDemoFolder lays out the demo folder: a config pointing at the
// emulators, a fresh store, and the shipped playbooks.
func writeDemoFolder(dir, listen, tcURL, tqURL string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, sub := range []string{"playbooks", "plugins"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return "", fmt.Errorf("demo folder: %w", err)
		}
	}
	for _, f := range []string{"goshawk.db", "goshawk.db-wal", "goshawk.db-shm"} {
		if err := os.Remove(filepath.Join(abs, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("demo folder: resetting the store: %w", err)
		}
	}
	err = fs.WalkDir(playbooks.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := playbooks.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(abs, "playbooks", p), b, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("demo folder: %w", err)
	}
	cfg := fmt.Sprintf(demoConfig, listen, tcURL, tcfake.DefaultAccessID, tqURL, tqfake.DefaultEmail, tqfake.DefaultClientID)
	path := filepath.Join(abs, config.FileName)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("demo folder: %w", err)
	}
	return path, nil
}

func (a *app) demoTriageSummary(ctx context.Context, out io.Writer, h *host.Host, tq *tqfake.Server) int {
	runs, err := h.Store.ListRuns(ctx, store.RunQuery{Playbook: "poll_triage", Limit: 10000})
	if err != nil {
		return a.fail(err)
	}
	byStatus := map[string]int{}
	var durs []time.Duration
	for _, r := range runs {
		byStatus[r.Status]++
		if r.Finished != nil {
			durs = append(durs, r.Finished.Sub(r.Started))
		}
	}
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	p50 := time.Duration(0)
	if len(durs) > 0 {
		p50 = durs[len(durs)/2]
	}
	fmt.Fprintf(out, "   poll_triage ran %d times: %s (median %s)\n", len(runs), countsText(byStatus), p50.Round(10*time.Microsecond))
	for _, r := range runs {
		if r.Status != runner.StatusSuccess {
			fmt.Fprintf(out, "     run %d %s: %s\n", r.ID, r.Status, r.Error)
			break
		}
	}
	cs, err := h.Store.ListContainers(ctx, store.ContainerQuery{Asset: "tc", Limit: 1000})
	if err != nil {
		return a.fail(err)
	}
	bySev := map[string]int{}
	var high []string
	for _, c := range cs {
		bySev[c.Severity]++
		if c.Severity == "high" {
			kind := ""
			if len(c.Artifacts) > 0 {
				kind = c.Artifacts[0].Name
			}
			high = append(high, fmt.Sprintf("     #%-4d %-22s %s", c.ID, kind, c.Name))
		}
	}
	fmt.Fprintf(out, "   container severities: %s\n", countsText(bySev))
	if len(high) > 0 {
		fmt.Fprintf(out, "   high severity:\n%s\n", strings.Join(high, "\n"))
	}
	created := 0
	for _, ind := range tq.Indicators() {
		for _, src := range ind.Sources {
			if src.Name == "goshawk" {
				created++
			}
		}
	}
	fmt.Fprintf(out, "   ThreatQ indicators created for high-severity containers: %d\n", created)
	return exitOK
}

func countsText(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func printDemoRun(out io.Writer, r *store.Run) {
	dur := time.Duration(0)
	if r.Finished != nil {
		dur = r.Finished.Sub(r.Started)
	}
	var in []string
	for _, k := range slices.Sorted(maps.Keys(r.Inputs)) {
		v := strings.Join(strings.Fields(fmt.Sprint(r.Inputs[k])), " ")
		if len(v) > 48 {
			v = v[:45] + "..."
		}
		in = append(in, fmt.Sprintf("%s=%s", k, v))
	}
	fmt.Fprintf(out, "   run %d %s %s: %s in %s\n", r.ID, r.Playbook, strings.Join(in, " "), r.Status, dur.Round(10*time.Microsecond))
	for i, s := range r.Steps {
		fmt.Fprintf(out, "     %d. %s.%-28s %-7s %7.2f ms  %s\n", i+1, s.Asset, s.Action, s.Status, s.DurationMS, s.Message)
	}
	if r.Error != "" {
		fmt.Fprintf(out, "     error: %s\n", r.Error)
	}
	if m, ok := r.Result.(map[string]any); ok {
		if v, ok := m["verdict"]; ok {
			fmt.Fprintf(out, "     verdict %v, rating %v, confidence %v\n", v, m["rating"], m["confidence"])
		}
		if list, ok := m["indicators"].([]any); ok {
			for _, item := range list {
				if ind, ok := item.(map[string]any); ok {
					fmt.Fprintf(out, "     %-10v %-7v %-50v rating %v, confidence %v\n", ind["verdict"], ind["kind"], ind["indicator"], ind["rating"], ind["confidence"])
				}
			}
		}
	}
}
