package host_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goshawk/goshawk/engine/config"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

type nopConn struct{}

func (nopConn) Close() error { return nil }

// feedProvider ingests under names of its own: PollAsset must find them in
// the provider's IngestSpec, not assume on_poll, poll_now and
// container_count. Each call stores its parameters in seen.
func feedProvider(seen *[]providers.Values, mu *sync.Mutex) *providers.Provider {
	next := 0
	return &providers.Provider{
		Name:    "feed",
		Summary: "a test feed",
		Config:  []providers.Param{{Name: "every", Type: providers.Duration}},
		Open:    func(string, providers.Values) (providers.Conn, error) { return nopConn{}, nil },
		Actions: []providers.Spec{{
			Name: "pull", Kind: providers.Ingest, Summary: "pull the feed",
			Params: []providers.Param{{Name: "look_back", Type: providers.Bool}, {Name: "max", Type: providers.Integer}},
			Run: func(ctx context.Context, c *providers.Call) *providers.Result {
				mu.Lock()
				*seen = append(*seen, c.Params)
				n := 2
				if c.Params.Has("max") {
					n = int(c.Params.Int("max"))
				}
				var batch []cef.Container
				for range n {
					next++
					batch = append(batch, cef.Container{Name: fmt.Sprintf("item %d", next), SourceDataIdentifier: fmt.Sprintf("feed-%d", next)})
				}
				mu.Unlock()
				created, _, err := c.Env.Ingest.Ingest(ctx, batch, nil)
				if err != nil {
					return providers.Failedf("ingest: %v", err)
				}
				return providers.Succeeded("pulled", nil, map[string]any{"fetched": n, "containers_created": created})
			},
		}},
		Ingest: &providers.IngestSpec{Action: "pull", NowParam: "look_back", CountParam: "max", ScheduleKey: "every"},
	}
}

// notesProvider does not ingest.
func notesProvider() *providers.Provider {
	return &providers.Provider{
		Name: "notes", Summary: "a provider that does not ingest",
		Open: func(string, providers.Values) (providers.Conn, error) { return nopConn{}, nil },
		Actions: []providers.Spec{{Name: "note", Kind: providers.Generic, Summary: "note",
			Run: func(context.Context, *providers.Call) *providers.Result { return providers.Succeeded("", nil, nil) }}},
	}
}

// TestPollAssetDrivesTheDeclaredIngestAction polls an asset whose provider
// declares its ingest action under other names: the declared action gets
// the declared parameters, its containers start the on_poll playbook once
// each, and an asset whose provider does not ingest is a clear error.
func TestPollAssetDrivesTheDeclaredIngestAction(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []providers.Values
	)
	hs := start(t, setup{
		providers: []*providers.Provider{feedProvider(&seen, &mu), notesProvider()},
		config:    "assets:\n  f: {provider: feed}\n  n: {provider: notes}\n",
		files:     map[string]string{"triage.yaml": "trigger: {on_poll: f}\nlua: |\n  return {name = container.name}\n"},
		noHTTP:    true,
	})
	ctx := context.Background()
	res, err := hs.h.PollAsset(ctx, "f", true, 3)
	if err != nil || !res.OK() {
		t.Fatalf("poll: %+v, %v", res, err)
	}
	if _, err := hs.h.PollAsset(ctx, "f", false, 0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(seen) != 2 || !seen[0].Bool("look_back") || seen[0].Int("max") != 3 || seen[1].Has("look_back") || seen[1].Has("max") {
		t.Fatalf("the ingest action got %v; want look_back and max on the first call only", seen)
	}
	mu.Unlock()
	eventually(t, "one triage run per container", func() bool {
		runs := hs.runs("triage")
		if len(runs) != 5 {
			return false
		}
		for _, r := range runs {
			if r.Status != "success" || r.Trigger != "on_poll" {
				return false
			}
		}
		return true
	})

	_, err = hs.h.PollAsset(ctx, "n", false, 0)
	if err == nil || !strings.Contains(err.Error(), "provider notes does not ingest") {
		t.Fatalf("polling an asset that does not ingest: %v", err)
	}
}

// TestPollTooShortIsReportedNotDropped configures a scheduled poll below
// the scheduler's minimum: either the config refuses it with its position,
// or serve reports that the poll is not scheduled; it is never silently
// dropped.
func TestPollTooShortIsReportedNotDropped(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []providers.Values
	)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "goshawk.yaml")
	writeFile(t, cfgPath, "assets:\n  f: {provider: feed, every: 500ms}\n")
	reg, err := providers.NewRegistry(feedProvider(&seen, &mu))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(cfgPath, reg, func(string) (string, bool) { return "", false }); err != nil {
		t.Logf("the config refuses it: %v", err)
		if !strings.Contains(err.Error(), "goshawk.yaml:2:") {
			t.Fatalf("the config refuses the short poll without its position: %v", err)
		}
		return
	}
	hs := start(t, setup{
		providers: []*providers.Provider{feedProvider(&seen, &mu)},
		config:    "assets:\n  f: {provider: feed, every: 500ms}\n",
		noHTTP:    true,
	})
	if !strings.Contains(hs.log.String(), `msg="trigger not scheduled" job=poll:f`) || !strings.Contains(hs.log.String(), "too short") {
		t.Fatalf("serve dropped the short poll silently:\n%s", hs.log.String())
	}
}
