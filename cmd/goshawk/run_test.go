package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/playbooks"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// runRecordKeys and runStepKeys are the run record's JSON keys as DESIGN.md
// fixes them; the optional ones appear only when they have a value (a
// container, log lines, a result, a cut).
var (
	runRecordKeys         = []string{"id", "playbook", "version", "trigger", "status", "inputs", "result", "error", "steps", "started", "finished"}
	runRecordOptionalKeys = []string{"container_id", "log"}
	runStepKeys           = []string{"asset", "action", "status", "message", "duration_ms", "started", "params"}
	runStepOptionalKeys   = []string{"result", "truncated"}
)

// sameKeys reports whether m has every key of required and no key beyond
// required and optional.
func sameKeys(m map[string]any, required, optional []string) bool {
	for _, k := range required {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	for k := range m {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			return false
		}
	}
	return true
}

// withRunPlaybooks puts the shipped hunt_enrich_post playbook and a
// playbook that always fails in the fixture's playbooks folder.
func withRunPlaybooks(t *testing.T, f *fixture) {
	t.Helper()
	dir := filepath.Join(f.dir, "playbooks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hunt_enrich_post.yaml", "hunt_enrich_post.lua"} {
		b, err := playbooks.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	failing := "description: always fails\nlua: |\n  local why = \"no verdict\"\n  error(why)\n"
	if err := os.WriteFile(filepath.Join(dir, "always_fails.yaml"), []byte(failing), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkRunRecord checks that rec has exactly the contract's keys, and so do
// its steps.
func checkRunRecord(t *testing.T, rec map[string]any) {
	t.Helper()
	if got := slices.Sorted(maps.Keys(rec)); !sameKeys(rec, runRecordKeys, runRecordOptionalKeys) {
		t.Fatalf("run record keys %v, want %v and maybe %v", got, sorted(runRecordKeys), runRecordOptionalKeys)
	}
	steps, ok := rec["steps"].([]any)
	if !ok {
		t.Fatalf("steps is %T, want a list", rec["steps"])
	}
	for i, s := range steps {
		step, ok := s.(map[string]any)
		if !ok {
			t.Fatalf("step %d is %T", i, s)
		}
		if got := slices.Sorted(maps.Keys(step)); !sameKeys(step, runStepKeys, runStepOptionalKeys) {
			t.Fatalf("step %d keys %v, want %v and maybe %v", i, got, sorted(runStepKeys), runStepOptionalKeys)
		}
		if _, ok := step["duration_ms"].(float64); !ok {
			t.Fatalf("step %d duration_ms is %T, want a number", i, step["duration_ms"])
		}
	}
	if _, ok := rec["inputs"].(map[string]any); !ok {
		t.Fatalf("inputs is %T, want an object", rec["inputs"])
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func decodeRecord(t *testing.T, out string) map[string]any {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out)
	}
	return rec
}

func TestRunPrintsTheRunRecord(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withRunPlaybooks(t, f)

	out, errOut, code := f.run("run", "hunt_enrich_post", "ip="+tcfake.SeedIPv4, "--json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	ok := decodeRecord(t, out)
	checkRunRecord(t, ok)
	if ok["status"] != "success" || ok["playbook"] != "hunt_enrich_post" || ok["trigger"] != "manual" || ok["error"] != "" {
		t.Fatalf("record %v", ok)
	}
	if ok["inputs"].(map[string]any)["ip"] != tcfake.SeedIPv4 || ok["finished"] == nil || ok["version"] == "" {
		t.Fatalf("record %v", ok)
	}
	var actions []string
	for _, s := range ok["steps"].([]any) {
		step := s.(map[string]any)
		actions = append(actions, step["asset"].(string)+"."+step["action"].(string))
	}
	if got := strings.Join(actions, " "); !strings.HasPrefix(got, "tc.hunt_ip tq.indicator_search_with_value tc.post_data") {
		t.Fatalf("steps %s", got)
	}
	if verdict := ok["result"].(map[string]any)["verdict"]; verdict == nil {
		t.Fatalf("result has no verdict: %v", ok["result"])
	}

	// A failed run is printed the same way and exits 1.
	out, errOut, code = f.run("run", "always_fails", "--json")
	if code != exitFailed {
		t.Fatalf("failed run: exit %d, want %d\n%s\n%s", code, exitFailed, out, errOut)
	}
	failed := decodeRecord(t, out)
	checkRunRecord(t, failed)
	wantErr := filepath.Join(f.dir, "playbooks", "always_fails.yaml") + ":4: no verdict"
	if failed["status"] != "failed" || !strings.HasPrefix(failed["error"].(string), wantErr) {
		t.Fatalf("failed run: status %v, error %q; want failed, %q", failed["status"], failed["error"], wantErr)
	}
	if out, _, code := f.run("run", "always_fails"); code != exitFailed || !strings.Contains(out, "failed") || !strings.Contains(out, "no verdict") {
		t.Fatalf("failed run, text: exit %d\n%s", code, out)
	}

	// The history has every run, newest first, with the same shape.
	out, errOut, code = f.run("runs", "--json")
	if code != exitOK {
		t.Fatalf("runs: exit %d\n%s", code, errOut)
	}
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatalf("runs --json: %v\n%s", err, out)
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs listed, want 3", len(runs))
	}
	for _, r := range runs {
		checkRunRecord(t, r)
	}
	if runs[0]["playbook"] != "always_fails" || runs[2]["id"] != ok["id"] {
		t.Fatalf("runs are not newest first: %v, %v, %v", runs[0]["id"], runs[1]["id"], runs[2]["id"])
	}
	out, _, code = f.run("runs", "--playbook", "hunt_enrich_post", "--json")
	if err := json.Unmarshal([]byte(out), &runs); err != nil || code != exitOK || len(runs) != 1 {
		t.Fatalf("runs --playbook: exit %d, %d runs, %v", code, len(runs), err)
	}

	// runs show prints the record the run printed.
	id := strconv.FormatInt(int64(ok["id"].(float64)), 10)
	out, errOut, code = f.run("runs", "show", id, "--json")
	if code != exitOK {
		t.Fatalf("runs show: exit %d\n%s", code, errOut)
	}
	shown := decodeRecord(t, out)
	a, _ := json.Marshal(shown)
	b, _ := json.Marshal(ok)
	if string(a) != string(b) {
		t.Fatalf("runs show differs from the run's output:\n%s\n%s", a, b)
	}
	out, _, code = f.run("runs", "show", id)
	if code != exitOK || !strings.Contains(out, "run "+id) || !strings.Contains(out, "hunt_enrich_post") || !strings.Contains(out, "tc.hunt_ip") {
		t.Fatalf("runs show, text: exit %d\n%s", code, out)
	}
	if _, errOut, code := f.run("runs", "show", "999999"); code != exitFailed || !strings.Contains(errOut, "not found") {
		t.Fatalf("runs show of a missing run: exit %d, %s", code, errOut)
	}
}

func TestRunBadInputExitsTwo(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withRunPlaybooks(t, f)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"ip=nope"}, []string{"ip", `"nope"`}},
		{[]string{"addr=" + tcfake.SeedIPv4}, []string{`"addr"`}},
		{[]string{"ip"}, []string{`"ip"`, "name=value"}},
	}
	for _, c := range cases {
		out, errOut, code := f.run(append([]string{"run", "hunt_enrich_post"}, c.args...)...)
		if code != exitUsage {
			t.Fatalf("%v: exit %d, want %d\n%s\n%s", c.args, code, exitUsage, out, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: %q does not name %s", c.args, errOut, w)
			}
		}
	}
	if _, errOut, code := f.run("run", "hunt_enrich_pots"); code != exitUsage || !strings.Contains(errOut, `did you mean "hunt_enrich_post"`) {
		t.Fatalf("unknown playbook: exit %d, %s", code, errOut)
	}
	// Nothing was recorded for the refused runs.
	out, _, _ := f.run("runs", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("refused runs were recorded: %s", out)
	}
}
