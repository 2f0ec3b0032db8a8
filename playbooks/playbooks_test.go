package playbooks_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/playbooks"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// reputationPlugin builds the example plugin from source once per test
// binary.
func reputationPlugin(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		pluginDir, pluginErr = os.MkdirTemp("", "goshawk-plugins-")
		if pluginErr == nil {
			pluginErr = wasmbuild.Build(context.Background(), filepath.Join("..", "examples", "plugins", "reputation"), filepath.Join(pluginDir, "reputation.wasm"))
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

type env struct {
	tc *tcfake.Server
	tq *tqfake.Server
	h  *host.Host
}

// open assembles a host over both emulators and this folder's playbooks.
func open(t *testing.T) *env {
	t.Helper()
	tc := tcfake.New(tcfake.Options{})
	t.Cleanup(tc.Close)
	tq := tqfake.New(tqfake.Options{})
	t.Cleanup(tq.Close)
	tq.AddSharedIndicator(time.Now().UTC())

	here, _ := filepath.Abs(".")
	dir := t.TempDir()
	yaml := fmt.Sprintf(`store: %s
playbooks: %s
plugins: %s
assets:
  tc: {provider: threatconnect, base_url: %q, access_id: %q, secret_key: %q}
  tq: {provider: threatq, url: %q, email: %q, password: %q, client_id: %q}
`, filepath.Join(dir, "goshawk.db"), here, reputationPlugin(t), tc.URL, tcfake.DefaultAccessID, tcfake.DefaultSecretKey,
		tq.URL, tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID)
	reg, err := providers.NewRegistry(threatconnect.Provider(), threatq.Provider())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "goshawk.yaml"), []byte(yaml), reg, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Registry: reg, PluginCache: filepath.Join(pluginDir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	for _, info := range h.PlaybookInfos() {
		if info.LastError != "" {
			t.Fatalf("playbook %s does not load:\n%s", info.Name, info.LastError)
		}
	}
	return &env{tc: tc, tq: tq, h: h}
}

func TestShippedPlaybooksLintClean(t *testing.T) {
	e := open(t)
	files, _ := fs.Glob(playbooks.FS, "*.yaml")
	if len(files) < 3 {
		t.Fatalf("only %d shipped playbooks", len(files))
	}
	for _, f := range files {
		if !playbook.IsFile(f) {
			continue // a playbook test file, checked by goshawk test
		}
		pb, diags := playbook.Load(f, e.h.LintEnv())
		if len(diags) > 0 {
			t.Errorf("%s:\n%v", f, diags)
			continue
		}
		if pb.Description == "" {
			t.Errorf("%s has no description", f)
		}
	}
}

func steps(r *store.Run) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Asset+"."+s.Action+":"+s.Status)
	}
	return out
}

func TestHuntEnrichPostWritesBothPlatforms(t *testing.T) {
	e := open(t)
	rec, err := e.h.Run(context.Background(), "hunt_enrich_post", map[string]any{"ip": tcfake.SeedIPv4}, "manual")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != runner.StatusSuccess {
		t.Fatalf("run %s: %s", rec.Status, rec.Error)
	}
	want := "tc.hunt_ip:success tq.indicator_search_with_value:success tc.post_data:success tq.create_event:success"
	if got := strings.Join(steps(rec), " "); got != want {
		t.Fatalf("steps\n got %s\nwant %s", got, want)
	}
	res := rec.Result.(map[string]any)
	if res["verdict"] != "malicious" {
		t.Fatalf("verdict %v: %v", res["verdict"], res)
	}
	ind, ok := e.tc.Find("Address", tcfake.SeedIPv4)
	if !ok {
		t.Fatal("indicator gone from ThreatConnect")
	}
	tagged := false
	for _, tag := range ind.Tags {
		tagged = tagged || tag.Name == "goshawk:malicious"
	}
	described := false
	for _, a := range ind.Attributes {
		described = described || (a.Type == "Description" && strings.Contains(a.Value, "goshawk verdict malicious"))
	}
	if !tagged || !described {
		t.Fatalf("the verdict was not posted back: tags %v attributes %v", ind.Tags, ind.Attributes)
	}
	events := 0
	for _, ev := range e.tq.Events() {
		if ev.Title == "goshawk: malicious ip "+tcfake.SeedIPv4 {
			events++
		}
	}
	if events != 1 {
		t.Fatalf("%d ThreatQ events for the malicious verdict, want 1", events)
	}

	// A benign indicator is posted back but opens no event.
	rec, err = e.h.Run(context.Background(), "hunt_enrich_post", map[string]any{"domain": tcfake.SeedHost}, "manual")
	if err != nil || rec.Status != runner.StatusSuccess || len(rec.Steps) != 3 {
		t.Fatalf("domain run: %v %+v", err, rec)
	}

	// Inputs are checked before the script starts.
	for _, bad := range []map[string]any{{"ip": "nope"}, {"hash": "xyz"}, {"nosuch": "1"}} {
		if _, err := e.h.Run(context.Background(), "hunt_enrich_post", bad, "manual"); err == nil {
			t.Errorf("inputs %v accepted", bad)
		}
	}
}

func TestPollTriageRunsOncePerContainer(t *testing.T) {
	e := open(t)
	ctx := context.Background()
	e.h.SubscribeAll(ctx)
	res, err := e.h.PollAsset(ctx, "tc", false, 0)
	if err != nil || !res.OK() {
		t.Fatalf("poll: %v %v", err, res)
	}
	created := int(res.Summary["containers_created"].(int))
	if err := e.h.Runner.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	runs, err := e.h.Store.ListRuns(ctx, store.RunQuery{Playbook: "poll_triage", Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != created || created == 0 {
		t.Fatalf("%d triage runs for %d new containers", len(runs), created)
	}
	high, perContainer := 0, map[int64]int{}
	for _, r := range runs {
		if r.Status != runner.StatusSuccess {
			t.Fatalf("run %d %s: %s", r.ID, r.Status, r.Error)
		}
		perContainer[r.ContainerID]++
		if r.Result.(map[string]any)["severity"] == "high" && r.Result.(map[string]any)["threatq_created"] == true {
			high++
		}
	}
	for id, n := range perContainer {
		if n != 1 {
			t.Fatalf("container %d triaged %d times", id, n)
		}
	}
	cs, _ := e.h.Store.ListContainers(ctx, store.ContainerQuery{Asset: "tc", Limit: 1000})
	for _, c := range cs {
		if c.Status != "open" || len(c.Tags) == 0 || c.Tags[0] != "triaged" || len(c.Notes) != 1 {
			t.Fatalf("container %d not triaged: %+v", c.ID, c)
		}
	}
	made := 0
	for _, ind := range e.tq.Indicators() {
		for _, s := range ind.Sources {
			if s.Name == "goshawk" {
				made++
			}
		}
	}
	if made != high || high == 0 {
		t.Fatalf("ThreatQ has %d indicators from goshawk, want %d", made, high)
	}
	// Each later poll triggers exactly one run per container it creates.
	for i := 0; i < 3; i++ {
		res, err := e.h.PollAsset(ctx, "tc", false, 0)
		if err != nil || !res.OK() {
			t.Fatalf("poll %d: %v %v", i+2, err, res)
		}
		e.h.Runner.Wait(ctx)
		created += res.Summary["containers_created"].(int)
	}
	again, _ := e.h.Store.ListRuns(ctx, store.RunQuery{Playbook: "poll_triage", Limit: 10000})
	if len(again) != created {
		t.Fatalf("%d triage runs for %d containers over four polls", len(again), created)
	}
}

func TestTriageTextUsesThePlugin(t *testing.T) {
	e := open(t)
	text := "C2 at 123.23.124[.]32 and hxxp://www[.]test[.]com/list/oz/ ; mail abcxyz[@]test.com"
	rec, err := e.h.Run(context.Background(), "triage_text", map[string]any{"text": text}, "manual")
	if err != nil || rec.Status != runner.StatusSuccess {
		t.Fatalf("%v %+v", err, rec)
	}
	res := rec.Result.(map[string]any)
	var verdict any
	for _, item := range res["indicators"].([]any) {
		ind := item.(map[string]any)
		if ind["indicator"] == "123[.]23[.]124[.]32" {
			verdict = ind["verdict"]
		}
	}
	if verdict != "malicious" {
		t.Fatalf("the seeded C2 address was scored %v: %v", verdict, res)
	}
}
