package host

import (
	"context"
	"time"

	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/sched"
)

// syncTriggers makes the scheduler's jobs match the playbooks and assets
// in force: a new playbook starts, a deleted one stops, a changed trigger
// is replaced. jobs remembers each job's definition so unchanged ones keep
// their timing.
func (h *Host) syncTriggers(ctx context.Context, sch *sched.Scheduler, jobs map[string]string) {
	if h.Cluster != nil {
		// A cluster fires schedules and polls as jobs (engine/cluster).
		h.syncCluster(ctx)
		return
	}
	want := map[string]string{}
	type jobDef struct {
		s    sched.Schedule
		fire sched.FireFunc
		err  error // the schedule is refused; validate reports it too
	}
	defs := map[string]jobDef{}
	for _, name := range h.PlaybookNames() {
		pb, ok := h.Playbook(name)
		if !ok {
			continue
		}
		if pb.Trigger.Cron != nil { // parsed and checked when the playbook loaded
			key := "schedule:" + name
			want[key] = pb.Trigger.Schedule + "@" + pb.Trigger.Timezone
			defs[key] = jobDef{pb.Trigger.Cron, h.fireFunc(name, "schedule"), nil}
		}
		if pb.Trigger.Every > 0 {
			key := "every:" + name
			want[key] = pb.Trigger.Every.String()
			s, err := sched.Every(pb.Trigger.Every)
			defs[key] = jobDef{s, h.fireFunc(name, "every"), err}
		}
		if pb.Trigger.OnPoll != "" {
			h.subscribe(ctx, name, pb.Trigger.OnPoll)
		}
	}
	cfg := h.Config()
	for _, name := range cfg.AssetNames() {
		a := cfg.Assets[name]
		if a.Poll <= 0 || a.Ready() != nil { // an asset not opened is not polled
			continue
		}
		key := "poll:" + name
		want[key] = a.Poll.String()
		asset := name
		s, err := sched.Every(a.Poll)
		defs[key] = jobDef{s, func(ctx context.Context, _ time.Time) { h.PollAsset(ctx, asset, false, 0) }, err}
	}
	for key, def := range want {
		if jobs[key] == def {
			continue
		}
		jobs[key] = def
		if err := defs[key].err; err != nil {
			// Never silently: a trigger that cannot be scheduled is
			// reported once per definition.
			sch.Remove(key)
			h.o.Log.Error("trigger not scheduled", "job", key, "err", err)
			continue
		}
		sch.Set(key, defs[key].s, defs[key].fire)
	}
	for key := range jobs {
		if _, ok := want[key]; !ok {
			sch.Remove(key)
			delete(jobs, key)
		}
	}
}

// fireFunc runs the current version of a playbook for a timed trigger and
// waits for it, so the scheduler never piles fires up.
func (h *Host) fireFunc(name, trigger string) sched.FireFunc {
	return func(ctx context.Context, _ time.Time) {
		pb, ok := h.Playbook(name)
		if !ok {
			return
		}
		_, done, err := h.Runner.Start(ctx, runner.Request{Playbook: pb, Trigger: trigger})
		if err != nil {
			if ctx.Err() == nil {
				h.o.Log.Error("timed run not started", "playbook", name, "trigger", trigger, "err", err)
			}
			return
		}
		// Waiting keeps the scheduler from piling up fires of a slow
		// playbook; at shutdown the run goes on under the grace period.
		finished := make(chan struct{})
		go func() { done(); close(finished) }()
		select {
		case <-finished:
		case <-ctx.Done():
		}
	}
}
