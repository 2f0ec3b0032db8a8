package tqfake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// benchQuery nests +and/+or with +contains, name lookups, a score range, a
// source and an attribute, over data where every part rules some rows out.
const (
	benchCriteria = `{"+or":[{"value":{"+contains":"example1"}},{"value":{"+contains":"cdn7"}},{"mentions":"mail3"}]}`
	benchFilters  = `{"+and":[
		{"+or":[{"type_name":"FQDN"},{"type_name":"URL"},{"status_name":"Active"}]},
		{"score":{"+gte":3,"+lte":8}},
		{"+or":[{"source_name":"Generated Feed A"},{"attribute":{"name":"Confidence","value":"High"}}]}
	]}`
)

func benchServer(b *testing.B) *tqfake.Server {
	b.Helper()
	s := tqfake.NewHandler(tqfake.Options{Empty: true})
	s.AddIndicators(tqfake.GenerateIndicators(10_000))
	return s
}

// BenchmarkQuery10k measures one query request's evaluation: compile the
// criteria and filters into closures, then scan 10,000 indicators.
func BenchmarkQuery10k(b *testing.B) {
	s := benchServer(b)
	criteria, filters := decode(b, benchCriteria), decode(b, benchFilters)
	n, err := s.QueryCount(criteria, filters)
	if err != nil {
		b.Fatal(err)
	}
	if n == 0 || n >= 10_000 {
		b.Fatalf("the benchmark query matches %d of 10000; it should select a strict, non-empty subset", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.QueryCount(criteria, filters); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery10kHTTP is the same query as a full request through the
// handler: auth, JSON decoding, evaluation, sorting and a rendered page.
func BenchmarkQuery10kHTTP(b *testing.B) {
	s := benchServer(b)
	h := s.Handler()

	tokenBody := `{"email":"` + tqfake.DefaultEmail + `","password":"` + tqfake.DefaultPassword +
		`","grant_type":"password","client_id":"` + tqfake.DefaultClientID + `"}`
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/token", strings.NewReader(tokenBody)))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	body := []byte(`{"criteria":` + benchCriteria + `,"filters":` + benchFilters + `}`)

	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/api/indicators/query?limit=25&sort=-score", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
