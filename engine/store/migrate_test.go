package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrationKeepsOldRunRecordsReadable builds a store file as the first
// schema left it, with a finished run and its steps, and opens it with
// this build: the schema moves to the newest version, the old record reads
// back whole (without parameters, results or log, which it never had), and
// new runs keep everything.
func TestMigrationKeepsOldRunRecordsReadable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version(version) VALUES (1)`,
		`INSERT INTO runs (id, playbook, version, trigger, status, inputs, result, error, started, finished, container_id, owner)
			VALUES (1, 'hunt', 'v1', 'manual', 'failed', '{"ip":"192.0.2.1"}', 'null', 'hunt.lua:3: boom',
			'2025-03-08T09:35:46Z', '2025-03-08T09:35:47Z', NULL, 'gone|1|x')`,
		`INSERT INTO steps (run_id, seq, asset, action, status, message, duration_ms) VALUES
			(1, 0, 'tc', 'hunt_ip', 'success', 'found 1', 12.5),
			(1, 1, 'tq', 'search', 'failed', 'no answer', 3)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("building the old store: %v", err)
		}
	}
	db.Close()

	s := openFile(t, path)
	var version int
	if err := s.r.QueryRow(`SELECT version FROM schema_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", version, err, len(migrations))
	}
	old, err := s.GetRun(ctx, 1)
	if err != nil {
		t.Fatalf("old run after migration: %v", err)
	}
	if old.Status != RunFailed || old.Error != "hunt.lua:3: boom" || old.Inputs["ip"] != "192.0.2.1" || len(old.Steps) != 2 || old.Log != nil {
		t.Fatalf("old run reads back as %+v", old)
	}
	for i, st := range old.Steps {
		if st.Params != nil || st.Result != nil || st.Truncated != nil || !st.Started.IsZero() {
			t.Errorf("old step %d gained parts it never had: %+v", i, st)
		}
	}
	if old.Steps[1].Action != "search" || old.Steps[1].Message != "no answer" || old.Steps[0].DurationMS != 12.5 {
		t.Errorf("old steps %+v", old.Steps)
	}
	raw, _ := json.Marshal(old)
	want := `"steps":[{"asset":"tc","action":"hunt_ip","status":"success","message":"found 1","duration_ms":12.5},` +
		`{"asset":"tq","action":"search","status":"failed","message":"no answer","duration_ms":3}]`
	if !strings.Contains(string(raw), want) || strings.Contains(string(raw), `"log"`) {
		t.Errorf("old record JSON %s\nlacks %s", raw, want)
	}
	if runs, err := s.ListRuns(ctx, RunQuery{}); err != nil || len(runs) != 1 {
		t.Errorf("ListRuns after migration: %d runs, %v", len(runs), err)
	}

	// A new run on the migrated file keeps the whole record.
	r := &Run{Playbook: "hunt", Trigger: "manual"}
	if err := s.StartRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.Status = RunSuccess
	r.Steps = []Step{{Asset: "tc", Action: "hunt_ip", Status: "success", Started: testNow,
		Params: json.RawMessage(`{"ip":"192.0.2.9"}`),
		Result: &StepResult{Status: "success", Summary: json.RawMessage(`{}`), Data: json.RawMessage(`[1]`)}}}
	r.Log = []LogLine{{Time: testNow, Level: "INFO", Message: "hi"}}
	if err := s.FinishRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRun(ctx, r.ID)
	if err != nil || string(got.Steps[0].Params) != `{"ip":"192.0.2.9"}` || string(got.Steps[0].Result.Data) != `[1]` || len(got.Log) != 1 {
		t.Errorf("new run on the migrated store: %+v, %v", got, err)
	}
	s.Close()

	// Opening again migrates nothing more and reads the same.
	s2 := openFile(t, path)
	if again, err := s2.GetRun(ctx, 1); err != nil || len(again.Steps) != 2 {
		t.Errorf("after reopening: %+v, %v", again, err)
	}
}

// TestMigrationReadsSchema2Steps opens a file of schema version 2, whose
// steps kept their parameters and results in columns of steps: they read
// back whole after the migration that moved new runs' steps into runs.
func TestMigrationReadsSchema2Steps(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		migrations[0], migrations[1],
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version(version) VALUES (2)`,
		`INSERT INTO runs (id, playbook, version, trigger, status, inputs, result, error, started, finished, container_id, owner, log)
			VALUES (1, 'hunt', 'v1', 'manual', 'success', '{}', '1', '', '2025-03-08T09:35:46Z', '2025-03-08T09:35:47Z', NULL, 'gone|1|x',
			'[{"time":"2025-03-08T09:35:46.5Z","level":"INFO","message":"hi"}]')`,
		`INSERT INTO steps (run_id, seq, asset, action, status, message, duration_ms, started, params, result, truncated) VALUES
			(1, 0, 'tc', 'hunt_ip', 'success', 'found 1', 12.5, '2025-03-08T09:35:46.1Z', '{"ip":"192.0.2.1"}',
			 '{"summary":{"total":1},"data":[{"id":7}]}', '{"bytes":90000,"limit":65536,"omitted":["data[1:]"]}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("building the schema 2 store: %v", err)
		}
	}
	db.Close()
	s := openFile(t, path)
	r, err := s.GetRun(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Steps) != 1 || len(r.Log) != 1 || r.Log[0].Message != "hi" {
		t.Fatalf("run %+v", r)
	}
	st := r.Steps[0]
	if string(st.Params) != `{"ip":"192.0.2.1"}` || st.Result == nil || string(st.Result.Data) != `[{"id":7}]` ||
		st.Result.Message != "found 1" || st.Truncated == nil || st.Truncated.Omitted[0] != "data[1:]" || st.Started.IsZero() {
		t.Errorf("schema 2 step reads back as %+v", st)
	}
}
