package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/goshawk/goshawk/engine/store"
)

const runColumns = `id, playbook, version, trigger, status, inputs, result, error, started, finished, container_id, node, log`

const stepColumns = `run_id, asset, action, status, message, duration_ms, started, params, result, truncated`

// StartRun records r as running on this node and assigns r.ID. See
// store.Runs.
func (s *Store) StartRun(ctx context.Context, r *store.Run) error {
	return s.startRun(ctx, s.pool, r)
}

// StartRunTx is StartRun within the caller's transaction.
func (s *Store) StartRunTx(ctx context.Context, tx pgx.Tx, r *store.Run) error {
	return s.startRun(ctx, tx, r)
}

type jobKey struct{}

// WithJob marks ctx as the context of queued job id: the run StartRun
// records under it names the job, so that a retry of the job finds it.
func WithJob(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, jobKey{}, id)
}

func jobOf(ctx context.Context) *int64 {
	if id, ok := ctx.Value(jobKey{}).(int64); ok {
		return &id
	}
	return nil
}

// JobRun is a run started by a queued job.
type JobRun struct {
	ID     int64
	Status string
	Node   string
}

// JobRuns returns the runs started by job id, oldest first.
func (s *Store) JobRuns(ctx context.Context, id int64) ([]JobRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, status, node FROM goshawk_runs WHERE job_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: runs of job %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JobRun, error) {
		var j JobRun
		return j, r.Scan(&j.ID, &j.Status, &j.Node)
	})
	if err != nil {
		return nil, fmt.Errorf("store: runs of job %d: %w", id, err)
	}
	return out, nil
}

// InterruptRun marks run id interrupted, naming its node, if it is still
// running; it reports whether it did.
func (s *Store) InterruptRun(ctx context.Context, id int64, why string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE goshawk_runs SET status = 'interrupted', finished = $2,
		error = 'interrupted: node ' || node || ' ' || $3 WHERE id = $1 AND status = 'running'`, id, s.stamp(), why)
	if err != nil {
		return false, fmt.Errorf("store: interrupt run %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) startRun(ctx context.Context, q queryRower, r *store.Run) error {
	if r.Playbook == "" {
		return errors.New("store: start run: no playbook name: set Run.Playbook")
	}
	inputs, err := json.Marshal(nonNilMap(r.Inputs))
	if err != nil {
		return fmt.Errorf("store: start run of %s: inputs are not JSON-encodable: %w", r.Playbook, err)
	}
	if r.Started.IsZero() {
		r.Started = s.now()
	}
	r.Started = r.Started.UTC().Truncate(time.Microsecond)
	var containerID *int64
	if r.ContainerID != 0 {
		containerID = &r.ContainerID
	}
	// The partial unique index on (playbook, container_id) is the
	// exactly-once guard, across every node: DO NOTHING returns no row.
	var id int64
	err = q.QueryRow(ctx, `INSERT INTO goshawk_runs
		(playbook, version, trigger, status, inputs, result, error, started, finished, container_id, node, job_id)
		VALUES ($1, $2, $3, 'running', $4, 'null', '', $5, NULL, $6, $7, $8)
		ON CONFLICT DO NOTHING RETURNING id`,
		r.Playbook, r.Version, r.Trigger, string(inputs), r.Started, containerID, s.node, jobOf(ctx)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: start run of %s for container %d: %w", r.Playbook, r.ContainerID, store.ErrDuplicateRun)
	}
	if err != nil {
		return fmt.Errorf("store: start run of %s: %w", r.Playbook, err)
	}
	r.ID, r.Status, r.Finished, r.Node = id, store.RunRunning, nil, s.node
	return nil
}

// FinishRun records the outcome of run r.ID. See the SQLite store: the
// steps replace those recorded before, and a result that cannot be encoded
// is recorded as null with the reason appended to r.Error.
func (s *Store) FinishRun(ctx context.Context, r *store.Run) error {
	switch r.Status {
	case store.RunSuccess, store.RunFailed, store.RunTimeout, store.RunInterrupted:
	default:
		return fmt.Errorf("store: finish run %d: status %q is not a final status: use success, failed, timeout or interrupted", r.ID, r.Status)
	}
	resultJSON, err := json.Marshal(r.Result)
	result := string(resultJSON)
	if err != nil {
		r.Result, result = nil, "null"
		msg := "the result could not be stored: " + err.Error()
		if r.Error != "" {
			msg = r.Error + "; " + msg
		}
		r.Error = msg
	}
	finished := s.now()
	if r.Finished != nil {
		finished = *r.Finished
	}
	finished = finished.UTC().Truncate(time.Microsecond)
	logText, err := store.EncodeLog(r.Log)
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", r.ID, err)
	}
	rows := make([][]any, len(r.Steps))
	for i := range r.Steps {
		st := &r.Steps[i]
		c, err := store.EncodeStep(st)
		if err != nil {
			return fmt.Errorf("store: finish run %d: step %d: %w", r.ID, i+1, err)
		}
		var started *string
		if c.Started != nil {
			t := c.Started.Format(time.RFC3339Nano)
			started = &t
		}
		rows[i] = []any{r.ID, i, st.Asset, st.Action, st.Status, st.Message, st.DurationMS, started, c.Params, c.Result, c.Truncated}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE goshawk_runs SET status = $1, result = $2, error = $3, finished = $4, log = $5 WHERE id = $6`,
			r.Status, result, r.Error, finished, logText, r.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM goshawk_steps WHERE run_id = $1`, r.ID); err != nil {
			return err
		}
		if len(r.Steps) == 0 {
			return nil
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"goshawk_steps"},
			[]string{"run_id", "seq", "asset", "action", "status", "message", "duration_ms", "started", "params", "result", "truncated"},
			pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", r.ID, err)
	}
	r.Finished = &finished
	return nil
}

// ListRuns returns runs, newest first, with their steps.
func (s *Store) ListRuns(ctx context.Context, q store.RunQuery) ([]store.Run, error) {
	where, args := runWhere(q)
	args = append(args, store.ClampLimit(q.Limit))
	selected := fmt.Sprintf(`SELECT id FROM goshawk_runs WHERE %s ORDER BY id DESC LIMIT $%d`, where, len(args))
	var runs []store.Run
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		runs, _, err = queryRuns(ctx, tx, `SELECT `+runColumns+` FROM goshawk_runs WHERE id IN (`+selected+`) ORDER BY id DESC`, args...)
		if err != nil || len(runs) == 0 {
			return err
		}
		return attachSteps(ctx, tx, runs, `SELECT `+stepColumns+` FROM goshawk_steps WHERE run_id IN (`+selected+`) ORDER BY run_id, seq`, args...)
	})
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	return runs, nil
}

// GetRun returns one run with its steps.
func (s *Store) GetRun(ctx context.Context, id int64) (store.Run, error) {
	r, _, err := s.GetRunNode(ctx, id)
	return r, err
}

// GetRunNode returns one run with its steps, and the node that ran it.
func (s *Store) GetRunNode(ctx context.Context, id int64) (store.Run, string, error) {
	var runs []store.Run
	var nodes []string
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		runs, nodes, err = queryRuns(ctx, tx, `SELECT `+runColumns+` FROM goshawk_runs WHERE id = $1`, id)
		if err == nil && len(runs) == 0 {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		return attachSteps(ctx, tx, runs, `SELECT `+stepColumns+` FROM goshawk_steps WHERE run_id = $1 ORDER BY seq`, id)
	})
	if err != nil {
		return store.Run{}, "", fmt.Errorf("store: run %d: %w", id, err)
	}
	return runs[0], nodes[0], nil
}

func queryRuns(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]store.Run, []string, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out, nodes := []store.Run{}, []string{}
	for rows.Next() {
		var r store.Run
		var inputs, result, node string
		var containerID *int64
		var logText *string
		err := rows.Scan(&r.ID, &r.Playbook, &r.Version, &r.Trigger, &r.Status, &inputs, &result, &r.Error,
			&r.Started, &r.Finished, &containerID, &node, &logText)
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal([]byte(inputs), &r.Inputs); err != nil {
			return nil, nil, fmt.Errorf("run %d: corrupt inputs: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(result), &r.Result); err != nil {
			return nil, nil, fmt.Errorf("run %d: corrupt result: %w", r.ID, err)
		}
		if r.Log, err = store.DecodeLog(logText); err != nil {
			return nil, nil, fmt.Errorf("run %d: %w", r.ID, err)
		}
		r.Started = r.Started.UTC()
		if r.Finished != nil {
			f := r.Finished.UTC()
			r.Finished = &f
		}
		if containerID != nil {
			r.ContainerID = *containerID
		}
		r.Inputs, r.Steps, r.Node = nonNilMap(r.Inputs), []store.Step{}, node
		out, nodes = append(out, r), append(nodes, node)
	}
	return out, nodes, rows.Err()
}

func attachSteps(ctx context.Context, tx pgx.Tx, runs []store.Run, query string, args ...any) error {
	byID := make(map[int64]*store.Run, len(runs))
	for i := range runs {
		byID[runs[i].ID] = &runs[i]
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var runID int64
		var st store.Step
		var c store.StepColumns
		var started *string
		if err := rows.Scan(&runID, &st.Asset, &st.Action, &st.Status, &st.Message, &st.DurationMS,
			&started, &c.Params, &c.Result, &c.Truncated); err != nil {
			return err
		}
		if started != nil {
			t, err := time.Parse(time.RFC3339Nano, *started)
			if err != nil {
				return fmt.Errorf("run %d: step %s.%s: corrupt start time %q", runID, st.Asset, st.Action, *started)
			}
			c.Started = &t
		}
		if err := store.DecodeStep(&st, c); err != nil {
			return fmt.Errorf("run %d: step %s.%s: %w", runID, st.Asset, st.Action, err)
		}
		if r := byID[runID]; r != nil {
			r.Steps = append(r.Steps, st)
		}
	}
	return rows.Err()
}
