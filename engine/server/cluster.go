package server

import (
	"errors"
	"net/http"

	"github.com/goshawk/goshawk/engine/cluster"
	"github.com/goshawk/goshawk/engine/metrics"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/store"
)

// runQueued serves a webhook on a cluster node: the run becomes a job that
// any node may execute. Without ?wait the answer is 202 with the job's id;
// with it, the run's outcome once it finished, wherever it ran.
func (s *server) runQueued(w http.ResponseWriter, r *http.Request, pb *playbook.Playbook, inputs map[string]any, wait bool) {
	h := s.o.Host
	if !h.StoreHealthy() {
		h.Metrics.WebhookRejected(metrics.RejectShuttingDown)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the database is unreachable; runs are refused until it returns")
		return
	}
	// Inputs are checked here, where the caller can be told, rather than
	// on the node that takes the job.
	if _, err := pb.CheckInputs(inputs); err != nil {
		h.Metrics.WebhookRejected(metrics.RejectBadInput)
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	job, err := h.Cluster.Submit(r.Context(), cluster.Request{Playbook: pb.Name, Inputs: inputs, Trigger: "webhook"})
	switch {
	case errors.Is(err, cluster.ErrQueueFull):
		h.Metrics.WebhookRejected(metrics.RejectQueueFull)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	case err != nil:
		s.o.Log.Error("webhook run not queued", "playbook", pb.Name, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the run could not be queued: "+err.Error())
		return
	}
	if !wait {
		writeJSON(w, http.StatusAccepted, map[string]any{"job": job, "playbook": pb.Name, "status": "queued"})
		return
	}
	rec, err := h.Cluster.Wait(r.Context(), job)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusBadRequest, "the run was refused by the node that took it: "+err.Error())
		return
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "the run's outcome could not be read: "+err.Error())
		return
	}
	writeOutcome(w, &rec)
}

// clusterStatus lists the live nodes with their playbook versions; a
// single node without a cluster answers an empty list.
func (s *server) clusterStatus(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.o.Host.ClusterNodes(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if nodes == nil {
		nodes = []cluster.NodeStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"clustered": s.o.Host.Cluster != nil, "nodes": nodes})
}
