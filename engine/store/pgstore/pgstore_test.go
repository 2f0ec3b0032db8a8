package pgstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/storetest"
	"github.com/goshawk/goshawk/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openURL(t *testing.T, url string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSuite runs the behaviour every backend shares, the same suite the
// SQLite store runs.
func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(func() time.Time) storetest.Backend {
		url := pgtest.DB(t)
		return func(now func() time.Time) storetest.Backend {
			return openURL(t, url, WithClock(now))
		}
	})
}

// TestConcurrentFirstStart opens several stores on an empty database at
// once, as nodes started together do: the schema is applied once and every
// open succeeds.
func TestConcurrentFirstStart(t *testing.T) {
	url := pgtest.DB(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s := openURL(t, url)
	var version int
	if err := s.pool.QueryRow(context.Background(), `SELECT version FROM goshawk_schema_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("schema version %d, %v; want %d", version, err, len(migrations))
	}
}

func TestSchemaNewerThanKnown(t *testing.T) {
	url := pgtest.DB(t)
	s := openURL(t, url)
	if _, err := s.pool.Exec(context.Background(), `UPDATE goshawk_schema_version SET version = $1`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "newer than this goshawk supports") || !strings.Contains(err.Error(), "upgrade goshawk") {
		t.Fatalf("Open of a newer schema = %v", err)
	}
}

// TestBadURLs checks that a wrong or unreachable URL is refused at Open
// with a message naming where it pointed, and never the password.
func TestBadURLs(t *testing.T) {
	srv := pgtest.Shared(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cases := []struct {
		name, url string
		want      []string
	}{
		{"nothing listens", fmt.Sprintf("postgres://goshawk:hunter2secret@127.0.0.1:%d/goshawk?connect_timeout=5", closedPort),
			[]string{"cannot connect to PostgreSQL", "host 127.0.0.1", fmt.Sprintf("port %d", closedPort), "database goshawk", "check that the server runs"}},
		{"no such database", fmt.Sprintf("postgres://postgres:hunter2secret@127.0.0.1:%d/no_such_db?sslmode=disable", srv.Port()),
			[]string{"cannot connect to PostgreSQL", "database no_such_db", fmt.Sprintf("port %d", srv.Port())}},
		{"no database", "postgres://goshawk:hunter2secret@db.example:5432",
			[]string{"names no database", "postgres://goshawk:xxxxx@db.example:5432"}},
		{"bad port", "postgres://goshawk:hunter2secret@db.example:99999999/goshawk",
			[]string{"cannot be used", "postgres://USER:PASSWORD@HOST:5432/DATABASE"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "hunter2secret") {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}

// TestDeadNodeRunsInterrupted has node A start a run and stop without
// finishing it (its heartbeat stops, as when its process is killed): node B
// marks the run interrupted, naming A, and leaves its own running run alone.
func TestDeadNodeRunsInterrupted(t *testing.T) {
	ctx := context.Background()
	url := pgtest.DB(t)
	a := openURL(t, url, WithNode("node-a"), WithLiveness(100*time.Millisecond, time.Second))
	b := openURL(t, url, WithNode("node-b"), WithLiveness(100*time.Millisecond, time.Second))
	ra := &store.Run{Playbook: "slow", Trigger: "manual"}
	if err := a.StartRun(ctx, ra); err != nil {
		t.Fatal(err)
	}
	rb := &store.Run{Playbook: "slow", Trigger: "manual"}
	if err := b.StartRun(ctx, rb); err != nil {
		t.Fatal(err)
	}
	nodes, err := b.LiveNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "node-a" || nodes[1].ID != "node-b" {
		t.Fatalf("LiveNodes = %+v, %v; want node-a and node-b", nodes, err)
	}
	a.Close()

	deadline := time.Now().Add(time.Minute) // a hang guard, not a timing assertion
	for {
		got, node, err := b.GetRunNode(ctx, ra.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == store.RunInterrupted {
			if node != "node-a" || !strings.Contains(got.Error, "node node-a stopped before the run finished") || got.Finished == nil {
				t.Errorf("interrupted run = %+v on %s", got, node)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run of the dead node still %s", got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, _ := b.GetRun(ctx, rb.ID); got.Status != store.RunRunning {
		t.Errorf("live node's run is %s, want running", got.Status)
	}
	if nodes, _ := b.LiveNodes(ctx); len(nodes) != 1 || nodes[0].ID != "node-b" {
		t.Errorf("LiveNodes after A stopped = %+v", nodes)
	}
}

// TestLostDatabase stops the server under a running store: the store
// reports itself unhealthy instead of failing silently, and recovers when
// the server returns.
func TestLostDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgtest.Start(ctx)
	if err != nil {
		pgtest.Unavailable(t, err)
	}
	defer srv.Stop()
	url, err := srv.CreateDB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := openURL(t, url, WithLiveness(50*time.Millisecond, 500*time.Millisecond))
	if !s.Healthy() {
		t.Fatal("a freshly opened store is unhealthy")
	}
	srv.Pause()
	for s.Healthy() {
		if ctx.Err() != nil {
			t.Fatal("the store still reports healthy after its server stopped")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.StartRun(ctx, &store.Run{Playbook: "x"}); err == nil {
		t.Error("StartRun succeeded without a database")
	}
	// The database returns: the store recovers by itself.
	if err := srv.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	for !s.Healthy() {
		if ctx.Err() != nil {
			t.Fatal("the store did not recover after its server returned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.StartRun(ctx, &store.Run{Playbook: "x"}); err != nil {
		t.Errorf("StartRun after the database returned: %v", err)
	}
}
