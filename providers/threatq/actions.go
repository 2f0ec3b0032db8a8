package threatq

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/internal/httpx"
)

// The parameters shared by the list actions. Each action gets its own copy
// through the functions below, so no two specs share a slice.
func limitParam() providers.Param {
	return providers.Param{Name: "limit", Type: providers.Integer, Min: providers.Bound(1), Max: providers.Bound(1000),
		Doc: "Maximum number of results, 1 to 1000 (the server's default is 25)"}
}

func offsetParam() providers.Param {
	return providers.Param{Name: "offset", Type: providers.Integer, Min: providers.Bound(0),
		Doc: "Number of results to skip, for paging"}
}

func sortParam() providers.Param {
	return providers.Param{Name: "sort", Type: providers.String,
		Doc: "Fields to sort by, comma separated; a leading - sorts descending, e.g. -created_at,id"}
}

func withParam() providers.Param {
	return providers.Param{Name: "with", Type: providers.String,
		Doc: "Relations to embed, comma separated, e.g. type,status,sources,attributes"}
}

func cursorParam() providers.Param {
	return providers.Param{Name: "cursor", Type: providers.String,
		Doc: "Cursor paging: * starts, then pass the nextCursorMark of the previous page (sent as cursorMark)"}
}

func importIDParam() providers.Param {
	return providers.Param{Name: "import_id", Type: providers.Integer, Required: true, Min: providers.Bound(1),
		Doc: "Id of the import session"}
}

func importIndicatorIDParam() providers.Param {
	return providers.Param{Name: "import_indicator_id", Type: providers.Integer, Required: true, Min: providers.Bound(1),
		Doc: "Id of the staged indicator within the import session"}
}

func queryParam(name, doc string) providers.Param {
	return providers.Param{Name: name, Type: providers.Object, Check: checkQuery(name), Doc: doc}
}

// queryNames maps parameter names to the query-string names ThreatQ uses.
var queryNames = map[string]string{"cursor": "cursorMark"}

// queryOf puts the named parameters that were given into a query string.
func queryOf(p providers.Values, names ...string) url.Values {
	q := url.Values{}
	for _, n := range names {
		v, ok := p[n]
		if !ok {
			continue
		}
		key := n
		if k, ok := queryNames[n]; ok {
			key = k
		}
		q.Set(key, scalarString(v))
	}
	return q
}

// bodyOf puts the named parameters that were given into a JSON object.
func bodyOf(p providers.Values, names ...string) map[string]any {
	b := map[string]any{}
	for _, n := range names {
		if v, ok := p[n]; ok {
			b[n] = v
		}
	}
	return b
}

func importPath(p providers.Values, rest string) string {
	return fmt.Sprintf("/imports/%d%s", p.Int("import_id"), rest)
}

func actions() []providers.Spec {
	return []providers.Spec{
		{
			Name: "test_connectivity", Kind: providers.Test, ReadOnly: true,
			Summary: "Sign in and list the indicator statuses to check the asset's URL and credentials",
			Doc:     "Signs in with the password grant and asks for the indicator statuses; success means url, email, password, client_id and api_type are right.",
			Examples: []providers.Example{
				{Summary: "check the asset", Params: map[string]any{}},
			},
			Run: providers.RunWith(runTestConnectivity),
		},
		{
			Name: "create_event", Kind: providers.Generic,
			Grouped: []string{"json_body"},
			Summary: "Create an event",
			Doc:     "POST /api/events. Never sent twice: a lost response is reported, not retried, since a retry would create the event again.",
			Examples: []providers.Example{
				{Summary: "a malware event", Params: map[string]any{"title": "Dropper seen on host-7", "type": "Malware", "happened_at": "2024-01-02 03:04:05"}},
				{Summary: "with a source", Params: map[string]any{"title": "Phish", "type": "Spearphish", "happened_at": "2024-01-02 03:04:05", "sources": []any{map[string]any{"name": "goshawk"}}}},
			},
			Params: []providers.Param{
				{Name: "title", Type: providers.String, Doc: "Title of the event"},
				{Name: "type", Type: providers.String, Doc: "Event type name, e.g. Spearphish, Malware, Incident"},
				{Name: "happened_at", Type: providers.String, Check: checkHappenedAt, Doc: "When it happened, UTC, as YYYY-MM-DD HH:MM:SS"},
				{Name: "sources", Type: providers.Array, Doc: "Sources, e.g. [{\"name\": \"goshawk\", \"tlp\": {\"name\": \"AMBER\"}}]"},
			},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				// Never retried: a retry after a lost response would create the event twice.
				return request{method: http.MethodPost, path: "/events",
					body: bodyOf(p, "title", "type", "happened_at", "sources")}, nil
			}}.run),
		},
		{
			Name: "create_indicators", Kind: providers.Generic,
			Grouped:  []string{"parameters", "json_body"},
			ListBody: "indicators",
			Aliases:  []string{"create_indicators_list"},
			Summary:  "Create indicators, or return the existing ones (ThreatQ upserts on value and type)",
			Doc:      "POST /api/indicators. Type names are resolved to this instance's ids first, so an unknown type fails before anything is created; a 2xx whose items carry errors fails the action.",
			Examples: []providers.Example{
				{Summary: "one FQDN", Params: map[string]any{"indicators": []any{map[string]any{"value": "bad.example.com", "type": "FQDN", "status_id": 1}}}},
			},
			Params: []providers.Param{
				{Name: "indicators", Type: providers.Array, Required: true, Check: checkIndicators,
					Doc: "Indicators to create, each {value, type (name) or type_id, status_id, class, sources, attributes}"},
				limitParam(), offsetParam(), sortParam(), withParam(),
			},
			Run: providers.RunWith(action{build: buildCreateIndicators, itemErrors: true}.run),
		},
		{
			Name: "delete_import_indicator", Kind: providers.Generic,
			Grouped: []string{"path_parameters"},
			Summary: "Remove a staged indicator from an import session",
			Doc:     "DELETE /api/imports/{import_id}/indicators/{import_indicator_id}.",
			Examples: []providers.Example{
				{Summary: "remove one staged indicator", Params: map[string]any{"import_id": 1, "import_indicator_id": 3}},
			},
			Params: []providers.Param{importIDParam(), importIndicatorIDParam()},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodDelete, idempotent: true,
					path: importPath(p, fmt.Sprintf("/indicators/%d", p.Int("import_indicator_id")))}, nil
			}}.run),
		},
		{
			Name: "get_event_list", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"parameters"},
			Summary: "List events",
			Doc:     "GET /api/events with paging, sorting and relations.",
			Examples: []providers.Example{
				{Summary: "the 10 newest", Params: map[string]any{"limit": 10, "sort": "-created_at"}},
			},
			Params: []providers.Param{limitParam(), offsetParam(), sortParam(), withParam()},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodGet, path: "/events", idempotent: true,
					query: queryOf(p, "limit", "offset", "sort", "with")}, nil
			}}.run),
		},
		{
			Name: "get_indicator_by_id", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"path_parameters", "parameters"},
			Summary: "Get one indicator by its id",
			Doc:     "GET /api/indicators/{id}, with the relations asked for.",
			Examples: []providers.Example{
				{Summary: "one indicator with its sources", Params: map[string]any{"id": "1", "with": "sources"}},
			},
			Params: []providers.Param{
				{Name: "id", Type: providers.String, Required: true, Check: checkID, Doc: "Id of the indicator"},
				withParam(),
			},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodGet, idempotent: true,
					path:  "/indicators/" + url.PathEscape(strings.TrimSpace(p.String("id"))),
					query: queryOf(p, "with")}, nil
			}}.run),
		},
		{
			Name: "get_indicators_list", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"parameters"},
			Summary: "List indicators, optionally filtered by value (% is a wildcard)",
			Doc:     "GET /api/indicators; value may use % as a wildcard.",
			Examples: []providers.Example{
				{Summary: "indicators under a domain", Params: map[string]any{"value": "%baddomain.com", "limit": 25}},
			},
			Params: []providers.Param{
				limitParam(), offsetParam(), sortParam(), withParam(),
				{Name: "value", Type: providers.String, Doc: "Only indicators with this value; % is a wildcard, e.g. %example.com"},
			},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodGet, path: "/indicators", idempotent: true,
					query: queryOf(p, "limit", "offset", "sort", "with", "value")}, nil
			}}.run),
		},
		{
			Name: "import_events", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"parameters", "path_parameters"},
			Summary: "List the staged events of an import session",
			Doc:     "GET /api/imports/{import_id}/events.",
			Examples: []providers.Example{
				{Summary: "staged events", Params: map[string]any{"import_id": 1, "limit": 50}},
			},
			Params: []providers.Param{importIDParam(), limitParam(), offsetParam(), sortParam(), withParam()},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodGet, path: importPath(p, "/events"), idempotent: true,
					query: queryOf(p, "limit", "offset", "sort", "with")}, nil
			}}.run),
		},
		{
			Name: "indicator_search", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"parameters", "json_body"},
			Summary: "Search indicators with the query language (criteria and filters)",
			Doc:     "POST /api/indicators/query with criteria and filters in the query language; operators are checked before the request.",
			Examples: []providers.Example{
				{Summary: "high-score FQDNs", Params: map[string]any{"filters": map[string]any{"+and": []any{map[string]any{"type_name": "FQDN"}, map[string]any{"score": map[string]any{"+gte": 6}}}}, "limit": 100}},
			},
			Params: []providers.Param{
				queryParam("criteria", "Query expression, e.g. {\"+or\": [{\"mentions\": \"org\"}, {\"value\": {\"+contains\": \"test.com\"}}]}"),
				queryParam("filters", "Query expression that must also hold, e.g. {\"+and\": [{\"type_name\": \"FQDN\"}, {\"score\": {\"+gte\": 6}}]}"),
				limitParam(), offsetParam(), sortParam(), cursorParam(),
			},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodPost, path: "/indicators/query", idempotent: true,
					query: queryOf(p, "limit", "offset", "sort", "cursor"),
					body:  bodyOf(p, "criteria", "filters")}, nil
			}}.run),
		},
		{
			Name: "indicator_search_with_value", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"parameters"},
			Summary: "Search indicators whose value contains a string (% is a wildcard)",
			Doc:     "GET /api/indicators/search?value=...",
			Examples: []providers.Example{
				{Summary: "values containing a string", Params: map[string]any{"value": "test.com", "limit": 10}},
			},
			Params: []providers.Param{
				{Name: "value", Type: providers.String, Required: true, Check: checkNonEmptyParam("value"),
					Doc: "Text to look for in indicator values, e.g. example.com or %test%"},
				limitParam(), offsetParam(), withParam(),
			},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodGet, path: "/indicators/search", idempotent: true,
					query: queryOf(p, "value", "limit", "offset", "with")}, nil
			}}.run),
		},
		{
			Name: "indicators_query", Kind: providers.Investigate, ReadOnly: true,
			Grouped: []string{"parameters", "json_body"},
			Summary: "Query indicators with the query language, choosing the fields returned",
			Doc:     "POST /api/indicators/query with the fields to return, filters and criteria; cursor paging with cursor=*.",
			Examples: []providers.Example{
				{Summary: "two values, score and sources", Params: map[string]any{"fields": []any{"*", "score", "sources.name"}, "filters": map[string]any{"+or": []any{map[string]any{"value": "baddomain.com"}, map[string]any{"value": "68.68.21.21"}}}}},
			},
			Params: []providers.Param{
				{Name: "fields", Type: providers.Array, Doc: "Fields to return, e.g. [\"*\", \"score\", \"sources.name\"]"},
				queryParam("filters", "Query expression, e.g. {\"+or\": [{\"value\": \"baddomain.com\"}, {\"value\": \"68.68.21.21\"}]}"),
				queryParam("criteria", "Query expression that must also hold"),
				limitParam(), offsetParam(),
				{Name: "rows", Type: providers.Integer, Min: providers.Bound(0), Doc: "Passed through as the rows query parameter"},
				sortParam(), withParam(), cursorParam(),
			},
			Run: providers.RunWith(action{build: func(_ context.Context, _ *client, _ httpx.Env, p providers.Values) (request, error) {
				return request{method: http.MethodPost, path: "/indicators/query", idempotent: true,
					query: queryOf(p, "limit", "offset", "rows", "sort", "with", "cursor"),
					body:  bodyOf(p, "fields", "filters", "criteria")}, nil
			}}.run),
		},
		{
			Name: "update_import_indicator", Kind: providers.Generic,
			Grouped: []string{"json_body", "path_parameters"},
			Summary: "Update a staged indicator of an import session",
			Doc:     "PUT /api/imports/{import_id}/indicators/{import_indicator_id} with the fields given; a type name is resolved to its id and whitelisted is sent as Y or N.",
			Examples: []providers.Example{
				{Summary: "whitelist a staged indicator", Params: map[string]any{"import_id": 1, "import_indicator_id": 2, "whitelisted": true}},
			},
			Params: []providers.Param{
				importIDParam(), importIndicatorIDParam(),
				{Name: "value", Type: providers.String, Doc: "New value"},
				{Name: "type_id", Type: providers.String, Doc: "Indicator type id, or a type name such as IP Address"},
				{Name: "status_id", Type: providers.Integer, Min: providers.Bound(1), Doc: "Indicator status id (1 Active, 2 Expired, 3 Indirect, 4 Review, 5 Whitelisted by default)"},
				{Name: "source", Type: providers.Object, Doc: "Source, e.g. {\"name\": \"goshawk\", \"tlp\": {\"name\": \"GREEN\"}}"},
				{Name: "whitelisted", Type: providers.Bool, Doc: "Whether the staged indicator is whitelisted: true/false or Y/N; sent as \"Y\"/\"N\""},
			},
			Run: providers.RunWith(action{build: buildUpdateImportIndicator}.run),
		},
	}
}

func checkNonEmptyParam(name string) func(any) error {
	return func(v any) error {
		if s, _ := v.(string); strings.TrimSpace(s) == "" {
			return fmt.Errorf("Parameter '%s' must not be empty", name)
		}
		return nil
	}
}

// buildCreateIndicators resolves every type name to an id before the write,
// so an unknown name fails the action without creating anything.
func buildCreateIndicators(ctx context.Context, c *client, env httpx.Env, p providers.Values) (request, error) {
	in := p.Array("indicators")
	items := make([]any, 0, len(in))
	for _, it := range in {
		src, _ := it.(map[string]any)
		item := make(map[string]any, len(src))
		for k, v := range src {
			item[k] = v
		}
		ref := item["type_id"]
		if ref == nil {
			ref = item["type"]
		}
		id, err := c.typeID(ctx, env, ref)
		if err != nil {
			return request{}, err
		}
		delete(item, "type")
		item["type_id"] = id
		if n, err := strconv.ParseInt(strings.TrimSpace(scalarString(item["status_id"])), 10, 64); err == nil {
			item["status_id"] = n
		}
		items = append(items, item)
	}
	return request{method: http.MethodPost, path: "/indicators", idempotent: true,
		query: queryOf(p, "limit", "offset", "sort", "with"), body: items}, nil
}

func buildUpdateImportIndicator(ctx context.Context, c *client, env httpx.Env, p providers.Values) (request, error) {
	body := bodyOf(p, "value", "status_id", "source")
	if p.Has("type_id") {
		id, err := c.typeID(ctx, env, p.String("type_id"))
		if err != nil {
			return request{}, err
		}
		body["type_id"] = id
	}
	if p.Has("whitelisted") {
		body["whitelisted"] = yesNo(p.Bool("whitelisted"))
	}
	if len(body) == 0 {
		return request{}, errNothingToUpdate
	}
	return request{method: http.MethodPut, idempotent: true, body: body,
		path: importPath(p, fmt.Sprintf("/indicators/%d", p.Int("import_indicator_id")))}, nil
}

// errNothingToUpdate is an update_import_indicator call without any field
// to change; it is refused before any request.
var errNothingToUpdate = errors.New("Give at least one of value, type_id, status_id, source or whitelisted to update")

// action runs one request-response action. build turns the validated
// parameters into the request, making any lookups it needs first.
type action struct {
	build func(ctx context.Context, c *client, env httpx.Env, p providers.Values) (request, error)
	// itemErrors marks a create whose 2xx body can still hold per-item errors.
	itemErrors bool
}

func (a action) run(ctx context.Context, c *client, call *providers.Call) *providers.Result {
	env := httpx.Env{Log: call.Env.Log, Now: call.Env.Now}
	req, err := a.build(ctx, c, env, call.Params)
	if err != nil {
		return c.failure(err)
	}
	resp, err := c.do(ctx, env, req)
	if err != nil {
		return c.failure(err)
	}
	return c.result(resp, a.itemErrors)
}

func runTestConnectivity(ctx context.Context, c *client, call *providers.Call) *providers.Result {
	res := action{build: func(context.Context, *client, httpx.Env, providers.Values) (request, error) {
		return request{method: http.MethodGet, path: "/indicator/statuses", idempotent: true}, nil
	}}.run(ctx, c, call)
	if res.OK() {
		res.Message = "Test Connectivity Passed"
	} else {
		res.Message = "Test Connectivity Failed: " + res.Message
	}
	return res
}

// result renders a response as the Swimlane connector's result, one entry
// {status_code, reason, response_headers, json_body} in data, so ported
// workflows read the same paths one level down.
func (c *client) result(resp *httpx.Response, checkItems bool) *providers.Result {
	// Redact the raw body first: an echoed secret may be JSON-escaped, and
	// error details are cut to length.
	rep := c.replacer()
	resp = &httpx.Response{Status: resp.Status, Header: resp.Header, Body: []byte(rep.String(string(resp.Body)))}
	body := redactValue(decodeBody(resp.Body), rep)
	entry := map[string]any{
		"status_code":      resp.Status,
		"reason":           http.StatusText(resp.Status),
		"response_headers": responseHeaders(resp.Header),
		"json_body":        body,
	}
	summary := map[string]any{"status_code": resp.Status}
	msg := fmt.Sprintf("Status Code: %d", resp.Status)
	if m, ok := body.(map[string]any); ok {
		if t, ok := m["total"].(float64); ok {
			summary["total"] = int64(t)
			msg += fmt.Sprintf("; total: %d", int64(t))
		}
	}
	var res *providers.Result
	switch {
	case !resp.OK():
		res = providers.Failedf("%s", c.redact(serverErrorMessage(resp)))
	case checkItems && len(itemErrors(body)) > 0:
		res = providers.Failedf("%s", c.redact("Some indicators were not created: "+strings.Join(itemErrors(body), "; ")))
	default:
		return providers.Succeeded(msg, []any{entry}, summary)
	}
	res.Data = []any{entry}
	res.Summary = summary
	return res
}

// failure renders an error that kept the action from getting its answer.
func (c *client) failure(err error) *providers.Result {
	var (
		ae *authError
		he *httpx.Error
	)
	switch {
	case errors.As(err, &ae):
		return providers.Failedf("%s", ae.message())
	case errors.As(err, &he) && he.Response != nil:
		return c.result(he.Response, false)
	case errors.As(err, &he):
		return providers.Failedf("Error connecting: %s", c.redact(fmt.Sprintf("%s %s: %v", he.Method, he.Path, he.Err)))
	case isContextError(err):
		return providers.Failedf("Error connecting: %v", err)
	}
	return providers.Failedf("%s", c.redact(err.Error()))
}

// responseHeaders renders the response headers with lower-case names, as
// the Swimlane connector shows them. The session cookie is redacted and no
// authentication header is ever carried.
func responseHeaders(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for name, vals := range h {
		key := strings.ToLower(name)
		switch key {
		case "authorization", "proxy-authorization", "cookie":
			continue
		case "set-cookie":
			red := make([]string, len(vals))
			for i, v := range vals {
				red[i] = redactCookie(v)
			}
			vals = red
		}
		out[key] = strings.Join(vals, ", ")
	}
	return out
}

// redactCookie keeps a Set-Cookie's name and attributes and hides its value.
func redactCookie(v string) string {
	pair, attrs, _ := strings.Cut(v, ";")
	name, _, _ := strings.Cut(pair, "=")
	out := strings.TrimSpace(name) + "=[redacted]"
	if attrs != "" {
		out += ";" + attrs
	}
	return out
}
