package playtest_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/playtest"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatq"
)

// The real ThreatConnect spec checks the recorded calls; no asset is
// opened, so the provider's Run is never reached.
func assets() map[string]*providers.Provider {
	return map[string]*providers.Provider{"tc": threatconnect.Provider()}
}

const huntYAML = `name: hunt
inputs:
  ip: {type: string, required: true}
assets: [tc]
script: hunt.lua
`

const huntLua = `local r = tc.hunt_ip{ip = input.ip, tag = true}
if r.status ~= "success" then error(r.message) end
log.info("hunted", {ip = input.ip})
local n = r.summary.total_objects
return {found = n, verdict = n > 0 and "known" or "new", at = time.now()}
`

const pollYAML = `name: triage
trigger: {on_poll: tc}
assets: [tc]
lua: |
  local c = containers.get(container.id)
  return {name = c.name, severity = container.severity, note = kv.get("note")}
`

// site writes playbooks and a test file into a folder and loads the
// playbooks as goshawk does.
func site(t *testing.T, files map[string]string) (dir string, books map[string]*playbook.Playbook) {
	t.Helper()
	dir = t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	books, diags := playbook.LoadDir(dir, &playbook.Env{Assets: assets()})
	if len(diags) > 0 {
		t.Fatalf("playbooks: %v", diags)
	}
	return dir, books
}

func run(t *testing.T, dir string, books map[string]*playbook.Playbook, test string) []playtest.Result {
	t.Helper()
	env := &playtest.Env{Playbooks: books, Assets: assets()}
	f, diags := playtest.Load(filepath.Join(dir, test), env)
	if len(diags) > 0 {
		t.Fatalf("test file: %v", diags)
	}
	s := &playtest.Suite{Assets: assets(), Playbooks: books}
	defer s.Close()
	return s.Run(context.Background(), f, nil)
}

const huntCase = `playbook: hunt
cases:
  - name: known ip
    inputs: {ip: 1.2.3.4}
    now: 2026-01-02T03:04:05Z
    calls:
      - call: tc.hunt_ip
        params: {ip: 1.2.3.4, tag: true}
        result:
          status: success
          message: Found 2 indicator(s)
          summary: {total_objects: 2}
          data: [{data: [{id: 11111797252348111, summary: 1.2.3.4}]}]
    expect:
      status: success
      result: {found: 2, verdict: known, at: 1767323045}
      steps: [tc.hunt_ip]
`

func TestRecordedCasePasses(t *testing.T) {
	dir, books := site(t, map[string]string{"hunt.yaml": huntYAML, "hunt.lua": huntLua, "hunt_test.yaml": huntCase})
	res := run(t, dir, books, "hunt_test.yaml")
	if len(res) != 1 || !res[0].Passed {
		t.Fatalf("want one passing case, got %+v", res)
	}
	if res[0].Run == nil || res[0].Run.Trigger != playtest.TriggerTest {
		t.Fatalf("the case's run record: %+v", res[0].Run)
	}
}

// TestChangedNumberFailsWithPathAndLine is the author's loop: a script
// change that alters the result fails the case with the path of the
// change and the line of the expectation.
func TestChangedNumberFailsWithPathAndLine(t *testing.T) {
	changed := strings.Replace(huntLua, "local n = r.summary.total_objects", "local n = r.summary.total_objects + 1", 1)
	dir, books := site(t, map[string]string{"hunt.yaml": huntYAML, "hunt.lua": changed, "hunt_test.yaml": huntCase})
	res := run(t, dir, books, "hunt_test.yaml")
	if len(res) != 1 || res[0].Passed {
		t.Fatalf("want one failing case, got %+v", res)
	}
	got := res[0].Failures[0].String()
	for _, want := range []string{"hunt_test.yaml:16:", "result.found: want 2, got 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("failure %q lacks %q", got, want)
		}
	}
}

func TestCallWithoutRecordingNamesCallParamsAndLine(t *testing.T) {
	other := strings.Replace(huntCase, "params: {ip: 1.2.3.4, tag: true}", "params: {ip: 5.6.7.8, tag: true}", 1)
	dir, books := site(t, map[string]string{"hunt.yaml": huntYAML, "hunt.lua": huntLua, "hunt_test.yaml": other})
	res := run(t, dir, books, "hunt_test.yaml")
	if len(res) != 1 || res[0].Passed {
		t.Fatalf("want one failing case, got %+v", res)
	}
	var all []string
	for _, f := range res[0].Failures {
		all = append(all, f.String())
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		`tc.hunt_ip{ip = "1.2.3.4", max_results = 100, tag = true}`,
		"goshawk runs save",
		"hunt.lua:1:", // the run's error names the script line of the call
	} {
		if !strings.Contains(text, want) {
			t.Errorf("failures lack %q:\n%s", want, text)
		}
	}
}

func TestOnPollCaseRunsOnItsContainer(t *testing.T) {
	test := `playbook: triage
cases:
  - name: stored container
    kv: {note: seen}
    container:
      name: "Address 10.0.0.1"
      severity: high
      source_data_identifier: "42"
      label: events
    expect:
      paths: {name: "Address 10.0.0.1", severity: high, note: seen}
      steps: []
`
	dir, books := site(t, map[string]string{"triage.yaml": pollYAML, "triage_test.yaml": test})
	res := run(t, dir, books, "triage_test.yaml")
	if len(res) != 1 || !res[0].Passed {
		t.Fatalf("want one passing case, got %+v", res)
	}
	if res[0].Run.ContainerID == 0 {
		t.Fatalf("the run does not name its container: %+v", res[0].Run)
	}
}

func TestOnPollCaseWithoutContainerFails(t *testing.T) {
	test := "cases:\n  - name: no container\n    expect: {status: success}\n"
	dir, books := site(t, map[string]string{"triage.yaml": pollYAML, "triage_test.yaml": test})
	res := run(t, dir, books, "triage_test.yaml")
	if len(res) != 1 || res[0].Passed || !strings.Contains(res[0].Failures[0].Message, "give the case a container") {
		t.Fatalf("want a failure asking for a container, got %+v", res)
	}
}

func TestFilterSelectsCases(t *testing.T) {
	dir, books := site(t, map[string]string{"hunt.yaml": huntYAML, "hunt.lua": huntLua, "hunt_test.yaml": huntCase})
	env := &playtest.Env{Playbooks: books, Assets: assets()}
	f, _ := playtest.Load(filepath.Join(dir, "hunt_test.yaml"), env)
	s := &playtest.Suite{Assets: assets(), Playbooks: books}
	defer s.Close()
	if res := s.Run(context.Background(), f, regexp.MustCompile("nothing")); len(res) != 0 {
		t.Fatalf("filter matched %d cases", len(res))
	}
}

// TestBadTestFiles checks each malformed test file is reported at its
// file:line:col with the fix.
func TestBadTestFiles(t *testing.T) {
	_, books := site(t, map[string]string{"hunt.yaml": huntYAML, "hunt.lua": huntLua})
	env := &playtest.Env{Playbooks: books, Assets: assets()}
	for _, tc := range []struct{ name, src, want string }{
		{"not yaml", "cases: [", "x_test.yaml:1:8: yaml: did not find expected node content"},
		{"unknown top key", "playbok: hunt\ncases: []\n", `x_test.yaml:1:1: unknown key "playbok" in the test file; did you mean "playbook"?`},
		{"unknown playbook", "playbook: hnt\ncases: []\n", `x_test.yaml:1:1: no playbook "hnt"`},
		{"unknown case key", "playbook: hunt\ncases:\n  - name: a\n    input: {}\n    expect: {status: success}\n", `x_test.yaml:4:5: unknown key "input" in a case; did you mean "inputs"?`},
		{"no expect", "playbook: hunt\ncases:\n  - name: a\n", `has no expect:`},
		{"unknown action", "playbook: hunt\ncases:\n  - name: a\n    calls:\n      - call: tc.hunt_pi\n        result: {status: success}\n    expect: {status: success}\n", `x_test.yaml:5:15: call tc.hunt_pi: provider threatconnect has no action "hunt_pi"; did you mean "hunt_ip"?`},
		{"asset not used", "playbook: hunt\ncases:\n  - name: a\n    calls:\n      - call: tq.indicator_search\n        result: {status: success}\n    expect: {status: success}\n", `playbook hunt does not use asset tq`},
		{"bad params", "playbook: hunt\ncases:\n  - name: a\n    calls:\n      - call: tc.hunt_ip\n        params: {ip: 1.2.3.4, bogus: 1}\n        result: {status: success}\n    expect: {status: success}\n", `call tc.hunt_ip: params:`},
		{"bad status", "playbook: hunt\ncases:\n  - name: a\n    expect: {status: ok}\n", `x_test.yaml:4:22: expect.status must be success, failed or timeout, got "ok"`},
		{"bad now", "playbook: hunt\ncases:\n  - name: a\n    now: yesterday\n    expect: {status: success}\n", `now must be an RFC 3339 time`},
		{"duplicate case", "playbook: hunt\ncases:\n  - name: a\n    expect: {status: success}\n  - name: a\n    expect: {status: success}\n", `case "a" is given twice (first at line 3)`},
		{"bad call", "playbook: hunt\ncases:\n  - name: a\n    calls:\n      - call: hunt_ip\n        result: {}\n    expect: {status: success}\n", `call must be asset.action`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := playtest.Parse("x_test.yaml", []byte(tc.src), env)
			var all []string
			for _, d := range diags {
				all = append(all, d.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("diagnostics %q lack %q", all, tc.want)
			}
		})
	}
}

// BenchmarkShippedCase replays the first case of the shipped
// hunt_enrich_post tests: four recorded calls, the real script.
func BenchmarkShippedCase(b *testing.B) {
	provs := map[string]*providers.Provider{"tc": threatconnect.Provider(), "tq": threatq.Provider()}
	dir := filepath.Join("..", "..", "playbooks")
	books, _ := playbook.LoadDir(dir, &playbook.Env{Assets: provs})
	f, diags := playtest.Load(filepath.Join(dir, "hunt_enrich_post_test.yaml"), &playtest.Env{Playbooks: books, Assets: provs})
	if len(diags) > 0 {
		b.Fatal(diags)
	}
	f.Cases = f.Cases[:1]
	s := &playtest.Suite{Assets: provs, Playbooks: books}
	defer s.Close()
	ctx := context.Background()
	for b.Loop() {
		if res := s.Run(ctx, f, nil); len(res) != 1 || !res[0].Passed {
			b.Fatalf("%+v", res)
		}
	}
}
