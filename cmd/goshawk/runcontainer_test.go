package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/playbooks"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// withPollTriage puts the shipped poll_triage playbook and a plain one in
// the fixture's playbooks folder.
func withPollTriage(t *testing.T, f *fixture) {
	t.Helper()
	for _, name := range []string{"poll_triage.yaml", "poll_triage.lua"} {
		b, err := playbooks.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f.writePlaybook(t, name, string(b))
	}
	f.writePlaybook(t, "plain.yaml", "description: takes no container\nlua: |\n  return {ok = true}\n")
}

// TestRunOnStoredContainer runs the on_poll playbook poll_triage by hand
// on a container a poll stored: the script gets it as container, and the
// record names it and keeps each step's parameters and result.
func TestRunOnStoredContainer(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	withPollTriage(t, f)
	if _, errOut, code := f.run("poll", "tc"); code != exitOK {
		t.Fatalf("poll: %s", errOut)
	}
	out, errOut, code := f.run("run", "poll_triage", "--container", "1", "--json")
	if code != exitOK {
		t.Fatalf("run poll_triage --container 1: exit %d\n%s\n%s", code, out, errOut)
	}
	var rec struct {
		Status      string `json:"status"`
		Trigger     string `json:"trigger"`
		ContainerID int64  `json:"container_id"`
		Steps       []struct {
			Asset, Action string
			Params        map[string]any  `json:"params"`
			Result        json.RawMessage `json:"result"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rec.Status != "success" || rec.Trigger != "manual" || rec.ContainerID != 1 || len(rec.Steps) == 0 {
		t.Fatalf("record: %s", out)
	}
	for _, s := range rec.Steps {
		if len(s.Params) == 0 || len(s.Result) == 0 {
			t.Errorf("step %s.%s keeps no parameters or result: %s", s.Asset, s.Action, out)
		}
	}
	// The container the script saw is the stored one: the run set its
	// severity.
	out, _, _ = f.run("container", "1", "--json")
	var c struct{ Severity string }
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.Severity == "" {
		t.Fatalf("container 1 after triage: %v %s", err, out)
	}
	// The text form prints the record too.
	if out, _, code := f.run("run", "poll_triage", "--container", "1"); code != exitOK || !strings.Contains(out, "poll_triage") {
		t.Fatalf("text: exit %d\n%s", code, out)
	}
}

func TestRunContainerErrors(t *testing.T) {
	// A second ThreatConnect asset, so there is a container of another asset.
	f := newFixture(t, tcfake.Options{}, "")
	extra := fmt.Sprintf("  tc2:\n    provider: threatconnect\n    base_url: %s\n    access_id: %s\n    secret_key: ${TC_SECRET}\n    max_containers: 2\n", f.tc.URL, tcfake.DefaultAccessID)
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfg, append(b, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	withPollTriage(t, f)
	if _, errOut, code := f.run("poll", "tc2"); code != exitOK { // containers 1 and 2, of tc2
		t.Fatalf("poll tc2: %s", errOut)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "poll_triage", "--container", "999"}, "container 999 does not exist; goshawk containers --asset tc lists the stored ones"},
		{[]string{"run", "poll_triage", "--container", "1"}, "container 1 came from asset tc2, but playbook poll_triage runs on containers of asset tc (trigger on_poll: tc)"},
		{[]string{"run", "poll_triage"}, "playbook poll_triage runs on containers of asset tc (trigger on_poll: tc): give one with --container ID"},
		{[]string{"run", "plain", "--container", "1"}, "playbook plain is not an on_poll playbook, so it takes no container"},
		{[]string{"run", "poll_triage", "--container", "-3"}, "--container takes a container ID, a positive integer"},
		{[]string{"run", "poll_triage", "--container", "x"}, `invalid argument "x" for "--container"`},
	}
	for _, c := range cases {
		_, errOut, code := f.run(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("goshawk %s: exit %d, %q; want 2 and %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	// None of the refused runs was recorded.
	if out, _, _ := f.run("runs", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("refused runs were recorded: %s", out)
	}
}
