package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestRunsFilters: goshawk runs --status --trigger --since --until --limit,
// "No runs match" when a filter matches nothing, and a clear usage error
// for each bad value.
func TestRunsFilters(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withRunPlaybooks(t, f)
	if _, errOut, code := f.run("run", "hunt_enrich_post", "ip="+tcfake.SeedIPv4); code != exitOK {
		t.Fatalf("run: %s", errOut)
	}
	if _, _, code := f.run("run", "always_fails"); code != exitFailed {
		t.Fatalf("always_fails exited %d", code)
	}
	list := func(args ...string) []string {
		t.Helper()
		out, errOut, code := f.run(append([]string{"runs", "--json"}, args...)...)
		if code != exitOK {
			t.Fatalf("runs %v: exit %d: %s", args, code, errOut)
		}
		var runs []struct{ Playbook string }
		if err := json.Unmarshal([]byte(out), &runs); err != nil {
			t.Fatalf("runs %v: %v\n%s", args, err, out)
		}
		var names []string
		for _, r := range runs {
			names = append(names, r.Playbook)
		}
		return names
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "always_fails hunt_enrich_post"},
		{[]string{"--status", "failed"}, "always_fails"},
		{[]string{"--status=success", "--trigger", "manual"}, "hunt_enrich_post"},
		{[]string{"--trigger", "webhook"}, ""},
		{[]string{"--since", "1h"}, "always_fails hunt_enrich_post"},
		{[]string{"--since", "2000-01-01", "--until", "2000-01-02T00:00:00Z"}, ""},
		{[]string{"--limit", "1"}, "always_fails"},
		{[]string{"--playbook", "hunt_enrich_post", "--status", "failed"}, ""},
	} {
		if got := strings.Join(list(c.args...), " "); got != c.want {
			t.Errorf("runs %v: %q, want %q", c.args, got, c.want)
		}
	}
	// Text: "No runs match" with the filters, and "no runs yet" only when
	// there is no filter.
	out, _, code := f.run("runs", "--playbook", "nope", "--status", "failed")
	if code != exitOK || strings.TrimSpace(out) != "No runs match --playbook nope --status failed" {
		t.Errorf("runs --playbook nope: exit %d, %q", code, out)
	}
	out, _, _ = f.run("runs", "--status", "success")
	if !strings.Contains(out, "hunt_enrich_post") || strings.Contains(out, "always_fails") {
		t.Errorf("runs --status success:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--status", "done"}, `status "done" is not a run status; use one of running, success, failed, timeout, interrupted`},
		{[]string{"--trigger", "cron"}, `trigger "cron" is not a trigger; use one of manual, webhook`},
		{[]string{"--since", "yesterday"}, `--since must be a time such as 2024-03-04T10:00:00Z, a date such as 2024-03-04, or an age such as 24h or 7d, got "yesterday"`},
		{[]string{"--until", "-5h"}, `--until must be a time such as`},
		{[]string{"--since", "1h", "--until", "2h"}, `must be before until`},
		{[]string{"--limit", "0"}, `--limit must be positive, got 0`},
	} {
		_, errOut, code := f.run(append([]string{"runs"}, c.args...)...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("runs %v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}
