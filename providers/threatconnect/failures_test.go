package threatconnect

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		n          int // how many requests fail
		wantOK     bool
		wantReqs   int64
		wantWaits  []time.Duration
		wantMsg    string
	}{
		{"404 is not retried", 404, "", 1, false, 1, nil, `Error from server, Status Code: 404 data returned: {"errCode":"0x1004"`},
		{"400 is not retried", 400, "", 1, false, 1, nil, "Error from server, Status Code: 400"},
		{"503 then success", 503, "", 2, true, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, "Found 1 indicator(s)"},
		{"500, 502 and 504 are retried", 502, "", 1, true, 2, []time.Duration{250 * time.Millisecond}, "Found 1 indicator(s)"},
		{"three 503 fail", 503, "", 3, false, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, "Error from server, Status Code: 503"},
		{"429 Retry-After seconds honoured", 429, "1", 1, true, 2, []time.Duration{time.Second}, "Found 1 indicator(s)"},
		{"429 Retry-After twice", 429, "2", 2, true, 3, []time.Duration{2 * time.Second, 2 * time.Second}, "Found 1 indicator(s)"},
		{"429 Retry-After too long gives up", 429, "3600", 1, false, 1, nil, "Error from server, Status Code: 429"},
		{"429 bad Retry-After falls back to backoff", 429, "later", 1, true, 2, []time.Duration{250 * time.Millisecond}, "Found 1 indicator(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tcfake.Options{}, nil)
			f.client.http.Jitter = func(n time.Duration) time.Duration { return n / 2 }
			f.srv.FailNext(tt.n, tt.status, tt.retryAfter)
			r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4})
			if r.OK() != tt.wantOK || !strings.HasPrefix(r.Message, tt.wantMsg) {
				t.Errorf("got %s %q, want ok=%v and a message starting %q", r.Status, r.Message, tt.wantOK, tt.wantMsg)
			}
			if got := f.srv.RequestCount(); got != tt.wantReqs {
				t.Errorf("%d requests, want %d", got, tt.wantReqs)
			}
			if !slices.Equal(*f.waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", *f.waits, tt.wantWaits)
			}
			if !tt.wantOK && len(r.Data) != 1 {
				t.Errorf("data = %v, want the parsed error body", r.Data)
			}
		})
	}
}

func TestRetryAfterBeyondDeadline(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	f.srv.FailNext(1, 429, "30")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := f.asset.Invoke(ctx, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4}, f.env(nil, time.Time{}))
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() || !strings.Contains(r.Message, "Status Code: 429") || f.srv.RequestCount() != 1 || len(*f.waits) != 0 {
		t.Errorf("got %s %q after %d requests and waits %v; want one 429 and no wait past the deadline", r.Status, r.Message, f.srv.RequestCount(), *f.waits)
	}
}

func TestWrongSecret(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	const wrong = "WRONG-secret-5d1c"
	a, err := providers.OpenAsset("tc", Provider(), map[string]any{"base_url": f.srv.URL, "access_id": tcfake.DefaultAccessID, "secret_key": wrong})
	if err != nil {
		t.Fatal(err)
	}
	f.asset = a
	r := f.invoke(t, "test_connectivity", nil)
	want := `Test Connectivity Failed. Error from server, Status Code: 401 data returned: {"errCode":"0x1002","message":"Signature data did not match expected result","status":"Error"}`
	if r.OK() || r.Message != want {
		t.Errorf("got %s %q, want %q", r.Status, r.Message, want)
	}
	if strings.Contains(r.Message, wrong) || f.srv.RequestCount() != 1 {
		t.Errorf("the message shows the secret, or the 401 was retried (%d requests)", f.srv.RequestCount())
	}
	r = f.invoke(t, "list_owners", nil)
	if r.OK() || !strings.HasPrefix(r.Message, "Unable to List Owners. Error from server, Status Code: 401") {
		t.Errorf("list_owners got %s %q", r.Status, r.Message)
	}
}

func TestTimeoutAndResets(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		f := newFixture(t, tcfake.Options{}, map[string]any{"timeout": "50ms"})
		f.srv.SetLatency(5 * time.Second)
		r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4})
		if r.OK() || !strings.HasPrefix(r.Message, "Error connecting: GET http://") || !strings.Contains(r.Message, "no answer within the 50ms timeout") {
			t.Errorf("got %s %q, want a timeout", r.Status, r.Message)
		}
		if len(*f.waits) != 2 {
			t.Errorf("waits = %v, want two retries of the timed-out attempt", *f.waits)
		}
	})
	t.Run("reset then success", func(t *testing.T) {
		f := newFixture(t, tcfake.Options{}, nil)
		f.srv.ResetNext(1)
		r := f.invoke(t, "hunt_ip", map[string]any{"ip": tcfake.SeedIPv4})
		if !r.OK() || f.srv.RequestCount() != 2 || len(*f.waits) != 1 {
			t.Errorf("got %s %q after %d requests; want success on the second", r.Status, r.Message, f.srv.RequestCount())
		}
	})
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": "http://" + addr})
	r := f.invoke(t, "hunt_ip", map[string]any{"ip": "1.2.3.4"})
	want := "Error connecting: GET http://" + addr + "/v3/indicators: dial tcp " + addr + ": connect: connection refused"
	if r.OK() || r.Message != want {
		t.Errorf("got %s %q, want %q", r.Status, r.Message, want)
	}
	if len(*f.waits) != 2 {
		t.Errorf("waits = %v, want two retries", *f.waits)
	}
}

func TestHTMLErrorAndTLS(t *testing.T) {
	var hits atomic.Int64
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "<html><head><title>403</title></head><body><h1>Forbidden</h1>\n<p>by the proxy</p></body></html>")
	}))
	defer html.Close()
	f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": html.URL})
	r := f.invoke(t, "hunt_url", map[string]any{"url": "http://x.example/"})
	if want := "Status Code: 403. Data from server: 403 Forbidden by the proxy"; r.OK() || r.Message != want || hits.Load() != 1 {
		t.Errorf("got %s %q after %d requests, want %q after 1", r.Status, r.Message, hits.Load(), want)
	}

	fake := tcfake.NewHandler(tcfake.Options{SecretKey: testSecret})
	tlsSrv := httptest.NewUnstartedServer(fake.Handler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	fake.SetURL(tlsSrv.URL)
	for _, verify := range []bool{true, false} {
		f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": tlsSrv.URL, "verify_server_cert": verify})
		r := f.invoke(t, "test_connectivity", nil)
		if verify {
			if r.OK() || !strings.Contains(r.Message, "certificate") || len(*f.waits) != 0 {
				t.Errorf("verify on: got %s %q with waits %v; want a certificate failure, not retried", r.Status, r.Message, *f.waits)
			}
		} else if !r.OK() {
			t.Errorf("verify off: got %s %q, want success", r.Status, r.Message)
		}
	}
}

func TestBadParamsSendNothing(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	tests := []struct {
		action string
		params map[string]any
		want   string
	}{
		{"hunt_ip", map[string]any{"ip": "1.2.3"}, "Parameter 'ip' failed validation"},
		{"hunt_ip", map[string]any{"ip": "::zz"}, "Parameter 'ip' failed validation"},
		{"hunt_ip", map[string]any{"ip": "fe80::1%eth0"}, "Parameter 'ip' failed validation"},
		{"hunt_file", map[string]any{"hash": "AAA0985A485969F70C0B414EF328DAA"}, "Parameter 'hash' failed validation"},
		{"hunt_file", map[string]any{"hash": "ZZZ0985A485969F70C0B414EF328DAAA"}, "Parameter 'hash' failed validation"},
		{"hunt_email", map[string]any{"email": "not-an-email"}, "Parameter 'email' failed validation"},
		{"hunt_email", map[string]any{"email": "a@b"}, "Parameter 'email' failed validation"},
		{"hunt_url", map[string]any{"url": "www.example.com/login"}, "Parameter 'url' failed validation"},
		{"hunt_domain", map[string]any{"domain": "exa mple.com"}, "Parameter 'domain' failed validation"},
		{"hunt_domain", map[string]any{"domain": "http://"}, "Parameter 'domain' failed validation"},
		{"hunt_ip", map[string]any{"ip": "1.2.3.4", "max_results": 0}, "Parameter 'max_results' must be a positive integer"},
		{"post_data", map[string]any{"primary_field": "1.2.3.4", "rating": 7}, "Parameter 'rating' must be between 0 and 5"},
		{"post_data", map[string]any{"primary_field": "1.2.3.4", "rating": -1}, "Parameter 'rating' must be between 0 and 5"},
		{"post_data", map[string]any{"primary_field": "1.2.3.4", "confidence": 101}, "Parameter 'confidence' must be between 0 and 100"},
		{"post_data", map[string]any{"primary_field": "1.2.3.4", "confidence": 50.5}, "Parameter 'confidence' must be an integer between 0 and 100"},
		{"post_data", map[string]any{"primary_field": "not a value"}, errUnresolvedPrimary.Error()},
		{"post_data", map[string]any{"primary_field": " , ; "}, errUnresolvedPrimary.Error()},
		{"post_data", map[string]any{"primary_field": "AAA0985A485969F70C0B414EF328DAAA, 1.2.3.4"}, errUnresolvedPrimary.Error()},
		{"post_data", map[string]any{"primary_field": "1.2.3.4, 5.6.7.8"}, errUnresolvedPrimary.Error()},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.action, tt.params), func(t *testing.T) {
			r := f.invoke(t, tt.action, tt.params)
			if r.OK() || r.Message != tt.want {
				t.Errorf("got %s %q, want failed %q", r.Status, r.Message, tt.want)
			}
		})
	}
	for _, params := range []map[string]any{{"ip": "1.2.3.4", "tags": true}, {"ip": "1.2.3.4", "max_results": "many"}, {}} {
		if _, err := f.asset.Invoke(context.Background(), "hunt_ip", params, f.env(nil, time.Time{})); err == nil {
			t.Errorf("Invoke(hunt_ip, %v) = nil error, want a usage error", params)
		}
	}
	if n := f.srv.RequestCount(); n != 0 {
		t.Errorf("%d requests reached the server, want 0", n)
	}
}

func TestConfigErrorsHideTheSecret(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"base_url": "ftp://x.example", "access_id": "id", "secret_key": testSecret},
		{"base_url": "https://user:" + testSecret + "@x.example", "access_id": "id", "secret_key": testSecret},
		{"base_url": "https://x.example", "access_id": "id", "secret_key": testSecret, "max_containers": 0},
		{"base_url": "https://x.example", "access_id": "id", "secret_key": testSecret, "timeout": "-1s"},
		{"base_url": "https://x.example", "access_id": "id", "secret_key": "  "},
	} {
		_, err := providers.OpenAsset("tc", Provider(), cfg)
		if err == nil {
			t.Errorf("OpenAsset(%v) = nil error, want one", cfg["base_url"])
			continue
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("config error shows the secret: %v", err)
		}
	}
	a, err := providers.OpenAsset("tc", Provider(), map[string]any{"base_url": "https://x.example", "access_id": "id", "secret_key": testSecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(a.Conn), fmt.Sprintf("%+v", a.Conn), fmt.Sprintf("%#v", a.Conn)} {
		if strings.Contains(s, testSecret) {
			t.Errorf("printing the connection shows the secret: %s", s)
		}
	}
}
