package threatconnect

import (
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
