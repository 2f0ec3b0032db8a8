package threatq

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// The Swimlane form's config spellings open the asset as goshawk's own
// keys do (issue 16 item 4).
func TestSwimlaneConfigSpellings(t *testing.T) {
	for alias, name := range map[string]string{"clientid": "client_id", "api type": "api_type", "verify ssl": "verify_ssl"} {
		t.Run(alias, func(t *testing.T) {
			cfg := baseConfig()
			v := cfg[name]
			if v == nil {
				v = map[string]any{"api_type": "beta", "verify_ssl": false}[name]
			}
			delete(cfg, name)
			cfg[alias] = v
			a, err := providers.OpenAsset("tq", Provider(), cfg)
			if err != nil {
				t.Fatalf("%s refused: %v", alias, err)
			}
			a.Close()
			if n, aliased := Provider().ConfigName(alias); n != name || !aliased {
				t.Fatalf("ConfigName(%q) = %q, %v", alias, n, aliased)
			}
			cfg[name] = v
			if _, err := providers.OpenAsset("tq", Provider(), cfg); err == nil || !strings.Contains(err.Error(), "keep \""+name+"\"") {
				t.Fatalf("both spellings: err = %v", err)
			}
		})
	}
}

// SOAR and Swimlane display names with spaces reach the action; a near
// miss is hinted with an action of the same verb.
func TestActionDisplayNamesAndHint(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	for _, name := range []string{"get indicator by id", "Get Indicator By ID", "get-indicator-by-id"} {
		mustSucceed(t, f.invoke(t, name, map[string]any{"id": "1"}))
	}
	mustSucceed(t, f.invoke(t, "create indicators list", map[string]any{"indicators": []any{map[string]any{"value": "alias.example", "type": "FQDN"}}}))
	_, err := f.asset.Invoke(context.Background(), "create_indicator_list", nil, f.env)
	if err == nil || !strings.Contains(err.Error(), `did you mean "create_indicators"?`) {
		t.Fatalf("err = %v, want the same-verb hint", err)
	}
}

// Each grouped input maps onto the action's own parameters with the same
// validation (issue 16 item 5).
func TestGroupedInputs(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	cases := []struct {
		action string
		params map[string]any
		want   string // in the server's request
	}{
		{"get_indicator_by_id", map[string]any{"path_parameters": `{"id":"1"}`, "parameters": map[string]any{"with": "sources"}}, "GET /api/indicators/1?with=sources"},
		{"create_event", map[string]any{"json_body": `{"title":"x","type":"Malware","happened_at":"2024-01-02 03:04:05"}`}, "POST /api/events"},
		{"create_indicators", map[string]any{"parameters": map[string]any{"limit": 5}, "json_body": []any{map[string]any{"value": "grouped.example", "type": "FQDN"}}}, "POST /api/indicators?limit=5"},
		{"delete_import_indicator", map[string]any{"path_parameters": map[string]any{"import_id": 1, "import_indicator_id": 4}}, "DELETE /api/imports/1/indicators/4"},
		{"import_events", map[string]any{"path_parameters": map[string]any{"import_id": 1}, "parameters": map[string]any{"limit": 1}}, "GET /api/imports/1/events?limit=1"},
		{"indicators_query", map[string]any{"parameters": map[string]any{"limit": "25"}, "json_body": map[string]any{"filters": map[string]any{"+or": []any{map[string]any{"value": "baddomain.com"}}}}}, "POST /api/indicators/query?limit=25"},
		{"update_import_indicator", map[string]any{"path_parameters": map[string]any{"import_id": 1, "import_indicator_id": 2}, "json_body": map[string]any{"status_id": "2", "whitelisted": "Y"}}, "PUT /api/imports/1/indicators/2"},
		{"get_event_list", map[string]any{"parameters": map[string]any{"limit": 2}}, "GET /api/events?limit=2"},
		{"indicator_search_with_value", map[string]any{"parameters": map[string]any{"value": "test.com"}}, "GET /api/indicators/search?value=test.com"},
	}
	for _, c := range cases {
		t.Run(c.action, func(t *testing.T) {
			f.fake.ResetRequests()
			mustSucceed(t, f.invoke(t, c.action, maps.Clone(c.params)))
			found := false
			for _, r := range f.fake.Requests() {
				found = found || r.Method+" "+r.RequestURI == c.want
			}
			if !found {
				t.Fatalf("no request %s among %v", c.want, f.fake.Requests())
			}
		})
	}
}

// A grouped member given directly too, or in two groups, and a group that
// is not an object, are clear usage errors; a member gets the direct
// parameter's validation.
func TestGroupedInputConflicts(t *testing.T) {
	f := newFixture(t, tqfake.Options{}, nil)
	cases := []struct {
		action string
		params map[string]any
		want   string
	}{
		{"get_indicator_by_id", map[string]any{"id": "1", "path_parameters": map[string]any{"id": "2"}}, `parameter "id" is given both directly and in path_parameters; keep one`},
		{"get_indicator_by_id", map[string]any{"path_parameters": map[string]any{"with": "a"}, "parameters": map[string]any{"with": "b", "id": "1"}}, `parameter "with" is given in both path_parameters and parameters; keep one`},
		{"create_event", map[string]any{"json_body": "not json"}, `parameter "json_body" must be a JSON object`},
		{"get_event_list", map[string]any{"parameters": []any{1}}, `parameter "parameters" must be an object of parameters, got a list`},
		{"get_event_list", map[string]any{"parameters": map[string]any{"limt": 1}}, `unknown parameter "limt"; did you mean "limit"?`},
		{"get_event_list", map[string]any{"json_body": map[string]any{}}, `unknown parameter "json_body"`},
	}
	for _, c := range cases {
		_, err := f.asset.Invoke(context.Background(), c.action, c.params, f.env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: err = %v, want %q", c.action, c.params, err, c.want)
		}
	}
	res := f.invoke(t, "get_event_list", map[string]any{"parameters": map[string]any{"limit": 5000}})
	mustFail(t, res, "limit")
}
