package store

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

var testNow = time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC)

func fixedClock() time.Time { return testNow }

func openFile(t *testing.T, path string) *SQLite {
	t.Helper()
	s, err := Open(context.Background(), path, WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openTest(t *testing.T) *SQLite {
	t.Helper()
	return openFile(t, filepath.Join(t.TempDir(), "goshawk.db"))
}

func container(sdi string) cef.Container {
	return cef.Container{
		Name: "1.2.3." + sdi, Label: "threatconnect", Severity: "medium", Status: "new",
		Description: "Ingested indicator from ThreatConnect", SourceDataIdentifier: sdi,
		Artifacts: []cef.Artifact{{
			Name: "IP Artifact", Label: "event", Type: "Address", SourceDataIdentifier: sdi,
			CEF:      map[string]any{"deviceAddress": "1.2.3." + sdi, "rating": 3.5},
			CEFTypes: map[string][]string{"deviceAddress": {"ip"}},
		}},
	}
}

func containers(from, to int) []cef.Container {
	var out []cef.Container
	for i := from; i < to; i++ {
		out = append(out, container(strconv.Itoa(i)))
	}
	return out
}

func countRows(t *testing.T, s *SQLite, table string) int {
	t.Helper()
	var n int
	if err := s.r.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func ptr[T any](v T) *T { return &v }

func openMemory(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenMemory(context.Background(), WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestIngestFailureMidBatch breaks an Ingest between two of its writes and
// checks that nothing of the batch, nor its checkpoint, is committed.
func TestIngestFailureMidBatch(t *testing.T) {
	ctx := context.Background()
	for _, point := range []string{"artifacts", "checkpoint"} {
		t.Run(point, func(t *testing.T) {
			s := openTest(t)
			if _, _, err := s.Ingest(ctx, "tc", containers(0, 2), ptr("1")); err != nil {
				t.Fatal(err)
			}
			injected := errors.New("injected failure")
			calls := 0
			s.failAt = func(p string) error {
				if p != point {
					return nil
				}
				if calls++; point == "checkpoint" || calls == 3 {
					return injected
				}
				return nil
			}
			batch := containers(2, 10)
			created, dups, err := s.Ingest(ctx, "tc", batch, ptr("9"))
			if !errors.Is(err, injected) || created != 0 || dups != 0 {
				t.Fatalf("Ingest = %d, %d, %v; want 0, 0 and the injected error", created, dups, err)
			}
			for _, c := range batch {
				if c.ID != 0 {
					t.Fatalf("container %s got ID %d from a rolled-back transaction", c.SourceDataIdentifier, c.ID)
				}
			}
			if n := countRows(t, s, "containers"); n != 2 {
				t.Errorf("%d containers after the failed batch, want the 2 committed before", n)
			}
			if n := countRows(t, s, "artifacts"); n != 2 {
				t.Errorf("%d artifacts after the failed batch, want 2", n)
			}
			if cp, _ := s.Checkpoint(ctx, "tc"); cp != "1" {
				t.Errorf("checkpoint = %q, want the previous one", cp)
			}

			// The retry of the same batch commits all of it.
			s.failAt = nil
			if created, _, err := s.Ingest(ctx, "tc", batch, ptr("9")); err != nil || created != 8 {
				t.Fatalf("retry = %d, %v", created, err)
			}
		})
	}
}

// TestInterruptedRuns checks that Open closes the runs of processes that are
// gone and leaves those of live processes, such as a serve sharing the file.
func TestInterruptedRuns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s := openFile(t, path)
	me := self()
	owners := map[string]string{
		"this process":         me.String(),
		"another host":         owner{host: me.host + "-elsewhere", pid: 4242, nonce: "t1"}.String(),
		"exited process":       owner{host: me.host, pid: 1<<31 - 1, nonce: "t1"}.String(),
		"reused pid":           owner{host: me.host, pid: me.pid, nonce: me.nonce + "-before"}.String(),
		"garbled owner":        "garbage",
		"finished long before": me.String(),
	}
	wantStatus := map[string]string{
		"this process":         RunRunning,
		"another host":         RunRunning,
		"exited process":       RunInterrupted,
		"reused pid":           RunInterrupted,
		"garbled owner":        RunInterrupted,
		"finished long before": RunSuccess,
	}
	ids := map[string]int64{}
	for name, o := range owners {
		r := &Run{Playbook: name}
		if err := s.StartRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if name == "finished long before" {
			r.Status = RunSuccess
			if err := s.FinishRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.w.Exec(`UPDATE runs SET owner = ? WHERE id = ?`, o, r.ID); err != nil {
			t.Fatal(err)
		}
		ids[name] = r.ID
	}
	s.Close()

	s2 := openFile(t, path)
	for name, id := range ids {
		r, err := s2.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != wantStatus[name] {
			t.Errorf("%s: status %s, want %s", name, r.Status, wantStatus[name])
		}
		if r.Status == RunInterrupted && (r.Finished == nil || !strings.Contains(r.Error, "stopped before the run finished")) {
			t.Errorf("%s: interrupted run lacks finish time or reason: %+v", name, r)
		}
	}
}

func TestOwnerRoundTrip(t *testing.T) {
	me := self()
	if me.pid <= 0 || me.nonce == "" || me.host == "" {
		t.Fatalf("self() = %+v", me)
	}
	o, ok := parseOwner(me.String())
	if !ok || o != me {
		t.Errorf("parseOwner(%q) = %+v, %v", me.String(), o, ok)
	}
	if !processAlive(me.pid, me.nonce) {
		t.Error("this process is reported dead")
	}
	for _, bad := range []string{"", "host", "host|x|n", "host|-1|n", "host|12"} {
		if _, ok := parseOwner(bad); ok {
			t.Errorf("parseOwner(%q) accepted", bad)
		}
	}
}

func TestSchemaNewerThanKnown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "goshawk.db")
	s := openFile(t, path)
	if _, err := s.w.Exec(`UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "newer than this goshawk supports") || !strings.Contains(err.Error(), "upgrade goshawk") {
		t.Fatalf("Open of a newer schema = %v", err)
	}
}

// TestReopenKeepsSchemaVersion checks that reopening a file leaves it at
// the current schema; the data kept across a reopen is checked by the
// shared suite (storetest).
func TestReopenKeepsSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "goshawk.db")
	openFile(t, path).Close()
	s2 := openFile(t, path)
	var version int
	if err := s2.r.QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("schema version %d, %v; want %d", version, err, len(migrations))
	}
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "a?b.db", "file:x.db", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestLimits(t *testing.T) {
	for in, want := range map[int]int{0: DefaultLimit, -5: DefaultLimit, 7: 7, MaxLimit + 1: MaxLimit} {
		if got := clampLimit(in); got != want {
			t.Errorf("clampLimit(%d) = %d, want %d", in, got, want)
		}
	}
}
