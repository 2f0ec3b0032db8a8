package config_test

import (
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatq"
)

func realRegistry(t *testing.T) *providers.Registry {
	t.Helper()
	r, err := providers.NewRegistry(threatconnect.Provider(), threatq.Provider())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The seeds' config spellings (Swimlane's clientid and api type, SOAR's
// num_of_days) load as goshawk's keys, each with a warning that names
// goshawk's key at its position (issue 16 item 4).
func TestSeedConfigSpellingsWarn(t *testing.T) {
	src := `assets:
  tq:
    provider: threatq
    url: https://tq.example.com
    email: a@example.com
    password: pw-123456
    clientid: goshawk-client
    api type: beta
  tc:
    provider: threatconnect
    base_url: https://api.threatconnect.com
    access_id: "12345"
    secret_key: s3cr3t-value
    num_of_days: 3
`
	c, err := config.Parse("goshawk.yaml", []byte(src), realRegistry(t), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	for _, w := range c.Warnings {
		warnings = append(warnings, w.String())
	}
	for _, want := range []string{
		"goshawk.yaml:7:5: warning: assets.tq.clientid: goshawk calls this client_id; rename it",
		"goshawk.yaml:8:5: warning: assets.tq.api type: goshawk calls this api_type; rename it",
		"goshawk.yaml:14:5: warning: assets.tc.num_of_days: goshawk calls this interval_days; rename it",
	} {
		if !strings.Contains(strings.Join(warnings, "\n"), want) {
			t.Errorf("warnings %q lack %q", warnings, want)
		}
	}
	if tq := c.Assets["tq"]; tq == nil || tq.Values.String("client_id") != "goshawk-client" || tq.Values.String("api_type") != "beta" {
		t.Fatalf("tq values = %v", c.Assets["tq"])
	}
	if tc := c.Assets["tc"]; tc == nil || tc.Values.Int("interval_days") != 3 {
		t.Fatalf("tc values = %v", c.Assets["tc"])
	}
}

func TestSeedConfigSpellingAndOwnKeyConflict(t *testing.T) {
	src := `assets:
  tq:
    provider: threatq
    url: https://tq.example.com
    email: a@example.com
    password: pw-123456
    client_id: goshawk-client
    clientid: other
`
	_, err := config.Parse("goshawk.yaml", []byte(src), realRegistry(t), env(nil))
	if err == nil || !strings.Contains(err.Error(), `goshawk.yaml:8:5: assets.tq: "clientid" and "client_id" are the same variable; keep "client_id"`) {
		t.Fatalf("err = %v", err)
	}
}
