package host

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
)

// PollAsset runs one ingest of an asset (the action its provider declares
// in Provider.Ingest, on_poll for both connectors), then starts the
// playbooks subscribed to its new containers. now looks back and leaves
// the checkpoint; count, with now, bounds the containers created. It
// returns the action result.
func (h *Host) PollAsset(ctx context.Context, asset string, now bool, count int) (*providers.Result, error) {
	h.mu.RLock()
	a := h.assets[asset]
	h.mu.RUnlock()
	if a == nil {
		return nil, fmt.Errorf("no asset %q", asset)
	}
	in := a.Provider.Ingest
	if in == nil {
		return nil, fmt.Errorf("asset %s: provider %s does not ingest containers, so it cannot be polled", asset, a.Provider.Name)
	}
	params := map[string]any{}
	if now {
		params[in.NowParam] = true
		if count > 0 {
			params[in.CountParam] = int64(count)
		}
	}
	log := h.o.Log.With("asset", asset, "action", in.Action)
	start := time.Now()
	res, err := a.Invoke(ctx, in.Action, params, providers.Env{Log: log, Ingest: h.sink(asset), Now: h.o.Clock.Now})
	if err != nil {
		log.Error("poll failed", "err", err)
		return nil, err
	}
	h.Metrics.ActionCalled(asset, in.Action, res.Status, time.Since(start))
	if !res.OK() {
		log.Error("poll failed", "message", res.Message)
		return res, nil
	}
	fetched, _ := toInt(res.Summary["fetched"])
	created, _ := toInt(res.Summary["containers_created"])
	h.Metrics.Polled(asset, int(fetched), int(created))
	h.Metrics.PollSucceeded(asset, h.o.Clock.Now())
	log.Info("polled", "fetched", fetched, "containers_created", created)
	h.dispatch(ctx, asset)
	return res, nil
}

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		return int64(x), true
	}
	return 0, false
}

// The on_poll dispatch cursor of each (playbook, asset) lives in the
// store's key-value area, so a restart resumes where it stopped; the
// store's one-run-per-(playbook, container) rule makes a replay harmless.
const dispatchNS = "goshawk:on_poll" // playbook names cannot contain ":"

func cursorKey(playbook, asset string) string { return playbook + "@" + asset }

// subscribe starts a playbook's on_poll subscription at the newest
// container of the asset: it reacts to containers ingested from now on.
func (h *Host) subscribe(ctx context.Context, playbook, asset string) {
	key := cursorKey(playbook, asset)
	_, ok, err := h.Store.KVGet(ctx, dispatchNS, key)
	if err == nil && !ok {
		var last int64
		if last, err = h.Store.LastContainerID(ctx, asset); err == nil {
			err = h.Store.KVSet(ctx, dispatchNS, key, strconv.FormatInt(last, 10))
		}
	}
	if err != nil {
		h.o.Log.Error("on_poll subscription not started; the next reload or restart retries it", "playbook", playbook, "asset", asset, "err", err)
	}
}

// SubscribeAll starts the on_poll subscriptions of every loaded playbook
// that has none yet.
func (h *Host) SubscribeAll(ctx context.Context) {
	for _, name := range h.PlaybookNames() {
		if pb, ok := h.Playbook(name); ok && pb.Trigger.OnPoll != "" {
			h.subscribe(ctx, name, pb.Trigger.OnPoll)
		}
	}
}

func (h *Host) dispatchAll(ctx context.Context) {
	for _, name := range h.Config().AssetNames() {
		h.dispatch(ctx, name)
	}
}

// dispatch starts each subscribed playbook once for every container of the
// asset past its cursor. Dispatches of one asset are serialized: a poll and
// the catch-up at startup must not move one cursor in two directions. A
// playbook whose slots are all busy makes dispatch wait, which holds back
// that asset's next poll: backpressure, not an unbounded backlog.
func (h *Host) dispatch(ctx context.Context, asset string) {
	if h.Cluster != nil {
		return // the cluster's sink queued the runs with the ingest
	}
	h.dispatchMu.Lock()
	if h.dispatchLocks == nil {
		h.dispatchLocks = map[string]*sync.Mutex{}
	}
	lock := h.dispatchLocks[asset]
	if lock == nil {
		lock = &sync.Mutex{}
		h.dispatchLocks[asset] = lock
	}
	h.dispatchMu.Unlock()
	lock.Lock()
	defer lock.Unlock()
	for _, name := range h.PlaybookNames() {
		if pb, ok := h.Playbook(name); ok && pb.Trigger.OnPoll == asset {
			h.dispatchPlaybook(ctx, pb, asset)
		}
	}
}

// dispatchPlaybook starts one playbook for the containers past its cursor,
// moving the cursor past each container whose run is recorded. It stops at
// the first run it cannot start; the next poll or restart retries from
// there.
func (h *Host) dispatchPlaybook(ctx context.Context, pb *playbook.Playbook, asset string) {
	key := cursorKey(pb.Name, asset)
	log := h.o.Log.With("playbook", pb.Name, "asset", asset)
	raw, ok, err := h.Store.KVGet(ctx, dispatchNS, key)
	if err != nil || !ok {
		if err != nil && ctx.Err() == nil {
			log.Error("on_poll cursor not read; the next poll retries", "err", err)
		}
		return
	}
	cursor, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		log.Error("on_poll cursor unreadable; the playbook's subscription is skipped", "cursor", raw)
		return
	}
	for ctx.Err() == nil {
		cs, err := h.Store.ListContainers(ctx, store.ContainerQuery{Asset: asset, AfterID: cursor, Limit: 100})
		if err != nil {
			if ctx.Err() == nil {
				log.Error("on_poll containers not read; the next poll retries", "err", err)
			}
			return
		}
		if len(cs) == 0 {
			return
		}
		for i := range cs {
			c := cs[i]
			_, _, err := h.Runner.Start(ctx, runner.Request{Playbook: pb, Trigger: "on_poll", Container: &c})
			switch {
			case err == nil, errors.Is(err, runner.ErrDuplicate):
			case errors.Is(err, runner.ErrBadInput):
				// The container can never start this playbook; holding
				// the cursor would block every container after it.
				log.Error("on_poll run refused; the container is skipped", "container", c.ID, "err", err)
			default:
				if ctx.Err() == nil && !errors.Is(err, runner.ErrQueueFull) {
					log.Error("on_poll run not started; the next poll or restart retries it", "container", c.ID, "err", err)
				}
				return
			}
			cursor = c.ID
			// The run is recorded: save the cursor even when shutdown has
			// begun. The store refuses duplicate runs, so a cursor that
			// was not saved only costs a replay.
			if err := h.Store.KVSet(context.WithoutCancel(ctx), dispatchNS, key, strconv.FormatInt(cursor, 10)); err != nil {
				log.Warn("on_poll cursor not saved", "err", err)
			}
		}
	}
}
