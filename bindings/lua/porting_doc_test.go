package lua

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
	"github.com/goshawk/goshawk/providers/threatq"
	"github.com/goshawk/goshawk/providers/threatq/tqfake"
)

// TestPortingDocExamples runs every complete Lua example of
// docs/porting.md against the two emulators, so the worked ports stay
// true: SOAR's action names, totals, Swimlane's grouped inputs and the data
// paths they read.
func TestPortingDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/porting.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```lua\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	tc := tcfake.New(tcfake.Options{})
	defer tc.Close()
	tq := tqfake.New(tqfake.Options{})
	defer tq.Close()
	open := func(name string, p *providers.Provider, cfg map[string]any) *providers.Asset {
		a, err := providers.OpenAsset(name, p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a
	}
	assets := map[string]*providers.Asset{
		"tc": open("tc", threatconnect.Provider(), map[string]any{"base_url": tc.URL, "access_id": tcfake.DefaultAccessID, "secret_key": tcfake.DefaultSecretKey}),
		"tq": open("tq", threatq.Provider(), map[string]any{"url": tq.URL, "email": tqfake.DefaultEmail, "password": tqfake.DefaultPassword, "client_id": tqfake.DefaultClientID}),
	}
	rt := NewRuntime(Options{PoolSize: 1})
	ran := 0
	for i, b := range blocks {
		src := b[1]
		if strings.Contains(src, "…") { // an excerpt, not a whole script
			continue
		}
		ran++
		res, err := runLua(t, rt, src, &RunSpec{Assets: assets, Inputs: map[string]any{"ip": tcfake.SeedIPv4, "id": "1"}})
		if err != nil {
			t.Errorf("example %d failed: %v\n%s", i, err, src)
			continue
		}
		t.Logf("example %d returned %v", i, res)
	}
	if ran < 3 {
		t.Fatalf("ran %d examples, want the result reading and both worked ports", ran)
	}
}
