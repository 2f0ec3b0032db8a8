package store

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

// TestPruneKeepsRunningRunsAndUsedContainers prunes with cutoffs between
// old and recent records: finished old runs go, a run still running stays
// however old, a container goes only when no remaining run names it and
// it has been dispatched, and a dry run counts the same without removing.
func TestPruneKeepsRunningRunsAndUsedContainers(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := testNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	s, err := Open(ctx, filepath.Join(t.TempDir(), "goshawk.db"), WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	old, recent := testNow, testNow.Add(100*time.Hour)
	cutoff := testNow.Add(50 * time.Hour)
	ingest := func(asset, sdi string) int64 {
		t.Helper()
		batch := []cef.Container{container(sdi)}
		if _, _, err := s.Ingest(ctx, asset, batch, nil); err != nil {
			t.Fatal(err)
		}
		return batch[0].ID
	}
	run := func(container int64, started time.Time, finished *time.Time) int64 {
		t.Helper()
		r := &Run{Playbook: "triage", Trigger: "on_poll", Started: started, ContainerID: container}
		if container == 0 {
			r.Trigger = "webhook"
		}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if finished != nil {
			r.Status, r.Finished, r.Steps = RunSuccess, finished, []Step{{Asset: "tc", Action: "hunt_ip", Status: "success"}}
			if err := s.FinishRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		return r.ID
	}
	oldEnd, recentEnd := old.Add(time.Hour), recent.Add(time.Hour)

	setNow(old)
	usedByOldRun := ingest("tc", "a")
	usedByRunning := ingest("tc", "b")
	usedByRecentRun := ingest("tc", "c")
	unused := ingest("tc", "e")
	notDispatched := ingest("tq", "d")
	setNow(recent)
	recentContainer := ingest("tc", "f")

	oldRun := run(usedByOldRun, old, &oldEnd)
	runningRun := run(usedByRunning, old, nil)
	recentRun := run(usedByRecentRun, old, &recentEnd)
	oldWebhook := run(0, old, &oldEnd)
	oldRunning := run(0, old, nil)

	q := PruneQuery{RunsBefore: cutoff, ContainersBefore: cutoff, KeepAfter: map[string]int64{"tc": recentContainer, "tq": 0}, DryRun: true}
	res, err := s.Prune(ctx, q)
	if err != nil || res != (PruneResult{Runs: 2, Containers: 2}) {
		t.Fatalf("dry run: %+v, %v; want 2 runs and 2 containers", res, err)
	}
	if _, err := s.GetRun(ctx, oldRun); err != nil {
		t.Fatalf("the dry run removed a run: %v", err)
	}

	q.DryRun = false
	if res, err = s.Prune(ctx, q); err != nil || res != (PruneResult{Runs: 2, Containers: 2}) {
		t.Fatalf("prune: %+v, %v; want 2 runs and 2 containers", res, err)
	}
	for _, id := range []int64{oldRun, oldWebhook} {
		if _, err := s.GetRun(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("old finished run %d kept: %v", id, err)
		}
	}
	for _, id := range []int64{runningRun, recentRun, oldRunning} {
		if _, err := s.GetRun(ctx, id); err != nil {
			t.Errorf("run %d removed: %v", id, err)
		}
	}
	for _, id := range []int64{usedByOldRun, unused} {
		if _, err := s.Container(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("container %d kept: %v", id, err)
		}
	}
	for _, id := range []int64{usedByRunning, usedByRecentRun, notDispatched, recentContainer} {
		if _, err := s.Container(ctx, id); err != nil {
			t.Errorf("container %d removed: %v", id, err)
		}
	}
	var steps, artifacts int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM steps WHERE run_id NOT IN (SELECT id FROM runs)`).Scan(&steps); err != nil || steps != 0 {
		t.Errorf("steps of removed runs: %d, %v", steps, err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM artifacts WHERE container_id NOT IN (SELECT id FROM containers)`).Scan(&artifacts); err != nil || artifacts != 0 {
		t.Errorf("artifacts of removed containers: %d, %v", artifacts, err)
	}

	// Nothing more to prune; zero cutoffs prune nothing.
	if res, err := s.Prune(ctx, q); err != nil || res != (PruneResult{}) {
		t.Fatalf("second prune: %+v, %v", res, err)
	}
	if res, err := s.Prune(ctx, PruneQuery{}); err != nil || res != (PruneResult{}) {
		t.Fatalf("empty query: %+v, %v", res, err)
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
