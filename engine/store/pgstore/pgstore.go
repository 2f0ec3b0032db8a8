// Package pgstore is the PostgreSQL implementation of goshawk's store, for
// several `goshawk serve` nodes sharing one database. It keeps the same
// semantics as the SQLite store (engine/store): containers and artifacts
// with their dedup by (asset, source_data_identifier), each asset's poll
// checkpoint, the playbooks' key-value data, the run records and the
// one-run-per-(playbook, container) rule. The same test suite
// (engine/store/storetest) runs against both.
//
// What SQLite learns from process ids, PostgreSQL learns from heartbeats:
// every open store is a node with a row in goshawk_nodes that it refreshes
// every few seconds. A run left "running" by a node whose heartbeat stopped
// is marked interrupted, naming that node, by whichever node notices first.
//
// The schema is embedded and applied at Open under an advisory lock, so
// that nodes starting together apply it once; River's own tables (the job
// queue of engine/cluster) are created by River's rivermigrate under the
// same lock.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/goshawk/goshawk/engine/store"
)

// Store is the store on a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	node  string
	where string // "host H port P database D", for messages
	log   *slog.Logger

	beat, stale time.Duration

	// healthy is false while the database cannot be reached, as seen by
	// the heartbeat; serve answers 503 meanwhile.
	healthy atomic.Bool

	stop   context.CancelFunc
	done   chan struct{}
	closed atomic.Bool
	closeM sync.Mutex
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock for the times the store fills in; tests use it
// for stable records. Liveness always uses the database's clock, so nodes
// with skewed clocks still agree on who is alive.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithNode names this node in run records and in goshawk_nodes. The default
// is the host name, the process id and a random suffix, so that a restarted
// process is a new node and its predecessor's runs are seen as orphaned.
func WithNode(id string) Option { return func(s *Store) { s.node = id } }

// WithLiveness sets how often this node refreshes its heartbeat and after
// how long without one a node counts as dead (defaults 2 s and 15 s).
func WithLiveness(beat, stale time.Duration) Option {
	return func(s *Store) { s.beat, s.stale = beat, stale }
}

// WithLogger sets where the store reports losing and regaining the
// database, and the runs it marks interrupted.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Default liveness: a heartbeat every 2 s; a node silent for 15 s is dead.
const (
	DefaultBeat  = 2 * time.Second
	DefaultStale = 15 * time.Second
)

// IsURL reports whether a store setting names a PostgreSQL database rather
// than a SQLite file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database at rawURL, brings goshawk's schema and
// River's up to date, and registers this process as a node. Its errors name
// the host, port and database, never the password.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	cfg, where, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Store{now: time.Now, where: where, beat: DefaultBeat, stale: DefaultStale, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if s.node == "" {
		s.node = defaultNode()
	}
	if s.beat <= 0 || s.stale <= s.beat {
		return nil, fmt.Errorf("store: liveness: the heartbeat (%s) must be positive and shorter than the time after which a node counts as dead (%s)", s.beat, s.stale)
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.connectError(err, rawURL)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = s.pool.Ping(pingCtx)
	cancel()
	if err != nil {
		s.pool.Close()
		return nil, s.connectError(err, rawURL)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("store: PostgreSQL at %s: %w", s.where, scrub(err, rawURL))
	}
	if err := s.register(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("store: PostgreSQL at %s: register node %s: %w", s.where, s.node, scrub(err, rawURL))
	}
	s.healthy.Store(true)
	liveCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan struct{})
	go s.liveness(liveCtx)
	return s, nil
}

// parseURL reads the URL and describes where it points, without the
// password, for every message that follows.
func parseURL(rawURL string) (*pgxpool.Config, string, error) {
	shown := redact(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's message quotes the URL; give only its reason.
		var pe *pgconn.ParseConfigError
		reason := "it is not a valid URL"
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			reason = scrub(pe.Unwrap(), rawURL).Error()
		}
		return nil, "", fmt.Errorf("store: the PostgreSQL URL %s cannot be used: %s; write it as postgres://USER:PASSWORD@HOST:5432/DATABASE", shown, reason)
	}
	cc := cfg.ConnConfig
	if cc.Database == "" {
		return nil, "", fmt.Errorf("store: the PostgreSQL URL %s names no database; add it after the host, e.g. postgres://goshawk@db:5432/goshawk", shown)
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = 10 * time.Second
	}
	// Each node runs playbooks, ingest and River's workers on the pool.
	if cfg.MaxConns < 20 {
		cfg.MaxConns = 20
	}
	where := fmt.Sprintf("host %s port %d database %s", cc.Host, cc.Port, cc.Database)
	if cc.User != "" {
		where += " user " + cc.User
	}
	return cfg, where, nil
}

// connectError explains a failed connection: where it went and what to
// check, with the driver's reason stripped of the password.
func (s *Store) connectError(err error, rawURL string) error {
	return fmt.Errorf("store: cannot connect to PostgreSQL at %s: %w; check that the server runs and accepts connections there, and the user, password and database in store:", s.where, scrub(err, rawURL))
}

// redact shows a URL with its password replaced.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// scrub removes the URL's password from an error's text, in case a driver
// message quoted it; the error chain is kept for errors.Is.
func scrub(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return scrubbed{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e scrubbed) Error() string { return e.msg }
func (e scrubbed) Unwrap() error { return e.err }

func defaultNode() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [3]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Node is this store's node name, as recorded on its runs.
func (s *Store) Node() string { return s.node }

// Pool is the connection pool, for the cluster's job queue, which inserts
// its jobs in the same transactions as the store's writes.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Where describes the database (host, port, database, user), without the
// password.
func (s *Store) Where() string { return s.where }

// Stale is how long a node may go without a heartbeat before it counts as
// dead.
func (s *Store) Stale() time.Duration { return s.stale }

// Healthy reports whether the latest heartbeat reached the database.
func (s *Store) Healthy() bool { return s.healthy.Load() }

// Close stops the heartbeat and closes the pool. The node's row stays, so
// that its runs still in flight, if any, are seen as orphaned once its
// heartbeat is stale. Calling Close again does nothing.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	s.pool.Close()
	return nil
}

// schemaLock is the advisory lock key under which nodes apply migrations
// one at a time ('gshk' as an integer).
const schemaLock = 0x6773686b

// migrations are applied in order; migration i brings the schema to
// version i+1. Never edit one that has shipped: append a new one. Columns
// holding JSON are text, as in SQLite, so values round-trip byte for byte
// (jsonb would refuse \u0000 in a string).
var migrations = []string{`
CREATE TABLE goshawk_containers (
	id                     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	asset                  text NOT NULL,
	name                   text NOT NULL,
	label                  text NOT NULL,
	severity               text NOT NULL,
	status                 text NOT NULL,
	description            text NOT NULL,
	source_data_identifier text NOT NULL,
	created                timestamptz NOT NULL,
	tags                   text NOT NULL DEFAULT '[]',
	notes                  text NOT NULL DEFAULT '[]',
	UNIQUE (asset, source_data_identifier)
);
CREATE INDEX goshawk_containers_by_asset ON goshawk_containers(asset, id);
CREATE TABLE goshawk_artifacts (
	id                     bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	container_id           bigint NOT NULL REFERENCES goshawk_containers(id) ON DELETE CASCADE,
	name                   text NOT NULL,
	label                  text NOT NULL,
	type                   text NOT NULL,
	source_data_identifier text NOT NULL,
	cef                    text NOT NULL,
	cef_types              text NOT NULL
);
CREATE INDEX goshawk_artifacts_by_container ON goshawk_artifacts(container_id, id);
CREATE TABLE goshawk_checkpoints (
	asset   text PRIMARY KEY,
	value   text NOT NULL,
	updated timestamptz NOT NULL
);
CREATE TABLE goshawk_kv (
	ns    text NOT NULL,
	key   text NOT NULL,
	value text NOT NULL,
	PRIMARY KEY (ns, key)
);
CREATE TABLE goshawk_runs (
	id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	playbook     text NOT NULL,
	version      text NOT NULL,
	trigger      text NOT NULL,
	status       text NOT NULL,
	inputs       text NOT NULL,
	result       text NOT NULL,
	error        text NOT NULL,
	started      timestamptz NOT NULL,
	finished     timestamptz,
	container_id bigint,
	node         text NOT NULL
);
CREATE UNIQUE INDEX goshawk_runs_once_per_container ON goshawk_runs(playbook, container_id) WHERE container_id IS NOT NULL;
CREATE INDEX goshawk_runs_by_playbook ON goshawk_runs(playbook, id);
CREATE INDEX goshawk_runs_running ON goshawk_runs(node) WHERE status = 'running';
CREATE TABLE goshawk_steps (
	run_id      bigint NOT NULL REFERENCES goshawk_runs(id) ON DELETE CASCADE,
	seq         integer NOT NULL,
	asset       text NOT NULL,
	action      text NOT NULL,
	status      text NOT NULL,
	message     text NOT NULL,
	duration_ms double precision NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE TABLE goshawk_nodes (
	id        text PRIMARY KEY,
	started   timestamptz NOT NULL DEFAULT now(),
	heartbeat timestamptz NOT NULL DEFAULT now(),
	info      text NOT NULL DEFAULT '{}'
);
`,
	// 2: run records you can debug from (the SQLite store's schema 2): each
	// step keeps when it started, its parameters, its result's summary and
	// data, and how it was cut; each run keeps its log lines. A step's
	// start is RFC 3339 text with nanoseconds, as the runner took it.
	`
ALTER TABLE goshawk_steps ADD COLUMN started text;
ALTER TABLE goshawk_steps ADD COLUMN params text;
ALTER TABLE goshawk_steps ADD COLUMN result text;
ALTER TABLE goshawk_steps ADD COLUMN truncated text;
ALTER TABLE goshawk_runs ADD COLUMN log text;
`,
	// 3: the cluster (engine/cluster). A run started by a queued job names
	// the job, so a retried job finds the run its dead node left. Each
	// scheduled instant of a playbook is recorded once, whichever node
	// and whichever version's chain of jobs reached it first.
	`
ALTER TABLE goshawk_runs ADD COLUMN job_id bigint;
CREATE INDEX goshawk_runs_by_job ON goshawk_runs(job_id) WHERE job_id IS NOT NULL;
CREATE TABLE goshawk_fires (
	playbook text NOT NULL,
	at       timestamptz NOT NULL,
	chain    text NOT NULL,
	node     text NOT NULL,
	outcome  text NOT NULL,
	fired    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (playbook, at)
);
`,
	// 4: a playbook runs once per container when polls dispatch it
	// (trigger on_poll), as in the SQLite store's schema 3. A run started
	// by hand on a stored container names the container too, and neither
	// blocks nor is blocked by the dispatched one.
	`
DROP INDEX goshawk_runs_once_per_container;
CREATE UNIQUE INDEX goshawk_runs_once_per_container ON goshawk_runs(playbook, container_id) WHERE container_id IS NOT NULL AND trigger = 'on_poll';
`,
	// 5: concurrency slots of playbooks across the cluster, leased by the
	// node running a job; a dead node's leases are free to take.
	`
CREATE TABLE goshawk_slots (
	playbook text NOT NULL,
	slot     integer NOT NULL,
	node     text NOT NULL,
	job      bigint NOT NULL,
	PRIMARY KEY (playbook, slot)
);
`, // 6: the cluster counts each playbook's waiting and running jobs at
	// every webhook (its queue bound) and every scheduled instant (no
	// pile-up); River keeps finished jobs for a day, so the count must not
	// scan them. River's tables exist by now: they are migrated first.
	`
CREATE INDEX goshawk_river_job_unfinished ON river_job ((args->>'playbook'))
	WHERE kind = 'goshawk_run' AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending');
`,
}

// migrate applies River's migrations, then goshawk's (which index River's
// job table), holding a session
// advisory lock so that nodes starting at once take turns: the first
// applies them, the others find them applied. Each of goshawk's
// migrations commits with its version, so a crash leaves a known version.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, schemaLock); err != nil {
		return fmt.Errorf("migrate: take the schema lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, schemaLock)

	m, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("migrate the job queue: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate the job queue: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS goshawk_schema_version (version integer NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM goshawk_schema_version`).Scan(&version); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this goshawk supports (%d): upgrade goshawk on this node to the version the other nodes run", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM goshawk_schema_version`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO goshawk_schema_version (version) VALUES ($1)`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}

	return nil
}

// register adds this node, or revives its row when the name is reused.
func (s *Store) register(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO goshawk_nodes (id) VALUES ($1)
		ON CONFLICT (id) DO UPDATE SET started = now(), heartbeat = now()`, s.node)
	return err
}

// liveness refreshes this node's heartbeat and closes the runs of dead
// nodes, until Close.
func (s *Store) liveness(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.beat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		bctx, cancel := context.WithTimeout(ctx, s.stale)
		err := s.Heartbeat(bctx)
		if err == nil {
			_, err = s.InterruptDead(bctx)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch was := s.healthy.Swap(err == nil); {
		case err != nil && was:
			s.log.Error("store: lost the PostgreSQL database; runs are refused until it returns", "where", s.where, "err", err)
		case err == nil && !was:
			s.log.Info("store: PostgreSQL database reachable again; serving resumes", "where", s.where)
		}
	}
}

// Heartbeat records that this node is alive.
func (s *Store) Heartbeat(ctx context.Context) error {
	tag, err := s.pool.Exec(ctx, `UPDATE goshawk_nodes SET heartbeat = now() WHERE id = $1`, s.node)
	if err == nil && tag.RowsAffected() == 0 {
		err = s.register(ctx)
	}
	if err != nil {
		return fmt.Errorf("store: heartbeat of node %s: %w", s.node, err)
	}
	return nil
}

// InterruptedRun is a run that InterruptDead closed.
type InterruptedRun struct {
	ID       int64
	Playbook string
	Node     string
}

// InterruptDead marks interrupted the runs still "running" on nodes whose
// heartbeat is older than the stale time (or that have no node row), and
// returns them. Several nodes may do it at once; each run is closed once.
func (s *Store) InterruptDead(ctx context.Context) ([]InterruptedRun, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE goshawk_runs r SET status = 'interrupted', finished = $2,
			error = 'interrupted: node ' || r.node || ' stopped before the run finished (no heartbeat for ' || $3 || ')'
		WHERE r.status = 'running' AND r.node <> $4 AND NOT EXISTS (
			SELECT 1 FROM goshawk_nodes n WHERE n.id = r.node AND n.heartbeat > now() - make_interval(secs => $1))
		RETURNING r.id, r.playbook, r.node`,
		s.stale.Seconds(), s.now().UTC().Truncate(time.Microsecond), s.stale.String(), s.node)
	if err != nil {
		return nil, fmt.Errorf("store: interrupt the runs of dead nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (InterruptedRun, error) {
		var ir InterruptedRun
		return ir, r.Scan(&ir.ID, &ir.Playbook, &ir.Node)
	})
	if err != nil {
		return nil, fmt.Errorf("store: interrupt the runs of dead nodes: %w", err)
	}
	for _, r := range out {
		s.log.Warn("run interrupted: its node stopped", "run", r.ID, "playbook", r.Playbook, "node", r.Node)
	}
	return out, nil
}

// NodeInfo is one node as the database sees it.
type NodeInfo struct {
	ID        string    `json:"id"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	Info      string    `json:"-"`
}

// SetInfo stores this node's description (JSON: its playbook versions,
// for GET /api/cluster).
func (s *Store) SetInfo(ctx context.Context, info string) error {
	_, err := s.pool.Exec(ctx, `UPDATE goshawk_nodes SET info = $2, heartbeat = now() WHERE id = $1`, s.node, info)
	if err != nil {
		return fmt.Errorf("store: describe node %s: %w", s.node, err)
	}
	return nil
}

// LiveNodes returns the nodes whose heartbeat is fresh, by name.
func (s *Store) LiveNodes(ctx context.Context) ([]NodeInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started, heartbeat, info FROM goshawk_nodes
		WHERE heartbeat > now() - make_interval(secs => $1) ORDER BY id`, s.stale.Seconds())
	if err != nil {
		return nil, fmt.Errorf("store: list nodes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (NodeInfo, error) {
		var n NodeInfo
		err := r.Scan(&n.ID, &n.Started, &n.Heartbeat, &n.Info)
		n.Started, n.Heartbeat = n.Started.UTC(), n.Heartbeat.UTC()
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list nodes: %w", err)
	}
	return out, nil
}

func (s *Store) stamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
