package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// Recognisable secrets: any of them in any output is a leak.
const (
	testTCSecret   = "tc-secret-0123456789abcdef"
	testTQPassword = "tq-password-fedcba9876543210"
	testAPIToken   = "api-token-5555aaaa5555bbbb"
)

type fixture struct {
	t    testing.TB
	dir  string
	cfg  string
	tc   *tcfake.Server
	tq   *tqfake.Server
	vars map[string]string
}

// newFixture starts both emulators and writes a goshawk.yaml that points
// at them, with secrets read from the environment the CLI is given.
func newFixture(t testing.TB, tcOpts tcfake.Options, extra string) *fixture {
	t.Helper()
	if tcOpts.SecretKey == "" {
		tcOpts.SecretKey = testTCSecret
	}
	tc := tcfake.New(tcOpts)
	t.Cleanup(tc.Close)
	tq := tqfake.New(tqfake.Options{Password: testTQPassword})
	t.Cleanup(tq.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "goshawk.yaml")
	body := fmt.Sprintf(`api_token: ${API_TOKEN}
assets:
  tc:
    provider: threatconnect
    base_url: %s
    access_id: %s
    secret_key: ${TC_SECRET}
    max_containers: 100
  tq:
    provider: threatq
    url: %s
    email: %s
    password: ${TQ_PASSWORD}
    client_id: %s
%s`, tc.URL, tcfake.DefaultAccessID, tq.URL, tqfake.DefaultEmail, tqfake.DefaultClientID, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, cfg: cfg, tc: tc, tq: tq,
		vars: map[string]string{"TC_SECRET": testTCSecret, "TQ_PASSWORD": testTQPassword, "API_TOKEN": testAPIToken}}
}

// run runs the CLI in-process and fails the test if a secret leaks.
func (f *fixture) run(args ...string) (stdout, stderr string, code int) {
	f.t.Helper()
	var out, errb bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := f.vars[k]; return v, ok }
	code = run(context.Background(), append([]string{"--config", f.cfg}, args...), &out, &errb, lookup)
	for _, s := range []string{testTCSecret, testTQPassword, testAPIToken} {
		if strings.Contains(out.String(), s) || strings.Contains(errb.String(), s) {
			f.t.Fatalf("goshawk %s leaked a secret:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
		}
	}
	return out.String(), errb.String(), code
}

func (f *fixture) actJSON(args ...string) (map[string]any, int) {
	f.t.Helper()
	out, errOut, code := f.run(append([]string{"act"}, append(args, "--json")...)...)
	if code == exitUsage {
		f.t.Fatalf("usage error: %s", errOut)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		f.t.Fatalf("act output is not JSON: %v\n%s\n%s", err, out, errOut)
	}
	return res, code
}

func indicators(t *testing.T, res map[string]any) []any {
	t.Helper()
	data := res["data"].([]any)
	return data[0].(map[string]any)["data"].([]any)
}

func TestActThreatConnect(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	res, code := f.actJSON("tc", "hunt_ip", "ip="+tcfake.SeedIPv4, "tag=true")
	if code != exitOK || res["status"] != "success" || res["asset"] != "tc" || res["action"] != "hunt_ip" {
		t.Fatalf("hunt_ip: code %d, %v", code, res)
	}
	inds := indicators(t, res)
	if len(inds) == 0 {
		t.Fatal("hunt_ip found nothing")
	}
	first := inds[0].(map[string]any)
	if tags, ok := first["tags"].(map[string]any); !ok || len(tags["data"].([]any)) == 0 {
		t.Fatalf("hunt_ip with tag=true returned no tags: %v", first)
	}
	if got := res["summary"].(map[string]any)["total_objects"]; got != float64(len(inds)) {
		t.Fatalf("total_objects = %v, want %d", got, len(inds))
	}

	for _, c := range []struct{ action, param string }{
		{"hunt_file", "hash=" + tcfake.SeedFileSHA256},
		{"hunt_email", "email=" + tcfake.SeedEmail},
		{"hunt_domain", "domain=" + tcfake.SeedHost},
		{"hunt_url", "url=" + tcfake.SeedURL},
	} {
		res, code := f.actJSON("tc", c.action, c.param)
		if code != exitOK || len(indicators(t, res)) == 0 {
			t.Errorf("%s: code %d, %v", c.action, code, res)
		}
	}
	res, code = f.actJSON("tc", "list_owners")
	if code != exitOK || res["summary"].(map[string]any)["num_owners"].(float64) < 1 {
		t.Fatalf("list_owners: %v", res)
	}
	if res, code = f.actJSON("tc", "test_connectivity"); code != exitOK || res["message"] != "Test Connectivity Passed" {
		t.Fatalf("test_connectivity: %v", res)
	}
	for i, want := range []string{"Created", "Updated"} {
		res, code := f.actJSON("tc", "post_data", "primary_field=198.18.0.77", "rating=3", "confidence=60", "tag=cli-test")
		if code != exitOK {
			t.Fatalf("post_data #%d: %v", i, res)
		}
		env := res["data"].([]any)[0].(map[string]any)
		if env["message"] != want {
			t.Fatalf("post_data #%d: message %v, want %s", i, env["message"], want)
		}
	}
	if _, ok := f.tc.Find("Address", "198.18.0.77"); !ok {
		t.Fatal("the posted indicator is not in the emulator")
	}
}

func TestActBadParamsSendNothing(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	cases := []struct {
		args     []string
		wantCode int
		wantMsg  string
	}{
		{[]string{"hunt_ip", "ip=1.2.3"}, exitFailed, "Parameter 'ip' failed validation"},
		{[]string{"hunt_ip", "ip=::zz"}, exitFailed, "Parameter 'ip' failed validation"},
		{[]string{"hunt_file", "hash=abc123"}, exitFailed, "Parameter 'hash' failed validation"},
		{[]string{"hunt_file", "hash=" + strings.Repeat("z", 32)}, exitFailed, "Parameter 'hash' failed validation"},
		{[]string{"hunt_email", "email=not-an-email"}, exitFailed, "Parameter 'email' failed validation"},
		{[]string{"hunt_url", "url=example.com/x"}, exitFailed, "Parameter 'url' failed validation"},
		{[]string{"post_data", "primary_field=1.2.3.4", "rating=7"}, exitFailed, "Parameter 'rating' must be between 0 and 5"},
		{[]string{"post_data", "primary_field=1.2.3.4", "confidence=101"}, exitFailed, "Parameter 'confidence' must be"},
		{[]string{"hunt_ip", "ipp=1.2.3.4"}, exitUsage, `unknown parameter "ipp"; did you mean "ip"?`},
		{[]string{"hunt_ip", "ip=1.2.3.4", "tag=maybe"}, exitUsage, `parameter "tag" must be true or false`},
		{[]string{"hunt_ipp", "ip=1.2.3.4"}, exitUsage, `did you mean "hunt_ip"?`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			out, errOut, code := f.run(append([]string{"act", "tc"}, c.args...)...)
			if code != c.wantCode || !strings.Contains(out+errOut, c.wantMsg) {
				t.Fatalf("code %d, want %d; output %q + %q, want %q", code, c.wantCode, out, errOut, c.wantMsg)
			}
		})
	}
	if n := f.tc.RequestCount(); n != 0 {
		t.Fatalf("bad parameters reached the server: %d requests", n)
	}
}

func TestActThreatQ(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	res, code := f.actJSON("tq", "indicator_search_with_value", "value="+tqfake.SeedIP)
	if code != exitOK || res["status"] != "success" {
		t.Fatalf("%v", res)
	}
	body := res["data"].([]any)[0].(map[string]any)["json_body"].(map[string]any)
	if body["total"].(float64) < 1 {
		t.Fatalf("seeded IP not found: %v", body)
	}
	f.vars["TQ_PASSWORD"] = "wrong-password-xyz"
	res, code = f.actJSON("tq", "test_connectivity")
	if code != exitFailed || !strings.Contains(res["message"].(string), "Authentication failed") {
		t.Fatalf("wrong password: code %d, %v", code, res)
	}
}

func TestConfigErrorsExitTwo(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	base := fmt.Sprintf("assets:\n  tc:\n    provider: threatconnect\n    base_url: %s\n    access_id: x\n", f.tc.URL)
	cases := []struct{ name, body, want string }{
		{"unknown key", base + "    secret_key: ${TC_SECRET}\n    max_container: 5\n", `goshawk.yaml:7:5: unknown key "max_container" in assets.tc; did you mean "max_containers"?`},
		{"missing secret", base, `goshawk.yaml:2:3: assets.tc: missing required key "secret_key"`},
		{"negative max", base + "    secret_key: ${TC_SECRET}\n    max_containers: -1\n", `goshawk.yaml:7:21: assets.tc: max_containers: Please provide a positive, non zero integer in config parameter "max_containers"`},
		{"unset var", base + "    secret_key: ${NOT_SET_ANYWHERE}\n", `asset tc needs NOT_SET_ANYWHERE (secret_key: ${NOT_SET_ANYWHERE}); export it`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(f.cfg, []byte(c.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := f.run("act", "tc", "test_connectivity")
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Fatalf("code %d, stderr %q, want %q", code, errOut, c.want)
			}
		})
	}
}

// TestEveryCommandKeepsSecrets runs every command, successes and failures,
// in text and JSON logs at debug level; fixture.run fails on any leak.
func TestEveryCommandKeepsSecrets(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	pbDir := filepath.Join(f.dir, "playbooks")
	os.MkdirAll(pbDir, 0o755)
	os.WriteFile(filepath.Join(pbDir, "echo.yaml"), []byte("inputs:\n  ip: {type: string, contains: [ip]}\nassets: [tc]\nlua: |\n  local r = tc.hunt_ip{ip = input.ip or \"1.2.3.4\"}\n  log.info(\"secret?\", {k = \""+testTCSecret+"\"})\n  return {status = r.status, leak = \""+testTQPassword+"\"}\n"), 0o644)
	for _, format := range []string{"text", "json"} {
		g := []string{"-v", "--log-format", format}
		cmds := [][]string{
			{"version"}, {"actions"}, {"actions", "--json"}, {"actions", "threatq"},
			{"act", "tc", "test_connectivity"}, {"act", "tc", "hunt_ip", "ip=" + tcfake.SeedIPv4, "--json"},
			{"act", "tq", "test_connectivity", "--json"}, {"act", "tq", "get_indicators_list", "limit=2"},
			{"poll", "tc"}, {"poll", "tc", "--json"}, {"containers"}, {"containers", "--json"}, {"container", "1", "--json"},
			{"run", "echo", "ip=" + tcfake.SeedIPv4, "--json"}, {"runs"}, {"runs", "show", "1", "--json"},
			{"validate"}, {"nosuchcommand"},
			{"runs", "--status", "failed", "--since", "1h"}, {"runs", "--trigger", "webhook"}, {"prune", "--dry-run"},
			{"run", "echo", "--container", "1"}, {"help", "run"}, {"act", "--help"}, {"--version"},
		}
		for _, c := range cmds {
			f.run(append(g, c...)...)
		}
		// Failures carry server text and config echoes: still no secrets.
		f.vars["TC_SECRET"] = "wrong-secret-value-1234"
		f.run(append(g, "act", "tc", "test_connectivity", "--json")...)
		f.vars["TC_SECRET"] = testTCSecret
	}
	out, _, _ := f.run("runs", "show", "1", "--json")
	if !strings.Contains(out, "[REDACTED]") {
		t.Fatalf("the run record should show the redaction marker where the script returned a secret:\n%s", out)
	}
}

func TestPollIngestsEverythingOnce(t *testing.T) {
	start := time.Now().UTC().Add(-48 * time.Hour)
	f := newFixture(t, tcfake.Options{Empty: true}, "")
	for _, ind := range tcfake.GenerateIndicators(300, 250, start) {
		f.tc.AddIndicator(ind)
	}
	total := 0
	for i, want := range []float64{100, 100, 100, 0} {
		out, errOut, code := f.run("poll", "tc", "--json")
		if code != exitOK {
			t.Fatalf("poll %d: code %d: %s", i, code, errOut)
		}
		var s map[string]any
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("poll %d: %v: %s", i, err, out)
		}
		if s["containers_created"] != want {
			t.Fatalf("poll %d created %v, want %v (summary %v)", i, s["containers_created"], want, s)
		}
		total += int(want)
	}
	out, _, _ := f.run("containers", "--json", "--limit", "1000")
	var cs []map[string]any
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		sdi := c["source_data_identifier"].(string)
		if seen[sdi] {
			t.Fatalf("indicator %s ingested twice", sdi)
		}
		seen[sdi] = true
	}
	if len(seen) != 300 || total != 300 {
		t.Fatalf("ingested %d distinct indicators, want 300", len(seen))
	}
	// Ingested oldest first: container ids follow dateAdded.
	prev := ""
	for _, c := range cs {
		d := c["artifacts"].([]any)[0].(map[string]any)["cef"].(map[string]any)["deviceCustomDate1"].(string)
		if d < prev {
			t.Fatalf("container %v dated %s comes after %s", c["id"], d, prev)
		}
		prev = d
	}
}

func TestPollNowLeavesTheCheckpoint(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, "")
	for _, ind := range tcfake.GenerateIndicators(20, 0, time.Now().UTC().Add(-24*time.Hour)) {
		f.tc.AddIndicator(ind)
	}
	out, errOut, code := f.run("poll", "tc", "--now", "--count", "5", "--json")
	if code != exitOK || !strings.Contains(out, `"containers_created": 5`) {
		t.Fatalf("poll --now: %d %s %s", code, out, errOut)
	}
	// The scheduled poll still starts from the beginning: 15 more.
	out, _, _ = f.run("poll", "tc", "--json")
	if !strings.Contains(out, `"containers_created": 15`) || !strings.Contains(out, `"duplicates": 5`) {
		t.Fatalf("scheduled poll after poll --now: %s", out)
	}
	if _, errOut, code := f.run("poll", "tc", "--count", "5"); code != exitUsage || !strings.Contains(errOut, "--now") {
		t.Fatalf("--count without --now: %d %s", code, errOut)
	}
}

func TestPollFailureMovesNothing(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, "")
	for _, ind := range tcfake.GenerateIndicators(10, 0, time.Now().UTC().Add(-24*time.Hour)) {
		f.tc.AddIndicator(ind)
	}
	f.tc.FailNext(3, 500, "") // every attempt of the first poll
	if _, _, code := f.run("poll", "tc"); code != exitFailed {
		t.Fatalf("poll against a 500 exited %d", code)
	}
	out, _, _ := f.run("containers", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("a failed poll stored containers: %s", out)
	}
	out, _, code := f.run("poll", "tc", "--json")
	if code != exitOK || !strings.Contains(out, `"containers_created": 10`) {
		t.Fatalf("poll after recovery: %s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	for _, args := range [][]string{
		{}, {"act"}, {"act", "tc"}, {"act", "nosuch", "hunt_ip"}, {"act", "tc", "hunt_ip", "noequals"},
		{"poll"}, {"container", "abc"}, {"runs", "show", "x"}, {"actions", "nosuch"}, {"--log-format", "xml", "version"},
	} {
		_, errOut, code := f.run(args...)
		if code != exitUsage {
			t.Errorf("goshawk %v exited %d, want 2 (%s)", args, code, errOut)
		}
	}
}

// TestValidateBrokenFolder lints the deliberately broken playbooks against
// a config that declares tc and tq: each problem at its file:line:col, exit 1.
func TestValidateBrokenFolder(t *testing.T) {
	var out, errb bytes.Buffer
	dir := filepath.Join("..", "..", "testdata")
	code := run(context.Background(), []string{"--config", filepath.Join(dir, "validate", "goshawk.yaml"), "validate", filepath.Join(dir, "playbooks-broken")},
		&out, &errb, func(string) (string, bool) { return "", false })
	if code != exitFailed {
		t.Fatalf("exit %d, want 1\n%s", code, errb.String())
	}
	want, err := os.ReadFile(filepath.Join(dir, "validate", "expected.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), filepath.Join(dir, "playbooks-broken")+string(filepath.Separator), "")
	if got != string(want) {
		t.Fatalf("validate printed\n%s\nwant\n%s", got, want)
	}
	for _, must := range []string{
		`unknown_key.yaml:3:3: unknown key "scedule"`,
		`bad_cron.yaml:3:13: trigger.schedule: cron expression "0 25 * * *"`,
		`undeclared_asset.yaml:7:13: asset tq is not declared`,
		`misspelled_action.lua:2:14: unknown action "hunt_ipp" for asset tc (threatconnect); did you mean "hunt_ip"?`,
		`unknown_param.yaml:6:39: unknown parameter "tags" for tc.hunt_ip`,
		`syntax_error.lua:5:10: lua syntax error`,
	} {
		if !strings.Contains(got, must) {
			t.Errorf("missing %q", must)
		}
	}
}

func TestActionsLuaStubs(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	out, errOut, code := f.run("actions", "--lua")
	if code != exitOK {
		t.Fatalf("%d %s", code, errOut)
	}
	for _, want := range []string{
		"---@meta",
		"---@field hunt_ip fun(params: {ip: string, owner?: string, attribute?: boolean, tag?: boolean, security_label?: boolean, max_results?: number}): goshawk.ActionResult",
		"---@field create_event fun(params: {",
		"---@type goshawk.threatconnect\ntc = {}",
		"---@type goshawk.threatq\ntq = {}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stubs lack %q", want)
		}
	}
}
