package main

import (
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestSecretsOnlyWhereUsed: with no asset secret in the environment, the
// commands that read the config and the store work, a playbook that uses
// no asset runs, and each command that uses an asset exits 2 naming the
// variable and the asset.
func TestSecretsOnlyWhereUsed(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "retention:\n  runs: 30d\n")
	withRunPlaybooks(t, f)
	if _, errOut, code := f.run("poll", "tc"); code != exitOK {
		t.Fatal(errOut)
	}
	if _, errOut, code := f.run("run", "hunt_enrich_post", "ip="+tcfake.SeedIPv4); code != exitOK {
		t.Fatal(errOut)
	}
	f.vars = map[string]string{"API_TOKEN": testAPIToken}
	for _, args := range [][]string{
		{"runs"}, {"runs", "show", "1"}, {"containers"}, {"container", "1"}, {"actions"}, {"actions", "--lua"},
		{"validate"}, {"prune", "--dry-run"},
	} {
		out, errOut, code := f.run(args...)
		if code != exitOK || strings.TrimSpace(out) == "" {
			t.Errorf("goshawk %s with no secrets: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	// validate reports each unset variable as a warning.
	if out, _, _ := f.run("validate"); !strings.Contains(out, "warning: assets.tc.secret_key: environment variable TC_SECRET is not set") {
		t.Errorf("validate does not warn of TC_SECRET:\n%s", out)
	}
	// A playbook that uses no asset runs (and fails on its own terms).
	if _, errOut, code := f.run("run", "always_fails"); code != exitFailed || strings.Contains(errOut, "goshawk: asset") {
		t.Errorf("run always_fails with no secrets: exit %d, %s", code, errOut)
	}
	for _, args := range [][]string{
		{"act", "tc", "test_connectivity"}, {"poll", "tc"}, {"run", "hunt_enrich_post", "ip=" + tcfake.SeedIPv4},
	} {
		_, errOut, code := f.run(args...)
		if code != exitUsage || !strings.Contains(errOut, "asset tc needs TC_SECRET (secret_key: ${TC_SECRET}); export it") {
			t.Errorf("goshawk %s with no secrets: exit %d, %q", strings.Join(args, " "), code, errOut)
		}
	}
}
