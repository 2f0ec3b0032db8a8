package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGroupCommitFailsOnlyTheWriteThatFailed puts a write that fails after
// writing into one group with two good ones: the bad one leaves nothing,
// the good ones are committed and each gets its own answer.
func TestGroupCommitFailsOnlyTheWriteThatFailed(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	kv := func(key string, fail error) *groupWrite {
		return &groupWrite{ctx: ctx, done: make(chan struct{}), fn: func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO kv (ns, key, value) VALUES ('t', ?, 'v')`, key); err != nil {
				return err
			}
			return fail
		}}
	}
	boom := errors.New("boom after writing")
	good1, bad, good2 := kv("a", nil), kv("b", boom), kv("c", nil)
	dup := &groupWrite{ctx: ctx, done: make(chan struct{}), fn: func(context.Context, *sql.Tx) error { return ErrDuplicateRun }}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	late := kv("d", nil)
	late.ctx = cancelled
	s.runs.commit([]*groupWrite{good1, dup, bad, late, good2})

	if good1.err != nil || good2.err != nil || !errors.Is(bad.err, boom) || !errors.Is(dup.err, ErrDuplicateRun) || !errors.Is(late.err, context.Canceled) {
		t.Fatalf("answers: good %v %v, bad %v, duplicate %v, cancelled %v", good1.err, good2.err, bad.err, dup.err, late.err)
	}
	for key, want := range map[string]bool{"a": true, "b": false, "c": true, "d": false} {
		if _, ok, err := s.KVGet(ctx, "t", key); err != nil || ok != want {
			t.Errorf("key %s stored %v (%v), want %v", key, ok, err, want)
		}
	}
}

// TestGroupCommitUnderConcurrency starts and finishes runs from many
// goroutines at once, with on_poll runs competing for the same containers:
// each container gets exactly one run, every finish lands on its own run,
// and a finish of a run that does not exist fails alone.
func TestGroupCommitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s := openFile(t, filepath.Join(t.TempDir(), "goshawk.db"))
	const workers, each = 16, 25
	var mu sync.Mutex
	won := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				container := int64(i%5 + 1)
				r := &Run{Playbook: "triage", Trigger: "on_poll", ContainerID: container}
				err := s.StartRun(ctx, r)
				if errors.Is(err, ErrDuplicateRun) {
					r = &Run{Playbook: fmt.Sprintf("manual-%d", w), Trigger: "manual", Inputs: map[string]any{"i": i}}
					err = s.StartRun(ctx, r)
				} else if err == nil {
					mu.Lock()
					won[container]++
					mu.Unlock()
				}
				if err != nil {
					errs <- err
					continue
				}
				r.Status = RunSuccess
				r.Result = map[string]any{"worker": w, "i": i}
				r.Steps = []Step{{Asset: "tc", Action: "echo", Status: "success", Message: strconv.Itoa(w), Params: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}}
				if err := s.FinishRun(ctx, r); err != nil {
					errs <- err
				}
				if err := s.FinishRun(ctx, &Run{ID: 1 << 40, Status: RunFailed}); !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("finish of a missing run: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for c := int64(1); c <= 5; c++ {
		if won[c] != 1 {
			t.Errorf("container %d started %d runs", c, won[c])
		}
	}
	runs, err := s.ListRuns(ctx, RunQuery{Limit: MaxLimit})
	if err != nil || len(runs) != workers*each {
		t.Fatalf("%d runs, %v; want %d", len(runs), err, workers*each)
	}
	for _, r := range runs {
		res, _ := r.Result.(map[string]any)
		if r.Status != RunSuccess || len(r.Steps) != 1 || res == nil ||
			r.Steps[0].Message != fmt.Sprint(res["worker"]) || string(r.Steps[0].Params) != fmt.Sprintf(`{"i":%v}`, res["i"]) {
			t.Errorf("run %d holds another run's finish: %+v", r.ID, r)
		}
	}
}

// TestCloseCommitsQueuedRunRecords closes the store while runs are being
// recorded: every StartRun either returned an id that is stored, or failed
// because the store closed; none hangs.
func TestCloseCommitsQueuedRunRecords(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ids := make(chan int64, 1000)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r := &Run{Playbook: "p"}
				if err := s.StartRun(ctx, r); err != nil {
					if !strings.Contains(err.Error(), "closed") {
						t.Errorf("StartRun during Close: %v", err)
					}
					return
				}
				ids <- r.ID
			}
		}()
	}
	for len(ids) < 20 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(ids)
	s2 := openFile(t, path)
	for id := range ids {
		if _, err := s2.GetRun(ctx, id); err != nil {
			t.Errorf("run %d was acknowledged but is not stored: %v", id, err)
		}
	}
}

// runCrashHelperEnv carries the store path to the child of
// TestKilledWhileRecordingRuns.
const runCrashHelperEnv = "GOSHAWK_STORE_RUN_CRASH_HELPER"

// TestRunRecordsHelperProcess is the child of TestKilledWhileRecordingRuns:
// eight goroutines start and finish runs as fast as they can, printing
// each acknowledgement. Run on its own it does nothing.
func TestRunRecordsHelperProcess(t *testing.T) {
	path := os.Getenv(runCrashHelperEnv)
	if path == "" {
		t.Skip("helper process of TestKilledWhileRecordingRuns")
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Printf(format+"\n", args...)
		out.Unlock()
	}
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				r := &Run{Playbook: "p" + strconv.Itoa(w)}
				if err := s.StartRun(context.Background(), r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				say("started %d", r.ID)
				r.Status = RunSuccess
				r.Steps = []Step{{Asset: "tc", Action: "a", Status: "success", Params: json.RawMessage(`{"i":` + strconv.Itoa(i) + `}`)}}
				if err := s.FinishRun(context.Background(), r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				say("finished %d", r.ID)
			}
		}()
	}
	time.Sleep(time.Hour)
}

// TestKilledWhileRecordingRuns kills, with SIGKILL, a process that records
// runs from eight goroutines, at a random moment: every run it reported
// started is stored, every run it reported finished is stored finished,
// and on reopening no run is left running: the others are interrupted.
func TestKilledWhileRecordingRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "goshawk.db")
	cmd, out := startChild(t, "TestRunRecordsHelperProcess", runCrashHelperEnv, path)
	started, finished := map[int64]bool{}, map[int64]bool{}
	lines := bufio.NewScanner(out)
	stopAt := 200 + rand.IntN(800)
	for n := 0; n < stopAt && lines.Scan(); n++ {
		var id int64
		if _, err := fmt.Sscanf(lines.Text(), "started %d", &id); err == nil {
			started[id] = true
		} else if _, err := fmt.Sscanf(lines.Text(), "finished %d", &id); err == nil {
			finished[id] = true
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Whatever the child printed before the kill was acknowledged too.
	for lines.Scan() {
		var id int64
		if _, err := fmt.Sscanf(lines.Text(), "started %d", &id); err == nil {
			started[id] = true
		} else if _, err := fmt.Sscanf(lines.Text(), "finished %d", &id); err == nil {
			finished[id] = true
		}
	}
	cmd.Wait()
	if len(finished) == 0 {
		t.Fatal("the child finished no run before the kill")
	}

	ctx := context.Background()
	s := openFile(t, path)
	runs, err := s.ListRuns(ctx, RunQuery{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[int64]Run{}
	for _, r := range runs {
		stored[r.ID] = r
		if r.Status != RunSuccess && r.Status != RunInterrupted {
			t.Errorf("run %d is %s after reopening", r.ID, r.Status)
		}
	}
	for id := range started {
		if _, ok := stored[id]; !ok {
			t.Errorf("run %d was reported started but is not stored", id)
		}
	}
	for id := range finished {
		if r := stored[id]; r.Status != RunSuccess || len(r.Steps) != 1 {
			t.Errorf("run %d was reported finished but is stored as %s with %d steps", id, r.Status, len(r.Steps))
		}
	}
	t.Logf("%d runs stored, %d acknowledged started, %d acknowledged finished", len(runs), len(started), len(finished))
}

// TestLoneRecordWaitsForAnotherWriter: a record alone in its group commits
// by itself, outside a transaction; it must still wait for the write lock
// held by another process (the CLI, say) rather than fail with SQLITE_BUSY.
func TestLoneRecordWaitsForAnotherWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	r := &Run{Playbook: "p", Trigger: "manual"}
	go func() { done <- s.StartRun(ctx, r) }()
	// The record cannot commit while the lock is held. Let the other
	// writer commit once the record is known to be waiting for it.
	select {
	case err := <-done:
		t.Fatalf("StartRun returned while another connection held the write lock: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("StartRun after the lock was released: %v", err)
	}
	if r.ID == 0 {
		t.Fatal("no run id")
	}
}
