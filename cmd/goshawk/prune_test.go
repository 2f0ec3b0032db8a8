package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestPrune plants history three days old in the fixture's store, through
// a store on a clock three days behind, then prunes with retention 1d:
// the finished run and its unreferenced container go, the running run and
// the container it names stay. goshawk prune needs no secrets.
func TestPrune(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "retention:\n  runs: 1d\n  containers: 2d\n")
	ctx := context.Background()
	old := time.Now().Add(-72 * time.Hour)
	st, err := store.Open(ctx, filepath.Join(f.dir, "goshawk.db"), store.WithClock(func() time.Time { return old }))
	if err != nil {
		t.Fatal(err)
	}
	batch := []cef.Container{
		{Name: "old, unreferenced", SourceDataIdentifier: "a", Artifacts: []cef.Artifact{{Name: "a", Type: "ip", CEF: map[string]any{"sourceAddress": "198.51.100.1"}}}},
		{Name: "old, named by a running run", SourceDataIdentifier: "b", Artifacts: []cef.Artifact{{Name: "b", Type: "ip", CEF: map[string]any{"sourceAddress": "198.51.100.2"}}}},
	}
	cp := "checkpoint"
	if _, _, err := st.AssetSink("tc").Ingest(ctx, batch, &cp); err != nil {
		t.Fatal(err)
	}
	done := &store.Run{Playbook: "old", Trigger: "manual"}
	if err := st.StartRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	done.Status = store.RunSuccess
	if err := st.FinishRun(ctx, done); err != nil {
		t.Fatal(err)
	}
	if err := st.StartRun(ctx, &store.Run{Playbook: "stuck", Trigger: "manual", ContainerID: 2}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	f.vars = map[string]string{} // prune opens no asset
	out, errOut, code := f.run("prune", "--dry-run")
	if code != exitOK || strings.TrimSpace(out) != "would prune 1 run(s) and 1 container(s) (runs older than 1d, containers older than 2d)" {
		t.Fatalf("prune --dry-run: exit %d, %q %s", code, out, errOut)
	}
	if out, _, _ := f.run("runs", "--json"); strings.Count(out, `"playbook"`) != 2 {
		t.Fatalf("the dry run removed runs: %s", out)
	}
	out, errOut, code = f.run("prune", "--json")
	var res struct {
		Runs, Containers int
		DryRun           bool `json:"dry_run"`
		Retention        struct{ Runs, Containers string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &res) != nil || res.Runs != 1 || res.Containers != 1 || res.DryRun || res.Retention.Runs != "1d" {
		t.Fatalf("prune --json: exit %d, %s %s", code, out, errOut)
	}
	out, _, _ = f.run("runs")
	if !strings.Contains(out, "stuck") || strings.Contains(out, "old") {
		t.Errorf("after prune, runs:\n%s", out)
	}
	out, _, _ = f.run("containers")
	if !strings.Contains(out, "named by a running run") || strings.Contains(out, "unreferenced") {
		t.Errorf("after prune, containers:\n%s", out)
	}
	if out, _, _ := f.run("prune"); strings.TrimSpace(out) != "pruned 0 run(s) and 0 container(s) (runs older than 1d, containers older than 2d)" {
		t.Errorf("second prune: %q", out)
	}
}

func TestPruneWithoutRetention(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	_, errOut, code := f.run("prune")
	if code != exitUsage || !strings.Contains(errOut, "has no retention: section, so everything is kept and nothing is pruned") || !strings.Contains(errOut, "runs: 30d") {
		t.Fatalf("prune without retention: exit %d, %s", code, errOut)
	}
}
