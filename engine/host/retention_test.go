package host_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
)

// gauge returns the value of an unlabelled gauge of the host's metrics.
func gauge(t *testing.T, hs *harness, name string) float64 {
	t.Helper()
	families, err := hs.h.Metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// TestRetentionPrunesOldHistoryKeepingRunningAndUsed serves with
// retention (runs 2h, containers 3h) on a fake clock, moved an hour at a
// time: old finished runs go, runs still running stay, and containers
// stay while a run that stays names them, then go.
func TestRetentionPrunesOldHistoryKeepingRunningAndUsed(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []providers.Values
	)
	clock := sched.NewFakeClock(epoch)
	hs := start(t, setup{
		clock:     clock,
		noHTTP:    true,
		providers: []*providers.Provider{feedProvider(&seen, &mu)},
		config:    "assets:\n  f: {provider: feed}\nretention: {runs: 2h, containers: 3h}\n",
		files: map[string]string{
			"triage.yaml": "trigger: {on_poll: f}\nlua: |\n  return 1\n",
			"hold.yaml":   "trigger: {on_poll: f}\nconcurrency: 2\n" + blockerLua,
			"manual.yaml": "lua: |\n  return 1\n",
		},
	})
	ctx := context.Background()
	passAt := func(at time.Time) {
		t.Helper()
		eventually(t, "the retention pass at "+at.String(), func() bool {
			return gauge(t, hs, "goshawk_retention_last_run_timestamp_seconds") == float64(at.Unix())
		})
	}
	now := epoch
	advance := func(hours int) {
		t.Helper()
		for range hours {
			passAt(now)
			clock.BlockUntil(1) // the retention loop waits for its next pass
			clock.Advance(time.Hour)
			now = now.Add(time.Hour)
		}
		passAt(now)
	}
	runs := func() []store.Run {
		t.Helper()
		rs, err := hs.h.Store.ListRuns(ctx, store.RunQuery{Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	containerGone := func(id int64) bool {
		_, err := hs.h.Store.Container(ctx, id)
		return errors.Is(err, store.ErrNotFound)
	}

	if res, err := hs.h.PollAsset(ctx, "f", true, 2); err != nil || !res.OK() {
		t.Fatalf("poll: %+v, %v", res, err)
	}
	cs, err := hs.h.Store.ListContainers(ctx, store.ContainerQuery{Limit: 10})
	if err != nil || len(cs) != 2 {
		t.Fatalf("containers: %+v, %v", cs, err)
	}
	if _, err := hs.h.Run(ctx, "manual", nil, "manual"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two triage runs done and two hold runs going", func() bool {
		done, going := 0, 0
		for _, r := range runs() {
			switch {
			case r.Playbook == "triage" && r.Status == "success":
				done++
			case r.Playbook == "hold" && r.Status == "running":
				going++
			}
		}
		return done == 2 && going == 2
	})

	advance(2) // runs finished at the epoch are not yet 2h old
	if n := len(runs()); n != 5 {
		t.Fatalf("after 2h: %d runs, want all 5", n)
	}
	advance(1) // the finished runs are past 2h; the running ones stay
	for _, r := range runs() {
		if r.Playbook != "hold" || r.Status != "running" {
			t.Fatalf("after 3h: run %d of %s (%s) should be pruned", r.ID, r.Playbook, r.Status)
		}
	}
	if len(runs()) != 2 {
		t.Fatalf("after 3h: %d runs, want the 2 running", len(runs()))
	}
	advance(1) // the containers are past 3h, but running runs name them
	if containerGone(cs[0].ID) || containerGone(cs[1].ID) {
		t.Fatal("a container a running run names was pruned")
	}

	if err := hs.h.Store.KVSet(ctx, "hold", "release", "yes"); err != nil {
		t.Fatal(err)
	}
	if err := hs.h.Runner.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	advance(1) // the hold runs finished at +4h: kept, and so their containers
	if len(runs()) != 2 || containerGone(cs[0].ID) {
		t.Fatal("runs that just finished, or their containers, were pruned")
	}
	advance(2) // +7h: the hold runs are past 2h, then their containers go
	if n := len(runs()); n != 0 {
		t.Fatalf("after 7h: %d runs left", n)
	}
	if !containerGone(cs[0].ID) || !containerGone(cs[1].ID) {
		t.Fatal("after 7h: containers no run names are still stored")
	}
	if !metric(t, hs, `goshawk_pruned_total{kind="runs"} 5`) || !metric(t, hs, `goshawk_pruned_total{kind="containers"} 2`) {
		t.Fatal("the pruned counters are wrong")
	}
}

// TestBadRetentionIsAClearError loads configs with bad retention values:
// each is refused at its position, naming the key and the fix.
func TestBadRetentionIsAClearError(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"retention: {runs: 3 weeks}", `goshawk.yaml:1:19: retention.runs must be a number of days such as 30d or a duration such as 720h, got the string "3 weeks"`},
		{"retention: {containers: 10m}", "goshawk.yaml:1:25: retention.containers must be at least 1h0m0s"},
		{"retention: {runs: 99999999d}", "goshawk.yaml:1:19: retention.runs: 99999999d is too long; keep at most 36500 days"},
		{"retention: {runs: -5h}", "goshawk.yaml:1:19: retention.runs must be at least 1h0m0s"},
		{"retention: {run: 30d}", "goshawk.yaml:1:13: unknown key"},
		{"retention: 30d", "goshawk.yaml:1:12: retention must be a mapping"},
	}
	for _, c := range cases {
		t.Run(c.yaml, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "goshawk.yaml")
			writeFile(t, path, c.yaml+"\n")
			reg, err := providers.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			_, err = config.Load(path, reg, func(string) (string, bool) { return "", false })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "goshawk.yaml")
	writeFile(t, path, "retention: {runs: 30d, containers: 2160h}\n")
	reg, _ := providers.NewRegistry()
	cfg, err := config.Load(path, reg, func(string) (string, bool) { return "", false })
	if err != nil || cfg.Retention.Runs != 30*24*time.Hour || cfg.Retention.Containers != 90*24*time.Hour {
		t.Fatalf("retention: %+v, %v", cfg, err)
	}
}
