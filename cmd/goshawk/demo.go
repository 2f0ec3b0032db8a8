package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
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

const defaultDemoDir = "goshawk-demo"

type demoFlags struct {
	serve, force bool
	dir, listen  string
}

func (a *app) demoCommand() *cobra.Command {
	var f demoFlags
	c := &cobra.Command{
		Use:   "demo",
		Short: "run everything against the built-in emulators",
		Long: `Start the built-in emulators of ThreatConnect and ThreatQ with sample data,
write a demo folder (config, a fresh store, the shipped playbooks and the
reputation plugin), then poll, triage, hunt, enrich and post, and print what
happened. Needs nothing but this binary.

Re-running it resets the store and rewrites the files it wrote before; a
file you changed since is kept unless --force. With --serve the HTTP API and
the file watcher keep running afterwards (the listen address is checked
first), until Ctrl-C.`,
		Example: "  goshawk demo\n  goshawk demo --serve\n  goshawk demo --dir /tmp/gd --serve --listen 127.0.0.1:9000",
		Args:    argsBetween(0, 0),
		RunE: body(func(ctx context.Context, _ []string) int {
			return cmdDemo(ctx, a, f)
		}),
	}
	c.Flags().BoolVar(&f.serve, "serve", false, "keep the HTTP API and the watcher running after the demo")
	c.Flags().StringVar(&f.dir, "dir", defaultDemoDir, "the demo's folder: config, store and playbooks (its store is reset)")
	c.Flags().StringVar(&f.listen, "listen", "127.0.0.1:8470", "with --serve: the HTTP API address")
	c.Flags().BoolVar(&f.force, "force", false, "overwrite demo files you changed since the demo wrote them")
	return c
}

func cmdDemo(ctx context.Context, a *app, f demoFlags) int {
	if f.serve {
		// Before anything runs: a busy or remote address fails now, not
		// after the whole demo.
		if err := checkDemoListen(f.listen); err != nil {
			return a.fail(usageError{err})
		}
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
	tq.AddSharedIndicator(time.Now().UTC())

	folder, err := writeDemoFolder(f.dir, f.listen, tc.URL, tq.URL, f.force)
	if err != nil {
		return a.fail(err)
	}
	outer := a.lookup
	a.lookup = func(k string) (string, bool) {
		if v, ok := demoSecrets[k]; ok {
			return v, true
		}
		return outer(k)
	}
	a.configFlag = folder.config
	cfg, err := a.loadConfig()
	if err != nil {
		return a.configFail(err)
	}

	h, err := host.Open(ctx, host.Options{Config: cfg, Registry: a.reg, Log: a.log, Redact: a.redact})
	if err != nil {
		return a.fail(err)
	}
	defer h.Close(context.WithoutCancel(ctx))

	fmt.Fprintf(out, "goshawk demo\n  ThreatConnect emulator  %s\n  ThreatQ emulator        %s\n  folder                  %s (config, store, playbooks)\n", tc.URL, tq.URL, folder.dir)
	fmt.Fprintf(out, "  plugins                 reputation.wasm, built from examples/plugins/reputation\n")
	for _, k := range folder.kept {
		fmt.Fprintf(out, "  kept your changed %s (goshawk demo --force overwrites it)\n", k)
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
	self := selfCommand()
	cfgArg := shellQuote(folder.config)
	fmt.Fprintf(out, "\nexplore the store (no secrets needed):\n")
	for _, c := range []string{"containers", "runs", "runs show 1", "validate"} {
		fmt.Fprintf(out, "   %s --config %s %s\n", self, cfgArg, c)
	}
	fmt.Fprintf(out, "act, poll and run reach the emulators while goshawk demo --serve runs, with:\n")
	for _, l := range demoExports(folder.dir) {
		fmt.Fprintf(out, "   %s\n", l)
	}
	if !f.serve {
		again := self + " demo --serve"
		if f.dir != defaultDemoDir {
			again += " --dir " + shellQuote(f.dir)
		}
		fmt.Fprintf(out, "serve:   %s   (HTTP API, webhooks, live reload of %s)\n", again, cfg.Playbooks)
		return exitOK
	}
	return a.serveHost(ctx, h, func(addr string) {
		fmt.Fprintf(out, "\nserving the HTTP API on http://%s (Ctrl-C to stop)\n", addr)
		fmt.Fprintf(out, "   curl -s -X POST 'http://%s/api/playbooks/hunt_enrich_post/run?wait=true' -d '{\"ip\":\"%s\"}'\n", addr, tcfake.SeedIPv4)
		fmt.Fprintf(out, "   curl -s http://%s/api/playbooks\n", addr)
		fmt.Fprintf(out, "   %s --config %s act tc hunt_ip ip=%s   (after the exports above)\n", self, cfgArg, tcfake.SeedIPv4)
		fmt.Fprintf(out, "   edit %s and watch it reload\n", filepath.Join(cfg.Playbooks, "hunt_enrich_post.lua"))
	})
}

// checkDemoListen checks that the demo can serve on addr: a loopback
// address (the demo config has no API token) that is free now.
func checkDemoListen(addr string) error {
	if !config.IsLoopback(addr) {
		return fmt.Errorf("--listen %s: the demo serves without an API token, so only on a loopback address such as 127.0.0.1:8470", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--listen %s: %w; choose another address with --listen, e.g. --listen 127.0.0.1:0 for any free port", addr, err)
	}
	return ln.Close()
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
