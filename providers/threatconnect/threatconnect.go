// Package threatconnect is goshawk's ThreatConnect connector: an HMAC-signed
// client for the ThreatConnect v3 REST API, the table of actions playbooks
// call (hunts, post_data, list_owners, test_connectivity) and on_poll, which
// turns new indicators into containers through a cef.Sink with a
// transactional checkpoint.
//
// The provider declares its asset config and its actions once, as
// providers.Spec values; the Lua binding, the CLI, the docs and lint all read
// that table, and every parameter is checked before any request. The
// emulator used by the tests and by `goshawk demo` lives in tcfake.
package threatconnect

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/goshawk/goshawk/providers"
)

// Provider returns the threatconnect provider. Each call returns a new value,
// so a registry owns the one it is given.
func Provider() *providers.Provider {
	return &providers.Provider{
		Name:    "threatconnect",
		Summary: "ThreatConnect: hunt and post indicators, list owners and ingest new indicators over the v3 REST API",
		Config:  configParams(),
		Open:    open,
		Actions: actions(),
		// SOAR's on_poll text calls interval_days num_of_days.
		ConfigAliases: map[string]string{"num_of_days": "interval_days"},
		Ingest: &providers.IngestSpec{
			Action:      "on_poll",
			NowParam:    "poll_now",
			CountParam:  "container_count",
			ScheduleKey: "poll",
		},
	}
}

func configParams() []providers.Param {
	return []providers.Param{
		{Name: "base_url", Type: providers.String, Required: true, Check: checkBaseURL,
			Doc: "Base URL of the instance, e.g. https://api.threatconnect.com or https://companyabc.threatconnect.com/api"},
		{Name: "access_id", Type: providers.String, Required: true, Check: providers.NonEmpty("access_id"),
			Doc: "Access ID of the API user"},
		{Name: "secret_key", Type: providers.String, Required: true, Secret: true, Check: providers.NonEmpty("secret_key"),
			Doc: "Secret key of the API user"},
		{Name: "max_containers", Type: providers.Integer, Default: int64(100), Min: providers.Bound(1),
			Doc: "Max containers per poll"},
		{Name: "interval_days", Type: providers.Integer, Default: int64(7), Min: providers.Bound(1), Max: providers.Bound(maxIntervalDays),
			Doc: "Last 'N' days to get data from during the first scheduled poll and every poll now, 1 to 36500"},
		{Name: "verify_server_cert", Type: providers.Bool, Default: true,
			Doc: "Verify the server's TLS certificate"},
		{Name: "timeout", Type: providers.Duration, Default: 30 * time.Second, Check: providers.Positive("timeout"),
			Doc: "Timeout of each HTTP request; failed attempts are retried up to 3 times in all"},
		{Name: "poll", Type: providers.Duration, Check: providers.Positive("poll"),
			Doc: "Interval of the scheduled on_poll, e.g. 15m; absent means no scheduled poll"},
	}
}

func open(asset string, cfg providers.Values) (providers.Conn, error) {
	c, err := NewClient(ClientConfig{
		BaseURL:          cfg.String("base_url"),
		AccessID:         cfg.String("access_id"),
		SecretKey:        cfg.String("secret_key"),
		VerifyServerCert: cfg.Bool("verify_server_cert"),
		Timeout:          cfg.Duration("timeout"),
		MaxContainers:    int(cfg.Int("max_containers")),
		IntervalDays:     int(cfg.Int("interval_days")),
	})
	if err != nil {
		return nil, fmt.Errorf("threatconnect: open asset %s: %w", asset, err)
	}
	return c, nil
}

func checkBaseURL(v any) error {
	s, _ := v.(string)
	_, err := APIRoot(s)
	return err
}

// maxIntervalDays bounds interval_days at a century. The look-back window
// is a time.Duration, which overflows past 106,751 days and would start
// the poll in the far future, where it finds nothing, forever.
const maxIntervalDays = 36500

// The contains types post_data accepts in primary_field.
var primaryContains = []string{"ip", "ipv6", "email", "hash", "md5", "sha1", "sha256", "domain", "url"}

func actions() []providers.Spec {
	return []providers.Spec{
		{
			Name: "on_poll", Kind: providers.Ingest, ReadOnly: true,
			Summary: "Ingest indicators added since the last poll as containers, oldest first",
			Doc: "Searches indicators added since the checkpoint (or the last interval_days on a first poll or a poll now), " +
				"oldest first, and commits each as a container with its CEF artifact, together with the new checkpoint. " +
				"The scheduler runs it every poll interval; a poll now looks back interval_days and leaves the checkpoint where it is.",
			Examples: []providers.Example{
				{Summary: "a scheduled poll", Params: map[string]any{}},
				{Summary: "look back now, at most 10 containers", Params: map[string]any{"poll_now": true, "container_count": 10}},
			},
			Params: []providers.Param{
				{Name: "container_count", Type: providers.Integer, Min: providers.Bound(1),
					Doc: "Max containers to create; defaults to the asset's max_containers"},
				{Name: "poll_now", Type: providers.Bool,
					Doc: "Look back interval_days and leave the checkpoint where it is"},
			},
			Run: providers.RunWith(runPoll),
		},
		{
			Name: "test_connectivity", Kind: providers.Test, ReadOnly: true,
			Summary:  "Validate the asset configuration for connectivity",
			Doc:      "Sends one signed request for the owners; success means the base URL, access ID, secret key and clock are right.",
			Examples: []providers.Example{{Summary: "check the asset", Params: map[string]any{}}},
			Run:      providers.RunWith(runTestConnectivity),
		},
		{
			Name: "list_owners", Kind: providers.Investigate, ReadOnly: true,
			Summary:  "List the owners visible with the configured credentials",
			Doc:      "Returns the owners (organizations, communities, sources) the API user can see, with their ids and types.",
			Examples: []providers.Example{{Summary: "list every owner", Params: map[string]any{}}},
			Run:      providers.RunWith(runListOwners),
		},
		{
			Name: "post_data", Kind: providers.Generic,
			Summary: "Create an indicator and post it to ThreatConnect",
			Doc: "Creates, or updates, the indicator that primary_field names (its type is found from the value), with an optional " +
				"rating, confidence, tag, security label and attribute. It is never sent twice: a lost response is reported, not retried.",
			Examples: []providers.Example{
				{Summary: "post an address with a rating", Params: map[string]any{"primary_field": "203.0.113.7", "rating": 3, "confidence": 80}},
				{Summary: "post a file by two hashes, tagged", Params: map[string]any{
					"primary_field": "d41d8cd98f00b204e9800998ecf8427e, da39a3ee5e6b4b0d3255bfef95601890afd80709", "tag": "phishing"}},
			},
			Params: []providers.Param{
				{Name: "confidence", Type: providers.Number, Min: providers.Bound(0), Max: providers.Bound(100), Check: checkWhole("confidence", 0, 100),
					Doc: "Analytic confidence (0 to 100)"},
				{Name: "dns_active", Type: providers.Bool, Doc: "Is DNS active (hosts only)"},
				{Name: "primary_field", Type: providers.String, Required: true, Contains: primaryContains, Check: checkPrimaryField,
					Doc: "IP, email, file hash, domain, or URL; several hashes separated by commas make one File indicator"},
				{Name: "rating", Type: providers.Number, Min: providers.Bound(0), Max: providers.Bound(5),
					Doc: "Indicator rating (0 to 5)"},
				{Name: "size", Type: providers.Integer, Min: providers.Bound(0), Doc: "Size of file in bytes (files only)"},
				{Name: "whois_active", Type: providers.Bool, Doc: "Is WHOIS active (hosts only)"},
				{Name: "attribute_name", Type: providers.String, Doc: "Name of attribute to add (needs attribute_value)"},
				{Name: "attribute_value", Type: providers.String, Doc: "Value of attribute to add (needs attribute_name)"},
				{Name: "tag", Type: providers.String, Doc: "Name of Indicator Tag to add"},
				{Name: "security_label", Type: providers.String, Doc: "Name of Security Label to add"},
			},
			Run: providers.RunWith(runPostData),
		},
		huntSpec("hunt_ip", "Hunt an IP and retrieve any available information", "123.23.124.32",
			providers.Param{Name: "ip", Contains: []string{"ip", "ipv6"}, Doc: "IP to hunt"},
			func(string) string { return "Address" }),
		huntSpec("hunt_file", "Hunt a file hash and retrieve available information", "AAA0985A485969F70C0B414EF328DAAA",
			providers.Param{Name: "hash", Contains: []string{"hash", "md5", "sha1", "sha256"}, Doc: "File hash (md5, sha1, sha256)"},
			func(string) string { return "File" }),
		huntSpec("hunt_email", "Hunt an email and retrieve available information", "abcxyz@test.com",
			providers.Param{Name: "email", Contains: []string{"email"}, Doc: "Email address"},
			func(string) string { return "EmailAddress" }),
		huntSpec("hunt_domain", "Hunt a domain and retrieve available information", "vclub.credit",
			providers.Param{Name: "domain", Contains: []string{"url", "domain"}, Doc: "Domain or URL name; a value with a scheme is hunted as a URL"},
			func(v string) string {
				if providers.IsURL(v) {
					return "URL"
				}
				return "Host"
			}),
		huntSpec("hunt_url", "Hunt a URL and retrieve available information", "http://www.test.com/list/oz/",
			providers.Param{Name: "url", Contains: []string{"url"}, Doc: "URL to find"},
			func(string) string { return "URL" }),
	}
}

// checkWhole rejects a fractional number; the range itself is checked by
// Min and Max.
func checkWhole(name string, lo, hi int) func(any) error {
	return func(v any) error {
		if f, _ := v.(float64); f != math.Trunc(f) {
			return fmt.Errorf("Parameter '%s' must be an integer between %d and %d", name, lo, hi)
		}
		return nil
	}
}

// errUnresolvedPrimary is the message of a primary_field that is neither one
// indicator value nor a list of hashes. Like the other parameter messages it
// is shown to the user as is, in the app's words.
var errUnresolvedPrimary = errors.New("Could not resolve primary_field parameter type. Please check provided value of primary_field parameter.")

func checkPrimaryField(v any) error {
	s, _ := v.(string)
	_, err := resolvePrimary(s)
	return err
}
