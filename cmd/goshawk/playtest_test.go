package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestShippedPlaybookTests runs the shipped playbooks' tests, recorded
// with goshawk runs save from runs against the emulators, through
// goshawk test: offline, with no secret in the environment.
func TestShippedPlaybookTests(t *testing.T) {
	demo, err := writeDemoFolder(t.TempDir(), "127.0.0.1:0", "http://127.0.0.1:9", "http://127.0.0.1:9", false)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI("--config", demo.config, "test", filepath.Join("..", "..", "playbooks"))
	if code != exitOK || !strings.Contains(out, " passed, 0 failed") || strings.Contains(out, "0 passed") {
		t.Fatalf("goshawk test on the shipped playbooks: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, pb := range []string{"hunt_enrich_post/", "poll_triage/", "triage_text/"} {
		if !strings.Contains(out, "--- PASS: "+pb) {
			t.Errorf("no passing case of %s:\n%s", pb, out)
		}
	}
}

// TestRecordSaveReplay is the author's loop of docs/testing.md: run a
// playbook against the emulators, save the run as a test, stop the
// emulators and drop the secrets, and replay it; then change the script
// and see the case fail with the path and line of the change.
func TestRecordSaveReplay(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withRunPlaybooks(t, f)
	out, errOut, code := f.run("run", "hunt_enrich_post", "ip=123.23.124.32", "--json")
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	var rec struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("run --json: %v\n%s", err, out)
	}
	testFile := filepath.Join(f.dir, "playbooks", "hunt_enrich_post_test.yaml")
	out, errOut, code = f.run("runs", "save", strconv.FormatInt(rec.ID, 10), "--name", "known ip")
	if code != exitOK || !strings.Contains(out, testFile) {
		t.Fatalf("runs save: exit %d\n%s\n%s", code, out, errOut)
	}

	// Offline: no emulator answers and no secret is set.
	f.tc.Close()
	f.tq.Close()
	f.vars = map[string]string{}
	out, errOut, code = f.run("test")
	if code != exitOK || !strings.Contains(out, "--- PASS: hunt_enrich_post/known ip") || !strings.Contains(out, "1 passed, 0 failed") {
		t.Fatalf("offline replay: exit %d\n%s\n%s", code, out, errOut)
	}

	// One number changed in the script: the case fails with the path of
	// the result that changed and the line of the expectation.
	script := filepath.Join(f.dir, "playbooks", "hunt_enrich_post.lua")
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), "return {", "return {extra = 42, ", 1)
	if changed == string(src) {
		t.Fatal("the script has no return { to change")
	}
	if err := os.WriteFile(script, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = f.run("test", testFile)
	if code != exitFailed || !strings.Contains(out, "--- FAIL: hunt_enrich_post/known ip") ||
		!strings.Contains(out, "result.extra: want nothing, got 42") || !strings.Contains(out, "hunt_enrich_post_test.yaml:") ||
		!strings.Contains(out, "0 passed, 1 failed") {
		t.Fatalf("changed script: exit %d\n%s", code, out)
	}

	// A call the recording lacks names the call, its parameters and the
	// script's line.
	extra := strings.Replace(string(src), "return {", "tc.hunt_domain{domain = \"unrecorded.example\"}\nreturn {", 1)
	if err := os.WriteFile(script, []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = f.run("test", testFile)
	for _, want := range []string{`no recording: tc.hunt_domain{domain = "unrecorded.example", max_results = 100}`, "hunt_enrich_post.lua:", "goshawk runs save"} {
		if code != exitFailed || !strings.Contains(out, want) {
			t.Errorf("unrecorded call: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
}

func TestTestAndSaveBadInput(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withRunPlaybooks(t, f)
	pbDir := filepath.Join(f.dir, "playbooks")
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(pbDir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"malformed test file", []string{"test", write("hunt_enrich_post_test.yaml", "cases:\n  - name: a\n    inputz: {}\n    expect: {status: success}\n")}, exitFailed, `hunt_enrich_post_test.yaml:3:5: unknown key "inputz" in a case; did you mean "inputs"?`},
		{"unknown playbook", []string{"test", write("nope_test.yaml", "cases:\n  - name: a\n    expect: {status: success}\n")}, exitFailed, `nope_test.yaml:1:1: no playbook "nope"`},
		{"recording for an unknown action", []string{"test", write("always_fails_test.yaml", "playbook: hunt_enrich_post\ncases:\n  - name: a\n    calls:\n      - call: tc.hunt_ipp\n        result: {status: success}\n    expect: {status: success}\n")}, exitFailed, `call tc.hunt_ipp: provider threatconnect has no action "hunt_ipp"; did you mean "hunt_ip"?`},
		{"not a test file", []string{"test", filepath.Join(pbDir, "hunt_enrich_post.yaml")}, exitUsage, "is not a test file: test files end in _test.yaml"},
		{"bad --run", []string{"test", "--run", "("}, exitUsage, "--run: error parsing regexp"},
		{"unknown run", []string{"runs", "save", "999"}, exitUsage, "no run 999"},
		{"bad run id", []string{"runs", "save", "x"}, exitUsage, `run ID must be a positive integer, got "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := f.run(tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

func TestValidateLintsTestFiles(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withRunPlaybooks(t, f)
	bad := "cases:\n  - name: a\n    calls:\n      - call: tq.indicator_search_with_valu\n        result: {status: success}\n    expect: {status: success}\n"
	if err := os.WriteFile(filepath.Join(f.dir, "playbooks", "hunt_enrich_post_test.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := f.run("validate")
	want := `hunt_enrich_post_test.yaml:4:15: call tq.indicator_search_with_valu: provider threatq has no action "indicator_search_with_valu"; did you mean "indicator_search_with_value"?`
	if code != exitFailed || !strings.Contains(out, want) {
		t.Fatalf("validate: exit %d, output lacks %q:\n%s", code, want, out)
	}
}
