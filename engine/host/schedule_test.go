package host_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/store"
)

var epoch = time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)

// startTimes returns the start times of runs, oldest first.
func startTimes(runs []store.Run) []time.Time {
	var out []time.Time
	for _, r := range runs {
		out = append(out, r.Started.UTC())
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

func minutes(ms ...int) []time.Time {
	var out []time.Time
	for _, m := range ms {
		out = append(out, epoch.Add(time.Duration(m)*time.Minute))
	}
	return out
}

// TestScheduleAndEveryFireOnTheirTicks drives a cron playbook and an
// interval playbook with a fake clock, one minute at a time.
func TestScheduleAndEveryFireOnTheirTicks(t *testing.T) {
	clock := sched.NewFakeClock(epoch)
	hs := start(t, setup{clock: clock, noHTTP: true, files: map[string]string{
		"cron.yaml":  "trigger: {schedule: \"*/5 * * * *\"}\nlua: |\n  return {at = time.now()}\n",
		"every.yaml": "trigger: {every: 3m}\nlua: |\n  return {at = time.now()}\n",
	}})
	wantCron := minutes(5, 10, 15)
	wantEvery := minutes(3, 6, 9, 12, 15)
	count := func(want []time.Time, m int) int {
		n := 0
		for _, at := range want {
			if !at.After(epoch.Add(time.Duration(m) * time.Minute)) {
				n++
			}
		}
		return n
	}
	for m := 1; m <= 15; m++ {
		clock.BlockUntil(1) // the scheduler has armed its next timer
		clock.Advance(time.Minute)
		// Each tick's runs are recorded before the clock moves on, so
		// every run starts at the instant it was scheduled for.
		// The fires must also have returned: a fire still finishing when
		// its job comes due again would be skipped.
		eventually(t, "the fires of minute "+strconv.Itoa(m), func() bool {
			return len(hs.runs("cron")) == count(wantCron, m) && len(hs.runs("every")) == count(wantEvery, m) && !firing(hs)
		})
	}
	if err := hs.h.Runner.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]time.Time{"cron": wantCron, "every": wantEvery} {
		runs := hs.runs(name)
		if got := startTimes(runs); !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s fired at %v, want %v", name, got, want)
		}
		for _, r := range runs {
			wantTrigger := map[string]string{"cron": "schedule", "every": "every"}[name]
			if r.Status != "success" || r.Trigger != wantTrigger {
				t.Errorf("%s run %d: status %s, trigger %s", name, r.ID, r.Status, r.Trigger)
			}
		}
	}
}

// firing reports whether a fire of a timed job has not returned yet.
func firing(hs *harness) bool {
	for _, j := range hs.h.TimedJobs() {
		if j.Running {
			return true
		}
	}
	return false
}

// blockerLua runs until the test sets the kv flag "release"; the fake
// clock stands still meanwhile, so only the flag ends it.
const blockerLua = `lua: |
  while kv.get("release") ~= "yes" do end
  return {done = true}
`

// TestOverlappingFiresRespectConcurrency gives a playbook of concurrency
// 1 both a cron and an interval trigger that come due together, with a
// script that blocks: the second fire waits for the slot, later fires are
// skipped, and never do two runs go at once.
func TestOverlappingFiresRespectConcurrency(t *testing.T) {
	clock := sched.NewFakeClock(epoch)
	hs := start(t, setup{clock: clock, noHTTP: true, files: map[string]string{
		"blocker.yaml": "trigger: {schedule: \"* * * * *\", every: 1m}\nconcurrency: 1\n" + blockerLua,
	}})
	running := func() int {
		n := 0
		for _, r := range hs.runs("blocker") {
			if r.Status == "running" {
				n++
			}
		}
		return n
	}
	clock.BlockUntil(1)
	clock.Advance(time.Minute) // both jobs fire: one runs, one waits
	eventually(t, "one run going and recorded, and one waiting", func() bool {
		r, w := hs.h.Runner.Busy("blocker")
		return r == 1 && w == 1 && running() == 1
	})
	for range 3 { // both fires still going: every later fire is skipped
		clock.BlockUntil(1)
		clock.Advance(time.Minute)
	}
	if r, w := hs.h.Runner.Busy("blocker"); r != 1 || w != 1 {
		t.Fatalf("busy: %d running, %d waiting; want 1 and 1", r, w)
	}
	if n := running(); n != 1 || len(hs.runs("blocker")) != 1 {
		t.Fatalf("%d runs recorded as running of %d recorded, want 1 of 1", n, len(hs.runs("blocker")))
	}
	eventually(t, "skipped fires counted in the metrics", func() bool {
		return metric(t, hs, `goshawk_schedule_skipped_total{job="every:blocker"} 3`) &&
			metric(t, hs, `goshawk_schedule_skipped_total{job="schedule:blocker"} 3`)
	})

	if err := hs.h.Store.KVSet(context.Background(), "blocker", "release", "yes"); err != nil {
		t.Fatal(err)
	}
	// The waiting fire takes the slot once the first run ends.
	eventually(t, "both fires of the first minute finishing", func() bool {
		return len(hs.runs("blocker")) == 2 && running() == 0
	})
	runs := hs.runs("blocker")
	triggers := []string{runs[0].Trigger, runs[1].Trigger}
	slices.Sort(triggers)
	if triggers[0] != "every" || triggers[1] != "schedule" || runs[0].Status != "success" || runs[1].Status != "success" {
		t.Fatalf("runs: %+v", runs)
	}
}

// metric reports whether the host's /metrics output has the line.
func metric(t *testing.T, hs *harness, line string) bool {
	t.Helper()
	rec := httptest.NewRecorder()
	hs.h.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return strings.Contains(rec.Body.String(), line)
}

// TestShutdownLetsRunsFinish stops Serve while a webhook run is going: the
// run finishes within the grace period and is recorded as a success, and
// a client waiting on it gets its record.
func TestShutdownLetsRunsFinish(t *testing.T) {
	hs := start(t, setup{config: "shutdown_grace: 1m\n", files: map[string]string{
		"blocker.yaml": "trigger: {webhook: true}\n" + blockerLua,
	}})
	waited := make(chan store.Run, 1)
	go func() {
		rec, err := hs.runWait("blocker", "{}")
		if err != nil {
			t.Error(err)
		}
		waited <- rec
	}()
	eventually(t, "the run starting", func() bool { r, _ := hs.h.Runner.Busy("blocker"); return r == 1 })
	stopped := make(chan struct{})
	go func() { hs.stopServing(); close(stopped) }()
	eventually(t, "shutdown starting", func() bool { return strings.Contains(hs.log.String(), "shutting down") })
	select {
	case <-stopped:
		t.Fatal("serve returned while a run was still going within the grace period")
	default:
	}
	if err := hs.h.Store.KVSet(context.Background(), "blocker", "release", "yes"); err != nil {
		t.Fatal(err)
	}
	<-stopped
	rec := <-waited
	runs := hs.runs("blocker")
	if len(runs) != 1 || runs[0].Status != "success" || rec.ID != runs[0].ID || rec.Status != "success" {
		t.Fatalf("after a graceful shutdown: stored %+v, response %+v", runs, rec)
	}
}

// TestShutdownInterruptsRunsPastTheGrace stops Serve while a run that
// never ends is going: past the grace period it is recorded interrupted.
func TestShutdownInterruptsRunsPastTheGrace(t *testing.T) {
	hs := start(t, setup{config: "shutdown_grace: 200ms\n", files: map[string]string{
		"blocker.yaml": "trigger: {webhook: true}\n" + blockerLua,
	}})
	code, body := hs.do("POST", "/api/playbooks/blocker/run", "{}")
	if code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	eventually(t, "the run starting", func() bool { r, _ := hs.h.Runner.Busy("blocker"); return r == 1 })
	hs.stopServing()
	runs := hs.runs("blocker")
	if len(runs) != 1 || runs[0].Status != "interrupted" || !strings.Contains(runs[0].Error, "shut down") || runs[0].Finished == nil {
		t.Fatalf("a run past the grace period: %+v", runs)
	}
	if !strings.Contains(hs.log.String(), "interrupted") {
		t.Fatalf("the log does not say runs were interrupted:\n%s", hs.log.String())
	}
}
