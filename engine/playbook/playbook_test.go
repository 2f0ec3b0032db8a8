package playbook

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
)

const fullPlaybook = `name: hunt-enrich-post
description: Hunt an IP in ThreatConnect, enrich it from ThreatQ, post the verdict back.
trigger:
  schedule: "*/15 * * * *"
  every: 10m
  on_poll: tc
  webhook: true
  timezone: Europe/Berlin
inputs:
  ip: {type: string, contains: [ip, ipv6], required: true, doc: The IP to hunt.}
  days: {type: integer, default: 7}
  tag: {type: bool, default: true}
assets: [tc, tq]
plugins: [reputation]
script: hunt.lua
timeout: 30s
concurrency: 2
queue: 10
`

const huntLua = `local r = tc.hunt_ip{ip = input.ip, tag = input.tag}
local q = tq.query_indicator{value = input.ip}
local s = plugins.reputation.score{ip = input.ip}
tc.post_data{indicator = input.ip, rating = 3}
return {hunt = r, enrich = q, score = s, days = input.days}
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, path string, env *Env) *Playbook {
	t.Helper()
	pb, diags := Load(path, env)
	for _, d := range diags {
		t.Errorf("unexpected diagnostic: %s", d)
	}
	if pb == nil {
		t.Fatal("Load returned no playbook")
	}
	return pb
}

func TestLoadFull(t *testing.T) {
	dir := writeFiles(t, map[string]string{"hunt.yaml": fullPlaybook, "hunt.lua": huntLua})
	pb := mustLoad(t, filepath.Join(dir, "hunt.yaml"), testEnv(t))

	if pb.Name != "hunt-enrich-post" || !strings.HasPrefix(pb.Description, "Hunt an IP") {
		t.Errorf("name %q, description %q", pb.Name, pb.Description)
	}
	tr := pb.Trigger
	if tr.Schedule != "*/15 * * * *" || tr.Cron == nil || tr.Every != 10*time.Minute || tr.OnPoll != "tc" || !tr.Webhook || tr.Timezone != "Europe/Berlin" {
		t.Errorf("trigger = %+v", tr)
	}
	// 09:07 UTC is 10:07 in Berlin in winter; the next quarter is 10:15 there.
	from := time.Date(2025, 1, 10, 9, 7, 0, 0, time.UTC)
	if got, want := tr.Cron.Next(from), time.Date(2025, 1, 10, 9, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Cron.Next = %s, want %s", got, want)
	}
	if n := len(tr.Schedules()); n != 2 {
		t.Errorf("Schedules() has %d schedules, want 2", n)
	}
	wantInputs := []Input{
		{Name: "ip", Type: providers.String, Contains: []string{"ip", "ipv6"}, Required: true, Doc: "The IP to hunt."},
		{Name: "days", Type: providers.Integer, Default: int64(7)},
		{Name: "tag", Type: providers.Bool, Default: true},
	}
	if !reflect.DeepEqual(pb.Inputs, wantInputs) {
		t.Errorf("inputs =\n%#v\nwant\n%#v", pb.Inputs, wantInputs)
	}
	if !reflect.DeepEqual(pb.Assets, []string{"tc", "tq"}) || !reflect.DeepEqual(pb.Plugins, []string{"reputation"}) {
		t.Errorf("assets %v, plugins %v", pb.Assets, pb.Plugins)
	}
	if pb.ScriptPath != filepath.Join(dir, "hunt.lua") || pb.SourceName != pb.ScriptPath || string(pb.Source) != huntLua || pb.SourceLine != 1 {
		t.Errorf("script path %q, source name %q, line %d, source %q", pb.ScriptPath, pb.SourceName, pb.SourceLine, pb.Source)
	}
	if pb.Timeout != 30*time.Second || pb.Concurrency != 2 || pb.Queue != 10 {
		t.Errorf("timeout %s, concurrency %d, queue %d", pb.Timeout, pb.Concurrency, pb.Queue)
	}
	if len(pb.Version) != 12 {
		t.Errorf("version %q is not 12 hex digits", pb.Version)
	}
	params := pb.Params()
	if len(params) != 3 || params[0].Name != "ip" || !params[0].Required || params[1].Default != int64(7) {
		t.Errorf("Params() = %+v", params)
	}
}

func TestDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{"quick-check.yaml": "lua: |\n  return 1\n"})
	pb := mustLoad(t, filepath.Join(dir, "quick-check.yaml"), nil)
	if pb.Name != "quick-check" {
		t.Errorf("name %q, want the file name", pb.Name)
	}
	if pb.Timeout != DefaultTimeout || pb.Concurrency != DefaultConcurrency || pb.Queue != DefaultQueue {
		t.Errorf("timeout %s, concurrency %d, queue %d; want the defaults", pb.Timeout, pb.Concurrency, pb.Queue)
	}
	if !reflect.DeepEqual(pb.Trigger, Trigger{}) || pb.Trigger.Schedules() != nil {
		t.Errorf("trigger %+v, want manual only", pb.Trigger)
	}
	if string(pb.Source) != "return 1\n" || pb.ScriptPath != "" || pb.SourceName != pb.File || pb.SourceLine != 2 {
		t.Errorf("source %q, script %q, source name %q, line %d", pb.Source, pb.ScriptPath, pb.SourceName, pb.SourceLine)
	}
}

// parseDiags parses src as pb.yaml with the test env and returns the
// diagnostics as strings.
func parseDiags(t *testing.T, src string) []string {
	t.Helper()
	pb, diags := Parse("pb.yaml", []byte(src), testEnv(t))
	if (pb == nil) != (len(diags) > 0) {
		t.Fatalf("Parse returned playbook %v with %d diagnostics", pb != nil, len(diags))
	}
	out := []string{}
	for _, d := range diags {
		out = append(out, d.String())
	}
	return out
}

func TestDecodeDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty file", "", []string{
			`pb.yaml:1:1: the playbook is empty; it needs at least a script or lua key`}},
		{"not a mapping", "- lua\n", []string{
			`pb.yaml:1:1: a playbook must be a mapping of keys (name, trigger, script, ...), got a list`}},
		{"yaml syntax", "lua: return 1\n  bad: x\n", []string{
			`pb.yaml:2:6: yaml: mapping values are not allowed in this context`}},
		{"unknown key with hint", "lua: return 1\ndescripton: x\n", []string{
			`pb.yaml:2:1: unknown key "descripton"; did you mean "description"?`}},
		{"unknown key without hint", "lua: return 1\nowner: me\n", []string{
			`pb.yaml:2:1: unknown key "owner"; valid keys are name, description, trigger, inputs, assets, plugins, script, lua, timeout, concurrency, queue, retry_interrupted`}},
		{"duplicate key", "lua: return 1\ntimeout: 1s\ntimeout: 2s\n", []string{
			`pb.yaml:3:1: key "timeout" is given twice; keep one`}},
		{"neither script nor lua", "name: x\n", []string{
			`pb.yaml:1:1: missing script or lua: give the Lua file with script: or inline code with lua: |`}},
		{"both script and lua", "script: a.lua\nlua: return 1\n", []string{
			`pb.yaml:2:6: set either script (a file) or lua (inline), not both`}},
		{"missing script file", "script: nope.lua\n", []string{
			`pb.yaml:1:9: script nope.lua does not exist; the path is relative to the playbook's folder`}},
		{"wrong types", "name: [x]\ntimeout: 30\nconcurrency: four\nqueue: -1\nlua: return 1\n", []string{
			`pb.yaml:1:7: name must be a string, got a list`,
			`pb.yaml:2:10: timeout must be a duration such as 30s, 10m or 1h30m, got the number 30`,
			`pb.yaml:3:14: concurrency must be a whole number, got the string "four"`,
			`pb.yaml:4:8: queue must be 0 or more, got -1`}},
		{"bad name", "name: my playbook\nlua: return 1\n", []string{
			`pb.yaml:1:7: name "my playbook" must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit`}},
		{"bad cron", "trigger: {schedule: \"* * *\"}\nlua: return 1\n", []string{
			`pb.yaml:1:21: trigger.schedule: cron expression "* * *" has 3 fields; want 5 (minute hour day-of-month month day-of-week)`}},
		{"cron out of range", "trigger:\n  schedule: 61 * * * *\nlua: return 1\n", []string{
			`pb.yaml:2:13: trigger.schedule: cron expression "61 * * * *": end of range (61) above maximum (59): 61`}},
		{"bad duration", "trigger:\n  every: 10 minutes\nlua: return 1\n", []string{
			`pb.yaml:2:10: trigger.every must be a duration such as 30s, 10m or 1h30m, got the string "10 minutes"`}},
		{"interval too short", "trigger:\n  every: 10ms\nlua: return 1\n", []string{
			`pb.yaml:2:10: trigger.every: interval 10ms is too short; use at least 1s`}},
		{"unknown timezone", "trigger:\n  schedule: 0 9 * * *\n  timezone: Europe/Berlinn\nlua: return 1\n", []string{
			`pb.yaml:3:13: trigger.timezone: unknown time zone "Europe/Berlinn"; use an IANA name such as "UTC" or "America/New_York"`}},
		{"trigger key typo", "trigger:\n  webhok: true\nlua: return 1\n", []string{
			`pb.yaml:2:3: unknown key "webhok" in trigger; did you mean "webhook"?`}},
		{"webhook not bool", "trigger:\n  webhook: \"yes\"\nlua: return 1\n", []string{
			`pb.yaml:2:12: trigger.webhook must be true or false, got the string "yes"`}},
		{"on_poll not configured", "trigger:\n  on_poll: tx\nlua: return 1\n", []string{
			`pb.yaml:2:12: trigger.on_poll: asset "tx" is not configured; did you mean "tc"?`}},
		{"asset not configured", "assets: [tc, misp]\nlua: return 1\n", []string{
			`pb.yaml:1:14: asset "misp" is not configured; add it under assets: in goshawk.yaml`}},
		{"asset listed twice", "assets: [tc, tc]\nlua: return 1\n", []string{
			`pb.yaml:1:14: asset "tc" is listed twice in assets`}},
		{"assets not a list", "assets: tc\nlua: return 1\n", []string{
			`pb.yaml:1:9: assets must be a list such as [a, b], got the string "tc"`}},
		{"plugin not loaded", "plugins: [reputation, whois]\nlua: return 1\n", []string{
			`pb.yaml:1:23: plugin "whois" is not loaded; put whois.wasm in the plugins folder`}},
		{"input without type", "inputs:\n  ip: {required: true}\nlua: return 1\n", []string{
			`pb.yaml:2:7: input "ip": missing required key "type" (one of string, number, integer, bool, object, array, duration)`}},
		{"unknown input type", "inputs:\n  ip: {type: ipaddr}\nlua: return 1\n", []string{
			`pb.yaml:2:14: input "ip": unknown type "ipaddr"; use one of string, number, integer, bool, object, array, duration`}},
		{"input type typo", "inputs:\n  n: {type: numbr}\nlua: return 1\n", []string{
			`pb.yaml:2:13: input "n": unknown type "numbr"; did you mean "number"?`}},
		{"a broken input is not reported again where the script uses it", "inputs:\n  ip: {type: strin}\nlua: return input.ip\n", []string{
			`pb.yaml:2:14: input "ip": unknown type "strin"; did you mean "string"?`}},
		{"unknown contains", "inputs:\n  h: {type: string, contains: [sha512]}\nlua: return 1\n", []string{
			`pb.yaml:2:32: input "h": unknown contains type "sha512"; did you mean "sha1"?`}},
		{"contains on a number", "inputs:\n  n: {type: number, contains: [ip]}\nlua: return 1\n", []string{
			`pb.yaml:2:31: input "n": contains applies to string inputs only, and this one has type number`}},
		{"unknown input key", "inputs:\n  ip: {type: string, requred: true}\nlua: return 1\n", []string{
			`pb.yaml:2:22: unknown key "requred" in input "ip"; did you mean "required"?`}},
		{"bad default", "inputs:\n  n: {type: integer, default: 1.5}\nlua: return 1\n", []string{
			`pb.yaml:2:31: input "n" default: parameter "n" must be an integer, got 1.5`}},
		{"default fails contains", "inputs:\n  ip: {type: string, contains: [ip], default: nope}\nlua: return 1\n", []string{
			`pb.yaml:2:47: input "ip" default: Parameter 'ip' failed validation`}},
		{"required with default", "inputs:\n  ip: {type: string, required: true, default: 1.2.3.4}\nlua: return 1\n", []string{
			`pb.yaml:2:47: input "ip" is required, so its default is never used; drop one of them`}},
		{"bad input name", "inputs:\n  Source-IP: {type: string}\nlua: return 1\n", []string{
			`pb.yaml:2:3: input name "Source-IP" must be lowercase letters, digits and '_', starting with a letter`}},
		{"alias", "x: &v 1s\ntimeout: *v\nlua: return 1\n", []string{
			`pb.yaml:2:10: aliases (*v) are not supported in playbooks; write the value out`}},
		{"two documents", "lua: return 1\n---\nlua: return 2\n", []string{
			`pb.yaml:2:1: a playbook file holds one YAML document; move this one to its own file`}},
		{"custom tag", "lua: !lua return 1\n", []string{
			`pb.yaml:1:6: the YAML tag !lua is not supported in playbooks; remove it and write the value as plain text`}},
		{"binary tag", "description: !!binary aGk=\nlua: return 1\n", []string{
			`pb.yaml:1:14: the YAML tag !!binary is not supported in playbooks; remove it and write the value as plain text`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseDiags(t, tt.src)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLintDiagnostics(t *testing.T) {
	const head = "inputs:\n  ip: {type: string, required: true}\nassets: [tc]\nplugins: [reputation]\nlua: |\n"
	// Lua line n of each case is line n+5 of the file, indented by 2.
	tests := []struct {
		name string
		lua  string
		want []string
	}{
		{"valid", "local r = tc.hunt_ip{ip = input.ip, tag = true}\nreturn r.status", nil},
		{"misspelled action", "return tc.hunt_ipp{ip = input.ip}", []string{
			`pb.yaml:6:13: unknown action "hunt_ipp" for asset tc (threatconnect); did you mean "hunt_ip"?`}},
		{"unknown action without hint", "return tc.delete_everything()", []string{
			`pb.yaml:6:13: unknown action "delete_everything" for asset tc (threatconnect); its actions are: hunt_ip, post_data, test_connectivity`}},
		{"action used as a value", "local f = tc.hunt_ipp\nreturn f", []string{
			`pb.yaml:6:16: unknown action "hunt_ipp" for asset tc (threatconnect); did you mean "hunt_ip"?`}},
		{"unknown parameter", "return tc.hunt_ip{ip = input.ip, tga = true}", []string{
			`pb.yaml:6:36: unknown parameter "tga" for tc.hunt_ip; did you mean "tag"?`}},
		{"parameter for an action without any", "return tc.test_connectivity{verbose = true}", []string{
			`pb.yaml:6:31: unknown parameter "verbose" for tc.test_connectivity: it takes no parameters`}},
		{"missing required", "return tc.hunt_ip{tag = true}", []string{
			`pb.yaml:6:13: tc.hunt_ip: missing required parameter "ip"`}},
		{"missing required, no arguments", "return tc.hunt_ip()", []string{
			`pb.yaml:6:13: tc.hunt_ip: missing required parameter "ip"`}},
		{"computed keys skip the required check", "local p = {}\nreturn tc.hunt_ip{[p] = 1, tag = true}", nil},
		{"a table variable skips the parameter checks", "local p = {ip = input.ip}\nreturn tc.hunt_ip(p)", nil},
		{"literal of the wrong type", "return tc.hunt_ip{ip = input.ip, tag = \"maybe\"}", []string{
			`pb.yaml:6:36: tc.hunt_ip: parameter "tag" must be true or false, got "maybe"`}},
		{"literal failing contains", "return tc.hunt_ip{ip = \"nope\"}", []string{
			`pb.yaml:6:21: tc.hunt_ip: Parameter 'ip' failed validation: "nope" is not a valid ip or ipv6`}},
		{"literal out of range", "return tc.post_data{indicator = input.ip, rating = 9}", []string{
			`pb.yaml:6:45: tc.post_data: Parameter 'rating' must be an integer between 0 and 5`}},
		{"configured asset not declared", "return tq.query_indicator{value = input.ip}", []string{
			`pb.yaml:6:10: asset tq is not declared in this playbook; add it to assets: to use it`}},
		{"unknown global used like an asset", "return threatconnect.hunt_ip{ip = input.ip}", []string{
			`pb.yaml:6:10: undeclared asset "threatconnect": it is not in assets: and not a Lua global; declare it in assets:, or as a local`}},
		{"near miss of an asset", "return tcc.hunt_ip{ip = input.ip}", []string{
			`pb.yaml:6:10: undeclared asset "tcc"; did you mean "tc"?`}},
		{"locals, parameters and script globals are not assets", "local t = {}\nfunction helper(x) return x.y end\nfor k, v in pairs(t) do local z = v.w end\nlocal function f(a) return a.b end\nreturn helper(t) and t.x and f(t) and string.upper(\"x\")", nil},
		{"locals are scoped", "do local box = {} end\nreturn box.x", []string{
			`pb.yaml:7:10: undeclared asset "box": it is not in assets: and not a Lua global; declare it in assets:, or as a local`}},
		{"local shadows an asset", "local tc = {hunt_ipp = 1}\nreturn tc.hunt_ipp", nil},
		{"method call on an asset", "return tc:hunt_ip{ip = input.ip}", []string{
			`pb.yaml:6:13: call actions with a dot, as in tc.hunt_ip{...}, not tc:hunt_ip`}},
		{"unknown input", "return input.adress", []string{
			`pb.yaml:6:16: unknown input "adress"; declared inputs are: ip`}},
		{"input typo", "return input.ipp", []string{
			`pb.yaml:6:16: unknown input "ipp"; did you mean "ip"?`}},
		{"plugin function typo", "return plugins.reputation.scroe{ip = input.ip}", []string{
			`pb.yaml:6:29: plugin reputation has no function "scroe"; did you mean "score"?`}},
		{"plugin not declared", "return plugins.whois.lookup{}", []string{
			`pb.yaml:6:18: plugin "whois" is not in this playbook's plugins; add it to plugins:`}},
		{"sandboxed library", "local f = io.open(\"/etc/passwd\")", []string{
			`pb.yaml:6:13: io is not available in playbooks; the sandbox has no file, process, module or debug access`}},
		{"os outside the sandbox", "os.execute(\"id\")\nreturn os.time()", []string{
			`pb.yaml:6:6: os.execute is not available in playbooks; the sandbox keeps only os.clock, os.date and os.time`}},
		{"syntax error", "local r = tc.hunt_ip{ip = input.ip\nreturn r", []string{
			`pb.yaml:7:3: lua syntax error near "return"`}},
		{"unexpected end", "if input.ip then\n  return 1", []string{
			`pb.yaml:7:12: lua syntax error: unexpected end of script after "1"; is an "end" or a closing bracket missing?`}},
		{"lexer error", "local ok = true\nlocal s = 'abc", []string{
			`pb.yaml:7:13: lua syntax error: unterminated string`}},
		{"compile error", "local x = 1\ngoto nowhere\nreturn x", []string{
			`pb.yaml:7:3: lua: no visible label 'nowhere' for <goto>`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + "  " + strings.ReplaceAll(tt.lua, "\n", "\n  ") + "\n"
			got := parseDiags(t, src)
			want := tt.want
			if want == nil {
				want = []string{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestLintScriptFilePositions(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"p.yaml": "assets: [tc]\nscript: p.lua\n",
		"p.lua":  "-- comment\n\nlocal r = tc.hunt_ip{ip = \"1.2.3.4\", tga = true}\n",
	})
	_, diags := Load(filepath.Join(dir, "p.yaml"), testEnv(t))
	want := []Diagnostic{{File: filepath.Join(dir, "p.lua"), Line: 3, Col: 38, Message: `unknown parameter "tga" for tc.hunt_ip; did you mean "tag"?`}}
	if !reflect.DeepEqual(diags, want) {
		t.Fatalf("diagnostics %v, want %v", diags, want)
	}
}

func TestNilEnvSkipsEnvironmentChecks(t *testing.T) {
	src := "assets: [nowhere]\nplugins: [gone]\nlua: |\n  return nowhere.anything{x = 1}\n"
	if pb, diags := Parse("pb.yaml", []byte(src), nil); len(diags) > 0 || pb == nil {
		t.Fatalf("diagnostics %v without an env", diags)
	}
	// The Lua is still parsed and checked for undeclared globals.
	src = "lua: |\n  return nowhere.anything()\n"
	if _, diags := Parse("pb.yaml", []byte(src), nil); len(diags) != 1 {
		t.Fatalf("diagnostics %v, want the undeclared asset", diags)
	}
}

func TestCheckInputs(t *testing.T) {
	src := "name: hunt\ninputs:\n  ip: {type: string, contains: [ip, ipv6], required: true}\n  days: {type: integer, default: 7}\n  score: {type: number}\nlua: return 1\n"
	pb, diags := Parse("hunt.yaml", []byte(src), nil)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	got, err := pb.CheckInputs(map[string]any{"ip": "10.0.0.1", "score": "2.5"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"ip": "10.0.0.1", "days": int64(7), "score": 2.5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CheckInputs = %#v, want %#v", got, want)
	}

	tests := []struct {
		name  string
		raw   map[string]any
		want  string
		usage bool
	}{
		{"missing required", map[string]any{}, `playbook hunt: invalid input: parameter "ip" is required`, true},
		{"ip that is not one", map[string]any{"ip": "nope"}, `playbook hunt: invalid input: Parameter 'ip' failed validation: "nope" is not a valid ip or ipv6`, false},
		{"number that is not one", map[string]any{"ip": "::1", "score": "abc"}, `playbook hunt: invalid input: parameter "score" must be a number, got "abc"`, true},
		{"integer that is not whole", map[string]any{"ip": "::1", "days": 1.5}, `playbook hunt: invalid input: parameter "days" must be an integer, got 1.5`, true},
		{"unknown input", map[string]any{"ip": "::1", "dayz": 3}, `playbook hunt: invalid input: unknown parameter "dayz"; did you mean "days"?`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pb.CheckInputs(tt.raw)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			var pe *providers.ParamError
			if !errors.As(err, &pe) || pe.Usage != tt.usage {
				t.Fatalf("error %v does not wrap a ParamError with Usage %v", err, tt.usage)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.yaml": "script: p.lua\n", "p.lua": "return 1\n"})
	path := filepath.Join(dir, "p.yaml")
	v1 := mustLoad(t, path, nil).Version
	if v := mustLoad(t, path, nil).Version; v != v1 {
		t.Fatalf("same content, versions %s and %s", v1, v)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.lua"), []byte("return 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v2 := mustLoad(t, path, nil).Version
	if v2 == v1 {
		t.Fatal("editing the script did not change the version")
	}
	if err := os.WriteFile(path, []byte("script: p.lua\ntimeout: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := mustLoad(t, path, nil).Version; v == v2 {
		t.Fatal("editing the YAML did not change the version")
	}
}

func TestLoadDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml":       "lua: return 1\n",
		"b.yaml":       "name: c\nlua: return 1\n",
		"c.yaml":       "lua: return 1\n",
		".#a.yaml":     "editor lock file",
		"notes.txt":    "not a playbook",
		"helper.lua":   "return 1",
		"broken.yaml":  "lua: [\n",
		"unknown.yaml": "lua: return 1\nfoo: 1\n",
	})
	pbs, diags := LoadDir(dir, nil)
	if got := keys(pbs); len(got) != 2 || pbs["a"] == nil || pbs["c"] == nil {
		t.Fatalf("playbooks %v, want a and c", got)
	}
	if filepath.Base(pbs["c"].File) != "b.yaml" {
		t.Fatalf("c comes from %s, want b.yaml, the first file by name", pbs["c"].File)
	}
	var got []string
	for _, d := range diags {
		d.File = filepath.Base(d.File)
		got = append(got, d.String())
	}
	want := []string{
		`broken.yaml:1:6: yaml: did not find expected node content`,
		`c.yaml:1:1: playbook name "c" is already used by b.yaml; names must be unique, so rename one`,
		`unknown.yaml:2:1: unknown key "foo"; valid keys are name, description, trigger, inputs, assets, plugins, script, lua, timeout, concurrency, queue, retry_interrupted`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDiagnosticString(t *testing.T) {
	d := Diagnostic{File: "p.yaml", Line: 3, Col: 7, Message: "bad"}
	if d.String() != "p.yaml:3:7: bad" {
		t.Fatal(d.String())
	}
	if Error(nil) != nil {
		t.Fatal("Error(nil) is not nil")
	}
	err := Error([]Diagnostic{d, {File: "q.lua", Line: 1, Col: 1, Message: "worse"}})
	if err.Error() != "p.yaml:3:7: bad\nq.lua:1:1: worse" {
		t.Fatal(err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(fullPlaybook))
	f.Add([]byte("lua: |\n  return tc.hunt_ip{ip = input.ip}\n"))
	f.Add([]byte("trigger: {schedule: \"*/5 * * * *\", every: 1m}\ninputs: {x: {type: object, default: {a: 1}}}\nlua: return 1\n"))
	f.Add([]byte("x: &a [*a]\n"))
	files, _ := filepath.Glob(filepath.Join(brokenDir, "*.yaml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		pb, diags := Parse("fuzz.yaml", data, env)
		if (pb == nil) == (len(diags) == 0) {
			t.Fatalf("playbook %v with %d diagnostics", pb != nil, len(diags))
		}
		for _, d := range diags {
			if d.Line < 1 || d.Col < 1 || d.Message == "" {
				t.Fatalf("malformed diagnostic %q", d)
			}
		}
	})
}
