package host_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestShutdownInterruptsQueuedWebhookRuns accepts a webhook run that
// waits in the queue behind a run that never ends, then stops Serve: past
// the grace period both are recorded interrupted, the queued one saying it
// never got a slot.
func TestShutdownInterruptsQueuedWebhookRuns(t *testing.T) {
	hs := start(t, setup{config: "shutdown_grace: 200ms\n", files: map[string]string{
		"blocker.yaml": "trigger: {webhook: true}\nconcurrency: 1\nqueue: 1\n" + blockerLua,
	}})
	var ids []int64
	for range 2 {
		code, body := hs.do("POST", "/api/playbooks/blocker/run", "{}")
		var a struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(body, &a); code != 202 || err != nil || a.ID == 0 {
			t.Fatalf("webhook: %d %s", code, body)
		}
		ids = append(ids, a.ID)
	}
	eventually(t, "one run going and one queued", func() bool {
		r, w := hs.h.Runner.Busy("blocker")
		return r == 1 && w == 1
	})
	hs.stopServing()
	runs := hs.runs("blocker")
	if len(runs) != 2 {
		t.Fatalf("runs: %+v", runs)
	}
	for _, r := range runs {
		if r.Status != "interrupted" || r.Finished == nil {
			t.Fatalf("run %d after shutdown: %s", r.ID, r.Status)
		}
		if r.ID == ids[1] && !strings.Contains(r.Error, "before the run got a slot") {
			t.Fatalf("the queued run's error: %q", r.Error)
		}
	}
}
