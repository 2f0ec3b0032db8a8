package providers_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
)

func TestContains(t *testing.T) {
	cases := []struct {
		kind, value string
		want        bool
	}{
		{"ip", "1.2.3.4", true},
		{"ip", "2001:db8::1", true},
		{"ip", "1.2.3", false},
		{"ip", "::zz", false},
		{"ip", "fe80::1%eth0", false},
		{"ip", " 1.2.3.4", false},
		{"ipv6", "2001:db8::1", true},
		{"ipv6", "1.2.3.4", false},
		{"ipv6", "::ffff:1.2.3.4", false},
		{"md5", "d41d8cd98f00b204e9800998ecf8427e", true},
		{"md5", "d41d8cd98f00b204e9800998ecf8427", false},
		{"md5", "z41d8cd98f00b204e9800998ecf8427e", false},
		{"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", true},
		{"sha256", "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", true},
		{"hash", "da39a3ee5e6b4b0d3255bfef95601890afd80709", true},
		{"hash", "da39a3ee5e6b4b0d3255bfef95601890afd8070", false},
		{"email", "abc@test.com", true},
		{"email", "abc@test", false},
		{"email", "not an@email.com", false},
		{"domain", "example.com", true},
		{"domain", "sub_domain.example.co.uk", true},
		{"domain", "example", false},
		{"domain", "a@b.com", false},
		{"domain", "http://example.com", false},
		{"url", "http://example.com/x?y=1", true},
		{"url", "hxxp://example.com", true},
		{"url", "example.com/path", false},
		{"url", "http://", false},
		{"nosuch", "x", false},
	}
	for _, c := range cases {
		if got := providers.Matches(c.kind, c.value); got != c.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.kind, c.value, got, c.want)
		}
	}
}

func FuzzContains(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "::1", "a@b.c", "http://x.y", "example.com", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if providers.IsIPv6(s) && !providers.IsIP(s) {
			t.Fatalf("%q is ipv6 but not ip", s)
		}
		if (providers.IsMD5(s) || providers.IsSHA1(s) || providers.IsSHA256(s)) != providers.IsHash(s) {
			t.Fatalf("%q: hash kinds disagree", s)
		}
		if providers.IsDomain(s) && (strings.ContainsAny(s, "@/ ") || providers.IsURL(s)) {
			t.Fatalf("%q is a domain with a forbidden character", s)
		}
	})
}

func testProvider() *providers.Provider {
	return &providers.Provider{
		Name:   "demo",
		Config: []providers.Param{{Name: "token", Type: providers.String, Required: true, Secret: true}},
		Open:   func(string, providers.Values) (providers.Conn, error) { return demoConn("conn"), nil },
		Actions: []providers.Spec{
			{
				Name: "hunt_ip", Kind: providers.Investigate, ReadOnly: true,
				Params: []providers.Param{
					{Name: "ip", Type: providers.String, Required: true, Contains: []string{"ip", "ipv6"}},
					{Name: "tag", Type: providers.Bool, Default: false},
					{Name: "rating", Type: providers.Number, Min: providers.Bound(0), Max: providers.Bound(5)},
					{Name: "limit", Type: providers.Integer, Default: int64(100), Min: providers.Bound(1), Max: providers.Bound(1000)},
					{Name: "criteria", Type: providers.Object},
				},
				Run: func(_ context.Context, c *providers.Call) *providers.Result {
					return providers.Succeeded("ok", []any{c.Params.String("ip"), c.Conn}, map[string]any{"limit": c.Params.Int("limit")})
				},
			},
			{Name: "noop", Kind: providers.Generic, Run: func(context.Context, *providers.Call) *providers.Result {
				return providers.Succeeded("", nil, nil)
			}},
		},
	}
}

// demoConn is the test provider's connection: a name, nothing to close.
type demoConn string

func (demoConn) Close() error { return nil }

func openTestAsset(t testing.TB) *providers.Asset {
	t.Helper()
	p := testProvider()
	if _, err := providers.NewRegistry(p); err != nil {
		t.Fatal(err)
	}
	a, err := providers.OpenAsset("d", p, map[string]any{"token": "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestInvoke(t *testing.T) {
	a := openTestAsset(t)
	ctx := context.Background()
	cases := []struct {
		name      string
		action    string
		raw       map[string]any
		wantErr   string // a malformed call
		wantState string
		wantMsg   string
	}{
		{"ok with defaults", "hunt_ip", map[string]any{"ip": "1.2.3.4"}, "", "success", "ok"},
		{"strings convert", "hunt_ip", map[string]any{"ip": "::1", "tag": "true", "limit": "25", "rating": "2.5"}, "", "success", "ok"},
		{"Y/N is a bool", "hunt_ip", map[string]any{"ip": "::1", "tag": "Y"}, "", "success", "ok"},
		{"object from json", "hunt_ip", map[string]any{"ip": "::1", "criteria": `{"a":1}`}, "", "success", "ok"},
		{"unknown param with hint", "hunt_ip", map[string]any{"ipp": "1.2.3.4"}, `unknown parameter "ipp"; did you mean "ip"?`, "", ""},
		{"missing required", "hunt_ip", map[string]any{}, `parameter "ip" is required`, "", ""},
		{"wrong type", "hunt_ip", map[string]any{"ip": "1.2.3.4", "tag": "maybe"}, `parameter "tag" must be true or false, got "maybe"`, "", ""},
		{"not an integer", "hunt_ip", map[string]any{"ip": "1.2.3.4", "limit": 2.5}, `parameter "limit" must be an integer`, "", ""},
		{"unknown action", "hunt_ipp", nil, `did you mean "hunt_ip"?`, "", ""},
		{"bad ip", "hunt_ip", map[string]any{"ip": "1.2.3"}, "", "failed", "Parameter 'ip' failed validation"},
		{"rating range", "hunt_ip", map[string]any{"ip": "1.2.3.4", "rating": 7}, "", "failed", "Parameter 'rating' must be between 0 and 5"},
		{"integer range", "hunt_ip", map[string]any{"ip": "1.2.3.4", "limit": 0}, "", "failed", "Parameter 'limit' must be an integer between 1 and 1000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := a.Invoke(ctx, c.action, c.raw, providers.Env{})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.wantState || res.Message != c.wantMsg {
				t.Fatalf("got %s %q, want %s %q", res.Status, res.Message, c.wantState, c.wantMsg)
			}
		})
	}
}

func TestInvokeUnknownActionIsSentinel(t *testing.T) {
	_, err := openTestAsset(t).Invoke(context.Background(), "nope", nil, providers.Env{})
	if !errors.Is(err, providers.ErrUnknownAction) {
		t.Fatalf("err = %v", err)
	}
}

func TestRegisterRejectsBadSpecs(t *testing.T) {
	run := func(context.Context, *providers.Call) *providers.Result { return nil }
	open := func(string, providers.Values) (providers.Conn, error) { return nil, nil }
	cases := map[string]*providers.Provider{
		"bad name":        {Name: "Bad-Name", Open: open},
		"no open":         {Name: "x"},
		"dup action":      {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: providers.Generic, Run: run}, {Name: "a", Kind: providers.Generic, Run: run}}},
		"no run":          {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: providers.Generic}}},
		"bad kind":        {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: "other", Run: run}}},
		"dup param":       {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: providers.Generic, Run: run, Params: []providers.Param{{Name: "p", Type: providers.String}, {Name: "p", Type: providers.String}}}}},
		"bad type":        {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: providers.Generic, Run: run, Params: []providers.Param{{Name: "p", Type: "float"}}}}},
		"bad contains":    {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: providers.Generic, Run: run, Params: []providers.Param{{Name: "p", Type: providers.String, Contains: []string{"ipv4"}}}}}},
		"bad default":     {Name: "x", Open: open, Actions: []providers.Spec{{Name: "a", Kind: providers.Generic, Run: run, Params: []providers.Param{{Name: "p", Type: providers.Integer, Default: 3}}}}},
		"bad config type": {Name: "x", Open: open, Config: []providers.Param{{Name: "p", Type: "secret"}}},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := providers.NewRegistry(p); err == nil {
				t.Fatal("registered a bad provider")
			}
		})
	}
	r, err := providers.NewRegistry(testProvider())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Register(testProvider()); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("double register: %v", err)
	}
}

// BenchmarkValidateAndDispatch measures the framework's cost of one call:
// looking up the action, binding and checking parameters, and dispatching
// to Run, with no I/O.
func BenchmarkValidateAndDispatch(b *testing.B) {
	a := openTestAsset(b)
	ctx := context.Background()
	raw := map[string]any{"ip": "203.0.113.7", "tag": true, "limit": 10}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Invoke(ctx, "hunt_ip", raw, providers.Env{}); err != nil {
			b.Fatal(err)
		}
	}
}
