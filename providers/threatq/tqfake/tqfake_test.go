package tqfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

func TestTokenEncodings(t *testing.T) {
	s := newServer(t, tqfake.Options{})
	standardQuery := url.Values{"grant_type": {"password"}, "client_id": {tqfake.DefaultClientID}}.Encode()
	cases := []struct {
		name        string
		query       string
		contentType string
		body        string
	}{
		{
			name:        "standard: grant in query, credentials in JSON",
			query:       standardQuery,
			contentType: "application/json",
			body:        fmt.Sprintf(`{"email":%q,"password":%q}`, tqfake.DefaultEmail, tqfake.DefaultPassword),
		},
		{
			name:        "beta: everything in JSON",
			contentType: "application/json",
			body: fmt.Sprintf(`{"email":%q,"password":%q,"grant_type":"password","client_id":%q}`,
				tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID),
		},
		{
			name:        "form body",
			contentType: "application/x-www-form-urlencoded",
			body: url.Values{"grant_type": {"password"}, "client_id": {tqfake.DefaultClientID},
				"email": {tqfake.DefaultEmail}, "password": {tqfake.DefaultPassword}}.Encode(),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := s.TokenCount()
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/token?"+tc.query, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.contentType)
			r := send(t, req)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			for _, key := range []string{"access_token", "refresh_token"} {
				if v, _ := r.body[key].(string); v == "" {
					t.Errorf("%s missing: %s", key, r.raw)
				}
			}
			if r.body["token_type"] != "Bearer" || num(t, r.body["expires_in"]) != 3600 {
				t.Errorf("token_type/expires_in = %v/%v", r.body["token_type"], r.body["expires_in"])
			}
			if got := s.TokenCount(); got != before+1 {
				t.Errorf("TokenCount = %d, want %d", got, before+1)
			}
			a := &api{t: t, s: s, token: r.body["access_token"].(string)}
			a.ok(http.MethodGet, "/api/indicator/statuses", nil, http.StatusOK)
		})
	}
}

func TestTokenRejections(t *testing.T) {
	s := newServer(t, tqfake.Options{Password: "s3cret-pass-for-test"})
	cases := []struct {
		name, email, password, clientID string
		status                          int
		code                            string
	}{
		{"wrong password", tqfake.DefaultEmail, "not-the-password", tqfake.DefaultClientID, 400, "invalid_grant"},
		{"wrong email", "intruder@example.com", "s3cret-pass-for-test", tqfake.DefaultClientID, 400, "invalid_grant"},
		{"unknown client", tqfake.DefaultEmail, "s3cret-pass-for-test", "someone-else", 401, "invalid_client"},
		{"missing password", tqfake.DefaultEmail, "", tqfake.DefaultClientID, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := requestToken(t, s, tc.email, tc.password, tc.clientID)
			if r.status != tc.status || r.body["error"] != tc.code {
				t.Fatalf("status %d error %v, want %d %s: %s", r.status, r.body["error"], tc.status, tc.code, r.raw)
			}
			for _, key := range []string{"error_description", "message"} {
				if v, _ := r.body[key].(string); v == "" {
					t.Errorf("%s missing: %s", key, r.raw)
				}
			}
			if bytes.Contains(r.raw, []byte("s3cret-pass-for-test")) {
				t.Errorf("the password leaked into the response: %s", r.raw)
			}
		})
	}
	if s.TokenCount() != 0 {
		t.Errorf("TokenCount = %d after only failures", s.TokenCount())
	}

	for _, body := range []string{`{"grant_type":"magic"}`, `{}`, `not json`} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if r := send(t, req); r.status != http.StatusBadRequest {
			t.Errorf("body %s: status %d, want 400", body, r.status)
		}
	}
}

func TestRefreshGrant(t *testing.T) {
	s := newServer(t, tqfake.Options{})
	first := requestToken(t, s, tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID)
	refresh := first.body["refresh_token"].(string)
	refreshReq := func() response {
		q := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/token?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+first.body["access_token"].(string))
		return send(t, req)
	}
	second := refreshReq()
	if second.status != http.StatusOK || second.body["access_token"] == first.body["access_token"] {
		t.Fatalf("refresh: status %d body %s", second.status, second.raw)
	}
	old := &api{t: t, s: s, token: first.body["access_token"].(string)}
	old.ok(http.MethodGet, "/api/indicator/statuses", nil, http.StatusUnauthorized)
	fresh := &api{t: t, s: s, token: second.body["access_token"].(string)}
	fresh.ok(http.MethodGet, "/api/indicator/statuses", nil, http.StatusOK)
	if again := refreshReq(); again.status != http.StatusBadRequest {
		t.Errorf("reusing a refresh token: status %d, want 400", again.status)
	}
	if s.TokenCount() != 2 {
		t.Errorf("TokenCount = %d, want 2", s.TokenCount())
	}
}

func TestClientCredentialsGrant(t *testing.T) {
	s := newServer(t, tqfake.Options{})
	grant := func(id, secret string) response {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		return send(t, req)
	}
	if r := grant(tqfake.DefaultClientID, tqfake.DefaultClientSecret); r.status != http.StatusOK || r.body["access_token"] == nil {
		t.Fatalf("good client: status %d body %s", r.status, r.raw)
	}
	if r := grant(tqfake.DefaultClientID, "wrong"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_client" {
		t.Fatalf("bad secret: status %d body %s", r.status, r.raw)
	}
}

func TestBearerRequired(t *testing.T) {
	clock := newClock()
	s := newServer(t, tqfake.Options{Now: clock.Now, TokenLifetime: time.Second})
	token := login(t, s)
	unauthenticated := func(name, header string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/indicators", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		r := send(t, req)
		errs, _ := r.body["errors"].([]any)
		if r.status != http.StatusUnauthorized || len(errs) != 1 || errs[0] != "Unauthenticated." {
			t.Errorf("%s: status %d body %s, want 401 Unauthenticated.", name, r.status, r.raw)
		}
	}
	unauthenticated("no header", "")
	unauthenticated("garbage token", "Bearer nope")
	unauthenticated("basic scheme", "Basic "+token)

	a := &api{t: t, s: s, token: token}
	a.ok(http.MethodGet, "/api/indicators", nil, http.StatusOK)
	clock.Advance(time.Second)
	unauthenticated("expired token", "Bearer "+token)

	a.token = login(t, s)
	a.ok(http.MethodGet, "/api/indicators", nil, http.StatusOK)
	s.RevokeTokens()
	unauthenticated("revoked token", "Bearer "+a.token)
	if s.TokenCount() != 2 {
		t.Errorf("TokenCount = %d, want 2", s.TokenCount())
	}

	// Unknown routes are 404 whether or not the caller is authenticated.
	if r := send(t, mustRequest(t, http.MethodGet, s.URL+"/api/nothing-here")); r.status != http.StatusNotFound {
		t.Errorf("unknown route: status %d", r.status)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

func TestSeed(t *testing.T) {
	a := newAPI(t, tqfake.Options{})

	statuses := dataList(t, a.ok(http.MethodGet, "/api/indicator/statuses", nil, 200))
	wantStatuses := []string{"Active", "Expired", "Indirect", "Review", "Whitelisted"}
	if len(statuses) != 5 {
		t.Fatalf("%d statuses, want 5", len(statuses))
	}
	for i, st := range statuses {
		if st["name"] != wantStatuses[i] || num(t, st["id"]) != int64(i+1) || st["protected"] != "Y" {
			t.Errorf("status %d = %v", i+1, st)
		}
	}

	types := a.ok(http.MethodGet, "/api/indicator/types?limit=100", nil, 200)
	if num(t, types["total"]) != 34 {
		t.Fatalf("total types = %v, want 34", types["total"])
	}
	wantTypes := map[int64]string{1: "ASN", 5: "Email Address", 11: "FQDN", 15: "IP Address", 18: "MD5", 24: "SHA-256", 30: "URL", 34: "X-Mailer"}
	for _, ty := range dataList(t, types) {
		if want, ok := wantTypes[num(t, ty["id"])]; ok && ty["name"] != want {
			t.Errorf("type %v = %v, want %s", ty["id"], ty["name"], want)
		}
	}

	eventTypes := a.ok(http.MethodGet, "/api/event/types?limit=100", nil, 200)
	if num(t, eventTypes["total"]) != 14 || dataList(t, eventTypes)[0]["name"] != "Spearphish" {
		t.Fatalf("event types: %v", eventTypes)
	}

	inds := a.s.Indicators()
	if len(inds) < 24 {
		t.Fatalf("%d seeded indicators, want a few dozen", len(inds))
	}
	seenType, seenStatus, seenScore := map[int]bool{}, map[int]bool{}, map[int]bool{}
	withSources, withAttributes := 0, 0
	for _, ind := range inds {
		seenType[ind.TypeID], seenStatus[ind.StatusID], seenScore[ind.Score] = true, true, true
		if len(ind.Sources) > 0 {
			withSources++
		}
		if len(ind.Attributes) > 0 {
			withAttributes++
		}
	}
	if len(seenType) < 8 || len(seenStatus) != 5 || !seenScore[0] || !seenScore[10] || withSources != len(inds) || withAttributes < 5 {
		t.Errorf("seed variety: %d types, %d statuses, scores %v, %d with sources, %d with attributes",
			len(seenType), len(seenStatus), seenScore, withSources, withAttributes)
	}
	ip, ok := a.s.FindIndicator(tqfake.SeedIP, "ip address")
	if !ok || ip.ID != tqfake.SeedIPID || ip.Sources[0].Name != tqfake.SeedSourceName || ip.Attributes[0].Value != "9000" {
		t.Errorf("SeedIP = %+v, %v", ip, ok)
	}
	if fqdn, ok := a.s.FindIndicator(tqfake.SeedFQDN, "FQDN"); !ok || fqdn.ID != tqfake.SeedFQDNID {
		t.Errorf("SeedFQDN = %+v, %v", fqdn, ok)
	}

	list := dataList(t, a.ok(http.MethodGet, "/api/indicators", nil, 200))
	for _, key := range []string{"created_at", "updated_at", "touched_at"} {
		if s, _ := list[0][key].(string); !dateRE.MatchString(s) {
			t.Errorf("%s = %v, want YYYY-MM-DD HH:MM:SS", key, list[0][key])
		}
	}
	if len(a.s.Events()) != 6 {
		t.Errorf("%d events, want 6", len(a.s.Events()))
	}

	staged, ok := a.s.StagedIndicators(tqfake.SeedImportID)
	if !ok {
		t.Fatal("no seeded import session")
	}
	dups, whitelisted := 0, 0
	for _, si := range staged {
		if si.Duplicate {
			dups++
			if si.ID != tqfake.SeedDuplicateStagedIndicatorID || si.DuplicateIndicatorID != tqfake.SeedFQDNID {
				t.Errorf("duplicate staged indicator = %+v", si)
			}
		}
		if si.Whitelisted {
			whitelisted++
			if si.ID != tqfake.SeedWhitelistedStagedIndicatorID {
				t.Errorf("whitelisted staged indicator = %+v", si)
			}
		}
	}
	if dups != 1 || whitelisted != 1 {
		t.Errorf("%d duplicates and %d whitelisted among %+v, want one each", dups, whitelisted, staged)
	}
	if events, _ := a.s.StagedEvents(tqfake.SeedImportID); len(events) != 2 {
		t.Errorf("%d staged events in the first import, want 2", len(events))
	}
	if _, ok := a.s.StagedIndicators(tqfake.SeedSecondImportID); !ok {
		t.Error("no second import session")
	}
}

func TestEmpty(t *testing.T) {
	a := newAPI(t, tqfake.Options{Empty: true})
	for _, path := range []string{"/api/indicators", "/api/events"} {
		if body := a.ok(http.MethodGet, path, nil, 200); num(t, body["total"]) != 0 {
			t.Errorf("%s total = %v, want 0", path, body["total"])
		}
	}
	a.ok(http.MethodGet, fmt.Sprintf("/api/imports/%d/indicators", tqfake.SeedImportID), nil, http.StatusNotFound)
	if body := a.ok(http.MethodGet, "/api/indicator/types", nil, 200); num(t, body["total"]) != 34 {
		t.Errorf("types total = %v, want 34", body["total"])
	}
	if body := a.ok(http.MethodGet, "/api/indicator/statuses", nil, 200); num(t, body["total"]) != 5 {
		t.Errorf("statuses total = %v, want 5", body["total"])
	}
}

func TestListPaging(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	want := len(a.s.Indicators())

	first := a.ok(http.MethodGet, "/api/indicators", nil, 200)
	if num(t, first["limit"]) != tqfake.DefaultLimit || num(t, first["offset"]) != 0 || len(dataList(t, first)) != tqfake.DefaultLimit {
		t.Errorf("default page: limit %v offset %v len %d", first["limit"], first["offset"], len(dataList(t, first)))
	}

	seen := map[int64]bool{}
	for offset := 0; ; {
		body := a.ok(http.MethodGet, fmt.Sprintf("/api/indicators?limit=7&offset=%d&sort=-score", offset), nil, 200)
		if num(t, body["total"]) != int64(want) {
			t.Fatalf("total = %v, want %d", body["total"], want)
		}
		page := dataList(t, body)
		for _, id := range ids(t, page) {
			if seen[id] {
				t.Fatalf("id %d served twice", id)
			}
			seen[id] = true
		}
		offset += len(page)
		if len(page) == 0 || offset >= want {
			break
		}
	}
	if len(seen) != want {
		t.Errorf("paged through %d indicators, want %d", len(seen), want)
	}

	for _, bad := range []string{"limit=abc", "limit=-1", "offset=-5", "sort=nonsense"} {
		r := a.do(http.MethodGet, "/api/indicators?"+bad, nil)
		errs, _ := r.body["data"].(map[string]any)
		if r.status != http.StatusBadRequest || errs["errors"] == nil {
			t.Errorf("%s: status %d body %s, want 400 with data.errors", bad, r.status, r.raw)
		}
	}
}

func TestListSort(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	items := dataList(t, a.ok(http.MethodGet, "/api/indicators?limit=100&sort=-score,id", nil, 200))
	for i := 1; i < len(items); i++ {
		prev, cur := items[i-1], items[i]
		ps, cs := num(t, prev["score"]), num(t, cur["score"])
		if ps < cs || (ps == cs && num(t, prev["id"]) > num(t, cur["id"])) {
			t.Fatalf("order broken at %d: %v then %v", i, prev, cur)
		}
	}

	items = dataList(t, a.ok(http.MethodGet, "/api/indicators?limit=100&sort=value", nil, 200))
	values := make([]string, 0, len(items))
	for _, m := range items {
		values = append(values, strings.ToLower(m["value"].(string)))
	}
	if !sort.StringsAreSorted(values) {
		t.Errorf("sort=value not ascending: %v", values)
	}

	// Ties on the sort key fall back to ascending id.
	items = dataList(t, a.ok(http.MethodGet, "/api/indicators?limit=100&sort=-status_id", nil, 200))
	for i := 1; i < len(items); i++ {
		if items[i-1]["status_id"] == items[i]["status_id"] && num(t, items[i-1]["id"]) > num(t, items[i]["id"]) {
			t.Fatalf("tie not broken by id at %d", i)
		}
	}
}

func TestListWith(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	plain := dataList(t, a.ok(http.MethodGet, "/api/indicators?limit=1", nil, 200))[0]
	for _, rel := range []string{"type", "status", "sources", "attributes"} {
		if _, ok := plain[rel]; ok {
			t.Errorf("%s embedded without with", rel)
		}
	}
	if _, ok := plain["score"].(float64); !ok {
		t.Errorf("score = %v, want a number in lists", plain["score"])
	}

	withRel := dataList(t, a.ok(http.MethodGet, "/api/indicators?limit=1&with=type,sources,score,adversaries", nil, 200))[0]
	if ty, _ := withRel["type"].(map[string]any); ty["name"] != "IP Address" {
		t.Errorf("type = %v", withRel["type"])
	}
	if srcs, _ := withRel["sources"].([]any); len(srcs) == 0 {
		t.Errorf("sources = %v", withRel["sources"])
	}
	if sc, _ := withRel["score"].(map[string]any); sc["generated_score"] == nil {
		t.Errorf("with=score: score = %v, want the score record", withRel["score"])
	}
	if adv, ok := withRel["adversaries"].([]any); !ok || len(adv) != 0 {
		t.Errorf("adversaries = %v, want []", withRel["adversaries"])
	}
	if _, ok := withRel["status"]; ok {
		t.Error("status embedded though not asked for")
	}

	ev := dataObject(t, a.ok(http.MethodGet, fmt.Sprintf("/api/events/%d?with=indicators.type", tqfake.SeedEventID), nil, 200))
	inds, _ := ev["indicators"].([]any)
	if len(inds) != 4 {
		t.Fatalf("event indicators = %v", ev["indicators"])
	}
	if ty, _ := inds[0].(map[string]any)["type"].(map[string]any); ty["name"] == nil {
		t.Errorf("nested with indicators.type not embedded: %v", inds[0])
	}
}

func TestListFilters(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	cases := []struct {
		path string
		want func(m map[string]any) bool
		min  int
	}{
		{"/api/indicators?value=%25test.com", func(m map[string]any) bool { return strings.HasSuffix(m["value"].(string), "test.com") }, 2},
		{"/api/indicators?value=BADDOMAIN.COM", func(m map[string]any) bool { return m["value"] == tqfake.SeedFQDN }, 1},
		{"/api/indicators?type_id=15&status_id=1", func(m map[string]any) bool { return num(t, m["type_id"]) == 15 && num(t, m["status_id"]) == 1 }, 2},
		{"/api/indicator/types?name=ip%20address", func(m map[string]any) bool { return num(t, m["id"]) == 15 }, 1},
		{"/api/indicator/types?name=sha%25", func(m map[string]any) bool { return strings.HasPrefix(m["name"].(string), "SHA-") }, 4},
		{"/api/indicator/statuses?name=review", func(m map[string]any) bool { return m["name"] == "Review" }, 1},
		{"/api/event/types?name=%25compromise%25", func(m map[string]any) bool { return containsFold(m["name"].(string), "compromise") }, 1},
		{"/api/events?title=%25phishing%25", func(m map[string]any) bool { return containsFold(m["title"].(string), "phishing") }, 1},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			body := a.ok(http.MethodGet, tc.path, nil, 200)
			items := dataList(t, body)
			if len(items) < tc.min || num(t, body["total"]) != int64(len(items)) {
				t.Fatalf("%d items (total %v), want at least %d", len(items), body["total"], tc.min)
			}
			for _, m := range items {
				if !tc.want(m) {
					t.Errorf("unexpected match %v", m)
				}
			}
		})
	}
	if items := dataList(t, a.ok(http.MethodGet, "/api/indicators?value=test.com", nil, 200)); len(items) != 0 {
		t.Errorf("a value without %% must match exactly, got %v", items)
	}
}

// queryCase pairs a query with an oracle written independently in Go.
type queryCase struct {
	name              string
	criteria, filters any
	want              func(tqfake.Indicator) bool
}

func typeID(name string) int {
	id, _ := tqfake.IndicatorTypeID(name)
	return id
}

func statusID(name string) int {
	id, _ := tqfake.StatusID(name)
	return id
}

func hasSource(ind tqfake.Indicator, name string) bool {
	return slices.ContainsFunc(ind.Sources, func(s tqfake.Source) bool { return strings.EqualFold(s.Name, name) })
}

func hasAttr(ind tqfake.Indicator, name, value string) bool {
	return slices.ContainsFunc(ind.Attributes, func(a tqfake.Attribute) bool {
		return strings.EqualFold(a.Name, name) && strings.EqualFold(a.Value, value)
	})
}

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func TestQuery(t *testing.T) {
	clock := newClock()
	a := newAPI(t, tqfake.Options{Now: clock.Now})
	cutoff := clock.Now().Add(-24 * time.Hour).Truncate(time.Second)
	cases := []queryCase{
		{"value equality", decode(t, `{"value":"BadDomain.com"}`), nil,
			func(i tqfake.Indicator) bool { return strings.EqualFold(i.Value, tqfake.SeedFQDN) }},
		{"value contains", decode(t, `{"value":{"+contains":"test.com"}}`), nil,
			func(i tqfake.Indicator) bool { return containsFold(i.Value, "test.com") }},
		{"+equals", decode(t, `{"value":{"+equals":"8.8.8.8"}}`), nil,
			func(i tqfake.Indicator) bool { return i.Value == "8.8.8.8" }},
		{"any of", nil, decode(t, `{"+or":[{"value":"baddomain.com"},{"value":"68.68.21.21"},{"value":"helloworld.com"},{"value":"161fb353ab7e67341fd6a767aa596676"}]}`),
			func(i tqfake.Indicator) bool {
				return slices.Contains([]string{"baddomain.com", "68.68.21.21", "helloworld.com", tqfake.SeedMD5}, i.Value)
			}},
		{"nested and/or with contains and a score range",
			decode(t, `{"+or":[{"value":{"+contains":"example"}},{"value":{"+contains":"test"}}]}`),
			decode(t, `{"+and":[{"type_name":"FQDN"},{"+or":[{"status_name":"Active"},{"status_name":"Review"}]},{"score":{"+gte":2,"+lte":8}}]}`),
			func(i tqfake.Indicator) bool {
				return (containsFold(i.Value, "example") || containsFold(i.Value, "test")) &&
					i.TypeID == typeID("FQDN") && (i.StatusID == statusID("Active") || i.StatusID == statusID("Review")) &&
					i.Score >= 2 && i.Score <= 8
			}},
		{"score as a string, strict bounds", nil, decode(t, `{"score":{"+gt":"6","+lt":10}}`),
			func(i tqfake.Indicator) bool { return i.Score > 6 && i.Score < 10 }},
		{"ids and type ids", nil, decode(t, `{"type_id":15,"id":{"+lte":5}}`),
			func(i tqfake.Indicator) bool { return i.TypeID == 15 && i.ID <= 5 }},
		{"class and status id", nil, decode(t, `{"class":"host","status_id":{"+gte":2}}`),
			func(i tqfake.Indicator) bool { return i.Class == "host" && i.StatusID >= 2 }},
		{"type name contains", nil, decode(t, `{"type_name":{"+contains":"sha"}}`),
			func(i tqfake.Indicator) bool { return i.TypeID >= 23 && i.TypeID <= 26 }},
		{"source name", nil, decode(t, `{"source_name":"domain tools"}`),
			func(i tqfake.Indicator) bool { return hasSource(i, "Domain Tools") }},
		{"attribute", nil, decode(t, `{"+or":[{"attribute":{"name":"Confidence","value":"High"}}]}`),
			func(i tqfake.Indicator) bool { return hasAttr(i, "Confidence", "High") }},
		{"attribute with an operator", nil, decode(t, `{"attribute":{"name":"malware family","value":{"+contains":"emo"}}}`),
			func(i tqfake.Indicator) bool { return hasAttr(i, "Malware Family", "Emotet") }},
		{"mentions", decode(t, `{"+or":[{"mentions":"org"},{"value":{"+contains":"test.com"}}]}`), nil,
			func(i tqfake.Indicator) bool {
				return containsFold(i.Value, "org") || containsFold(i.Description, "org") || containsFold(i.Value, "test.com")
			}},
		{"created_at before a date", nil, map[string]any{"created_at": map[string]any{"+lt": cutoff.Format(tqfake.DateLayout)}},
			func(i tqfake.Indicator) bool { return i.CreatedAt.Before(cutoff) }},
		{"updated_at up to NOW", nil, decode(t, `{"updated_at":{"+lte":"NOW"}}`),
			func(i tqfake.Indicator) bool { return !i.UpdatedAt.After(clock.Now()) }},
		{"unknown fields match nothing", nil, decode(t, `{"+or":[{"tags":"internal"},{"related":{"id":1,"type":"indicator"}}]}`),
			func(tqfake.Indicator) bool { return false }},
		{"empty criteria match everything", decode(t, `{}`), decode(t, `[]`),
			func(tqfake.Indicator) bool { return true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []int64
			for _, ind := range a.s.Indicators() {
				if tc.want(ind) {
					want = append(want, ind.ID)
				}
			}
			// Only the unknown-field case may match nothing, or the case
			// could not tell a broken evaluator from a working one.
			if len(want) == 0 && !strings.HasPrefix(tc.name, "unknown") {
				t.Fatalf("the seed gives this case no matches")
			}
			t.Logf("%d matches", len(want))
			body := a.ok(http.MethodPost, "/api/indicators/query?limit=1000", map[string]any{"criteria": tc.criteria, "filters": tc.filters}, 200)
			got := ids(t, dataList(t, body))
			if !slices.Equal(got, want) || num(t, body["total"]) != int64(len(want)) {
				t.Errorf("got %v (total %v), want %v", got, body["total"], want)
			}
			n, err := a.s.QueryCount(tc.criteria, tc.filters)
			if err != nil || n != len(want) {
				t.Errorf("QueryCount = %d, %v; want %d", n, err, len(want))
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	cases := []struct {
		name string
		body string
		want string
	}{
		{"unknown operator", `{"filters":{"+and":[{"type_name":"FQDN"},{"value":{"+like":"x"}}]}}`, "Unknown query operator '+like' at filters.+and[1].value."},
		{"unknown operator under an unknown field", `{"criteria":{"tags":{"+regex":"x"}}}`, "'+regex' at criteria.tags."},
		{"unknown expression operator", `{"criteria":{"+not":[{"value":"x"}]}}`, "'+not' at criteria."},
		{"+and not an array", `{"filters":{"+and":{"value":"x"}}}`, "Expected an array for +and at filters.+and."},
		{"criteria not an object", `{"criteria":"value=x"}`, "Expected an object at criteria."},
		{"bad date", `{"filters":{"created_at":{"+lt":"yesterday"}}}`, "got \"yesterday\" at filters.created_at.+lt."},
		{"non-numeric range", `{"filters":{"score":{"+gte":"high"}}}`, "got \"high\" at filters.score.+gte."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, a.s.URL+"/api/indicators/query", strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+a.token)
			r := send(t, req)
			errs, _ := r.body["errors"].([]any)
			if r.status != http.StatusInternalServerError || len(errs) != 1 || !strings.HasSuffix(fmt.Sprint(errs[0]), tc.want) {
				t.Errorf("status %d body %s, want 500 mentioning %q", r.status, r.raw, tc.want)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodPost, a.s.URL+"/api/indicators/query", strings.NewReader("{not json"))
	req.Header.Set("Authorization", "Bearer "+a.token)
	if r := send(t, req); r.status != http.StatusBadRequest {
		t.Errorf("invalid JSON: status %d, want 400", r.status)
	}
}

func TestQueryFieldsProjection(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	body := a.ok(http.MethodPost, "/api/indicators/query?sort=-created_at",
		decode(t, `{"fields":["*","score","sources.name","sources.tlp_id"],"filters":{"value":"baddomain.com"}}`), 200)
	items := dataList(t, body)
	if len(items) != 1 {
		t.Fatalf("items = %v", items)
	}
	m := items[0]
	if m["value"] != tqfake.SeedFQDN || m["score"] == nil || m["hash"] == nil {
		t.Errorf("\"*\" did not keep the columns: %v", m)
	}
	if _, ok := m["type"]; ok {
		t.Errorf("type embedded though not asked for: %v", m)
	}
	srcs, _ := m["sources"].([]any)
	if len(srcs) != 2 {
		t.Fatalf("sources = %v", m["sources"])
	}
	for _, s := range srcs {
		keys := slices.Sorted(mapsKeys(s.(map[string]any)))
		if !slices.Equal(keys, []string{"name", "tlp_id"}) {
			t.Errorf("source keys = %v, want [name tlp_id]", keys)
		}
	}

	only := dataList(t, a.ok(http.MethodPost, "/api/indicators/query?limit=3&with=status", decode(t, `{"fields":["value"]}`), 200))
	for _, m := range only {
		keys := slices.Sorted(mapsKeys(m))
		if !slices.Equal(keys, []string{"id", "status", "value"}) {
			t.Errorf("keys = %v, want [id status value]", keys)
		}
	}
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestQueryPagingAndCursor(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	filters := decode(t, `{"score":{"+gte":3}}`)
	all := ids(t, dataList(t, a.ok(http.MethodPost, "/api/indicators/query?limit=1000&sort=-created_at", map[string]any{"filters": filters}, 200)))
	if len(all) < 12 {
		t.Fatalf("only %d matches; the test needs several pages", len(all))
	}
	page := a.ok(http.MethodPost, "/api/indicators/query?limit=5&offset=5&sort=-created_at", map[string]any{"filters": filters}, 200)
	if got := ids(t, dataList(t, page)); !slices.Equal(got, all[5:10]) || num(t, page["offset"]) != 5 || num(t, page["limit"]) != 5 {
		t.Errorf("offset page = %v, want %v", got, all[5:10])
	}

	var collected []int64
	mark := "*"
	for range 100 {
		body := a.ok(http.MethodPost, "/api/indicators/query?limit=5&sort=-created_at&cursorMark="+url.QueryEscape(mark), map[string]any{"filters": filters}, 200)
		collected = append(collected, ids(t, dataList(t, body))...)
		next, _ := body["nextCursorMark"].(string)
		if next == "" {
			t.Fatalf("no nextCursorMark: %v", body)
		}
		if next == mark {
			break
		}
		mark = next
	}
	if !slices.Equal(collected, all) {
		t.Errorf("cursor paging = %v, want %v", collected, all)
	}
	if r := a.do(http.MethodPost, "/api/indicators/query?cursorMark=bogus!", map[string]any{}); r.status != http.StatusBadRequest {
		t.Errorf("bad cursor: status %d, want 400", r.status)
	}
	if body := a.ok(http.MethodPost, "/api/indicators/query", map[string]any{}, 200); body["nextCursorMark"] != nil {
		t.Error("nextCursorMark without cursorMark")
	}
}

func TestSearch(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	body := a.ok(http.MethodGet, "/api/indicators/search?value="+url.QueryEscape(tqfake.SeedSearchTerm)+"&with=sources", nil, 200)
	items := dataList(t, body)
	if len(items) != 3 || num(t, body["limit"]) != tqfake.DefaultLimit || num(t, body["offset"]) != 0 {
		t.Fatalf("search: %v", body)
	}
	for _, m := range items {
		if !containsFold(m["value"].(string), tqfake.SeedSearchTerm) || m["sources"] == nil {
			t.Errorf("unexpected item %v", m)
		}
	}
	if got := dataList(t, a.ok(http.MethodGet, "/api/indicators/search?value=%25TEST%25", nil, 200)); len(got) != 3 {
		t.Errorf("%%TEST%% found %d, want 3", len(got))
	}
	if got := dataList(t, a.ok(http.MethodGet, "/api/indicators/search?value=bad%25login", nil, 200)); len(got) != 1 || got[0]["value"] != tqfake.SeedURL {
		t.Errorf("bad%%login found %v", got)
	}
	r := a.do(http.MethodGet, "/api/indicators/search", nil)
	errs, _ := r.body["data"].(map[string]any)["errors"].(map[string]any)
	if r.status != http.StatusBadRequest || errs["value"] == nil {
		t.Errorf("missing value: status %d body %s", r.status, r.raw)
	}
}

func TestGetIndicator(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	m := dataObject(t, a.ok(http.MethodGet, fmt.Sprintf("/api/indicators/%d?with=sources,attributes,status,type", tqfake.SeedIPID), nil, 200))
	if m["value"] != tqfake.SeedIP || m["class"] != "network" {
		t.Errorf("indicator = %v", m)
	}
	src := m["sources"].([]any)[0].(map[string]any)
	attr := m["attributes"].([]any)[0].(map[string]any)
	st := m["status"].(map[string]any)
	if src["name"] != tqfake.SeedSourceName || attr["name"] != "Router Port" || attr["value"] != "9000" || st["name"] != "Active" {
		t.Errorf("relations: %v %v %v", src, attr, st)
	}
	for _, path := range []string{"/api/indicators/999999", "/api/indicators/12345678-1234-1234-1234-123456789abc"} {
		r := a.do(http.MethodGet, path, nil)
		errs, _ := r.body["errors"].([]any)
		if r.status != http.StatusNotFound || len(errs) != 1 || errs[0] != "Object not found" {
			t.Errorf("%s: status %d body %s", path, r.status, r.raw)
		}
	}
	a.ok(http.MethodDelete, fmt.Sprintf("/api/indicators/%d", tqfake.SeedIPID), nil, http.StatusNoContent)
	a.ok(http.MethodGet, fmt.Sprintf("/api/indicators/%d", tqfake.SeedIPID), nil, http.StatusNotFound)
}

func TestCreateIndicators(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	body := a.ok(http.MethodPost, "/api/indicators?with=sources,attributes", decode(t, `[
		{"class":"network","value":"115.47.67.155","type_id":"15","status_id":2,
		 "sources":[{"name":"Swimlane","tlp":{"name":"GREEN"},"published_at":"2016-07-18 02:00:00"}],
		 "attributes":[{"name":"Confidence","value":"High"},{"name":"Port","value":4000}]},
		{"value":"new-bad.example.com","type":"FQDN","status":"Review"},
		{"value":"???","type":"Quantum Hash"}
	]`), http.StatusCreated)
	items := dataList(t, body)
	if num(t, body["total"]) != 3 || len(items) != 3 {
		t.Fatalf("create: %v", body)
	}
	ip := items[0]
	if ip["existing"] != "N" || num(t, ip["type_id"]) != 15 || num(t, ip["status_id"]) != 2 {
		t.Errorf("first item = %v", ip)
	}
	if ty, _ := ip["type"].(map[string]any); ty["name"] != "IP Address" {
		t.Errorf("type not embedded: %v", ip["type"])
	}
	src := ip["sources"].([]any)[0].(map[string]any)
	if src["name"] != "Swimlane" || num(t, src["tlp_id"]) != 3 || src["published_at"] != "2016-07-18 02:00:00" {
		t.Errorf("source = %v", src)
	}
	if attrs := ip["attributes"].([]any); len(attrs) != 2 || attrs[1].(map[string]any)["value"] != "4000" {
		t.Errorf("attributes = %v", attrs)
	}
	if items[1]["existing"] != "N" || num(t, items[1]["status_id"]) != 4 {
		t.Errorf("second item = %v", items[1])
	}
	if items[2]["value"] != "???" || !containsFold(fmt.Sprint(items[2]["error"]), "Quantum Hash") || items[2]["id"] != nil {
		t.Errorf("unknown type item = %v", items[2])
	}
	stored, ok := a.s.FindIndicator("115.47.67.155", "IP Address")
	if !ok || stored.ID != num(t, ip["id"]) {
		t.Fatalf("FindIndicator = %+v, %v", stored, ok)
	}

	// The same value and type again is an upsert: same id, existing "Y",
	// new sources merged in.
	again := dataList(t, a.ok(http.MethodPost, "/api/indicators?with=sources",
		decode(t, `{"value":"115.47.67.155","type":"ip address","sources":[{"name":"Second Feed","tlp_id":2}]}`), http.StatusCreated))
	if len(again) != 1 || again[0]["existing"] != "Y" || num(t, again[0]["id"]) != stored.ID {
		t.Fatalf("upsert = %v", again)
	}
	if srcs := again[0]["sources"].([]any); len(srcs) != 2 {
		t.Errorf("sources after upsert = %v", srcs)
	}
	if after, _ := a.s.FindIndicator("115.47.67.155", "IP Address"); len(after.Sources) != 2 {
		t.Errorf("stored sources = %v", after.Sources)
	}

	for _, bad := range []string{`[]`, `"just a string"`, `not json`} {
		req, _ := http.NewRequest(http.MethodPost, a.s.URL+"/api/indicators", strings.NewReader(bad))
		req.Header.Set("Authorization", "Bearer "+a.token)
		if r := send(t, req); r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, r.status)
		}
	}
	missing := dataList(t, a.ok(http.MethodPost, "/api/indicators", decode(t, `[{"type":"FQDN"},{"value":"x.example","type":"FQDN","sources":[{"name":"s","tlp":{"name":"PURPLE"}}]}]`), http.StatusCreated))
	if missing[0]["error"] == nil || !containsFold(fmt.Sprint(missing[1]["error"]), "tlp") {
		t.Errorf("item errors = %v", missing)
	}
}

func TestCreateEvent(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	body := a.ok(http.MethodPost, "/api/events", decode(t, `{"title":"Event Name","type":"Spearphish","happened_at":"2017-03-20 01:43:05",
		"sources":[{"name":"Event Source","tlp":{"name":"AMBER"}}]}`), http.StatusCreated)
	ev := dataObject(t, body)
	if ev["title"] != "Event Name" || num(t, ev["type_id"]) != 1 || ev["happened_at"] != "2017-03-20 01:43:05" || ev["hash"] == "" {
		t.Errorf("event = %v", ev)
	}
	if ty, _ := ev["type"].(map[string]any); ty["name"] != "Spearphish" || ty["user_editable"] != "N" {
		t.Errorf("type = %v", ev["type"])
	}
	if srcs, _ := ev["sources"].([]any); len(srcs) != 1 || num(t, srcs[0].(map[string]any)["tlp_id"]) != 2 {
		t.Errorf("sources = %v", ev["sources"])
	}
	events := a.s.Events()
	if last := events[len(events)-1]; last.ID != num(t, ev["id"]) || last.Title != "Event Name" {
		t.Errorf("stored event = %+v", last)
	}

	r := a.do(http.MethodPost, "/api/events", decode(t, `{"type":"Spearphish","happened_at":"2017-03-20 01:43:05"}`))
	want := `{"data":{"errors":{"title":["The title field is required."]}}}`
	if r.status != http.StatusBadRequest || strings.TrimSpace(string(r.raw)) != want {
		t.Errorf("missing title: status %d body %s, want 400 %s", r.status, r.raw, want)
	}

	r = a.do(http.MethodPost, "/api/events", decode(t, `{"title":"x","type":"Party","happened_at":"20/03/2017"}`))
	errs, _ := r.body["data"].(map[string]any)["errors"].(map[string]any)
	if r.status != http.StatusBadRequest || errs["type"] == nil || errs["happened_at"] == nil || errs["title"] != nil {
		t.Errorf("bad type and date: status %d body %s", r.status, r.raw)
	}
	if len(a.s.Events()) != len(events) {
		t.Error("a rejected event was stored")
	}
}

func TestImports(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	base := fmt.Sprintf("/api/imports/%d", tqfake.SeedImportID)

	events := a.ok(http.MethodGet, base+"/events", nil, 200)
	evs := dataList(t, events)
	if num(t, events["total"]) != 2 || len(evs) != 2 {
		t.Fatalf("staged events = %v", events)
	}
	if ty, _ := evs[0]["type"].(map[string]any); ty["name"] == nil || evs[0]["whitelisted"] != "N" || num(t, evs[0]["import_id"]) != tqfake.SeedImportID {
		t.Errorf("staged event = %v", evs[0])
	}

	inds := dataList(t, a.ok(http.MethodGet, base+"/indicators?limit=100", nil, 200))
	if len(inds) != 4 {
		t.Fatalf("staged indicators = %v", inds)
	}

	path := fmt.Sprintf("%s/indicators/%d", base, tqfake.SeedStagedIndicatorID)
	updated := dataObject(t, a.ok(http.MethodPut, path, decode(t, `{"value":"99.99.99.97","type_id":"15","status_id":"2",
		"source":{"name":"Adversary Source","tlp":{"name":"GREEN"}},"whitelisted":"y"}`), 200))
	if updated["value"] != "99.99.99.97" || updated["whitelisted"] != "Y" || updated["duplicate"] != "N" ||
		num(t, updated["status_id"]) != 2 || updated["source"] != "Adversary Source" || updated["import_event_id"] != nil {
		t.Errorf("updated = %v", updated)
	}
	if ty, _ := updated["type"].(map[string]any); ty["name"] != "IP Address" || ty["wildcard_matching"] == nil {
		t.Errorf("type = %v", updated["type"])
	}

	// Restaging it as a library indicator makes it a duplicate.
	dup := dataObject(t, a.ok(http.MethodPut, path, map[string]any{"value": tqfake.SeedFQDN, "type_id": 11}, 200))
	if dup["duplicate"] != "Y" || num(t, dup["duplicate_indicator_id"]) != tqfake.SeedFQDNID {
		t.Errorf("duplicate = %v", dup)
	}

	r := a.do(http.MethodPut, path, decode(t, `{"type_id":"999","whitelisted":"maybe"}`))
	errs, _ := r.body["data"].(map[string]any)["errors"].(map[string]any)
	if r.status != http.StatusBadRequest || errs["type_id"] == nil || errs["whitelisted"] == nil {
		t.Errorf("bad update: status %d body %s", r.status, r.raw)
	}

	del := a.do(http.MethodDelete, path, nil)
	if del.status != http.StatusNoContent || len(del.raw) != 0 {
		t.Errorf("delete: status %d body %q", del.status, del.raw)
	}
	if left, _ := a.s.StagedIndicators(tqfake.SeedImportID); len(left) != 3 {
		t.Errorf("%d staged indicators after delete, want 3", len(left))
	}

	for _, p := range []string{
		path,
		"/api/imports/999/indicators",
		"/api/imports/999/events",
		fmt.Sprintf("%s/indicators/999", base),
	} {
		method := http.MethodGet
		if strings.Contains(p, "/indicators/") {
			method = http.MethodDelete
		}
		if r := a.do(method, p, nil); r.status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404", method, p, r.status)
		}
	}
	if r := a.do(http.MethodPut, "/api/imports/999/indicators/1", map[string]any{"value": "x"}); r.status != http.StatusNotFound {
		t.Errorf("PUT on an unknown import: status %d, want 404", r.status)
	}
}

func TestResponseHeaders(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	r := a.do(http.MethodGet, "/api/indicators", nil)
	for key, want := range map[string]string{
		"Content-Type":  "application/json",
		"Server":        "Apache",
		"Vary":          "Authorization",
		"Cache-Control": "no-cache",
	} {
		if !strings.HasPrefix(r.header.Get(key), want) {
			t.Errorf("%s = %q, want %q", key, r.header.Get(key), want)
		}
	}
	cookie := r.header.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "threatq_api=") || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "path=/api/") {
		t.Errorf("Set-Cookie = %q", cookie)
	}
}

func TestFaultKnobs(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	a.s.ResetRequests()

	a.s.FailNext(2, http.StatusServiceUnavailable, "7")
	for i := range 2 {
		r := a.do(http.MethodGet, "/api/indicators", nil)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "7" || r.body["errors"] == nil {
			t.Errorf("attempt %d: status %d Retry-After %q body %s", i, r.status, r.header.Get("Retry-After"), r.raw)
		}
	}
	a.ok(http.MethodGet, "/api/indicators", nil, http.StatusOK)

	a.s.FailNext(1, http.StatusTooManyRequests, "")
	if r := a.do(http.MethodGet, "/api/indicators", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "" {
		t.Errorf("429: status %d Retry-After %q", r.status, r.header.Get("Retry-After"))
	}

	a.s.ResetNext(1)
	req, _ := http.NewRequest(http.MethodGet, a.s.URL+"/api/indicators", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("ResetNext: got status %d, want a connection error", resp.StatusCode)
	}
	a.ok(http.MethodGet, "/api/indicators", nil, http.StatusOK)

	// Latency holds the answer until the client gives up; the server lets go
	// as soon as the client does.
	a.s.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, a.s.URL+"/api/indicators", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("SetLatency: the request finished before the client's deadline")
	}
	a.s.SetLatency(0)
	a.ok(http.MethodGet, "/api/indicators", nil, http.StatusOK)

	if got := a.s.RequestCount(); got != 8 {
		t.Errorf("RequestCount = %d, want 8", got)
	}
	if got := len(a.s.Requests()); got != 8 {
		t.Errorf("%d recorded requests, want 8", got)
	}
}

func TestRequestsRedacted(t *testing.T) {
	const password = "recognisable-password-4711"
	s := newServer(t, tqfake.Options{Password: password})
	r := requestToken(t, s, tqfake.DefaultEmail, password, tqfake.DefaultClientID)
	token := r.body["access_token"].(string)
	form := url.Values{"grant_type": {"password"}, "client_id": {tqfake.DefaultClientID}, "email": {tqfake.DefaultEmail}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/token?password="+url.QueryEscape(password), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	send(t, req)
	a := &api{t: t, s: s, token: token}
	a.ok(http.MethodGet, "/api/indicator/statuses", nil, 200)

	reqs := s.Requests()
	if len(reqs) != 3 || s.RequestCount() != 3 {
		t.Fatalf("%d requests recorded, count %d", len(reqs), s.RequestCount())
	}
	for _, rec := range reqs {
		dump := fmt.Sprintf("%s %s %v %s", rec.Method, rec.RequestURI, rec.Header, rec.Body)
		if strings.Contains(dump, password) || strings.Contains(dump, token) {
			t.Errorf("secret in recorded request: %s", dump)
		}
	}
	if reqs[0].Path != "/api/token" || !bytes.Contains(reqs[0].Body, []byte(tqfake.DefaultEmail)) {
		t.Errorf("recorded token request = %+v", reqs[0])
	}
	if reqs[2].Header.Get("Authorization") == "" {
		t.Error("the Authorization header should be recorded, redacted")
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 || s.RequestCount() != 0 {
		t.Error("ResetRequests kept requests")
	}
}

func TestNewHandler(t *testing.T) {
	s := tqfake.NewHandler(tqfake.Options{})
	defer s.Close()
	if s.URL != "" {
		t.Errorf("URL = %q for an unstarted server", s.URL)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", s.Handler())
	ts := httptest.NewServer(mux)
	defer ts.Close()

	body := fmt.Sprintf(`{"email":%q,"password":%q,"grant_type":"password","client_id":%q}`,
		tqfake.DefaultEmail, tqfake.DefaultPassword, tqfake.DefaultClientID)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	tok := send(t, req)
	if tok.status != http.StatusOK {
		t.Fatalf("token through the mounted handler: %d %s", tok.status, tok.raw)
	}
	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/api/indicators", nil)
	req.Header.Set("Authorization", "Bearer "+tok.body["access_token"].(string))
	if r := send(t, req); r.status != http.StatusOK || num(t, r.body["total"]) == 0 {
		t.Errorf("list through the mounted handler: %d %s", r.status, r.raw)
	}
	if s.TokenCount() != 1 || s.RequestCount() != 2 {
		t.Errorf("TokenCount %d, RequestCount %d; want 1 and 2", s.TokenCount(), s.RequestCount())
	}
}

func TestConcurrentUse(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				a.ok(http.MethodPost, "/api/indicators", map[string]any{"value": fmt.Sprintf("c%d-%d.example.com", g, i), "type": "FQDN"}, http.StatusCreated)
				a.ok(http.MethodPost, "/api/indicators/query", decode(t, `{"filters":{"type_name":"FQDN"}}`), http.StatusOK)
				a.ok(http.MethodGet, "/api/indicators?sort=-value", nil, http.StatusOK)
				_ = a.s.Indicators()
			}
		})
	}
	wg.Wait()
	n, err := a.s.QueryCount(nil, decode(t, `{"value":{"+contains":".example.com"},"type_name":"FQDN"}`))
	if err != nil || n < 80 {
		t.Errorf("QueryCount = %d, %v; want at least the 80 created", n, err)
	}
}

func TestGenerateIndicators(t *testing.T) {
	gen := tqfake.GenerateIndicators(500)
	seen := map[string]bool{}
	for _, ind := range gen {
		key := fmt.Sprint(ind.TypeID, ind.Value)
		if seen[key] {
			t.Fatalf("duplicate generated indicator %s", key)
		}
		seen[key] = true
	}
	s := newServer(t, tqfake.Options{Empty: true})
	s.AddIndicators(gen)
	if got := len(s.Indicators()); got != 500 {
		t.Fatalf("%d stored, want 500", got)
	}
	q, err := tqfake.CompileQuery(nil, decode(t, `{"score":{"+gte":5}}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, ind := range gen {
		if ind.Score >= 5 {
			want++
		}
		if q.Match(ind) != (ind.Score >= 5) {
			t.Fatalf("Match(%+v) disagrees with score %d", ind, ind.Score)
		}
	}
	if n, _ := s.QueryCount(nil, decode(t, `{"score":{"+gte":5}}`)); n != want {
		t.Errorf("QueryCount = %d, want %d", n, want)
	}
}

func TestCatalogueByID(t *testing.T) {
	a := newAPI(t, tqfake.Options{})
	for path, want := range map[string]string{
		"/api/indicator/types/15":   "IP Address",
		"/api/indicator/statuses/1": "Active",
		"/api/event/types/1":        "Spearphish",
	} {
		got := a.ok("GET", path, nil, http.StatusOK)
		if name := got["data"].(map[string]any)["name"]; name != want {
			t.Errorf("%s: name %v, want %s", path, name, want)
		}
	}
	for _, path := range []string{"/api/indicator/types/999", "/api/indicator/statuses/x", "/api/event/types/0"} {
		if r := a.do("GET", path, nil); r.status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, r.status)
		}
	}
}
