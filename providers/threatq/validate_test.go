package threatq

import (
	"encoding/json"
	"strings"
	"testing"
)

func decodeJSONValue(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

func TestCheckQuery(t *testing.T) {
	cases := []struct {
		name  string
		param string
		query string
		want  string // "" means valid
	}{
		{"equality", "criteria", `{"value":"foo@example.com"}`, ""},
		{"empty", "criteria", `{}`, ""},
		{"kibana example", "filters", `{"+and":[{"type_name":"FQDN"},{"status_name":"Active"},{"score":{"+gte":6}}]}`, ""},
		{"score range", "filters", `{"+and":[{"created_at":{"+lt":"2021-01-27 22:35:00"}},{"+or":[{"score":{"+gte":6,"+lte":8}}]}]}`, ""},
		{"structured field", "filters", `{"+or":[{"attribute":{"name":"Confidence","value":"High"}},{"related":{"id":1,"type":"indicator"}}]}`, ""},
		{"old equals", "criteria", `{"value":{"+equals":"x"}}`, ""},
		{"all comparison operators", "criteria", `{"score":{"+gt":1,"+gte":1,"+lt":9,"+lte":9},"value":{"+contains":"a"}}`, ""},
		{"unknown operator nested", "filters", `{"+and":[{"type_name":"FQDN"},{"value":{"+like":"%x%"}}]}`,
			"Unknown query operator '+like' at filters.+and[1].value"},
		{"unknown operator at root", "criteria", `{"+not":[{"value":"x"}]}`, "Unknown query operator '+not' at criteria"},
		{"unknown operator deep", "filters", `{"+or":[{"+and":[{"score":{"+between":[1,2]}}]}]}`,
			"Unknown query operator '+between' at filters.+or[0].+and[0].score"},
		{"and not a list", "filters", `{"+and":{"value":"x"}}`, "Query operator '+and' at filters must be a list"},
		{"or item not an object", "filters", `{"+or":["x"]}`, "Query expression at filters.+or[0] must be an object"},
		{"first mistake by sorted key", "filters", `{"b":{"+zz":1},"a":{"+yy":1}}`, "Unknown query operator '+yy' at filters.a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkQuery(tc.param)(decodeJSONValue(t, tc.query))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid query rejected: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("invalid query accepted, want %q", tc.want)
			case tc.want != "" && !strings.HasPrefix(err.Error(), tc.want):
				t.Fatalf("error = %q, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestCheckQueryRejectsNonObject(t *testing.T) {
	for _, v := range []any{"text", 3.0, []any{}, nil} {
		if err := checkQuery("criteria")(v); err == nil || !strings.Contains(err.Error(), "Parameter 'criteria' must be an object") {
			t.Errorf("checkQuery(%#v) = %v, want an object error", v, err)
		}
	}
}

func TestCheckQueryDepthLimit(t *testing.T) {
	q := map[string]any{"value": "x"}
	for range maxQueryDepth + 5 {
		q = map[string]any{"+and": []any{q}}
	}
	if err := checkQuery("filters")(q); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Fatalf("deep query: err = %v, want a depth error", err)
	}
}

func TestCheckHappenedAt(t *testing.T) {
	for _, ok := range []string{"2017-03-20 01:43:05", "2024-02-29 23:59:59"} {
		if err := checkHappenedAt(ok); err != nil {
			t.Errorf("checkHappenedAt(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "2017-03-20", "2017-03-20T01:43:05Z", "2023-02-29 10:00:00", "2017-13-01 00:00:00", "20 March 2017"} {
		err := checkHappenedAt(bad)
		if err == nil || !strings.Contains(err.Error(), "Parameter 'happened_at' must be") {
			t.Errorf("checkHappenedAt(%q) = %v, want a format error", bad, err)
		}
	}
}

func TestCheckIndicators(t *testing.T) {
	cases := []struct {
		name, items, want string
	}{
		{"type name", `[{"value":"1.2.3.4","type":"IP Address"}]`, ""},
		{"type id", `[{"value":"1.2.3.4","type_id":15}]`, ""},
		{"empty", `[]`, "must be a non-empty list"},
		{"not an object", `["1.2.3.4"]`, "item 0 must be an object"},
		{"missing value", `[{"value":"a.example","type":"FQDN"},{"type":"FQDN"}]`, "item 1 has no value"},
		{"blank value", `[{"value":"  ","type":"FQDN"}]`, "item 0 has no value"},
		{"missing type", `[{"value":"a.example"}]`, "item 0 has no type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkIndicators(decodeJSONValue(t, tc.items))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "Parameter 'indicators'") {
				t.Fatalf("err = %v, want %q naming the parameter", err, tc.want)
			}
		})
	}
}

func TestNormaliseBaseURL(t *testing.T) {
	cases := map[string]string{
		"https://tq.example.com":           "https://tq.example.com",
		"https://tq.example.com/":          "https://tq.example.com",
		"https://tq.example.com/api":       "https://tq.example.com",
		"https://tq.example.com/api/":      "https://tq.example.com",
		"https://tq.example.com/tq/api":    "https://tq.example.com/tq",
		" http://127.0.0.1:8443 ":          "http://127.0.0.1:8443",
		"https://user:pw@tq.example.com/x": "https://tq.example.com/x",
	}
	for in, want := range cases {
		got, err := normaliseBaseURL(in)
		if err != nil || got != want {
			t.Errorf("normaliseBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "tq.example.com", "ftp://tq.example.com", "https://", "https://tq.example.com/?a=1"} {
		if _, err := normaliseBaseURL(bad); err == nil {
			t.Errorf("normaliseBaseURL(%q) accepted", bad)
		}
	}
}

func TestCheckProxyURL(t *testing.T) {
	for _, ok := range []string{"", "http://proxy.example.com:3128", "socks5://127.0.0.1:1080"} {
		if err := checkProxyURL(ok); err != nil {
			t.Errorf("checkProxyURL(%q) = %v", ok, err)
		}
	}
	const secret = "hunter2-proxy-secret"
	for _, bad := range []string{"proxy.example.com:3128", "ftp://proxy.example.com", "http://user:" + secret + "@"} {
		err := checkProxyURL(bad)
		if err == nil {
			t.Errorf("checkProxyURL(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("checkProxyURL error leaks the proxy password: %v", err)
		}
	}
}
