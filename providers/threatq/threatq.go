// Package threatq is goshawk's ThreatQ connector: an OAuth password-grant
// client for the ThreatQ REST API and the table of actions playbooks call.
//
// The provider declares its asset config and its twelve actions once, as
// providers.Spec values; the Lua binding, the CLI, the docs and lint all read
// that table. Every parameter is checked before any request (numeric ranges,
// dates, the operators of the query language), indicator type names are
// resolved to the instance's own ids, and each action returns the Swimlane
// result shape {status_code, reason, response_headers, json_body} so that
// playbooks written against that connector read the same data paths.
//
// The emulator used by the tests and by `goshawk demo` lives in tqfake.
package threatq

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers"
)

// Provider declares the threatq provider: its config, its twelve actions
// and how an asset is opened. A registry owns the value it is given, so
// every call builds a new one.
func Provider() *providers.Provider {
	return &providers.Provider{
		Name:    "threatq",
		Summary: "ThreatQuotient ThreatQ: events, indicators, import sessions and the indicator query language over the REST API",
		Config:  configParams(),
		Open:    open,
		Actions: actions(),
		// The Swimlane form's spellings of the config variables.
		ConfigAliases: map[string]string{
			"clientid": "client_id", "api type": "api_type", "verify ssl": "verify_ssl", "http proxy": "http_proxy",
		},
	}
}

func configParams() []providers.Param {
	return []providers.Param{
		{Name: "url", Type: providers.String, Required: true, Check: checkBaseURL,
			Doc: "Base URL of the ThreatQ instance, e.g. https://threatq.example.com (a trailing /api is ignored)"},
		{Name: "email", Type: providers.String, Required: true, Check: providers.NonEmpty("email"),
			Doc: "Email address of the API user"},
		{Name: "password", Type: providers.String, Required: true, Secret: true, Check: providers.NonEmpty("password"),
			Doc: "Password of the API user"},
		{Name: "client_id", Type: providers.String, Required: true, Check: providers.NonEmpty("client_id"),
			Doc: "OAuth client id (shown in https://<host>/assets/js/config.js)"},
		{Name: "api_type", Type: providers.String, Default: apiStandard, Enum: []string{apiStandard, apiBeta},
			Doc: "How the token request is encoded: standard sends grant_type and client_id in the query string, beta sends all four fields in the JSON body"},
		{Name: "verify_ssl", Type: providers.Bool, Default: true,
			Doc: "Verify the server's TLS certificate"},
		{Name: "http_proxy", Type: providers.String, Check: checkProxyURL,
			Doc: "Proxy URL for every request, including the token request, e.g. http://proxy.example.com:3128"},
		{Name: "timeout", Type: providers.Duration, Default: 30 * time.Second, Check: providers.Positive("timeout"),
			Doc: "Timeout of each HTTP request"},
	}
}

// The two encodings of the token request: standard puts grant_type and
// client_id in the query string, beta puts all four fields in the body.
const (
	apiStandard = "standard"
	apiBeta     = "beta"
)

func open(asset string, cfg providers.Values) (providers.Conn, error) {
	c, err := newClient(clientConfig{
		URL:       cfg.String("url"),
		Email:     cfg.String("email"),
		Password:  cfg.String("password"),
		ClientID:  cfg.String("client_id"),
		Beta:      strings.EqualFold(cfg.String("api_type"), apiBeta),
		VerifySSL: cfg.Bool("verify_ssl"),
		HTTPProxy: cfg.String("http_proxy"),
		Timeout:   cfg.Duration("timeout"),
	})
	if err != nil {
		return nil, fmt.Errorf("threatq: open asset %s: %w", asset, err)
	}
	return c, nil
}

func checkBaseURL(v any) error {
	s, _ := v.(string)
	_, err := normaliseBaseURL(s)
	return err
}

// normaliseBaseURL strips a trailing slash and a trailing /api, because
// users paste either form and every path is built under {url}/api.
func normaliseBaseURL(raw string) (string, error) {
	u, err := baseURL(raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// baseURL is normaliseBaseURL's parsed result.
func baseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q must be an http or https URL such as https://threatq.example.com", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("url %q must not have a query or fragment; give the base URL such as https://threatq.example.com", raw)
	}
	u.User = nil
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api")
	u.Path = strings.TrimRight(p, "/")
	u.RawPath = ""
	return u, nil
}

func checkProxyURL(v any) error {
	s, _ := v.(string)
	if strings.TrimSpace(s) == "" {
		return nil
	}
	_, err := parseProxyURL(s)
	return err
}

func parseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		// Neither the error nor the value is echoed: a proxy URL may carry a password.
		return nil, fmt.Errorf("http_proxy must be a URL such as http://proxy.example.com:3128")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		return u, nil
	}
	return nil, fmt.Errorf("http_proxy scheme must be http, https or socks5, such as http://proxy.example.com:3128")
}
