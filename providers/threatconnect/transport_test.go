package threatconnect

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
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
	// The one page held all three: the pages tell how many match, so no
	// count is asked.
	r := f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1", "max_results": 2})
	if !r.OK() || r.Message != "Found 2 of 3 indicator(s); raise max_results (now 2) to 3 to get them all" || r.Summary["truncated"] != true || r.Summary["available"] != 3 {
		t.Fatalf("got %s %q %v", r.Status, r.Message, r.Summary)
	}
	if n := f.srv.RequestCount(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	r = f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1", "max_results": 3})
	if !r.OK() || r.Message != "Found 3 indicator(s)" || r.Summary["truncated"] != nil {
		t.Fatalf("all found: got %s %q %v", r.Status, r.Message, r.Summary)
	}
}

// plantHuntMatches stores 10.77.0.0 to 10.77.0.255 in srv, of which 111
// contain "10.77.0.1": .1, .10 to .19 and .100 to .199.
func plantHuntMatches(srv interface {
	AddIndicator(tcfake.Indicator) tcfake.Indicator
}) {
	for i := range 256 {
		srv.AddIndicator(tcfake.Indicator{Type: "Address", IP: fmt.Sprintf("10.77.0.%d", i), Active: true})
	}
}

// TestHuntCountsWhatItLeftOut guards issue 16 item 2: a hunt that stops at
// max_results with a next page left asks the count once, with the hunt's
// own query, and says how many match and how to get them all.
func TestHuntCountsWhatItLeftOut(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, nil)
	plantHuntMatches(f.srv)
	const tql = "tql=typeName+IN+%28%27Address%27%29+AND+summary+CONTAINS+%2710.77.0.1%27"
	tests := []struct {
		name   string
		params map[string]any
		want   []string // request targets, in order
	}{
		{"default max_results", map[string]any{"ip": "10.77.0.1"},
			[]string{"/v3/indicators?" + tql, "/v3/indicators?count=true&resultLimit=1&" + tql}},
		{"owner filter and fields", map[string]any{"ip": "10.77.0.1", "owner": tcfake.SeedOwnerName, "tag": true},
			[]string{
				"/v3/indicators?fields=tags&" + tql + "+and+ownerName+in+%28%27" + url.QueryEscape(tcfake.SeedOwnerName) + "%27%29",
				"/v3/indicators?count=true&resultLimit=1&" + tql + "+and+ownerName+in+%28%27" + url.QueryEscape(tcfake.SeedOwnerName) + "%27%29",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.srv.ResetRequests()
			r := f.invoke(t, "hunt_ip", tt.params)
			if !r.OK() || r.Message != "Found 100 of 111 indicator(s); raise max_results (now 100) to 111 to get them all" {
				t.Fatalf("got %s %q", r.Status, r.Message)
			}
			if r.Summary["truncated"] != true || r.Summary["available"] != 111 || r.Summary["total_objects"] != 100 || len(indicators(t, r)) != 100 {
				t.Errorf("summary %v with %d indicators", r.Summary, len(indicators(t, r)))
			}
			var got []string
			for _, req := range f.srv.Requests() {
				got = append(got, req.RequestURI)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}

	// All found, over two pages or in one: nothing is asked after them.
	for _, max := range []any{111, 112, "500"} {
		t.Run(fmt.Sprint("max_results ", max), func(t *testing.T) {
			f.srv.ResetRequests()
			r := f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1", "max_results": max})
			if !r.OK() || r.Message != "Found 111 indicator(s)" || r.Summary["truncated"] != nil || r.Summary["available"] != nil {
				t.Fatalf("got %s %q %v", r.Status, r.Message, r.Summary)
			}
			for _, req := range f.srv.Requests() {
				if strings.Contains(req.RequestURI, "count=") {
					t.Errorf("a hunt that found everything asked %s", req.RequestURI)
				}
			}
			if n := f.srv.RequestCount(); n != 2 {
				t.Errorf("%d requests, want the two pages", n)
			}
		})
	}
}

// The count is a courtesy: when it cannot be had, the hunt succeeds with
// what it found, says that more exist without a number, and logs why at
// debug level.
func TestHuntSucceedsWithoutTheCount(t *testing.T) {
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter)
		attempts int
		reason   string
	}{
		{"refused", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errCode":"0x1003","message":"no counting","status":"Error"}`))
		}, 1, "Status Code: 403"},
		{"unavailable, retried", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"errCode":"0x1007","message":"busy","status":"Error"}`))
		}, 3, "Status Code: 503"},
		{"no count in the answer", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":[],"status":"Success"}`))
		}, 1, "has no count"},
		{"count not above the found", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":[],"count":100,"status":"Success"}`))
		}, 1, "count 100 is not a number above the 100 found"},
		{"not JSON", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":`))
		}, 1, "Unable to parse response as JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := tcfake.NewHandler(tcfake.Options{SecretKey: testSecret, Empty: true})
			plantHuntMatches(fake)
			var counts atomic.Int64
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("count") == "true" {
					counts.Add(1)
					tt.answer(w)
					return
				}
				fake.ServeHTTP(w, r)
			}))
			defer proxy.Close()
			fake.SetURL(proxy.URL)
			f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": proxy.URL})
			r := f.invoke(t, "hunt_ip", map[string]any{"ip": "10.77.0.1"})
			if !r.OK() || r.Message != "Found 100 indicator(s); more exist: raise max_results (now 100) to get them" {
				t.Fatalf("got %s %q", r.Status, r.Message)
			}
			if r.Summary["truncated"] != true || r.Summary["total_objects"] != 100 || len(indicators(t, r)) != 100 {
				t.Errorf("summary %v", r.Summary)
			}
			if _, ok := r.Summary["available"]; ok {
				t.Errorf("summary.available = %v without a count", r.Summary["available"])
			}
			if n := counts.Load(); n != int64(tt.attempts) {
				t.Errorf("%d count attempts, want %d", n, tt.attempts)
			}
			logs := f.logs.String()
			if !strings.Contains(logs, `level=DEBUG msg="threatconnect: hunt: the count of matches is unavailable"`) || !strings.Contains(logs, tt.reason) {
				t.Errorf("logs do not give the reason %q at debug:\n%s", tt.reason, logs)
			}
		})
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
