package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// testPrune is the retention rule every backend applies: finished old runs
// go, a run still running stays however old, a container goes only when no
// remaining run names it and it has been dispatched, and a dry run counts
// the same without removing.
func testPrune(t *testing.T, open func(func() time.Time) Backend) {
	ctx := context.Background()
	var mu sync.Mutex
	now := Now
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setNow := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	b := open(clock)
	s, ok := b.(store.Pruner)
	if !ok {
		t.Fatalf("%T does not prune: implement store.Pruner", b)
	}
	old, recent := Now, Now.Add(100*time.Hour)
	cutoff := Now.Add(50 * time.Hour)
	ingest := func(asset, sdi string) int64 {
		t.Helper()
		batch := []cef.Container{Container(sdi)}
		if _, _, err := b.Ingest(ctx, asset, batch, nil); err != nil {
			t.Fatal(err)
		}
		return batch[0].ID
	}
	run := func(container int64, started time.Time, finished *time.Time) int64 {
		t.Helper()
		r := &store.Run{Playbook: "triage", Trigger: "on_poll", Started: started, ContainerID: container}
		if container == 0 {
			r.Trigger = "webhook"
		}
		if err := b.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if finished != nil {
			r.Status, r.Finished, r.Steps = store.RunSuccess, finished, []store.Step{{Asset: "tc", Action: "hunt_ip", Status: "success"}}
			if err := b.FinishRun(ctx, r); err != nil {
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

	q := store.PruneQuery{RunsBefore: cutoff, ContainersBefore: cutoff, KeepAfter: map[string]int64{"tc": recentContainer, "tq": 0}, DryRun: true}
	res, err := s.Prune(ctx, q)
	if err != nil || res != (store.PruneResult{Runs: 2, Containers: 2}) {
		t.Fatalf("dry run: %+v, %v; want 2 runs and 2 containers", res, err)
	}
	if _, err := b.GetRun(ctx, oldRun); err != nil {
		t.Fatalf("the dry run removed a run: %v", err)
	}
	q.DryRun = false
	if res, err = s.Prune(ctx, q); err != nil || res != (store.PruneResult{Runs: 2, Containers: 2}) {
		t.Fatalf("prune: %+v, %v; want 2 runs and 2 containers", res, err)
	}
	for _, id := range []int64{oldRun, oldWebhook} {
		if _, err := b.GetRun(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old finished run %d kept: %v", id, err)
		}
	}
	for _, id := range []int64{runningRun, recentRun, oldRunning} {
		if _, err := b.GetRun(ctx, id); err != nil {
			t.Errorf("run %d removed: %v", id, err)
		}
	}
	for _, id := range []int64{usedByOldRun, unused} {
		if _, err := b.Container(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("container %d kept: %v", id, err)
		}
	}
	for _, id := range []int64{usedByRunning, usedByRecentRun, notDispatched, recentContainer} {
		if _, err := b.Container(ctx, id); err != nil {
			t.Errorf("container %d removed: %v", id, err)
		}
	}
	if res, err := s.Prune(ctx, q); err != nil || res != (store.PruneResult{}) {
		t.Fatalf("second prune: %+v, %v", res, err)
	}
	if res, err := s.Prune(ctx, store.PruneQuery{}); err != nil || res != (store.PruneResult{}) {
		t.Fatalf("empty query: %+v, %v", res, err)
	}
}
