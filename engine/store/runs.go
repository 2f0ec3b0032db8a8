package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const runColumns = `id, playbook, version, trigger, status, inputs, result, error, started, finished, container_id, log, steps`

const stepColumns = `run_id, asset, action, status, message, duration_ms, started, params, result, truncated`

// StartRun records r as running and assigns r.ID. See Runs.
func (s *SQLite) StartRun(ctx context.Context, r *Run) error {
	if r.Playbook == "" {
		return errors.New("store: start run: no playbook name: set Run.Playbook")
	}
	inputs, err := encodeJSON(nonNilMap(r.Inputs))
	if err != nil {
		return fmt.Errorf("store: start run of %s: inputs are not JSON-encodable: %w", r.Playbook, err)
	}
	if r.Started.IsZero() {
		r.Started = s.now()
	}
	r.Started = r.Started.UTC()
	var containerID sql.NullInt64
	if r.ContainerID != 0 {
		containerID = sql.NullInt64{Int64: r.ContainerID, Valid: true}
	}
	var id int64
	err = s.runs.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		// The partial unique index on (playbook, container_id) is the
		// exactly-once guard; DO NOTHING turns a second start into zero rows.
		res, err := s.stmt(ctx, tx, sqlStartRun).ExecContext(ctx,
			r.Playbook, r.Version, r.Trigger, inputs, formatTime(r.Started), containerID, s.owner.String())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return ErrDuplicateRun
		}
		id, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if errors.Is(err, ErrDuplicateRun) {
			return fmt.Errorf("store: start run of %s for container %d: %w", r.Playbook, r.ContainerID, err)
		}
		return fmt.Errorf("store: start run of %s: %w", r.Playbook, err)
	}
	r.ID, r.Status, r.Finished = id, RunRunning, nil
	return nil
}

// FinishRun records the outcome of run r.ID: its status, result, error and
// steps, and its finish time (now when r.Finished is nil). The steps replace
// any recorded before, all in one transaction. A result that cannot be
// encoded as JSON is recorded as null, with the reason appended to r.Error.
func (s *SQLite) FinishRun(ctx context.Context, r *Run) error {
	switch r.Status {
	case RunSuccess, RunFailed, RunTimeout, RunInterrupted:
	default:
		return fmt.Errorf("store: finish run %d: status %q is not a final status: use success, failed, timeout or interrupted", r.ID, r.Status)
	}
	result, err := encodeJSON(r.Result)
	if err != nil {
		// Refusing the record would leave the run "running" for good; the
		// outcome matters more than a result nobody can read back.
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
	finished = finished.UTC()
	logText, err := encodeLog(r.Log)
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", r.ID, err)
	}
	steps := encodeSteps(r.Steps)
	err = s.runs.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := s.stmt(ctx, tx, sqlFinishRun).ExecContext(ctx, r.Status, result, r.Error, formatTime(finished), logText, steps, r.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: finish run %d: %w", r.ID, err)
	}
	r.Finished = &finished
	return nil
}

// ListRuns returns runs, newest first, with their steps.
func (s *SQLite) ListRuns(ctx context.Context, q RunQuery) ([]Run, error) {
	where, args := q.where()
	args = append(args, clampLimit(q.Limit))
	selected := `SELECT id FROM runs WHERE ` + where + ` ORDER BY id DESC LIMIT ?`
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	defer tx.Rollback()
	runs, err := queryRuns(ctx, tx, `SELECT `+runColumns+` FROM runs WHERE id IN (`+selected+`) ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	if len(runs) == 0 {
		return runs, nil
	}
	if err := attachSteps(ctx, tx, runs, `SELECT `+stepColumns+` FROM steps WHERE run_id IN (`+selected+`) ORDER BY run_id, seq`, args...); err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	return runs, nil
}

// GetRun returns one run with its steps.
func (s *SQLite) GetRun(ctx context.Context, id int64) (Run, error) {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Run{}, fmt.Errorf("store: run %d: %w", id, err)
	}
	defer tx.Rollback()
	runs, err := queryRuns(ctx, tx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id)
	if err == nil && len(runs) == 0 {
		err = ErrNotFound
	}
	if err == nil {
		err = attachSteps(ctx, tx, runs, `SELECT `+stepColumns+` FROM steps WHERE run_id = ? ORDER BY seq`, id)
	}
	if err != nil {
		return Run{}, fmt.Errorf("store: run %d: %w", id, err)
	}
	return runs[0], nil
}

func queryRuns(ctx context.Context, q querier, query string, args ...any) ([]Run, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		var r Run
		var inputs, result, started string
		var finished, logText, steps sql.NullString
		var containerID sql.NullInt64
		err := rows.Scan(&r.ID, &r.Playbook, &r.Version, &r.Trigger, &r.Status, &inputs, &result, &r.Error,
			&started, &finished, &containerID, &logText, &steps)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(inputs), &r.Inputs); err != nil {
			return nil, fmt.Errorf("run %d: corrupt inputs: %w", r.ID, err)
		}
		if err := json.Unmarshal([]byte(result), &r.Result); err != nil {
			return nil, fmt.Errorf("run %d: corrupt result: %w", r.ID, err)
		}
		if r.Started, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("run %d: %w", r.ID, err)
		}
		if finished.Valid {
			t, err := parseTime(finished.String)
			if err != nil {
				return nil, fmt.Errorf("run %d: %w", r.ID, err)
			}
			r.Finished = &t
		}
		r.ContainerID = containerID.Int64
		r.Inputs, r.Steps = nonNilMap(r.Inputs), []Step{}
		if steps.Valid {
			if err := json.Unmarshal([]byte(steps.String), &r.Steps); err != nil {
				return nil, fmt.Errorf("run %d: corrupt steps: %w", r.ID, err)
			}
			for i := range r.Steps {
				if res := r.Steps[i].Result; res != nil {
					res.Summary, res.Data = nullRaw(res.Summary), nullRaw(res.Data)
				}
			}
		}
		if logText.Valid && logText.String != "" {
			if err := json.Unmarshal([]byte(logText.String), &r.Log); err != nil {
				return nil, fmt.Errorf("run %d: corrupt log: %w", r.ID, err)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// attachSteps runs query, whose rows must come ordered by run and sequence,
// and appends each step to its run in runs.
func attachSteps(ctx context.Context, q querier, runs []Run, query string, args ...any) error {
	byID := make(map[int64]*Run, len(runs))
	for i := range runs {
		byID[runs[i].ID] = &runs[i]
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var runID int64
		var st Step
		var row stepRow
		if err := rows.Scan(&runID, &st.Asset, &st.Action, &st.Status, &st.Message, &st.DurationMS,
			&row.started, &row.params, &row.result, &row.truncated); err != nil {
			return err
		}
		if err := row.decode(&st); err != nil {
			return fmt.Errorf("run %d: step %s.%s: %w", runID, st.Asset, st.Action, err)
		}
		if r := byID[runID]; r != nil {
			r.Steps = append(r.Steps, st)
		}
	}
	return rows.Err()
}

// stepRow is a step's record beyond its outcome as schema version 2 kept
// it, in columns of steps; a NULL column is a step recorded before goshawk
// kept that part. Newer runs keep their steps in runs.steps.
type stepRow struct {
	started, params, result, truncated sql.NullString
}

// stepResultRow is a result's stored form: its status and message are the
// step's own columns.
type stepResultRow struct {
	Summary json.RawMessage `json:"summary"`
	Data    json.RawMessage `json:"data"`
}

// encodeStep returns a step's record as schema version 2 kept it in the
// columns of steps. SQLite now writes steps with encodeSteps; the
// PostgreSQL store keeps this form (EncodeStep).
func encodeStep(st *Step) (stepRow, error) {
	var row stepRow
	if !st.Started.IsZero() {
		row.started = sql.NullString{String: formatTime(st.Started), Valid: true}
	}
	// Params, Summary and Data are JSON already (the Step contract): they
	// are stored as they are, not encoded again.
	if st.Params != nil {
		row.params = sql.NullString{String: string(st.Params), Valid: true}
	}
	if st.Result != nil {
		b := make([]byte, 0, len(`{"summary":,"data":}`)+len(st.Result.Summary)+len(st.Result.Data)+8)
		b = append(b, `{"summary":`...)
		b = appendRaw(b, st.Result.Summary)
		b = append(b, `,"data":`...)
		b = appendRaw(b, st.Result.Data)
		b = append(b, '}')
		row.result = sql.NullString{String: string(b), Valid: true}
	}
	if st.Truncated != nil {
		b, err := json.Marshal(st.Truncated)
		if err != nil {
			return row, err
		}
		row.truncated = sql.NullString{String: string(b), Valid: true}
	}
	return row, nil
}

func (row stepRow) decode(st *Step) error {
	if row.started.Valid {
		t, err := parseTime(row.started.String)
		if err != nil {
			return err
		}
		st.Started = t
	}
	if row.params.Valid {
		st.Params = json.RawMessage(row.params.String)
	}
	if row.result.Valid {
		var res stepResultRow
		if err := json.Unmarshal([]byte(row.result.String), &res); err != nil {
			return fmt.Errorf("corrupt result: %w", err)
		}
		st.Result = &StepResult{Status: st.Status, Message: st.Message, Summary: nullRaw(res.Summary), Data: nullRaw(res.Data)}
	}
	if row.truncated.Valid {
		st.Truncated = new(Truncation)
		if err := json.Unmarshal([]byte(row.truncated.String), st.Truncated); err != nil {
			return fmt.Errorf("corrupt truncation: %w", err)
		}
	}
	return nil
}

// nullRaw turns a JSON null into nil, as a left-out summary or data is.
func nullRaw(b json.RawMessage) json.RawMessage {
	if string(b) == "null" {
		return nil
	}
	return b
}

// encodeLog returns the stored form of a run's log lines: NULL when there
// are none.
func encodeLog(lines []LogLine) (sql.NullString, error) {
	if len(lines) == 0 {
		return sql.NullString{}, nil
	}
	// Without HTML escaping the fields read back byte for byte as the
	// runner wrote them, so a record prints the same before and after.
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(lines); err != nil {
		return sql.NullString{}, fmt.Errorf("log: %w", err)
	}
	return sql.NullString{String: strings.TrimSuffix(b.String(), "\n"), Valid: true}, nil
}
