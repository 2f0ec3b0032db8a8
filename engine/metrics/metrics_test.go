package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return string(body)
}

func TestHandlerExposesEngineMetrics(t *testing.T) {
	m := New()
	m.RunFinished("hunt-enrich-post", "success", 1500*time.Millisecond)
	m.RunFinished("hunt-enrich-post", "failed", time.Second)
	m.ActionCalled("tc", "hunt_ip", "success", 20*time.Millisecond)
	m.Reloaded("playbook", nil)
	m.Reloaded("playbook", errors.New("bad cron"))
	m.Polled("tc", 12, 3)
	m.ScheduleSkipped("playbook/hunt")

	body := scrape(t, m)
	for _, want := range []string{
		`goshawk_runs_total{playbook="hunt-enrich-post",status="success"} 1`,
		`goshawk_runs_total{playbook="hunt-enrich-post",status="failed"} 1`,
		`goshawk_run_duration_seconds_count{playbook="hunt-enrich-post"} 2`,
		`goshawk_run_duration_seconds_sum{playbook="hunt-enrich-post"} 2.5`,
		`goshawk_action_calls_total{action="hunt_ip",asset="tc",status="success"} 1`,
		`goshawk_action_duration_seconds_count{action="hunt_ip",asset="tc"} 1`,
		`goshawk_reloads_total{kind="playbook"} 1`,
		`goshawk_reload_errors_total{kind="playbook"} 1`,
		`goshawk_indicators_polled_total{asset="tc"} 12`,
		`goshawk_containers_created_total{asset="tc"} 3`,
		`goshawk_schedule_skipped_total{job="playbook/hunt"} 1`,
	} {
		if !strings.Contains("\n"+body, "\n"+want+"\n") {
			t.Errorf("scrape lacks the line %q", want)
		}
	}
	if !strings.Contains(body, "\ngo_goroutines ") {
		t.Error("scrape lacks the Go runtime metrics")
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	// None of these may panic: callers without metrics pass nil.
	m.RunFinished("p", "success", time.Second)
	m.ActionCalled("a", "b", "success", time.Second)
	m.Reloaded("playbook", nil)
	m.Polled("tc", 1, 1)
	m.ScheduleSkipped("j")
}

func TestSeparateRegistries(t *testing.T) {
	a, b := New(), New()
	a.Polled("tc", 5, 0)
	if strings.Contains(scrape(t, b), `goshawk_indicators_polled_total{asset="tc"}`) {
		t.Fatal("metrics recorded on one Metrics leaked into another")
	}
}
