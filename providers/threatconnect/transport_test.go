package threatconnect

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// A POST whose response was lost may have created the indicator: it is
// reported, never sent again.
func TestPostDataIsNotResentAfterALostResponse(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	f.srv.LoseResponseNext(1)
	r := f.invoke(t, "post_data", map[string]any{"primary_field": "198.51.100.77"})
	if r.OK() || !strings.HasPrefix(r.Message, "Error connecting: POST http://") {
		t.Fatalf("got %s %q, want a connection failure", r.Status, r.Message)
	}
	if n := f.srv.RequestCount(); n != 1 {
		t.Fatalf("%d requests, want the POST once", n)
	}
	if len(*f.waits) != 0 {
		t.Fatalf("waits = %v, want no retry", *f.waits)
	}
	if _, ok := f.srv.Find("Address", "198.51.100.77"); !ok {
		t.Fatal("the server did not create the indicator: the fault did not lose a handled request")
	}
}

// A GET whose response was lost is asked again.
func TestGetIsRetriedAfterALostResponse(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	f.srv.LoseResponseNext(1)
	r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4})
	if !r.OK() || f.srv.RequestCount() != 2 || len(*f.waits) != 1 {
		t.Fatalf("got %s %q after %d requests and waits %v; want success on the second", r.Status, r.Message, f.srv.RequestCount(), *f.waits)
	}
}

// A POST the server answered 503 was received: it is not sent again.
func TestPostDataIsNotRetriedAfterAStatus(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	f.srv.FailNext(1, 503, "")
	r := f.invoke(t, "post_data", map[string]any{"primary_field": "198.51.100.78"})
	if r.OK() || !strings.Contains(r.Message, "Status Code: 503") || f.srv.RequestCount() != 1 {
		t.Fatalf("got %s %q after %d requests; want the 503 once", r.Status, r.Message, f.srv.RequestCount())
	}
}

// Every attempt is logged at debug level, with the fields ThreatQ's lines
// have, and the asset is named once.
func TestRequestsAreLogged(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	f.srv.FailNext(1, 503, "1")
	if r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4}); !r.OK() {
		t.Fatal(r.Message)
	}
	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want one per attempt:\n%s", len(lines), f.logs.String())
	}
	for i, want := range []string{"attempt=1 status=503", "attempt=2 status=200"} {
		l := lines[i]
		if !strings.Contains(l, `msg="threatconnect: request" asset=tc action=hunt_ip method=GET path=/v3/indicators `+want+" duration=") || strings.Count(l, "asset=") != 1 {
			t.Errorf("line %d = %s", i, l)
		}
	}
}

// TestHuntReportsTruncation guards issue 16 item 2: a hunt that stops at
// max_results while more indicators match says so in its message and
// summary, instead of a bare "Found N".
func TestHuntReportsTruncation(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, nil)
	for _, ip := range []string{"10.77.0.1", "10.77.0.10", "10.77.0.11"} {
		f.srv.AddIndicator(tcfake.Indicator{Type: "Address", IP: ip, Active: true})
	}
	r := f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1", "max_results": 2})
	if !r.OK() || r.Message != "Found 2 indicator(s); more exist: raise max_results (now 2) to get them" || r.Summary["truncated"] != true {
		t.Fatalf("got %s %q %v", r.Status, r.Message, r.Summary)
	}
	r = f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1", "max_results": 3})
	if !r.OK() || r.Message != "Found 3 indicator(s)" || r.Summary["truncated"] != nil {
		t.Fatalf("all found: got %s %q %v", r.Status, r.Message, r.Summary)
	}
}

// TestListOwnersCounts guards issue 16 items 1 and 3: list_owners reports
// summary.total_objects, and data.*.count is there even when the server
// leaves count out.
func TestListOwnersCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data":[{"id":1,"name":"A"},{"id":2,"name":"B"},{"id":3,"name":"C"}],"status":"Success"}`))
	}))
	defer srv.Close()
	f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": srv.URL})
	r := f.invoke(t, "list_owners", nil)
	env, _ := roundTrip(t, r.Data[0]).(map[string]any)
	if !r.OK() || r.Summary["num_owners"] != int64(3) || r.Summary["total_objects"] != int64(3) || env["count"] != json.Number("3") {
		t.Fatalf("got %s %v, data[0].count = %v", r.Status, r.Summary, env["count"])
	}
}

// SOAR's names reach the actions: display names with spaces, the app's
// hunt_host, and num_of_days for interval_days (issue 16 item 4).
func TestSOARNames(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, map[string]any{"num_of_days": 3})
	for _, name := range []string{"hunt ip", "Hunt IP", "test connectivity"} {
		params := map[string]any{"ip": tcfake.SeedIPv4}
		if name == "test connectivity" {
			params = nil
		}
		if r := f.invoke(t, name, params); !r.OK() {
			t.Fatalf("%s: %s", name, r.Message)
		}
	}
	if r := f.invoke(t, "hunt host", map[string]any{"domain": tcfake.SeedHost}); !r.OK() || r.Message != "Found 1 indicator(s)" {
		t.Fatalf("hunt host: %s %q", r.Status, r.Message)
	}
	if got := f.asset.Config.Int("interval_days"); got != 3 {
		t.Fatalf("num_of_days did not set interval_days: %d", got)
	}
}
