package store

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

// The crash test re-runs this test binary as a child that ingests into a
// file store; the variable carries the store path to it.
const crashHelperEnv = "GOSHAWK_STORE_CRASH_HELPER"

const (
	crashTotal = 10000
	crashBatch = 100
)

// ingestFrom ingests indicators 0..crashTotal-1 from the checkpoint on, the
// way a poll resumes: the checkpoint is the index of the last committed
// indicator, and each batch commits with its own. It starts a few
// indicators before the checkpoint, as a poll re-reading a second does, so
// that dedupe is exercised too. committed is called after each commit.
func ingestFrom(ctx context.Context, s *SQLite, committed func(checkpoint int)) error {
	start := 0
	cp, err := s.Checkpoint(ctx, "tc")
	if err != nil {
		return err
	}
	if cp != "" {
		last, err := strconv.Atoi(cp)
		if err != nil {
			return fmt.Errorf("checkpoint %q: %w", cp, err)
		}
		start = max(0, last+1-5)
	}
	for i := start; i < crashTotal; i += crashBatch {
		end := min(i+crashBatch, crashTotal)
		batch := make([]cef.Container, 0, end-i)
		for j := i; j < end; j++ {
			batch = append(batch, container(strconv.Itoa(j)))
		}
		next := strconv.Itoa(end - 1)
		if _, _, err := s.Ingest(ctx, "tc", batch, &next); err != nil {
			return err
		}
		committed(end - 1)
	}
	return nil
}

// TestHelperProcess is the child of TestKilledMidIngest; run on its own it
// does nothing.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(crashHelperEnv)
	if path == "" {
		t.Skip("helper process of TestKilledMidIngest")
	}
	s, err := Open(context.Background(), path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	err = ingestFrom(context.Background(), s, func(cp int) { fmt.Printf("committed %d\n", cp) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Wait for the kill, so that the parent's view does not depend on how
	// far the child got.
	time.Sleep(time.Hour)
}

// TestKilledMidIngest kills a process with SIGKILL while it ingests batch
// after batch, then checks that the store holds exactly the indicators up to
// the committed checkpoint, and that resuming from there ends with every
// indicator stored exactly once.
func TestKilledMidIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	path := filepath.Join(t.TempDir(), "goshawk.db")
	cmd, out := startChild(t, "TestHelperProcess", crashHelperEnv, path)
	// Kill once several batches are in, while the child is busy with the
	// next ones: it spends nearly all its time inside transactions.
	lines := bufio.NewScanner(out)
	seen := 0
	for seen < 5 && lines.Scan() {
		seen++
	}
	if seen < 5 {
		cmd.Wait()
		t.Fatalf("child stopped after %d batches", seen)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	ctx := context.Background()
	s := openFile(t, path)
	cp, err := s.Checkpoint(ctx, "tc")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(cp)
	if err != nil {
		t.Fatalf("checkpoint after the crash = %q: %v", cp, err)
	}
	if last == crashTotal-1 {
		t.Log("the child finished every batch before the kill landed")
	} else {
		t.Logf("killed after checkpoint %d, inside a later batch", last)
	}
	checkExactly(t, s, last+1)

	if err := ingestFrom(ctx, s, func(int) {}); err != nil {
		t.Fatal(err)
	}
	checkExactly(t, s, crashTotal)
	if cp, _ := s.Checkpoint(ctx, "tc"); cp != strconv.Itoa(crashTotal-1) {
		t.Errorf("final checkpoint = %q, want %d", cp, crashTotal-1)
	}
}

// checkExactly asserts that the store holds indicators 0..n-1, each once,
// each with its artifact, and nothing else.
func checkExactly(t *testing.T, s *SQLite, n int) {
	t.Helper()
	var count, distinct, lo, hi, artifacts int
	err := s.r.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT source_data_identifier),
		COALESCE(MIN(CAST(source_data_identifier AS INTEGER)), -1), COALESCE(MAX(CAST(source_data_identifier AS INTEGER)), -1)
		FROM containers WHERE asset = 'tc'`).Scan(&count, &distinct, &lo, &hi)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM artifacts`).Scan(&artifacts); err != nil {
		t.Fatal(err)
	}
	if count != n || distinct != n || lo != 0 || hi != n-1 || artifacts != n {
		t.Fatalf("store holds %d containers (%d distinct, ids %d..%d) and %d artifacts; want exactly indicators 0..%d with one artifact each",
			count, distinct, lo, hi, artifacts, n-1)
	}
}

// startChild runs this test binary's helper test in a child process, with
// env set to path, and returns the process and its standard output. The
// child is killed when the test ends, if it has not been already.
func startChild(t *testing.T, helper, env, path string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+helper+"$")
	cmd.Env = append(os.Environ(), env+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, out
}
