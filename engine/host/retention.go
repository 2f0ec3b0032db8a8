package host

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/goshawk/goshawk/engine/store"
)

// PruneEvery is how often serve applies the config's retention: section.
const PruneEvery = time.Hour

// Prune removes the history the config's retention no longer keeps: runs
// finished longer than retention.runs ago, and containers ingested longer
// than retention.containers ago that no remaining run names and that every
// on_poll playbook has been dispatched. A run still running is never
// removed. dryRun counts without removing.
func (h *Host) Prune(ctx context.Context, dryRun bool) (store.PruneResult, error) {
	r := h.Config().Retention
	now := h.o.Clock.Now()
	q := store.PruneQuery{DryRun: dryRun}
	if r.Runs > 0 {
		q.RunsBefore = now.Add(-r.Runs)
	}
	if r.Containers > 0 {
		q.ContainersBefore = now.Add(-r.Containers)
		keep, err := h.undispatched(ctx)
		if err != nil {
			return store.PruneResult{}, err
		}
		q.KeepAfter = keep
	}
	if q.RunsBefore.IsZero() && q.ContainersBefore.IsZero() {
		return store.PruneResult{}, nil
	}
	return h.Store.Prune(ctx, q)
}

// undispatched returns, for each asset some loaded playbook polls, the
// id past which its containers have not all started their playbooks: the
// smallest on_poll cursor of the asset.
func (h *Host) undispatched(ctx context.Context) (map[string]int64, error) {
	keep := map[string]int64{}
	for _, name := range h.PlaybookNames() {
		pb, ok := h.Playbook(name)
		if !ok || pb.Trigger.OnPoll == "" {
			continue
		}
		asset := pb.Trigger.OnPoll
		cursor := int64(0) // no cursor yet: keep every container
		raw, ok, err := h.Store.KVGet(ctx, dispatchNS, cursorKey(name, asset))
		if err != nil {
			return nil, fmt.Errorf("retention: read the on_poll cursor of %s: %w", name, err)
		}
		if ok {
			if cursor, err = strconv.ParseInt(raw, 10, 64); err != nil {
				cursor = 0
			}
		}
		if old, seen := keep[asset]; !seen || cursor < old {
			keep[asset] = cursor
		}
	}
	return keep, nil
}

// retain applies the retention while serving: at start, then every
// PruneEvery of the host's clock. Without a retention: section it waits
// for a config reload that adds one.
func (h *Host) retain(ctx context.Context) {
	for ctx.Err() == nil {
		r := h.Config().Retention
		if r.Runs == 0 && r.Containers == 0 {
			select {
			case <-ctx.Done():
			case <-h.retentionWake:
			}
			continue
		}
		res, err := h.Prune(ctx, false)
		switch {
		case err != nil && ctx.Err() == nil:
			h.o.Log.Error("retention: pruning failed; the next pass retries", "err", err)
		case err == nil:
			h.Metrics.Pruned(res.Runs, res.Containers, h.o.Clock.Now())
			if res.Runs > 0 || res.Containers > 0 {
				h.o.Log.Info("retention: pruned", "runs", res.Runs, "containers", res.Containers)
			}
		}
		t := h.o.Clock.NewTimer(PruneEvery)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C():
		case <-h.retentionWake:
			t.Stop()
		}
	}
}
