package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goshawk/goshawk/engine/cluster"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/engine/store/pgstore"
	"github.com/goshawk/goshawk/providers/cef"
)

// A host whose store is PostgreSQL is a node of a cluster: its webhook,
// manual, timed and on_poll runs are River jobs that any node executes
// (engine/cluster). With SQLite nothing here is used.

// openCluster makes the host a cluster node when its store is PostgreSQL.
func (h *Host) openCluster() error {
	pg, ok := h.Store.(*pgstore.Store)
	if !ok {
		return nil
	}
	n, err := cluster.New(cluster.Options{
		Store: pg,
		Log:   h.o.Log,
		Exec:  h.clusterExec,
		Poll:  h.clusterPoll,
		// Instants recorded but not run count as a single node's skipped
		// fires do.
		OnSkip: func(job, _ string) { h.Metrics.ScheduleSkipped(job) },
	})
	if err != nil {
		return err
	}
	h.Cluster = n
	return nil
}

// clusterExec executes one queued run with this node's current version of
// the playbook.
func (h *Host) clusterExec(ctx context.Context, req cluster.Request) (*store.Run, error) {
	pb, ok := h.Playbook(req.Playbook)
	if !ok {
		return nil, fmt.Errorf("%w: %s", cluster.ErrUnknownPlaybook, req.Playbook)
	}
	rr := runner.Request{Playbook: pb, Inputs: req.Inputs, Trigger: req.Trigger}
	if req.ContainerID != 0 {
		c, err := h.Store.Container(ctx, req.ContainerID)
		if err != nil {
			return nil, err
		}
		rr.Container = &c
	}
	rec, err := h.Runner.Run(ctx, rr)
	if errors.Is(err, runner.ErrBadInput) {
		return nil, fmt.Errorf("%w: %w", cluster.ErrRefused, err)
	}
	return rec, err
}

// clusterPoll runs an asset's ingest action through the cluster's sink,
// which queues the on_poll runs of the new containers in the same
// transaction.
func (h *Host) clusterPoll(ctx context.Context, asset string, _ cef.Sink) error {
	_, err := h.PollAsset(ctx, asset, false, 0)
	return err
}

// sink is where an asset's ingest writes: the cluster's transactional sink
// on a cluster node, the store's otherwise.
func (h *Host) sink(asset string) cef.Sink {
	if h.Cluster != nil {
		return h.Cluster.Sink(asset)
	}
	return h.Store.AssetSink(asset)
}

// syncCluster tells the cluster this node's playbooks and assets, which
// starts their schedules' and polls' chains and publishes the versions
// GET /api/cluster shows.
func (h *Host) syncCluster(ctx context.Context) {
	var pbs []cluster.Playbook
	for _, name := range h.PlaybookNames() {
		pb, ok := h.Playbook(name)
		if !ok {
			continue
		}
		cp := cluster.Playbook{
			Name: pb.Name, Version: pb.Version, Timeout: pb.Timeout,
			Concurrency: pb.Concurrency, Queue: pb.Queue, RetryInterrupted: pb.RetryInterrupted,
			Every: pb.Trigger.Every,
		}
		if pb.Trigger.Cron != nil {
			cp.Cron, cp.TZ = pb.Trigger.Schedule, pb.Trigger.Timezone
		}
		if pb.Trigger.OnPoll != "" {
			cp.OnPoll = []string{pb.Trigger.OnPoll}
		}
		pbs = append(pbs, cp)
	}
	var assets []cluster.Asset
	cfg := h.Config()
	for _, name := range cfg.AssetNames() {
		a := cfg.Assets[name]
		if a.Ready() != nil {
			continue // an asset not opened is not polled
		}
		assets = append(assets, cluster.Asset{Name: name, Poll: a.Poll})
	}
	if err := h.Cluster.Sync(ctx, pbs, assets); err != nil && ctx.Err() == nil {
		h.o.Log.Error("cluster: this node's playbooks not published; the next reload retries", "err", err)
	}
}

// runCluster runs the node until ctx ends, then stops it, giving its runs
// in flight the shutdown grace; runs still going then are interrupted and
// their jobs left for another node (retry_interrupted).
func (h *Host) runCluster(ctx context.Context) error {
	if err := h.Cluster.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	h.syncCluster(ctx)
	go func() {
		<-ctx.Done()
		stop, cancel := context.WithTimeout(context.Background(), h.Config().ShutdownGrace+10*time.Second)
		defer cancel()
		h.Cluster.Stop(stop)
	}()
	return nil
}

// ClusterNodes lists the live nodes of the cluster with the playbook
// versions each serves; nil without a cluster.
func (h *Host) ClusterNodes(ctx context.Context) ([]cluster.NodeStatus, error) {
	if h.Cluster == nil {
		return nil, nil
	}
	return h.Cluster.Nodes(ctx)
}

// StoreHealthy reports whether the store's database is reachable; always
// true for SQLite.
func (h *Host) StoreHealthy() bool {
	if pg, ok := h.Store.(*pgstore.Store); ok {
		return pg.Healthy()
	}
	return true
}
