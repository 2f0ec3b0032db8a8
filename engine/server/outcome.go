package server

import (
	"net/http"
	"time"

	"github.com/goshawk/goshawk/engine/store"
)

// outcome is the answer to a webhook that waited for its run
// (?wait=true): the run record without its steps and log lines. Those are
// the record's detail and most of its bytes (every step keeps its whole
// parameters and result, up to 64 KiB each), read when a run is examined,
// at GET /api/runs/{id}; a caller that waits for a run wants its status,
// result or error. The answer's size is then the script's result, not the
// vendors' answers, and the caller does not parse every step to read it.
type outcome struct {
	ID          int64          `json:"id"`
	Playbook    string         `json:"playbook"`
	Version     string         `json:"version"`
	Trigger     string         `json:"trigger"`
	Status      string         `json:"status"`
	Inputs      map[string]any `json:"inputs"`
	Result      any            `json:"result"`
	Error       string         `json:"error"`
	Started     time.Time      `json:"started"`
	Finished    *time.Time     `json:"finished"`
	ContainerID int64          `json:"container_id,omitempty"`
	Node        string         `json:"node,omitempty"`
}

// writeOutcome answers the webhook that waited for rec.
func writeOutcome(w http.ResponseWriter, rec *store.Run) {
	writeJSON(w, http.StatusOK, outcome{
		ID: rec.ID, Playbook: rec.Playbook, Version: rec.Version, Trigger: rec.Trigger, Status: rec.Status,
		Inputs: rec.Inputs, Result: rec.Result, Error: rec.Error, Started: rec.Started, Finished: rec.Finished,
		ContainerID: rec.ContainerID, Node: rec.Node,
	})
}
