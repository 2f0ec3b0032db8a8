package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validateSite writes a config and playbooks into a folder and runs
// `goshawk --config <it> validate` with no environment variables set.
func validateSite(t *testing.T, cfg string, playbooks map[string]string) (string, string, int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "playbooks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "goshawk.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, src := range playbooks {
		if err := os.WriteFile(filepath.Join(dir, "playbooks", name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--config", filepath.Join(dir, "goshawk.yaml"), "validate"},
		&out, &errb, func(string) (string, bool) { return "", false })
	return strings.ReplaceAll(out.String(), dir+string(filepath.Separator), ""), errb.String(), code
}

const siteAssets = `assets:
  tc:
    provider: threatconnect
    base_url: https://tc.example
    access_id: "12345"
    secret_key: ${TC_SECRET_KEY}
`

// TestValidateWithoutSecrets guards the secrets-where-used rule: validate
// needs no asset secret, lints every playbook, and reports each unset
// variable as a warning at its position.
func TestValidateWithoutSecrets(t *testing.T) {
	out, errOut, code := validateSite(t, siteAssets, map[string]string{
		"good.yaml": "assets: [tc]\nlua: return tc.hunt_ip{ip = \"1.2.3.4\"}\n",
	})
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	const warn = "goshawk.yaml:6:17: warning: assets.tc.secret_key: environment variable TC_SECRET_KEY is not set; export it before a command that opens asset tc\n"
	if !strings.HasPrefix(out, warn) || !strings.Contains(out, "ok: config ") || !strings.Contains(out, "1 playbook(s)") || !strings.Contains(out, "1 warning(s)") {
		t.Fatalf("validate printed\n%s", out)
	}

	// The playbooks are still linted against the asset.
	out, _, code = validateSite(t, siteAssets, map[string]string{
		"bad.yaml": "assets: [tc]\nlua: return tc.hunt_ipp{ip = \"1.2.3.4\"}\n",
	})
	if code != exitFailed || !strings.Contains(out, warn) ||
		!strings.Contains(out, `bad.yaml:2:16: unknown action "hunt_ipp" for asset tc (threatconnect); did you mean "hunt_ip"?`) {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// TestValidateRefusesWhatServeRefuses guards issue 14 item 14: validate
// and serve apply the same rules to listen and api_token.
func TestValidateRefusesWhatServeRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ cfg, want string }{
		"no token off loopback": {"listen: 0.0.0.0:8470\n", "goshawk.yaml:1:9: refusing to serve the HTTP API on a non-loopback address without api_token"},
		"port too large":        {"listen: 127.0.0.1:99999\n", `goshawk.yaml:1:9: listen: "127.0.0.1:99999" has port "99999"`},
		"negative port":         {"listen: 127.0.0.1:-1\n", `goshawk.yaml:1:9: listen: "127.0.0.1:-1" has port "-1"`},
	} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := validateSite(t, tc.cfg, nil)
			if code == exitOK || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
		})
	}
	// A token read from an unset variable is written, so the listen rule
	// holds; the variable itself is a warning.
	out, errOut, code := validateSite(t, "listen: 0.0.0.0:8470\napi_token: ${GOSHAWK_API_TOKEN}\n", nil)
	if code != exitOK || !strings.Contains(out, "warning: api_token: environment variable GOSHAWK_API_TOKEN is not set") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestValidatePluginLimitsWithoutPlugin guards issue 14 item 16: limits for
// a plugin the plugins folder doesn't hold are a warning at their name.
func TestValidatePluginLimitsWithoutPlugin(t *testing.T) {
	out, errOut, code := validateSite(t, "plugin_limits:\n  reputation: {timeout: 2s}\n", nil)
	if code != exitOK || !strings.Contains(out, "goshawk.yaml:2:3: warning: plugin_limits.reputation: no plugin reputation is loaded (no reputation.wasm in ") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
