package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // registers the pure-Go "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite is the Store on one SQLite file. All writes go through a single
// connection, so the process never contends with itself for SQLite's one
// write lock; reads use a separate pool and, under WAL, never wait for
// writes. Several processes may open the same file (the CLI while serve
// runs): they take turns on the write lock, waiting up to busyTimeout.
type SQLite struct {
	w     *sql.DB // exactly one connection: the writer
	r     *sql.DB // readers; the same as w for an in-memory store
	now   func() time.Time
	owner owner

	// failAt, when set by a test, is consulted between the writes of an
	// Ingest and makes it fail there, to prove that nothing partial is
	// committed.
	failAt func(point string) error

	closed atomic.Bool

	// runs commits the run records, grouping those that arrive together
	// into one transaction (see groupcommit.go).
	runs *groupWriter

	// stmts caches statements prepared on the writer connection: the run
	// records are written twice per run, and preparing costs as much as
	// executing.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// commits counts the writer's commits; ck checkpoints the log when it
	// moved (see checkpoint.go). ck is nil for an in-memory store.
	commits atomic.Uint64
	ck      *checkpointer
}

var _ Store = (*SQLite)(nil)

// busyTimeout is how long a write waits for another process to release the
// write lock before it fails.
const busyTimeout = 10 * time.Second

// Option configures Open and OpenMemory.
type Option func(*SQLite)

// WithClock sets the clock used for container creation times, notes and run
// timestamps the store fills in. Tests use it to get stable records.
func WithClock(now func() time.Time) Option {
	return func(s *SQLite) { s.now = now }
}

// Open opens (creating if needed) the store at path and brings its schema up
// to date. Runs left "running" by a process that no longer exists are marked
// "interrupted"; runs of live processes sharing the file are left alone.
func Open(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("store: open: empty path: set store in goshawk.yaml, e.g. store: goshawk.db")
	}
	// The driver splits the DSN at the first '?', and a "file:" prefix would
	// turn the path into a URI; neither may come from the user's path.
	if strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open %s: the path must not contain '?' or start with \"file:\": rename the store file", path)
	}
	common := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		// Under WAL, NORMAL loses no committed data on a process crash, only
		// possibly the last transactions on a power cut, and saves an fsync
		// per commit.
		"synchronous(NORMAL)",
		"foreign_keys(1)",
	}
	dsn := func(extra ...string) string {
		return path + "?" + url.Values{"_pragma": append(slices.Clip(common), extra...)}.Encode()
	}
	// The writer never checkpoints in a commit: the store's checkpointer
	// does it off the write path (see checkpoint.go).
	w, err := sql.Open("sqlite", dsn("wal_autocheckpoint(0)")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)

	ck, err := sql.Open("sqlite", dsn())
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)

	s := newSQLite(w, r, opts)
	s.ck = startCheckpointer(ck, w, &s.commits)
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return s, nil
}

// OpenMemory opens a private in-memory store, for tests and one-off
// commands. It holds a single connection, since each SQLite connection to
// ":memory:" is a database of its own.
func OpenMemory(ctx context.Context, opts ...Option) (*SQLite, error) {
	db, err := sql.Open("sqlite", ":memory:?_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("store: open in-memory store: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	s := newSQLite(db, db, opts)
	if err := s.init(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open in-memory store: %w", err)
	}
	return s, nil
}

func newSQLite(w, r *sql.DB, opts []Option) *SQLite {
	s := &SQLite{w: w, r: r, now: time.Now, owner: self()}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *SQLite) init(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if err := s.interruptOrphanedRuns(ctx); err != nil {
		return err
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	s.runs = newGroupWriter(s)
	return nil
}

// The statements every run writes, prepared once when the store opens.
const (
	sqlStartRun = `INSERT INTO runs
		(playbook, version, trigger, status, inputs, result, error, started, finished, container_id, owner)
		VALUES (?, ?, ?, 'running', ?, 'null', '', ?, NULL, ?, ?)
		ON CONFLICT DO NOTHING`
	sqlFinishRun = `UPDATE runs SET status = ?, result = ?, error = ?, finished = ?, log = ?, steps = ? WHERE id = ?`
)

// prepare readies the run statements on the writer connection. It must run
// while no transaction holds that connection: the writer pool has exactly
// one, so preparing inside a write would wait on itself.
func (s *SQLite) prepare(ctx context.Context) error {
	s.stmts = map[string]*sql.Stmt{}
	for _, q := range []string{sqlStartRun, sqlFinishRun} {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// Close closes the store. Calling it again does nothing.
func (s *SQLite) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.runs != nil {
		s.runs.close() // the run records queued are committed first
	}
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	var errR, errCk error
	if s.r != s.w {
		errR = s.r.Close()
	}
	if s.ck != nil {
		errCk = s.ck.close()
	}
	if err := errors.Join(s.w.Close(), errR, errCk); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// migrations are applied in order; migration i brings the schema to version
// i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	`
CREATE TABLE containers (
	id                     INTEGER PRIMARY KEY,
	asset                  TEXT NOT NULL,
	name                   TEXT NOT NULL,
	label                  TEXT NOT NULL,
	severity               TEXT NOT NULL,
	status                 TEXT NOT NULL,
	description            TEXT NOT NULL,
	source_data_identifier TEXT NOT NULL,
	created                TEXT NOT NULL,
	tags                   TEXT NOT NULL DEFAULT '[]',
	notes                  TEXT NOT NULL DEFAULT '[]',
	UNIQUE (asset, source_data_identifier)
);
CREATE TABLE artifacts (
	id                     INTEGER PRIMARY KEY,
	container_id           INTEGER NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
	name                   TEXT NOT NULL,
	label                  TEXT NOT NULL,
	type                   TEXT NOT NULL,
	source_data_identifier TEXT NOT NULL,
	cef                    TEXT NOT NULL,
	cef_types              TEXT NOT NULL
);
CREATE INDEX artifacts_by_container ON artifacts(container_id);
CREATE TABLE checkpoints (
	asset   TEXT PRIMARY KEY,
	value   TEXT NOT NULL,
	updated TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE kv (
	ns    TEXT NOT NULL,
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (ns, key)
) WITHOUT ROWID;
CREATE TABLE runs (
	id           INTEGER PRIMARY KEY,
	playbook     TEXT NOT NULL,
	version      TEXT NOT NULL,
	trigger      TEXT NOT NULL,
	status       TEXT NOT NULL,
	inputs       TEXT NOT NULL,
	result       TEXT NOT NULL,
	error        TEXT NOT NULL,
	started      TEXT NOT NULL,
	finished     TEXT,
	container_id INTEGER,
	owner        TEXT NOT NULL
);
CREATE UNIQUE INDEX runs_once_per_container ON runs(playbook, container_id) WHERE container_id IS NOT NULL;
CREATE INDEX runs_by_playbook ON runs(playbook, id);
CREATE INDEX runs_running ON runs(owner) WHERE status = 'running';
CREATE TABLE steps (
	run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	asset       TEXT NOT NULL,
	action      TEXT NOT NULL,
	status      TEXT NOT NULL,
	message     TEXT NOT NULL,
	duration_ms REAL NOT NULL,
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
`,
	// 2: run records you can debug from. Each step keeps when it started,
	// its parameters, its result's summary and data, and how it was cut;
	// each run keeps its log lines. Records written before have NULLs
	// there and read back without them.
	`
ALTER TABLE steps ADD COLUMN started TEXT;
ALTER TABLE steps ADD COLUMN params TEXT;
ALTER TABLE steps ADD COLUMN result TEXT;
ALTER TABLE steps ADD COLUMN truncated TEXT;
ALTER TABLE runs ADD COLUMN log TEXT;
`,
	// 3: a playbook runs once per container when polls dispatch it
	// (trigger on_poll). A run started by hand on a stored container
	// (goshawk run PLAYBOOK --container ID) names the container too, and
	// neither blocks nor is blocked by the dispatched one.
	`
DROP INDEX runs_once_per_container;
CREATE UNIQUE INDEX runs_once_per_container ON runs(playbook, container_id) WHERE container_id IS NOT NULL AND trigger = 'on_poll';
`,
	// 4: a run's steps are written as one JSON array in its own row, so
	// finishing a run writes one row instead of one per step: large rows
	// in the WITHOUT ROWID steps table each spilled to overflow pages, and
	// every page is a write to the WAL. Runs recorded before keep their
	// rows in steps, where reading still finds them.
	`
ALTER TABLE runs ADD COLUMN steps TEXT;
`,
}

// migrate brings the schema to the newest version this build knows, in one
// transaction, so a concurrent opener either sees the old schema or the new
// one. A file written by a newer goshawk is refused rather than misread.
func (s *SQLite) migrate(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		var version int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&version); err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this goshawk supports (%d): upgrade goshawk, or point store at another file", version, len(migrations))
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
			}
		}
		if version == len(migrations) {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(version) VALUES (?)`, len(migrations)); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
}

// interruptOrphanedRuns closes the records of runs whose process died
// before finishing them. Only runs whose owner is known to be gone are
// touched: several goshawk processes may share the file, and a live one's
// runs are still in flight.
func (s *SQLite) interruptOrphanedRuns(ctx context.Context) error {
	rows, err := s.w.QueryContext(ctx, `SELECT DISTINCT owner FROM runs WHERE status = 'running'`)
	if err != nil {
		return fmt.Errorf("find unfinished runs: %w", err)
	}
	var gone []string
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			rows.Close()
			return fmt.Errorf("find unfinished runs: %w", err)
		}
		if ownerGone(o, s.owner) {
			gone = append(gone, o)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("find unfinished runs: %w", err)
	}
	if len(gone) == 0 {
		return nil
	}
	finished := formatTime(s.now())
	return s.write(ctx, func(tx *sql.Tx) error {
		for _, o := range gone {
			who := "the goshawk process running it"
			if p, ok := parseOwner(o); ok {
				who = "goshawk (" + p.describe() + ")"
			}
			_, err := tx.ExecContext(ctx, `UPDATE runs SET status = 'interrupted', finished = ?, error = ?
				WHERE status = 'running' AND owner = ?`,
				finished, "interrupted: "+who+" stopped before the run finished", o)
			if err != nil {
				return fmt.Errorf("mark unfinished runs interrupted: %w", err)
			}
		}
		return nil
	})
}

// write runs fn in a write transaction and commits it when fn succeeds.
func (s *SQLite) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", busyHint(err))
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", busyHint(err))
	}
	s.commits.Add(1)
	return nil
}

// alone runs fn's one statement outside a transaction (tx nil), so that it
// commits by itself: as atomic and as durable as in a transaction of its
// own, and it takes the write lock the same way, waiting up to busyTimeout.
func (s *SQLite) alone(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	err := fn(ctx, nil)
	if err == nil {
		s.commits.Add(1)
	} else if !quiet(err) {
		err = busyHint(err)
	}
	return err
}

// stmt returns a statement prepared at open, bound to tx, or as prepared
// when tx is nil (a statement that commits by itself).
func (s *SQLite) stmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	s.stmtMu.Lock()
	st := s.stmts[query]
	s.stmtMu.Unlock()
	if tx == nil {
		return st
	}
	return tx.StmtContext(ctx, st)
}

// busyHint explains a lock timeout, the one write failure a user can act on.
func busyHint(err error) error {
	if e := (*sqlite.Error)(nil); errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY {
		return fmt.Errorf("%w (another goshawk process held the store's write lock for over %s; retry, or find the stuck process)", err, busyTimeout)
	}
	return err
}

const timeLayout = time.RFC3339Nano

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("corrupt timestamp %q: %w", s, err)
	}
	return t, nil
}
