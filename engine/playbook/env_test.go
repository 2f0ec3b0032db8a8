package playbook

import (
	"context"
	"testing"

	"github.com/goshawk/goshawk/providers"
)

func noop(context.Context, *providers.Call) *providers.Result {
	return providers.Succeeded("ok", nil, nil)
}

// testEnv is a small stand-in for the configured world: asset tc of a
// provider shaped like threatconnect, asset tq of one shaped like threatq,
// and one loaded plugin.
func testEnv(t testing.TB) *Env {
	t.Helper()
	tc := &providers.Provider{
		Name: "threatconnect",
		Open: func(string, providers.Values) (providers.Conn, error) { return nil, nil },
		Actions: []providers.Spec{
			{Name: "hunt_ip", Kind: providers.Investigate, ReadOnly: true, Run: noop, Params: []providers.Param{
				{Name: "ip", Type: providers.String, Required: true, Contains: []string{"ip", "ipv6"}},
				{Name: "tag", Type: providers.Bool},
			}},
			{Name: "post_data", Kind: providers.Generic, Run: noop, Params: []providers.Param{
				{Name: "indicator", Type: providers.String, Required: true},
				{Name: "rating", Type: providers.Integer, Min: providers.Bound(0), Max: providers.Bound(5)},
			}},
			{Name: "test_connectivity", Kind: providers.Test, Run: noop},
		},
	}
	tq := &providers.Provider{
		Name: "threatq",
		Open: func(string, providers.Values) (providers.Conn, error) { return nil, nil },
		Actions: []providers.Spec{
			{Name: "query_indicator", Kind: providers.Investigate, Run: noop, Params: []providers.Param{
				{Name: "value", Type: providers.String, Required: true},
			}},
		},
	}
	if _, err := providers.NewRegistry(tc, tq); err != nil {
		t.Fatal(err)
	}
	return &Env{
		Assets: map[string]*providers.Provider{"tc": tc, "tq": tq},
		Plugins: func(name string) ([]string, bool) {
			if name == "reputation" {
				return []string{"score", "lookup"}, true
			}
			return nil, false
		},
	}
}
