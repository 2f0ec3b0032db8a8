package threatq

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

func typeIDOf(t *testing.T, name string) int64 {
	t.Helper()
	id, ok := tqfake.IndicatorTypeID(name)
	if !ok {
		t.Fatalf("tqfake has no indicator type %q", name)
	}
	return int64(id)
}

func TestTestConnectivity(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "test_connectivity", nil)
	mustSucceed(t, res)
	if res.Message != "Test Connectivity Passed" {
		t.Fatalf("message = %q", res.Message)
	}
	statuses := items(t, res)
	if len(statuses) != 5 || statuses[0]["name"] != "Active" {
		t.Fatalf("statuses = %v, want the five built-in statuses", statuses)
	}
}

func TestCreateEvent(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "create_event", map[string]any{
		"title":       "Phish wave 42",
		"type":        "Spearphish",
		"happened_at": "2017-03-20 01:43:05",
		"sources":     []any{map[string]any{"name": "goshawk", "tlp": map[string]any{"name": "AMBER"}}},
	})
	mustSucceed(t, res)
	ev := single(t, res)
	if ev["title"] != "Phish wave 42" || ev["happened_at"] != "2017-03-20 01:43:05" || num(ev["id"]) == 0 {
		t.Fatalf("event = %v", ev)
	}
	if typ, _ := ev["type"].(map[string]any); typ["name"] != "Spearphish" {
		t.Fatalf("event type = %v, want Spearphish", ev["type"])
	}
	if res.Summary["status_code"] != 201 || res.Message != "Status Code: 201" {
		t.Fatalf("summary %v message %q", res.Summary, res.Message)
	}
	found := false
	for _, e := range f.fake.Events() {
		found = found || e.Title == "Phish wave 42"
	}
	if !found {
		t.Fatal("the event is not in the server's library")
	}
}

func TestCreateIndicatorsResolvesTypeNames(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "create_indicators", map[string]any{
		"indicators": []any{
			map[string]any{"value": "198.51.100.7", "type": "ip address", "status_id": "4",
				"sources": []any{map[string]any{"name": "goshawk", "tlp": map[string]any{"name": "GREEN"}}}},
			map[string]any{"value": "evil.example.org", "type_id": "FQDN"},
			map[string]any{"value": "44d88612fea8a8f36de82e1278abb03f", "type_id": fmt.Sprint(typeIDOf(t, "MD5"))},
		},
	})
	mustSucceed(t, res)
	got := items(t, res)
	if len(got) != 3 || num(body(t, res)["total"]) != 3 || res.Summary["total"] != int64(3) {
		t.Fatalf("created %d items, total %v, summary %v; want 3", len(got), body(t, res)["total"], res.Summary)
	}
	for i, want := range []string{"IP Address", "FQDN", "MD5"} {
		if got[i]["existing"] != "N" || num(got[i]["type_id"]) != typeIDOf(t, want) {
			t.Errorf("item %d = %v, want a new %s", i, got[i], want)
		}
	}
	ind, ok := f.fake.FindIndicator("198.51.100.7", "IP Address")
	if !ok || ind.StatusID != 4 {
		t.Fatalf("server has %+v, %v; want the IP with status 4", ind, ok)
	}
	// One lookup per distinct name: the numeric id needs none.
	if n := countRequests(f, "GET", "/api/indicator/types"); n != 2 {
		t.Fatalf("type lookups = %d, want 2", n)
	}
	res = f.invoke(t, "create_indicators", map[string]any{
		"indicators": []any{map[string]any{"value": "198.51.100.8", "type": "IP ADDRESS"}},
	})
	mustSucceed(t, res)
	if n := countRequests(f, "GET", "/api/indicator/types"); n != 2 {
		t.Fatalf("type lookups after a cached name = %d, want still 2", n)
	}
}

func TestCreateIndicatorsUpsertReturnsExisting(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	before := len(f.fake.Indicators())
	res := f.invoke(t, "create_indicators", map[string]any{
		"indicators": []any{map[string]any{"value": tqfake.SeedFQDN, "type": "FQDN"}},
	})
	mustSucceed(t, res)
	got := items(t, res)
	if len(got) != 1 || got[0]["existing"] != "Y" || num(got[0]["id"]) != tqfake.SeedFQDNID {
		t.Fatalf("upsert = %v, want the existing indicator %d", got, tqfake.SeedFQDNID)
	}
	if after := len(f.fake.Indicators()); after != before {
		t.Fatalf("library grew from %d to %d on an upsert", before, after)
	}
}

func TestCreateIndicatorsUnknownTypeNameWritesNothing(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "create_indicators", map[string]any{
		"indicators": []any{
			map[string]any{"value": "a.example", "type": "FQDN"},
			map[string]any{"value": "b.example", "type": "Domain Name"},
		},
	})
	mustFail(t, res, "Unknown indicator type 'Domain Name'")
	if n := countRequests(f, "POST", "/api/indicators"); n != 0 {
		t.Fatalf("%d creates sent, want none", n)
	}
	if _, ok := f.fake.FindIndicator("a.example", "FQDN"); ok {
		t.Fatal("the first item was created although the second had an unknown type")
	}
}

func TestCreateIndicatorsItemErrorFailsWithBody(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "create_indicators", map[string]any{
		"indicators": []any{
			map[string]any{"value": "c.example", "type": "FQDN"},
			map[string]any{"value": "d.example", "type_id": 9999},
		},
	})
	mustFail(t, res, "Some indicators were not created: item 1 (d.example): The selected type '9999' is invalid.")
	if got := items(t, res); len(got) != 2 || got[0]["existing"] != "N" {
		t.Fatalf("json_body.data = %v, want both items returned", got)
	}
}

func TestDeleteImportIndicator(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "delete_import_indicator", map[string]any{
		"import_id": tqfake.SeedImportID, "import_indicator_id": tqfake.SeedStagedIndicatorID,
	})
	mustSucceed(t, res)
	e := entry(t, res)
	if e["status_code"] != 204 || e["json_body"] != nil || res.Message != "Status Code: 204" {
		t.Fatalf("entry = %v, message %q; want 204 with a null body", e, res.Message)
	}
	staged, _ := f.fake.StagedIndicators(tqfake.SeedImportID)
	for _, si := range staged {
		if si.ID == tqfake.SeedStagedIndicatorID {
			t.Fatal("the staged indicator is still there")
		}
	}
	res = f.invoke(t, "delete_import_indicator", map[string]any{
		"import_id": tqfake.SeedImportID, "import_indicator_id": tqfake.SeedStagedIndicatorID,
	})
	mustFail(t, res, "Error from server, Status Code: 404: Object not found")
}

func TestGetEventList(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "get_event_list", map[string]any{"limit": 2, "sort": "-id", "with": "type"})
	mustSucceed(t, res)
	got := items(t, res)
	total := len(f.fake.Events())
	if len(got) != 2 || num(body(t, res)["total"]) != int64(total) || num(got[0]["id"]) < num(got[1]["id"]) {
		t.Fatalf("events = %v total %v, want 2 of %d sorted by -id", got, body(t, res)["total"], total)
	}
	if _, ok := got[0]["type"].(map[string]any); !ok {
		t.Fatalf("with=type not embedded: %v", got[0])
	}
	if want := fmt.Sprintf("Status Code: 200; total: %d", total); res.Message != want {
		t.Fatalf("message = %q, want %q", res.Message, want)
	}
}

func TestGetIndicatorByID(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "get_indicator_by_id", map[string]any{"id": fmt.Sprint(tqfake.SeedIPID), "with": "type,sources"})
	mustSucceed(t, res)
	ind := single(t, res)
	if ind["value"] != tqfake.SeedIP {
		t.Fatalf("indicator = %v, want %s", ind, tqfake.SeedIP)
	}
	if typ, _ := ind["type"].(map[string]any); typ["name"] != "IP Address" {
		t.Fatalf("type = %v", ind["type"])
	}
	if _, ok := res.Summary["total"]; ok {
		t.Fatalf("a single object has no total: %v", res.Summary)
	}
	mustFail(t, f.invoke(t, "get_indicator_by_id", map[string]any{"id": "999999"}),
		"Error from server, Status Code: 404: Object not found")
}

func TestGetIndicatorsListPaging(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	want := map[int64]bool{}
	for _, ind := range f.fake.Indicators() {
		want[ind.ID] = true
	}
	seen := map[int64]bool{}
	for offset, pages := int64(0), 0; ; pages++ {
		if pages > 50 {
			t.Fatal("paging did not end")
		}
		res := f.invoke(t, "get_indicators_list", map[string]any{"limit": "7", "offset": offset, "sort": "id"})
		mustSucceed(t, res)
		page := items(t, res)
		if len(page) == 0 {
			break
		}
		if len(page) > 7 {
			t.Fatalf("page of %d, limit 7", len(page))
		}
		for _, it := range page {
			id := num(it["id"])
			if seen[id] {
				t.Fatalf("indicator %d on two pages", id)
			}
			seen[id] = true
		}
		offset += int64(len(page))
		if offset >= num(body(t, res)["total"]) {
			break
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("paged through %d indicators, the server has %d", len(seen), len(want))
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("indicator %d never returned", id)
		}
	}
}

func TestGetIndicatorsListValueFilter(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "get_indicators_list", map[string]any{"value": "%" + tqfake.SeedSearchTerm + "%"})
	mustSucceed(t, res)
	for _, it := range items(t, res) {
		if !strings.Contains(it["value"].(string), tqfake.SeedSearchTerm) {
			t.Fatalf("%v does not match the filter", it["value"])
		}
	}
	if res.Summary["total"] != int64(3) {
		t.Fatalf("total = %v, want 3", res.Summary["total"])
	}
}

func TestImportEvents(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "import_events", map[string]any{"import_id": tqfake.SeedImportID, "with": "type"})
	mustSucceed(t, res)
	staged, _ := f.fake.StagedEvents(tqfake.SeedImportID)
	got := items(t, res)
	if len(got) != len(staged) || len(got) == 0 || num(got[0]["import_id"]) != tqfake.SeedImportID {
		t.Fatalf("staged events = %v, want the %d of import %d", got, len(staged), tqfake.SeedImportID)
	}
	mustFail(t, f.invoke(t, "import_events", map[string]any{"import_id": 999}),
		"Error from server, Status Code: 404")
}

func TestIndicatorSearchNestedQuery(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "indicator_search", map[string]any{
		"criteria": map[string]any{"+or": []any{
			map[string]any{"value": map[string]any{"+contains": tqfake.SeedSearchTerm}},
			map[string]any{"value": map[string]any{"+contains": "baddomain"}},
		}},
		"filters": map[string]any{"+and": []any{
			map[string]any{"+or": []any{map[string]any{"type_name": "FQDN"}, map[string]any{"type_name": "URL"}}},
			map[string]any{"score": map[string]any{"+gte": 5, "+lte": 8}},
		}},
		"limit": 100,
	})
	mustSucceed(t, res)
	fqdn, url := typeIDOf(t, "FQDN"), typeIDOf(t, "URL")
	var want []int64
	for _, ind := range f.fake.Indicators() {
		matches := strings.Contains(ind.Value, tqfake.SeedSearchTerm) || strings.Contains(ind.Value, "baddomain")
		typed := int64(ind.TypeID) == fqdn || int64(ind.TypeID) == url
		if matches && typed && ind.Score >= 5 && ind.Score <= 8 {
			want = append(want, ind.ID)
		}
	}
	var got []int64
	for _, it := range items(t, res) {
		got = append(got, num(it["id"]))
	}
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	if len(want) < 2 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("matched %v, want %v", got, want)
	}
	if res.Summary["total"] != int64(len(want)) {
		t.Fatalf("total = %v, want %d", res.Summary["total"], len(want))
	}
}

func TestIndicatorSearchWithValue(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "indicator_search_with_value", map[string]any{"value": tqfake.SeedSearchTerm, "limit": 2, "offset": 0})
	mustSucceed(t, res)
	b := body(t, res)
	if num(b["total"]) != 3 || len(items(t, res)) != 2 || num(b["limit"]) != 2 {
		t.Fatalf("json_body = %v, want total 3, two items, limit 2", b)
	}
}

func TestIndicatorsQueryFieldsAndFilters(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "indicators_query", map[string]any{
		"fields": []any{"value", "score"},
		"filters": map[string]any{"+or": []any{
			map[string]any{"value": tqfake.SeedFQDN}, map[string]any{"value": "68.68.21.21"}, map[string]any{"value": tqfake.SeedMD5},
		}},
		"criteria": map[string]any{},
		"limit":    "25", "offset": "0", "sort": "-score", "with": "type",
	})
	mustSucceed(t, res)
	got := items(t, res)
	var values []string
	for _, it := range got {
		values = append(values, it["value"].(string))
		if _, ok := it["score"]; !ok {
			t.Fatalf("projected item lacks score: %v", it)
		}
	}
	sort.Strings(values)
	want := []string{tqfake.SeedMD5, "68.68.21.21", tqfake.SeedFQDN}
	sort.Strings(want)
	if fmt.Sprint(values) != fmt.Sprint(want) {
		t.Fatalf("values = %v, want %v", values, want)
	}
	if reqs := requestsTo(f, "POST", "/api/indicators/query"); len(reqs) != 1 ||
		!strings.Contains(reqs[0].RequestURI, "with=type") || strings.Contains(string(reqs[0].Body), `"with"`) {
		t.Fatalf("with must go in the query string only: %+v", reqs)
	}
}

func TestUpdateImportIndicator(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "update_import_indicator", map[string]any{
		"import_id": tqfake.SeedImportID, "import_indicator_id": tqfake.SeedStagedIndicatorID,
		"value": "99.99.99.97", "type_id": "IP Address", "status_id": "2",
		"source": map[string]any{"name": "Adversary Source", "tlp": map[string]any{"name": "GREEN"}}, "whitelisted": "y",
	})
	mustSucceed(t, res)
	si := single(t, res)
	if si["value"] != "99.99.99.97" || si["whitelisted"] != "Y" || num(si["type_id"]) != typeIDOf(t, "IP Address") || num(si["status_id"]) != 2 {
		t.Fatalf("staged indicator = %v", si)
	}
	staged, _ := f.fake.StagedIndicators(tqfake.SeedImportID)
	for _, s := range staged {
		if s.ID == tqfake.SeedStagedIndicatorID && (s.Value != "99.99.99.97" || !s.Whitelisted) {
			t.Fatalf("server holds %+v", s)
		}
	}
	res = f.invoke(t, "update_import_indicator", map[string]any{
		"import_id": tqfake.SeedImportID, "import_indicator_id": 424242, "whitelisted": "false",
	})
	mustFail(t, res, "Error from server, Status Code: 404")

	res = f.invoke(t, "update_import_indicator", map[string]any{
		"import_id": tqfake.SeedImportID, "import_indicator_id": tqfake.SeedStagedIndicatorID, "type_id": "IPv4",
	})
	mustFail(t, res, "Unknown indicator type 'IPv4'")
	if n := countRequests(f, "PUT", fmt.Sprintf("/api/imports/%d/indicators/%d", tqfake.SeedImportID, tqfake.SeedStagedIndicatorID)); n != 1 {
		t.Fatalf("%d updates sent, want only the first", n)
	}
}

func TestServerValidationErrorNamesFields(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "create_event", map[string]any{"type": "Spearphish", "happened_at": "2017-03-20 01:43:05"})
	mustFail(t, res, "Error from server, Status Code: 400: title: The title field is required.")
	if entry(t, res)["status_code"] != 400 || res.Summary["status_code"] != 400 {
		t.Fatalf("a failed call still reports its response: %v", res.Data)
	}
}

func TestResponseHeadersInResult(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	res := f.invoke(t, "get_indicators_list", map[string]any{"limit": 1})
	mustSucceed(t, res)
	h, _ := entry(t, res)["response_headers"].(map[string]any)
	if h["content-type"] == nil {
		t.Fatalf("response headers = %v", h)
	}
	if c, _ := h["set-cookie"].(string); !strings.HasPrefix(c, "threatq_api=[redacted];") || !strings.Contains(c, "HttpOnly") {
		t.Fatalf("set-cookie = %q, want the session value redacted and its attributes kept", c)
	}
	for k := range h {
		if strings.Contains(k, "authorization") {
			t.Fatalf("auth header %s in the result", k)
		}
	}
}

// TestValidationMakesNoRequest: a bad parameter fails the
// action (or the call) before anything reaches the server.
func TestValidationMakesNoRequest(t *testing.T) {
	cases := []struct {
		name   string
		action string
		params map[string]any
		want   string
		usage  bool // a malformed call: Invoke returns an error rather than a result
	}{
		{"happened_at format", "create_event", map[string]any{"title": "x", "happened_at": "2017-03-20T01:43:05Z"}, "Parameter 'happened_at' must be", false},
		{"happened_at not a date", "create_event", map[string]any{"title": "x", "happened_at": "2017-02-30 01:43:05"}, "Parameter 'happened_at' must be", false},
		{"limit zero", "get_indicators_list", map[string]any{"limit": 0}, "Parameter 'limit' must be an integer between 1 and 1000", false},
		{"limit too big", "get_event_list", map[string]any{"limit": "1001"}, "Parameter 'limit' must be an integer between 1 and 1000", false},
		{"offset negative", "get_event_list", map[string]any{"offset": -1}, "Parameter 'offset' must be", false},
		{"limit not a number", "get_event_list", map[string]any{"limit": "ten"}, `parameter "limit" must be an integer`, true},
		{"unknown operator", "indicator_search", map[string]any{"filters": map[string]any{"+and": []any{
			map[string]any{"type_name": "FQDN"}, map[string]any{"value": map[string]any{"+like": "%x%"}}}}},
			"Unknown query operator '+like' at filters.+and[1].value", false},
		{"unknown operator in criteria", "indicators_query", map[string]any{"criteria": map[string]any{"+not": []any{}}},
			"Unknown query operator '+not' at criteria", false},
		{"criteria not an object", "indicator_search", map[string]any{"criteria": "value=foo"}, `parameter "criteria" must be an object`, true},
		{"+or not a list", "indicators_query", map[string]any{"filters": map[string]any{"+or": "x"}}, "must be a list", false},
		{"indicators empty", "create_indicators", map[string]any{"indicators": []any{}}, "Parameter 'indicators' must be a non-empty list", false},
		{"indicators missing", "create_indicators", map[string]any{}, `parameter "indicators" is required`, true},
		{"indicator without value", "create_indicators", map[string]any{"indicators": []any{map[string]any{"type": "FQDN"}}}, "item 0 has no value", false},
		{"indicator without type", "create_indicators", map[string]any{"indicators": []any{map[string]any{"value": "a.example"}}}, "item 0 has no type", false},
		{"import_id zero", "import_events", map[string]any{"import_id": 0}, "Parameter 'import_id' must be a positive integer", false},
		{"import_indicator_id fractional", "delete_import_indicator", map[string]any{"import_id": 1, "import_indicator_id": 2.5}, `parameter "import_indicator_id" must be an integer`, true},
		{"id blank", "get_indicator_by_id", map[string]any{"id": "  "}, "Parameter 'id' must not be empty", false},
		{"value blank", "indicator_search_with_value", map[string]any{"value": ""}, "Parameter 'value' must not be empty", false},
		{"whitelisted", "update_import_indicator", map[string]any{"import_id": 1, "import_indicator_id": 2, "whitelisted": "maybe"}, `parameter "whitelisted" must be true or false`, true},
		{"nothing to update", "update_import_indicator", map[string]any{"import_id": 1, "import_indicator_id": 2}, "Give at least one of", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tqfake.Options{}, nil)
			res, err := f.asset.Invoke(t.Context(), tc.action, tc.params, f.env)
			switch {
			case tc.usage:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
			case err != nil:
				t.Fatalf("Invoke: %v", err)
			default:
				mustFail(t, res, tc.want)
			}
			if n := f.fake.RequestCount(); n != 0 {
				t.Fatalf("%d requests reached the server, want 0", n)
			}
		})
	}
}

func requestsTo(f *fixture, method, path string) []tqfake.Request {
	var out []tqfake.Request
	for _, r := range f.fake.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func countRequests(f *fixture, method, path string) int { return len(requestsTo(f, method, path)) }
