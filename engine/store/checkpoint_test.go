package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestCommitsLeaveCheckpointsToTheCheckpointer: the writer's commits never
// checkpoint (the log keeps growing past SQLite's automatic threshold of
// 1,000 pages), and the store's checkpointer copies the log back into the
// database file.
func TestCommitsLeaveCheckpointsToTheCheckpointer(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "goshawk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Stop the ticking goroutine, so that only this test checkpoints.
	s.ck.halt()

	steps := benchSteps()
	for i := 0; i < 600; i++ {
		r := &Run{Playbook: "p", Trigger: "manual"}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Steps = RunSuccess, steps
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	logged, copied, err := s.ck.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if logged <= 1000 {
		t.Fatalf("the log holds %d pages after 1,200 commits: the writer checkpointed on its own", logged)
	}
	if copied != logged {
		t.Fatalf("the checkpoint copied %d of %d pages with no reader holding any", copied, logged)
	}
}

// TestCheckpointerRunsAfterCommits: left to itself, the checkpointer copies
// the log of a store that was written to.
func TestCheckpointerRunsAfterCommits(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "goshawk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &Run{Playbook: "p", Trigger: "manual"}
	if err := s.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	// Wait, without bounding how long, for the checkpointer to run.
	for s.ck.ran.Load() == 0 {
		time.Sleep(checkpointEvery / 5)
	}
	if err := s.FinishRun(ctx, &Run{ID: r.ID, Status: RunSuccess}); err != nil {
		t.Fatal(err)
	}
	for s.ck.ran.Load() < 2 {
		time.Sleep(checkpointEvery / 5)
	}
}
