package tcfake

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These benchmarks call the handler directly, without a network, to show
// the emulator's own cost per request: it must stay small next to a
// client's, so client benchmarks against it measure the client.

func benchRequest(b *testing.B, method, target, body string) *http.Request {
	b.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, target, strings.NewReader(body))
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	tsRaw := strconv.FormatInt(testNow.Unix(), 10)
	req.Header.Set("Timestamp", tsRaw)
	req.Header.Set("Authorization", "TC "+DefaultAccessID+":"+signature(DefaultSecretKey, target+":"+method+":"+tsRaw))
	return req
}

func serveOnce(b *testing.B, s *Server, req *http.Request, body string, want int) {
	if body != "" {
		req.Body = readCloser{strings.NewReader(body)}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != want {
		b.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
	}
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// BenchmarkHunt is a hunt_ip query with all three fields over the seed.
func BenchmarkHunt(b *testing.B) {
	s := NewHandler(Options{Now: func() time.Time { return testNow }})
	q := url.Values{"tql": {"typeName IN ('Address') AND summary CONTAINS '" + SeedIPv4 + "'"}, "fields": {"securityLabels", "tags", "attributes"}}
	req := benchRequest(b, http.MethodGet, "/v3/indicators?"+q.Encode(), "")
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(b, s, req, "", http.StatusOK)
	}
}

// BenchmarkPollPage is one on_poll page of 100 out of 10,000 indicators,
// sorted by dateAdded, with tags, attributes and threatAssess.
func BenchmarkPollPage(b *testing.B) {
	s := NewHandler(Options{Now: func() time.Time { return testNow }, Empty: true})
	for _, ind := range GenerateIndicators(10000, 250, testNow.Add(-240*time.Hour)) {
		s.AddIndicator(ind)
	}
	q := url.Values{"tql": {`dateAdded >= "` + testNow.Add(-240*time.Hour).Format(time.RFC3339) + `"`},
		"fields": {"tags", "attributes", "threatAssess"}, "sorting": {"dateAdded asc"},
		"resultStart": {"5000"}, "resultLimit": {"100"}}
	req := benchRequest(b, http.MethodGet, "/v3/indicators?"+q.Encode(), "")
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(b, s, req, "", http.StatusOK)
	}
}

// BenchmarkPost updates one indicator with a tag, the post_data shape.
func BenchmarkPost(b *testing.B) {
	s := NewHandler(Options{Now: func() time.Time { return testNow }})
	body := `{"type":"Address","ip":"1.2.3.4","rating":3,"tags":{"data":[{"name":"bench"}]}}`
	req := benchRequest(b, http.MethodPost, "/v3/indicators?fields=securityLabels&fields=tags&fields=attributes", body)
	serveOnce(b, s, req, body, http.StatusCreated)
	b.ReportAllocs()
	for b.Loop() {
		serveOnce(b, s, req, body, http.StatusOK)
	}
}

// BenchmarkParseTQL parses a hunt query.
func BenchmarkParseTQL(b *testing.B) {
	const q = "typeName IN ('Address') AND summary CONTAINS '1.2.3.4' and ownerName in ('Org A', 'Org B')"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTQL(q); err != nil {
			b.Fatal(err)
		}
	}
}
