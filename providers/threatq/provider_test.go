package threatq

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
)

func TestProviderRegisters(t *testing.T) {
	p := Provider()
	if _, err := providers.NewRegistry(p); err != nil {
		t.Fatalf("register: %v", err)
	}
	want := []string{
		"test_connectivity", "create_event", "create_indicators", "delete_import_indicator",
		"get_event_list", "get_indicator_by_id", "get_indicators_list", "import_events",
		"indicator_search", "indicator_search_with_value", "indicators_query", "update_import_indicator",
	}
	if got := strings.Join(p.ActionNames(), ","); got != strings.Join(want, ",") {
		t.Fatalf("actions = %s\nwant      %s", got, strings.Join(want, ","))
	}
	for _, s := range p.Actions {
		if s.Summary == "" {
			t.Errorf("%s has no summary", s.Name)
		}
		for _, prm := range s.Params {
			if prm.Doc == "" {
				t.Errorf("%s.%s has no doc", s.Name, prm.Name)
			}
		}
	}
}

func baseConfig() map[string]any {
	return map[string]any{
		"url":       "https://tq.example.com/api/",
		"email":     "analyst@example.com",
		"password":  "pw-4f1d7c",
		"client_id": "goshawk-client",
	}
}

func TestConfigDefaults(t *testing.T) {
	a, err := providers.OpenAsset("tq", Provider(), baseConfig())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer a.Close()
	c := a.Conn.(*client)
	if c.base != "https://tq.example.com" || c.beta || c.timeout != 30*time.Second {
		t.Fatalf("client = base %q beta %v timeout %v; want the normalised url, standard, 30s", c.base, c.beta, c.timeout)
	}
	if a.Config.String("api_type") != "standard" || !a.Config.Bool("verify_ssl") {
		t.Fatalf("defaults not applied: %v", a.Config)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"missing password", func(m map[string]any) { delete(m, "password") }, `"password" is required`},
		{"missing client_id", func(m map[string]any) { delete(m, "client_id") }, `"client_id" is required`},
		{"bad api_type", func(m map[string]any) { m["api_type"] = "legacy" }, "must be one of standard, beta"},
		{"bad url", func(m map[string]any) { m["url"] = "tq.example.com" }, "must be an http or https URL"},
		{"bad proxy", func(m map[string]any) { m["http_proxy"] = "not a url" }, "http_proxy must be a URL"},
		{"bad timeout", func(m map[string]any) { m["timeout"] = "-1s" }, "timeout must be positive"},
		{"unknown key", func(m map[string]any) { m["client_idd"] = "x" }, `did you mean "client_id"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.edit(cfg)
			_, err := providers.OpenAsset("tq", Provider(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "pw-4f1d7c") {
				t.Fatalf("config error leaks the password: %v", err)
			}
		})
	}
}

func TestConfigBetaAndProxy(t *testing.T) {
	cfg := baseConfig()
	cfg["api_type"] = "BETA"
	cfg["http_proxy"] = "http://proxy.example.com:3128"
	cfg["verify_ssl"] = false
	cfg["timeout"] = "5s"
	a, err := providers.OpenAsset("tq", Provider(), cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	c := a.Conn.(*client)
	if !c.beta || c.timeout != 5*time.Second {
		t.Fatalf("beta %v timeout %v, want true 5s", c.beta, c.timeout)
	}
	tr := c.http.HTTP.Transport.(*http.Transport)
	if !tr.TLSClientConfig.InsecureSkipVerify {
		t.Fatal("verify_ssl: false did not disable certificate verification")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://tq.example.com/api/token", nil)
	u, err := tr.Proxy(req)
	if err != nil || u == nil || u.Host != "proxy.example.com:3128" {
		t.Fatalf("proxy = %v, %v; want proxy.example.com:3128", u, err)
	}
}
