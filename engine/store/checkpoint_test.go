package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// openHalted opens a store whose checkpointer only checkpoints when the
// test calls it.
func openHalted(t *testing.T) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "goshawk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.ck.halt()
	return s
}

// writeRuns records n finished runs of four steps each.
func writeRuns(t *testing.T, s *SQLite, n int) {
	t.Helper()
	ctx := context.Background()
	steps := benchSteps()
	for range n {
		r := &Run{Playbook: "p", Trigger: "manual"}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status, r.Steps = RunSuccess, steps
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitsLeaveCheckpointsToTheCheckpointer: the writer's commits never
// checkpoint (the log keeps growing past SQLite's automatic threshold of
// 1,000 pages), and the store's checkpointer copies the log back into the
// database file.
func TestCommitsLeaveCheckpointsToTheCheckpointer(t *testing.T) {
	ctx := context.Background()
	s := openHalted(t)
	writeRuns(t, s, 600)
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

// TestLongLogStartsOver: when a checkpoint could not copy the whole log
// (here a reader held an old snapshot; under load, commits made during
// it), a log past the round's threshold is copied to its end on the
// writer's connection, and the next write starts the log over instead of
// appending to it. Without that second pass the log keeps every page.
func TestLongLogStartsOver(t *testing.T) {
	for _, c := range []struct {
		name    string
		restart int
		over    bool
	}{{"second pass", 1, true}, {"first pass only", 1 << 30, false}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s := openHalted(t)
			s.ck.restart = c.restart
			writeRuns(t, s, 50)
			reader, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := reader.QueryRowContext(ctx, `SELECT count(*) FROM runs`).Scan(&n); err != nil || n != 50 {
				t.Fatalf("reader: %d runs, %v", n, err)
			}
			writeRuns(t, s, 50)
			s.ck.afterFirst = func() { reader.Rollback() }
			if err := s.ck.round(ctx); err != nil {
				t.Fatal(err)
			}
			reader.Rollback()
			writeRuns(t, s, 1)
			logged, copied, err := s.ck.checkpoint(ctx)
			if err != nil || copied != logged {
				t.Fatalf("checkpoint: %d of %d pages, %v", copied, logged, err)
			}
			if over := logged < 50; over != c.over {
				t.Fatalf("the log holds %d pages after one more run; started over: %v, want %v", logged, over, c.over)
			}
		})
	}
}
