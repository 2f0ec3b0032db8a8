package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
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
	m.PollSucceeded("tc", time.Now())
	m.WebhookRejected(RejectAuth)
	m.Pruned(1, 1, time.Now())
	m.SetBuildInfo("v", "c")
	m.SetLive(Live{})
}

func TestSeparateRegistries(t *testing.T) {
	a, b := New(), New()
	a.Polled("tc", 5, 0)
	if strings.Contains(scrape(t, b), `goshawk_indicators_polled_total{asset="tc"}`) {
		t.Fatal("metrics recorded on one Metrics leaked into another")
	}
}

// TestOperatorMetrics covers the gauges and counters an operator alerts
// on: runs in flight and queued per playbook, build info, last poll,
// webhook rejections by reason, next fire per job and retention.
func TestOperatorMetrics(t *testing.T) {
	m := New()
	next := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m.SetLive(Live{
		Playbooks: func() []PlaybookLoad { return []PlaybookLoad{{Playbook: "triage", Running: 2, Queued: 3}} },
		Jobs:      func() []Job { return []Job{{Name: "every:triage", Next: next}, {Name: "poll:tc"}} },
	})
	m.SetBuildInfo("1.2.3", "abc123")
	m.PollSucceeded("tc", next)
	m.WebhookRejected(RejectAuth)
	m.WebhookRejected(RejectQueueFull)
	m.WebhookRejected(RejectQueueFull)
	m.Pruned(4, 1, next)

	body := scrape(t, m)
	for _, want := range []string{
		`goshawk_runs_in_flight{playbook="triage"} 2`,
		`goshawk_run_queue_depth{playbook="triage"} 3`,
		`goshawk_build_info{commit="abc123",goversion="` + runtime.Version() + `",version="1.2.3"} 1`,
		`goshawk_poll_last_success_timestamp_seconds{asset="tc"} 1.735787045e+09`,
		`goshawk_webhook_rejections_total{reason="auth"} 1`,
		`goshawk_webhook_rejections_total{reason="queue_full"} 2`,
		`goshawk_schedule_next_fire_timestamp_seconds{job="every:triage"} 1.735787045e+09`,
		`goshawk_pruned_total{kind="runs"} 4`,
		`goshawk_pruned_total{kind="containers"} 1`,
		`goshawk_retention_last_run_timestamp_seconds 1.735787045e+09`,
	} {
		if !strings.Contains("\n"+body, "\n"+want+"\n") {
			t.Errorf("scrape lacks the line %q", want)
		}
	}
	if strings.Contains(body, `job="poll:tc"`) {
		t.Error("a job that never fires again has a next fire time")
	}
	if strings.Count(body, "goshawk_build_info{") != 1 {
		t.Error("SetBuildInfo left the old build_info series")
	}
}

// TestEveryMetricIsDocumented gathers every goshawk metric, with the live
// gauges set, and checks that docs/metrics.md lists it with each of its
// labels.
func TestEveryMetricIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := New()
	m.SetLive(Live{
		Playbooks: func() []PlaybookLoad { return []PlaybookLoad{{Playbook: "p"}} },
		Jobs:      func() []Job { return []Job{{Name: "every:p", Next: time.Now()}} },
	})
	m.RunFinished("p", "success", time.Second)
	m.ActionCalled("a", "b", "success", time.Second)
	m.Reloaded("playbook", nil)
	m.Reloaded("playbook", errors.New("x"))
	m.Polled("a", 1, 1)
	m.ScheduleSkipped("j")
	m.PollSucceeded("a", time.Now())
	m.WebhookRejected(RejectAuth)
	m.Pruned(1, 1, time.Now())
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "goshawk_") {
			continue
		}
		n++
		var row string
		for line := range strings.Lines(string(doc)) {
			if strings.HasPrefix(line, "| `"+name+"` |") {
				row = line
			}
		}
		if row == "" {
			t.Errorf("docs/metrics.md has no row for %s", name)
			continue
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if !strings.Contains(row, "`"+l.GetName()+"`") {
					t.Errorf("docs/metrics.md does not list the label %s of %s", l.GetName(), name)
				}
			}
		}
	}
	if n < 17 {
		t.Errorf("only %d goshawk metrics gathered; the test no longer sees them all", n)
	}
}
