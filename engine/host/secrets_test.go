package host_test

import (
	"context"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
)

// keyedProvider needs a secret to open.
func keyedProvider() *providers.Provider {
	return &providers.Provider{
		Name: "keyed", Summary: "a provider with a secret",
		Config: []providers.Param{{Name: "key", Type: providers.String, Required: true, Secret: true, Doc: "API key"}},
		Open:   func(string, providers.Values) (providers.Conn, error) { return nopConn{}, nil },
		Actions: []providers.Spec{{Name: "note", Kind: providers.Generic, Summary: "note",
			Run: func(context.Context, *providers.Call) *providers.Result {
				return providers.Succeeded("noted", nil, nil)
			}}},
	}
}

// TestAssetWithUnsetVariableOnlyFailsWhereUsed opens a host whose asset k
// reads an unset variable: the host opens, a playbook that does not use k
// runs, and one that calls k fails with the variable to export.
func TestAssetWithUnsetVariableOnlyFailsWhereUsed(t *testing.T) {
	hs := start(t, setup{
		providers: []*providers.Provider{keyedProvider(), notesProvider()},
		config:    "assets:\n  k:\n    provider: keyed\n    key: ${K_SECRET_UNSET}\n  n: {provider: notes}\n",
		files: map[string]string{
			"uses_n.yaml": "assets: [n]\nlua: |\n  return {status = n.note{}.status}\n",
			"uses_k.yaml": "assets: [k]\nlua: |\n  return k.note{}\n",
		},
		noHTTP: true,
	})
	ctx := context.Background()
	rec, err := hs.h.Run(ctx, "uses_n", nil, "manual")
	if err != nil || rec.Status != "success" {
		t.Fatalf("a playbook without the unset asset: %+v, %v", rec, err)
	}
	rec, err = hs.h.Run(ctx, "uses_k", nil, "manual")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != "failed" || !strings.Contains(rec.Error, "asset k needs K_SECRET_UNSET") || !strings.Contains(rec.Error, "export it") {
		t.Fatalf("a playbook calling the unset asset: %s: %s", rec.Status, rec.Error)
	}
	if !strings.Contains(hs.log.String(), "asset not opened") {
		t.Errorf("the host does not say it left the asset closed:\n%s", hs.log.String())
	}
}
