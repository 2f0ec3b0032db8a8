package config_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/config"
	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/providers"
)

func registry(t *testing.T) *providers.Registry {
	t.Helper()
	p := &providers.Provider{
		Name: "threatconnect",
		Config: []providers.Param{
			{Name: "base_url", Type: providers.String, Required: true, Doc: "Base URL"},
			{Name: "access_id", Type: providers.String, Required: true, Doc: "Access ID"},
			{Name: "secret_key", Type: providers.String, Required: true, Secret: true, Doc: "Secret Key"},
			{Name: "max_containers", Type: providers.Integer, Default: int64(100), Min: providers.Bound(1)},
			{Name: "interval_days", Type: providers.Integer, Default: int64(7), Min: providers.Bound(1), Max: providers.Bound(36500)},
			{Name: "verify_server_cert", Type: providers.Bool, Default: true},
			{Name: "timeout", Type: providers.Duration, Default: 30 * time.Second},
			{Name: "poll", Type: providers.Duration},
		},
		Open: func(string, providers.Values) (providers.Conn, error) { return nil, nil },
		Actions: []providers.Spec{
			{Name: "noop", Kind: providers.Generic, Run: func(context.Context, *providers.Call) *providers.Result { return nil }},
			{Name: "on_poll", Kind: providers.Ingest, Params: []providers.Param{
				{Name: "poll_now", Type: providers.Bool}, {Name: "container_count", Type: providers.Integer}},
				Run: func(context.Context, *providers.Call) *providers.Result { return nil }},
		},
		Ingest: &providers.IngestSpec{Action: "on_poll", NowParam: "poll_now", CountParam: "container_count", ScheduleKey: "poll"},
	}
	r, err := providers.NewRegistry(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

const good = `store: data/goshawk.db
listen: 127.0.0.1:9000
api_token: ${TOKEN}
assets:
  tc:
    provider: threatconnect
    base_url: https://api.threatconnect.com
    access_id: "12345"
    secret_key: ${TC_SECRET_KEY}
    poll: 15m
plugin_limits:
  reputation: {memory_mb: 32, timeout: 2s, instances: 2}
`

func TestParseGood(t *testing.T) {
	c, err := config.Parse("dir/goshawk.yaml", []byte(good), registry(t), env(map[string]string{"TOKEN": "tok-123", "TC_SECRET_KEY": "s3cr3t-value"}))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Assets["tc"]
	if a == nil || a.Values.Int("max_containers") != 100 || a.Values.Int("interval_days") != 7 || !a.Values.Bool("verify_server_cert") {
		t.Fatalf("defaults not applied: %+v", a)
	}
	if a.Poll != 15*time.Minute || a.Values.String("secret_key") != "s3cr3t-value" {
		t.Fatalf("values: %+v", a.Values)
	}
	if !strings.HasSuffix(c.Store, "dir/data/goshawk.db") || !strings.HasSuffix(c.Playbooks, "dir/playbooks") {
		t.Fatalf("paths not resolved against the config folder: %s %s", c.Store, c.Playbooks)
	}
	if got := c.PluginLimits["reputation"]; got.MemoryMB != 32 || got.Timeout != 2*time.Second || got.Instances != 2 {
		t.Fatalf("plugin limits: %+v", got)
	}
	secrets := strings.Join(c.Secrets(), ",")
	if !strings.Contains(secrets, "s3cr3t-value") || !strings.Contains(secrets, "tok-123") {
		t.Fatalf("secrets = %q", secrets)
	}
}

func TestParseErrors(t *testing.T) {
	vars := map[string]string{"TC_SECRET_KEY": "s3cr3t-value"}
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown top key", "asets: {}\n", []string{`goshawk.yaml:1:1: unknown key "asets"; did you mean "assets"?`}},
		{"unknown asset key with hint", "assets:\n  tc:\n    provider: threatconnect\n    base_url: x\n    access_id: a\n    secret_key: k\n    max_container: 5\n",
			[]string{`goshawk.yaml:7:5: unknown key "max_container" in assets.tc; did you mean "max_containers"?`}},
		{"missing secret", "assets:\n  tc:\n    provider: threatconnect\n    base_url: x\n    access_id: a\n",
			[]string{`goshawk.yaml:2:3: assets.tc: missing required key "secret_key" (Secret Key)`}},
		{"negative max", "assets:\n  tc:\n    provider: threatconnect\n    base_url: x\n    access_id: a\n    secret_key: k\n    max_containers: -1\n",
			[]string{`goshawk.yaml:7:21: assets.tc: max_containers: Please provide a positive, non zero integer in config parameter "max_containers"`}},
		{"unknown provider", "assets:\n  tc:\n    provider: threatconect\n", []string{`goshawk.yaml:3:15: assets.tc.provider: unknown provider "threatconect"; did you mean "threatconnect"?`}},
		{"wrong type", "assets:\n  tc:\n    provider: threatconnect\n    base_url: x\n    access_id: a\n    secret_key: k\n    verify_server_cert: maybe\n",
			[]string{`goshawk.yaml:7:25: assets.tc.verify_server_cert: must be true or false, got "maybe"`}},
		{"bad listen", "listen: 8470\n", []string{`goshawk.yaml:1:9: listen: "8470" is not host:port`}},
		{"syntax", "assets: [\n", []string{"goshawk.yaml:1:9: yaml: did not find expected node content"}},
		{"two errors", "asets: 1\nlisen: x\n", []string{"goshawk.yaml:1:1:", "goshawk.yaml:2:1:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("goshawk.yaml", []byte(c.yaml), registry(t), env(vars))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("secret leaked: %s", err)
			}
		})
	}
}

func TestSecretNeverEchoed(t *testing.T) {
	y := "assets:\n  tc:\n    provider: threatconnect\n    base_url: x\n    access_id: a\n    secret_key: [\"hunter2-secret\"]\n"
	_, err := config.Parse("goshawk.yaml", []byte(y), registry(t), env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzParse feeds goshawk.yaml decoding arbitrary bytes, with the real
// shape of a provider and an environment holding a secret. Whatever the
// input: no panic; an error is diagnostics, each at a position in the
// file; and the secret read from the environment never appears in an
// error or a warning (unless the input itself spells it).
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("assets:\n  tc: {provider: threatconnect}\n"))
	f.Add([]byte(tcBase + "    max_containers: ${TC_SECRET_KEY}\n    poll: 10ms\n"))
	f.Add([]byte("listen: ${TC_SECRET_KEY}\nstore: ${}\nplaybooks: ${1X}\nplugins: ${TC_SECRET\n"))
	f.Add([]byte("a: &a [*a]\n---\nb: !!binary aGk=\n"))
	f.Add([]byte("plugin_limits:\n  p: {memory_mb: 99999, timeout: 1s, instances: -1}\n"))
	f.Add([]byte("assets:\n  end: {provider: threatconnect}\n  x:\n    provider: threatconnect\n    interval_days: 106752\n"))
	f.Add([]byte("store: a\n  listen: [\n"))
	const secret = "fuzz-secret-value-9731"
	lookup := env(map[string]string{"TC_SECRET_KEY": secret})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("goshawk.yaml", data, registry(t), lookup)
		leaks := !bytes.Contains(data, []byte("9731"))
		check := func(ds []diag.Diagnostic) {
			for _, d := range ds {
				if d.File != "goshawk.yaml" || d.Line < 1 || d.Col < 1 || d.Message == "" {
					t.Fatalf("diagnostic without a position: %#v", d)
				}
				if leaks && strings.Contains(d.Message, "9731") {
					t.Fatalf("the environment value leaked: %s", d)
				}
			}
		}
		if err != nil {
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("error is not diagnostics: %v", err)
			}
			check(de.Diagnostics)
			if c != nil {
				t.Fatal("a config with an error")
			}
			return
		}
		check(c.Warnings)
		check(c.ServeProblems())
		if e := c.RequireServe(); e != nil {
			check(diag.From(e))
		}
	})
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8470": true, "localhost:1": true, "[::1]:80": true, "0.0.0.0:8470": false, ":8470": false, "10.0.0.1:80": false} {
		if got := config.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}
