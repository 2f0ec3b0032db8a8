package host_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/providers"
)

// TestOperatorGaugesWhileServing reads the gauges a serving host feeds:
// runs in flight and queued per playbook, the next fire of each timed job
// and the last successful poll of an asset.
func TestOperatorGaugesWhileServing(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []providers.Values
	)
	clock := sched.NewFakeClock(epoch)
	hs := start(t, setup{
		clock:     clock,
		providers: []*providers.Provider{feedProvider(&seen, &mu)},
		config:    "assets:\n  f: {provider: feed, every: 15m}\n",
		files: map[string]string{
			"blocker.yaml": "trigger: {webhook: true, every: 1h}\nconcurrency: 1\nqueue: 2\n" + blockerLua,
		},
	})
	for range 3 {
		if code, body := hs.do("POST", "/api/playbooks/blocker/run", "{}"); code != 202 {
			t.Fatalf("webhook: %d %s", code, body)
		}
	}
	eventually(t, "one blocker run in flight and two queued in the gauges", func() bool {
		return metric(t, hs, `goshawk_runs_in_flight{playbook="blocker"} 1`+"\n") &&
			metric(t, hs, `goshawk_run_queue_depth{playbook="blocker"} 2`+"\n")
	})
	unix := func(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }
	for _, line := range []string{
		`goshawk_schedule_next_fire_timestamp_seconds{job="every:blocker"} ` + unix(epoch.Add(time.Hour)),
		`goshawk_schedule_next_fire_timestamp_seconds{job="poll:f"} ` + unix(epoch.Add(15*time.Minute)),
	} {
		if !metric(t, hs, line+"\n") {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if _, err := hs.h.PollAsset(context.Background(), "f", false, 0); err != nil {
		t.Fatal(err)
	}
	if line := `goshawk_poll_last_success_timestamp_seconds{asset="f"} ` + unix(epoch); !metric(t, hs, line+"\n") {
		t.Errorf("/metrics lacks %s", line)
	}
	if err := hs.h.Store.KVSet(context.Background(), "blocker", "release", "yes"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the gauges back to zero", func() bool {
		return metric(t, hs, `goshawk_runs_in_flight{playbook="blocker"} 0`+"\n") &&
			metric(t, hs, `goshawk_run_queue_depth{playbook="blocker"} 0`+"\n")
	})
}
