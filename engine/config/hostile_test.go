package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/diag"
)

const tcBase = "assets:\n  tc:\n    provider: threatconnect\n    base_url: https://tc.example\n    access_id: a\n    secret_key: not-a-real-secret\n"

// parseDiags parses y and returns the error diagnostics and the warnings,
// each as "file:line:col: message".
func parseDiags(t *testing.T, y string, vars map[string]string) (*config.Config, []string, []string) {
	t.Helper()
	c, err := config.Parse("goshawk.yaml", []byte(y), registry(t), env(vars))
	var errs, warns []string
	for _, d := range diag.From(err) {
		errs = append(errs, d.String())
	}
	if c != nil {
		for _, d := range c.Warnings {
			warns = append(warns, d.String())
		}
	}
	return c, errs, warns
}

func wantOne(t *testing.T, got []string, want string) {
	t.Helper()
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}

// TestPollBelowOneSecondIsAnError guards issue 14 item 7: a poll interval
// the scheduler refuses used to pass and then never poll.
func TestPollBelowOneSecondIsAnError(t *testing.T) {
	_, errs, _ := parseDiags(t, tcBase+"    poll: 10ms\n", nil)
	wantOne(t, errs, "goshawk.yaml:7:11: assets.tc.poll: interval 10ms is too short; use at least 1s")
	c, errs, _ := parseDiags(t, tcBase+"    poll: 1s\n", nil)
	if len(errs) > 0 || c.Assets["tc"].Poll.Seconds() != 1 {
		t.Fatalf("1s: %v", errs)
	}
}

// TestIntervalDaysIsRangeChecked guards issue 14 item 12 on the config
// side: a bound declared by the provider is checked at the value.
func TestIntervalDaysIsRangeChecked(t *testing.T) {
	_, errs, _ := parseDiags(t, tcBase+"    interval_days: 106752\n", nil)
	wantOne(t, errs, "goshawk.yaml:7:20: assets.tc: interval_days must be an integer between 1 and 36500")
}

// TestEnvironmentValuesNeverPrinted guards issue 14 item 13: a value read
// from the environment is never echoed by an error.
func TestEnvironmentValuesNeverPrinted(t *testing.T) {
	vars := map[string]string{"TC_SECRET": "SECRETKEY-4242"}
	for name, y := range map[string]string{
		"integer":  tcBase + "    max_containers: ${TC_SECRET}\n",
		"bool":     tcBase + "    verify_server_cert: ${TC_SECRET}\n",
		"duration": tcBase + "    timeout: ${TC_SECRET}\n",
		"checked":  tcBase + "    interval_days: 9${TC_SECRET}\n",
		"grace":    "shutdown_grace: ${TC_SECRET}\n",
		"listen":   "listen: ${TC_SECRET}\n",
		"limits":   "plugin_limits:\n  p: {memory_mb: \"${TC_SECRET}\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, errs, _ := parseDiags(t, y, vars)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			for _, e := range errs {
				if strings.Contains(e, "SECRETKEY") || strings.Contains(e, "4242") {
					t.Errorf("the environment value leaked: %s", e)
				}
				if !strings.Contains(e, "TC_SECRET") {
					t.Errorf("the variable is not named: %s", e)
				}
			}
		})
	}
	// The literal value is still shown when it was written in the file.
	_, errs, _ := parseDiags(t, tcBase+"    verify_server_cert: maybe\n", nil)
	wantOne(t, errs, `goshawk.yaml:7:25: assets.tc.verify_server_cert: must be true or false, got "maybe"`)
}

// TestServeRulesAreValidateRules guards issue 14 item 14: what serve
// refuses, validate reports, through the same function.
func TestServeRulesAreValidateRules(t *testing.T) {
	for name, tc := range map[string]struct{ y, want string }{
		"port too large": {"listen: 127.0.0.1:99999\n", `goshawk.yaml:1:9: listen: "127.0.0.1:99999" has port "99999"; a port is a number from 1 to 65535 (0 picks a free one)`},
		"negative port":  {"listen: 127.0.0.1:-1\n", `goshawk.yaml:1:9: listen: "127.0.0.1:-1" has port "-1"; a port is a number from 1 to 65535 (0 picks a free one)`},
		"not host:port":  {"listen: 8470\n", `goshawk.yaml:1:9: listen: "8470" is not host:port; write for example 127.0.0.1:8470`},
	} {
		t.Run(name, func(t *testing.T) {
			_, errs, _ := parseDiags(t, tc.y, nil)
			wantOne(t, errs, tc.want)
		})
	}

	c, errs, _ := parseDiags(t, "listen: 0.0.0.0:8470\n", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	const insecure = "goshawk.yaml:1:9: refusing to serve the HTTP API on a non-loopback address without api_token: listen is 0.0.0.0:8470; set api_token (for example api_token: ${GOSHAWK_API_TOKEN}) or listen on 127.0.0.1:8470"
	probs := c.ServeProblems()
	if len(probs) != 1 || probs[0].String() != insecure {
		t.Fatalf("ServeProblems = %v", probs)
	}
	err := c.RequireServe()
	if !errors.Is(err, config.ErrInsecureListen) || err.Error() != insecure {
		t.Fatalf("RequireServe = %v", err)
	}
	if ds := diag.From(err); len(ds) != 1 || ds[0].Line != 1 {
		t.Fatalf("diagnostics of RequireServe: %v", ds)
	}

	c, _, _ = parseDiags(t, "listen: 0.0.0.0:8470\napi_token: tok-1234567\n", nil)
	if err := c.RequireServe(); err != nil || len(c.ServeProblems()) > 0 {
		t.Fatalf("with a token: %v", err)
	}
	c, _, _ = parseDiags(t, "listen: 127.0.0.1:8470\n", nil)
	if err := c.RequireServe(); err != nil {
		t.Fatalf("loopback: %v", err)
	}
}

// TestAssetNamesFromTheRuntime guards issue 14 item 15: Lua keywords and
// the runtime's globals (kept or removed by the sandbox) can't name an
// asset.
func TestAssetNamesFromTheRuntime(t *testing.T) {
	for name, why := range map[string]string{
		"end": "a Lua keyword", "function": "a Lua keyword", "nil": "a Lua keyword", "true": "a Lua keyword",
		"_G": "a global of the playbook runtime", "setmetatable": "a global of the playbook runtime",
		"tostring": "a global of the playbook runtime", "tonumber": "a global of the playbook runtime",
		"next": "a global of the playbook runtime", "input": "a global of the playbook runtime",
		"kv": "a global of the playbook runtime", "require": "a Lua global that the playbook sandbox removes",
		"io": "a Lua global that the playbook sandbox removes",
	} {
		y := strings.Replace(tcBase, "  tc:", "  "+name+":", 1)
		_, errs, _ := parseDiags(t, y, nil)
		wantOne(t, errs, `goshawk.yaml:2:3: assets.`+name+`: asset name "`+name+`" is `+why+`, which the asset would hide from playbooks; choose another name`)
	}
	_, errs, _ := parseDiags(t, strings.Replace(tcBase, "  tc:", "  1tc:", 1), nil)
	wantOne(t, errs, `goshawk.yaml:2:3: assets.1tc: asset name "1tc" must be a Lua identifier: letters, digits and _, not starting with a digit`)
	if _, errs, _ := parseDiags(t, strings.Replace(tcBase, "  tc:", "  threat_connect_2:", 1), nil); len(errs) > 0 {
		t.Fatal(errs)
	}
}

// TestSilentlyAcceptedBefore guards issue 14 item 16: each of these was
// accepted without a word.
func TestSilentlyAcceptedBefore(t *testing.T) {
	tests := []struct{ name, y, want string }{
		{"second document", "store: a.db\n---\nstore: b.db\n", "goshawk.yaml:2:1: a config file holds one YAML document; move this one to its own file"},
		{"empty reference", "store: ${}\n", `goshawk.yaml:1:8: store: "${}" names no variable; write ${NAME} with letters, digits and _, not starting with a digit (or $$ for a literal $)`},
		{"digit reference", "store: ${1X}\n", `goshawk.yaml:1:8: store: "${1X}" is not a variable name; write ${NAME} with letters, digits and _, not starting with a digit (or $$ for a literal $)`},
		{"unterminated reference", strings.Replace(tcBase, "not-a-real-secret", "${TC_SECRET", 1), `goshawk.yaml:6:17: assets.tc.secret_key: ${ is not closed; write ${NAME} (or $$ for a literal $)`},
		{"binary tag", "api_token: !!binary aGVsbG8=\n", "goshawk.yaml:1:12: the YAML tag !!binary is not supported in configs; remove it and write the value as plain text"},
		{"custom tag", "store: !vault goshawk.db\n", "goshawk.yaml:1:8: the YAML tag !vault is not supported in configs; remove it and write the value as plain text"},
		{"alias", "store: &s a.db\nplaybooks: *s\n", "goshawk.yaml:2:12: aliases (*s) are not supported in configs; write the value out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, _ := parseDiags(t, tt.y, map[string]string{"TC_SECRET": "x"})
			wantOne(t, errs, tt.want)
		})
	}
}

// TestPluginLimitsForAMissingPlugin guards issue 14 item 16: limits for a
// plugin that isn't there are a warning at their name.
func TestPluginLimitsForAMissingPlugin(t *testing.T) {
	c, errs, _ := parseDiags(t, "plugin_limits:\n  reputation: {timeout: 2s}\n  reputaton: {timeout: 2s}\n", nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ws := c.CheckPluginLimits([]string{"reputation"})
	if len(ws) != 1 || !ws[0].IsWarning() || ws[0].Line != 3 || ws[0].Col != 3 ||
		!strings.HasPrefix(ws[0].Message, "plugin_limits.reputaton: no plugin reputaton is loaded (no reputaton.wasm in ") ||
		!strings.HasSuffix(ws[0].Message, `these limits apply to nothing; did you mean "reputation"?`) {
		t.Fatalf("warnings: %v", ws)
	}
	if !strings.HasPrefix(ws[0].String(), "goshawk.yaml:3:3: warning: plugin_limits.reputaton") {
		t.Fatalf("String() = %q", ws[0].String())
	}
}

func TestPluginLimitsRanges(t *testing.T) {
	_, errs, _ := parseDiags(t, "plugin_limits:\n  p: {memory_mb: 5000, instances: 0, timeout: -1s}\n", nil)
	want := []string{
		"goshawk.yaml:2:18: plugin_limits.p.memory_mb: 5000 exceeds the 4096 MiB a 32-bit WebAssembly memory can hold",
		"goshawk.yaml:2:35: plugin_limits.p.instances must be at least 1, got 0",
		"goshawk.yaml:2:47: plugin_limits.p.timeout must be positive, got -1s",
	}
	if !reflect.DeepEqual(errs, want) {
		t.Fatalf("got\n%s", strings.Join(errs, "\n"))
	}
}

// TestSyntaxErrorColumn guards issue 14 item 17 for goshawk.yaml.
func TestSyntaxErrorColumn(t *testing.T) {
	_, errs, _ := parseDiags(t, "store: a.db\n  listen: x\n", nil)
	wantOne(t, errs, "goshawk.yaml:2:9: yaml: mapping values are not allowed in this context")
}

// TestUnsetVariablesOnlyFailWhereUsed guards the secrets-where-used rule
// (issue 11 item 2): an unset variable is a warning at load, and an error
// only for what needs it.
func TestUnsetVariablesOnlyFailWhereUsed(t *testing.T) {
	y := "api_token: ${GOSHAWK_API_TOKEN}\nlisten: 0.0.0.0:8470\nstore: ${DATA}/goshawk.db\n" + strings.Replace(tcBase, "secret_key: not-a-real-secret", "secret_key: ${TC_SECRET_KEY}", 1) +
		"  tc2:\n    provider: threatconnect\n    base_url: https://tc.example\n    access_id: a\n    secret_key: set-secret\n"
	c, errs, warns := parseDiags(t, y, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	wantWarns := []string{
		"goshawk.yaml:1:12: warning: api_token: environment variable GOSHAWK_API_TOKEN is not set; export it before a command that uses api_token",
		"goshawk.yaml:3:8: warning: store: environment variable DATA is not set; export it before a command that uses store",
		"goshawk.yaml:9:17: warning: assets.tc.secret_key: environment variable TC_SECRET_KEY is not set; export it before a command that opens asset tc",
	}
	if !reflect.DeepEqual(warns, wantWarns) {
		t.Fatalf("warnings:\n%s", strings.Join(warns, "\n"))
	}
	if !reflect.DeepEqual(c.Missing, []string{"DATA", "GOSHAWK_API_TOKEN"}) {
		t.Fatalf("Config.Missing = %v", c.Missing)
	}
	tc := c.Assets["tc"]
	if tc == nil || !reflect.DeepEqual(tc.Missing, []string{"TC_SECRET_KEY"}) {
		t.Fatalf("asset tc: %+v", tc)
	}
	const ready = "asset tc needs TC_SECRET_KEY (secret_key: ${TC_SECRET_KEY}); export it"
	if err := tc.Ready(); err == nil || err.Error() != ready {
		t.Fatalf("Ready() = %v", err)
	}
	if _, err := c.OpenAsset("tc"); err == nil || err.Error() != ready {
		t.Fatalf("OpenAsset = %v", err)
	}
	if err := c.Assets["tc2"].Ready(); err != nil {
		t.Fatalf("tc2: %v", err)
	}
	// The token is written, so the listen rule holds; serve still needs
	// the variables of the top-level keys.
	if probs := c.ServeProblems(); len(probs) > 0 {
		t.Fatalf("ServeProblems = %v", probs)
	}
	err := c.RequireServe()
	want := "goshawk.yaml:1:1: api_token needs the environment variable GOSHAWK_API_TOKEN, which is not set; export it\n" +
		"goshawk.yaml:3:1: store needs the environment variable DATA, which is not set; export it"
	if err == nil || err.Error() != want {
		t.Fatalf("RequireServe =\n%v\nwant\n%s", err, want)
	}
	if err := c.RequireStore(); err == nil || !strings.Contains(err.Error(), "store needs the environment variable DATA") {
		t.Fatalf("RequireStore = %v", err)
	}
	if got := c.Secrets(); !reflect.DeepEqual(got, []string{"set-secret"}) {
		t.Fatalf("Secrets = %v", got)
	}
}

func TestReadyNamesEveryVariable(t *testing.T) {
	y := strings.Replace(strings.Replace(tcBase, "secret_key: not-a-real-secret", "secret_key: ${K}", 1), "access_id: a", "access_id: ${ID}", 1)
	c, errs, _ := parseDiags(t, y, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	const want = "asset tc needs ID (access_id: ${ID}) and K (secret_key: ${K}); export them"
	if err := c.Assets["tc"].Ready(); err == nil || err.Error() != want {
		t.Fatalf("Ready() = %v", err)
	}
}

// TestConfigErrorIsDiagnostics guards that callers get positions from the
// error itself, never by splitting its text.
func TestConfigErrorIsDiagnostics(t *testing.T) {
	_, err := config.Parse("goshawk.yaml", []byte("asets: 1\nlisen: x\n"), registry(t), env(nil))
	var de *diag.Error
	if !errors.As(err, &de) || len(de.Diagnostics) != 2 || de.Diagnostics[1].Line != 2 || de.Diagnostics[1].Col != 1 {
		t.Fatalf("err = %#v", err)
	}
}

// TestUnsetVariableInANumber guards that an unset variable in a duration or
// a count is the same warning, not also a type error, and that serve
// refuses to start without it.
func TestUnsetVariableInANumber(t *testing.T) {
	c, errs, warns := parseDiags(t, "shutdown_grace: ${GRACE}\nplugin_limits:\n  p: {timeout: \"${T}\"}\n", nil)
	if len(errs) > 0 || len(warns) != 2 {
		t.Fatalf("errors %v, warnings %v", errs, warns)
	}
	if c.ShutdownGrace.Seconds() != 30 {
		t.Fatalf("shutdown_grace = %v, want the default", c.ShutdownGrace)
	}
	err := c.RequireServe()
	if err == nil || !strings.Contains(err.Error(), "goshawk.yaml:1:1: shutdown_grace needs the environment variable GRACE") ||
		!strings.Contains(err.Error(), "goshawk.yaml:2:1: plugin_limits needs the environment variable T") {
		t.Fatalf("RequireServe = %v", err)
	}
}

// TestRetentionReadsTheEnvironment guards that retention values follow the
// config's rules: ${VAR} is expanded and its value never shown.
func TestRetentionReadsTheEnvironment(t *testing.T) {
	c, errs, _ := parseDiags(t, "retention: {runs: \"${KEEP}\"}\n", map[string]string{"KEEP": "30d"})
	if len(errs) > 0 || c.Retention.Runs.Hours() != 30*24 {
		t.Fatalf("errors %v, runs %v", errs, c.Retention.Runs)
	}
	_, errs, _ = parseDiags(t, "retention: {runs: \"${KEEP}\"}\n", map[string]string{"KEEP": "soon-9731"})
	wantOne(t, errs, "goshawk.yaml:1:19: retention.runs must be a number of days such as 30d or a duration such as 720h, got the value of ${KEEP} (not shown: it comes from the environment)")
}
