package store

import (
	"context"
	"testing"
	"time"
)

// TestPruneLeavesNoOrphans checks that pruning a run takes its steps and
// pruning a container its artifacts. Which runs and containers retention
// removes is the shared suite's (storetest) Prune test.
func TestPruneLeavesNoOrphans(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	batch := containers(0, 2)
	if _, _, err := s.Ingest(ctx, "tc", batch, nil); err != nil {
		t.Fatal(err)
	}
	end := testNow.Add(time.Hour)
	for _, c := range batch {
		r := &Run{Playbook: "triage", Trigger: "on_poll", Started: testNow, ContainerID: c.ID}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Finished, r.Steps = RunSuccess, &end, []Step{{Asset: "tc", Action: "hunt_ip", Status: "success"}}
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n := countRows(t, s, "artifacts"); n != 2 {
		t.Fatalf("%d artifacts before pruning, want 2", n)
	}
	cutoff := testNow.Add(50 * time.Hour)
	q := PruneQuery{RunsBefore: cutoff, ContainersBefore: cutoff, KeepAfter: map[string]int64{"tc": batch[1].ID}}
	if res, err := s.Prune(ctx, q); err != nil || res != (PruneResult{Runs: 2, Containers: 2}) {
		t.Fatalf("prune: %+v, %v; want 2 runs and 2 containers", res, err)
	}
	var steps, artifacts int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM steps WHERE run_id NOT IN (SELECT id FROM runs)`).Scan(&steps); err != nil || steps != 0 {
		t.Errorf("steps of removed runs: %d, %v", steps, err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM artifacts WHERE container_id NOT IN (SELECT id FROM containers)`).Scan(&artifacts); err != nil || artifacts != 0 {
		t.Errorf("artifacts of removed containers: %d, %v", artifacts, err)
	}
}

// TestPruneInBatches removes more runs than one batch holds.
func TestPruneInBatches(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	end := testNow.Add(time.Minute)
	for range pruneBatch*2 + 7 {
		r := &Run{Playbook: "p", Trigger: "webhook", Started: testNow}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Finished = RunSuccess, &end
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Prune(ctx, PruneQuery{RunsBefore: testNow.Add(time.Hour)})
	if err != nil || res.Runs != pruneBatch*2+7 {
		t.Fatalf("prune: %+v, %v", res, err)
	}
}
