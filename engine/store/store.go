// Package store keeps goshawk's durable state: ingested containers with
// their artifacts and each asset's poll checkpoint, the playbooks' key-value
// data, and the run history. The engine uses it through the small interfaces
// below; SQLite (this package) and PostgreSQL (package pgstore) implement
// them with the same semantics, which package storetest checks on both.
//
// # Run records
//
// A run is recorded twice through Runs: StartRun when it begins (status
// "running", an id assigned) and FinishRun when it ends, with everything a
// person needs to debug it from the record alone:
//
//   - each Step: asset, action, the call's status and message, duration,
//     start time, the parameters as the script passed them (Params), the
//     action's whole result (Result: status, message, summary, data), and
//     Truncated when the runner cut the step to its per-step cap;
//   - the run's Log: its log lines with time, level, message and fields;
//   - its inputs, result or error, trigger and container.
//
// The runner redacts secrets and applies every cap before it hands a record
// over (see engine/runner and docs/run-records.md); a store keeps what it
// is given. Params, StepResult.Summary and StepResult.Data, and
// LogLine.Fields are JSON already (json.RawMessage, compact, not
// HTML-escaped); a store keeps their bytes and gives the same bytes back,
// so a record reads back as it was written and its JSON form (the run
// record of the CLI and GET /api/runs/{id}) is the same before and after.
// A record written by an older goshawk reads back without the parts it
// never had: no Params, Result, Started or Log (nil or zero), never an
// error.
//
// Both calls return only once the record is durable: a run reported started
// survives a crash (and is marked interrupted when the store next opens,
// see Open), and a run reported finished is finished for good. A store may
// share one transaction among the records of several runs (SQLite does, see
// groupcommit.go), never acknowledge a record before it is committed.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

// ErrNotFound is returned, wrapped, when a container or run id does not exist.
var ErrNotFound = errors.New("not found")

// ErrDuplicateRun is returned, wrapped, by StartRun when the playbook already
// has a run for the container: on_poll playbooks run exactly once per
// container, across restarts and across processes sharing the store.
var ErrDuplicateRun = errors.New("playbook already ran for this container")

// Containers stores ingested containers and the poll checkpoint of each
// asset.
type Containers interface {
	// Checkpoint returns the asset's checkpoint, or "" when it has none.
	Checkpoint(ctx context.Context, asset string) (string, error)
	// Ingest commits the batch for the asset in one transaction, skipping
	// containers whose (asset, source_data_identifier) is already stored,
	// and, when checkpoint is not nil, moves the asset's checkpoint in the
	// same transaction. After a successful commit the created containers
	// in batch carry their new IDs; duplicates keep ID 0. A container
	// that already carries an ID is stored under it (a playbook test
	// restores a recorded container so; a poll's containers carry none).
	Ingest(ctx context.Context, asset string, batch []cef.Container, checkpoint *string) (created, duplicates int, err error)
	// ListContainers returns containers with their artifacts, by ascending
	// id.
	ListContainers(ctx context.Context, q ContainerQuery) ([]cef.Container, error)
	// Container returns one container with its artifacts, or ErrNotFound.
	Container(ctx context.Context, id int64) (cef.Container, error)
	// UpdateContainer applies a triage change and returns the container as
	// stored afterwards.
	UpdateContainer(ctx context.Context, id int64, u ContainerUpdate) (cef.Container, error)
}

// KV is the persistent key-value data of playbooks, one namespace each (the
// playbook name).
type KV interface {
	KVGet(ctx context.Context, ns, key string) (value string, ok bool, err error)
	KVSet(ctx context.Context, ns, key, value string) error
	KVDelete(ctx context.Context, ns, key string) error
}

// Runs is the run history.
type Runs interface {
	// StartRun records a run as "running" and assigns r.ID, r.Status and
	// r.Started (now when unset). When r.ContainerID is set and the
	// playbook already has an on_poll run for that container, it returns
	// ErrDuplicateRun and records nothing. It returns once the record is
	// committed.
	StartRun(ctx context.Context, r *Run) error
	// FinishRun records the run's outcome (Status, Result, Error,
	// Finished), its Steps and its Log, all at once, replacing any steps
	// and log recorded before; ErrNotFound when r.ID was never started. It
	// returns once the record is committed.
	FinishRun(ctx context.Context, r *Run) error
	// ListRuns returns runs, newest first, with their steps and logs.
	ListRuns(ctx context.Context, q RunQuery) ([]Run, error)
	// GetRun returns one run with its steps and log, or ErrNotFound.
	GetRun(ctx context.Context, id int64) (Run, error)
}

// Store is everything the engine keeps.
type Store interface {
	Containers
	KV
	Runs
	Close() error
}

// Limits of list queries. A query without a limit gets DefaultLimit; a
// larger one than MaxLimit gets MaxLimit, so a single call stays bounded and
// callers page with AfterID.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// ContainerQuery selects containers: those of Asset (all assets when empty)
// with an id above AfterID, at most Limit of them.
type ContainerQuery struct {
	Asset string
	// Severity and Status keep containers with that severity or status.
	Severity string
	Status   string
	// Since and Until keep containers created at or after Since and
	// before Until; zero means no bound.
	Since, Until time.Time
	AfterID      int64
	Limit        int
}

// ContainerUpdate is a triage change. Nil and empty fields leave the
// container as it is; tags already present are not added twice.
type ContainerUpdate struct {
	Severity *string
	Status   *string
	AddTags  []string
	AddNote  *string
}

// Run statuses.
const (
	RunRunning     = "running"
	RunSuccess     = "success"
	RunFailed      = "failed"
	RunTimeout     = "timeout"
	RunInterrupted = "interrupted"
)

// Run is one execution of a playbook. Its JSON form is the run record of
// goshawk's contracts.
type Run struct {
	ID          int64          `json:"id"`
	Playbook    string         `json:"playbook"`
	Version     string         `json:"version"`
	Trigger     string         `json:"trigger"`
	Status      string         `json:"status"` // running|success|failed|timeout|interrupted
	Inputs      map[string]any `json:"inputs"`
	Result      any            `json:"result"`
	Error       string         `json:"error"`
	Steps       []Step         `json:"steps"`
	Started     time.Time      `json:"started"`
	Finished    *time.Time     `json:"finished"`
	ContainerID int64          `json:"container_id,omitempty"`
	// Node is the cluster node that ran it; empty on a single node
	// (SQLite).
	Node string `json:"node,omitempty"`
	// Log is what the run logged, in order, already capped by the runner
	// (a last line says how much was dropped); left out when empty.
	Log []LogLine `json:"log,omitempty"`
}

// Step is one action call made by a run. Status and Message are the call's
// outcome. Started, Params, Result and Truncated are empty in records
// written before goshawk kept them, and are then left out of the JSON.
type Step struct {
	Asset      string    `json:"asset"`
	Action     string    `json:"action"`
	Status     string    `json:"status"`
	Message    string    `json:"message"`
	DurationMS float64   `json:"duration_ms"`
	Started    time.Time `json:"started,omitzero"`
	// Params are the parameters the script passed, redacted: a JSON
	// object, or nil when not recorded (or left out by Truncated).
	Params json.RawMessage `json:"params,omitempty"`
	// Result is the action's whole result, redacted; nil when the call
	// failed before the action ran (a malformed call).
	Result *StepResult `json:"result,omitempty"`
	// Truncated, when set, says that the step was over the per-step cap
	// of the record and what was left out; nothing is cut silently.
	Truncated *Truncation `json:"truncated,omitempty"`
}

// StepResult is an action's result as the run record keeps it. Summary
// and Data hold JSON (an object and an array), or are nil when Truncated
// left them out.
type StepResult struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Summary json.RawMessage `json:"summary"`
	Data    json.RawMessage `json:"data"`
}

// Truncation records how a step over the cap was cut.
type Truncation struct {
	// Bytes is the size of the step's parameters and result as JSON
	// before the cut; Limit is the cap it exceeded.
	Bytes int `json:"bytes"`
	Limit int `json:"limit"`
	// Omitted lists what was cut: "message" (shortened, marked in the
	// text), "params", "summary", or "data[N:]" (the items from index N
	// on; "data[0:]" is all of them).
	Omitted []string `json:"omitted"`
}

// LogLine is one line a run logged: a script's log.* or print, a plugin's
// log call, an action's own logging. Fields holds the line's attributes as
// a JSON object (a script's log.* fields are under "fields"), or nil.
type LogLine struct {
	Time    time.Time       `json:"time"`
	Level   string          `json:"level"` // DEBUG, INFO, WARN or ERROR
	Message string          `json:"message"`
	Fields  json.RawMessage `json:"fields,omitempty"`
}

// RunQuery selects runs: those of Playbook (all when empty), newest first,
// at most Limit of them.
type RunQuery struct {
	Playbook string
	// Status and Trigger keep runs with that status or trigger.
	Status  string
	Trigger string
	// ContainerID keeps the runs of one container.
	ContainerID int64
	// Since and Until keep runs that started at or after Since and before
	// Until; zero means no bound.
	Since, Until time.Time
	// BeforeID is the paging cursor: runs with a smaller id (the page
	// after one whose last run has this id).
	BeforeID int64
	Limit    int
}

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}
