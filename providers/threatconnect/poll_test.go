package threatconnect

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// poll runs on_poll against sink and returns the result.
func (f *fixture) poll(t *testing.T, sink *memSink, params map[string]any) *providers.Result {
	t.Helper()
	return f.invokeEnv(t, "on_poll", params, f.env(sink, time.Time{}))
}

// activeIDs returns the ids of the active indicators, in (dateAdded, id) order.
func activeIDs(srv *tcfake.Server, since time.Time) []string {
	var inds []tcfake.Indicator
	for _, ind := range srv.Indicators() {
		if ind.Active && !ind.DateAdded.Before(since) {
			inds = append(inds, ind)
		}
	}
	slices.SortFunc(inds, func(a, b tcfake.Indicator) int {
		return cmp.Or(a.DateAdded.Compare(b.DateAdded), cmp.Compare(a.ID, b.ID))
	})
	ids := make([]string, len(inds))
	for i, ind := range inds {
		ids[i] = strconv.FormatInt(ind.ID, 10)
	}
	return ids
}

func wantSummary(t *testing.T, r *providers.Result, created, duplicates int, checkpoint string) {
	t.Helper()
	if !r.OK() || r.Message != "Polling has succeeded" {
		t.Fatalf("on_poll = %s %q", r.Status, r.Message)
	}
	s := r.Summary
	if s["asset"] != "tc" || s["containers_created"] != created || s["duplicates"] != duplicates || s["checkpoint"] != checkpoint {
		t.Errorf("summary = %v, want created %d, duplicates %d, checkpoint %q", s, created, duplicates, checkpoint)
	}
}

func checkpointOf(t *testing.T, srv *tcfake.Server, id string) string {
	t.Helper()
	for _, ind := range srv.Indicators() {
		if strconv.FormatInt(ind.ID, 10) == id {
			return checkpoint{added: ind.DateAdded, id: ind.ID}.String()
		}
	}
	t.Fatalf("no indicator %s", id)
	return ""
}

func TestPollSeedFirstRun(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, map[string]any{"max_containers": 1000})
	sink := newMemSink()
	want := activeIDs(f.srv, time.Time{})
	r := f.poll(t, sink, nil)
	wantSummary(t, r, len(want), 0, checkpointOf(t, f.srv, want[len(want)-1]))
	if !slices.Equal(sink.order, want) {
		t.Errorf("ingested %d containers, want the %d active indicators in (dateAdded, id) order", len(sink.order), len(want))
	}
	big := sink.byID[strconv.FormatInt(tcfake.SeedBigID, 10)]
	if big.Asset != "tc" || big.Name != tcfake.SeedIPv4 || len(big.Artifacts) != 1 {
		t.Errorf("container of the seeded address = %+v", big)
	}
	first := f.srv.Requests()[0].RequestURI
	if !strings.HasPrefix(first, "/v3/indicators?fields=tags&fields=attributes&fields=threatAssess&resultLimit=100&resultStart=0&sorting=dateAdded+asc&tql=dateAdded+%3E%3D+%22") {
		t.Errorf("first request %s", first)
	}

	// Nothing new: nothing created, the checkpoint stays.
	cp := sink.checkpoint
	r = f.poll(t, sink, nil)
	wantSummary(t, r, 0, 0, cp)
}

func TestPollIntervalAndCheckpointMovement(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	f := newFixture(t, tcfake.Options{Empty: true}, map[string]any{"interval_days": 7})
	old := f.srv.AddIndicator(tcfake.Indicator{Type: "Host", HostName: "old.example", Active: true, DateAdded: now.Add(-8 * 24 * time.Hour)})
	for _, ind := range tcfake.GenerateIndicators(5, 0, now.Add(-6*24*time.Hour)) {
		f.srv.AddIndicator(ind)
	}
	sink := newMemSink()
	ids := activeIDs(f.srv, now.Add(-7*24*time.Hour))
	r := f.poll(t, sink, nil)
	wantSummary(t, r, 5, 0, checkpointOf(t, f.srv, ids[4]))
	if _, ok := sink.byID[strconv.FormatInt(old.ID, 10)]; ok {
		t.Error("an indicator older than interval_days was ingested")
	}

	// Later indicators move the checkpoint; a late one inside the
	// checkpointed second with a higher id is still picked up.
	last := f.srv.Indicators()
	lastAdded := last[len(last)-1].DateAdded
	late := f.srv.AddIndicator(tcfake.Indicator{Type: "Host", HostName: "late.example", Active: true, DateAdded: lastAdded})
	newer := f.srv.AddIndicator(tcfake.Indicator{Type: "Host", HostName: "newer.example", Active: true, DateAdded: lastAdded.Add(time.Hour)})
	r = f.poll(t, sink, nil)
	wantSummary(t, r, 2, 0, checkpoint{added: newer.DateAdded, id: newer.ID}.String())
	if !slices.Equal(sink.order[5:], []string{strconv.FormatInt(late.ID, 10), strconv.FormatInt(newer.ID, 10)}) {
		t.Errorf("second poll ingested %v", sink.order[5:])
	}
}

// TestPollSameSecondBurst: 250 indicators in one second and 50 after it,
// with max_containers 100, come in over three polls, in order, with nothing
// dropped or duplicated, and a fourth poll creates nothing.
func TestPollSameSecondBurst(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, map[string]any{"max_containers": 100})
	for _, ind := range tcfake.GenerateIndicators(300, 250, time.Now().Add(-48*time.Hour)) {
		f.srv.AddIndicator(ind)
	}
	want := activeIDs(f.srv, time.Time{})
	sink := newMemSink()
	for i, created := range []int{100, 100, 100, 0} {
		wantCP := checkpointOf(t, f.srv, want[min(3, i+1)*100-1])
		r := f.poll(t, sink, nil)
		wantSummary(t, r, created, 0, wantCP)
	}
	if !slices.Equal(sink.order, want) {
		t.Errorf("ingested %d containers out of order or with gaps; want %d in (dateAdded, id) order", len(sink.order), len(want))
	}
	if sink.calls != 6 {
		t.Errorf("%d Ingest calls, want 6: two batches of 50 per poll, none when nothing is new", sink.calls)
	}
}

func TestPollNowLeavesCheckpoint(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, nil)
	for _, ind := range tcfake.GenerateIndicators(30, 0, time.Now().Add(-24*time.Hour)) {
		f.srv.AddIndicator(ind)
	}
	sink := newMemSink()
	r := f.poll(t, sink, map[string]any{"poll_now": true, "container_count": 10})
	wantSummary(t, r, 10, 0, "")
	if sink.checkpoint != "" {
		t.Errorf("poll now set the checkpoint to %q", sink.checkpoint)
	}
	r = f.poll(t, sink, map[string]any{"container_count": 20})
	cp := sink.checkpoint
	wantSummary(t, r, 10, 10, cp)
	r = f.poll(t, sink, map[string]any{"poll_now": true, "container_count": 25})
	wantSummary(t, r, 5, 20, cp)
}

func TestPollFailuresMoveNothing(t *testing.T) {
	t.Run("500", func(t *testing.T) {
		f := newFixture(t, tcfake.Options{}, nil)
		sink := newMemSink()
		sink.checkpoint = checkpoint{added: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), id: 1}.String()
		cp := sink.checkpoint
		f.srv.FailNext(3, 500, "")
		r := f.poll(t, sink, nil)
		if r.OK() || !strings.HasPrefix(r.Message, "Error from server, Status Code: 500") || sink.calls != 0 || sink.checkpoint != cp {
			t.Errorf("got %s %q with %d Ingest calls; want a failure that moves nothing", r.Status, r.Message, sink.calls)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": "http://127.0.0.1:1"})
		sink := newMemSink()
		r := f.poll(t, sink, nil)
		if r.OK() || !strings.HasPrefix(r.Message, "Error connecting: ") || sink.calls != 0 || sink.checkpoint != "" {
			t.Errorf("got %s %q with %d Ingest calls; want a failure that moves nothing", r.Status, r.Message, sink.calls)
		}
	})
	t.Run("second page fails", func(t *testing.T) {
		fake := tcfake.NewHandler(tcfake.Options{SecretKey: testSecret, Empty: true})
		for _, ind := range tcfake.GenerateIndicators(250, 0, time.Now().Add(-48*time.Hour)) {
			fake.AddIndicator(ind)
		}
		var n atomic.Int64
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) >= 2 { // every attempt at the second page
				http.Error(w, `{"status":"Error","message":"boom"}`, http.StatusInternalServerError)
				return
			}
			fake.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		fake.SetURL(proxy.URL)
		f := newFixture(t, tcfake.Options{}, map[string]any{"base_url": proxy.URL, "max_containers": 150})
		sink := newMemSink()
		r := f.poll(t, sink, nil)
		if r.OK() || sink.calls != 0 || sink.checkpoint != "" {
			t.Errorf("got %s %q with %d Ingest calls; want a failure that moves nothing", r.Status, r.Message, sink.calls)
		}
	})
	t.Run("store fails after the first batch", func(t *testing.T) {
		f := newFixture(t, tcfake.Options{Empty: true}, nil)
		for _, ind := range tcfake.GenerateIndicators(80, 0, time.Now().Add(-48*time.Hour)) {
			f.srv.AddIndicator(ind)
		}
		want := activeIDs(f.srv, time.Time{})
		sink := newMemSink()
		sink.failAfter = 1
		r := f.poll(t, sink, nil)
		if r.OK() || !strings.Contains(r.Message, "disk full") || r.Summary["containers_created"] != 50 {
			t.Fatalf("got %s %q %v; want a failure after one committed batch", r.Status, r.Message, r.Summary)
		}
		if sink.checkpoint != checkpointOf(t, f.srv, want[49]) {
			t.Errorf("checkpoint %q, want the last indicator of the committed batch", sink.checkpoint)
		}
		sink.failAfter = 0
		r = f.poll(t, sink, nil)
		wantSummary(t, r, 30, 0, checkpointOf(t, f.srv, want[79]))
		if !slices.Equal(sink.order, want) {
			t.Errorf("after the resumed poll the store holds %d containers; want all %d in order", len(sink.order), len(want))
		}
	})
}

func TestPollSkipsUnmappableIndicator(t *testing.T) {
	f := newFixture(t, tcfake.Options{Empty: true}, nil)
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	a := f.srv.AddIndicator(tcfake.Indicator{Type: "Host", HostName: "a.example", Active: true, DateAdded: start})
	bad := f.srv.AddIndicator(tcfake.Indicator{Type: "Mystery", Active: true, DateAdded: start.Add(time.Second)})
	c := f.srv.AddIndicator(tcfake.Indicator{Type: "Host", HostName: "c.example", Active: true, DateAdded: start.Add(2 * time.Second)})
	sink := newMemSink()
	r := f.poll(t, sink, nil)
	wantSummary(t, r, 2, 0, checkpoint{added: c.DateAdded, id: c.ID}.String())
	if !slices.Equal(sink.order, []string{strconv.FormatInt(a.ID, 10), strconv.FormatInt(c.ID, 10)}) {
		t.Errorf("ingested %v", sink.order)
	}
	if logs := f.logs.String(); !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "id="+strconv.FormatInt(bad.ID, 10)) {
		t.Errorf("no warning naming indicator %d in the logs:\n%s", bad.ID, logs)
	}
}

func TestPollBadStateAndNoSink(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, nil)
	sink := newMemSink()
	sink.checkpoint = "yesterday"
	r := f.poll(t, sink, nil)
	if r.OK() || !strings.Contains(r.Message, `stored checkpoint "yesterday"`) || !strings.Contains(r.Message, "clear the asset's checkpoint") {
		t.Errorf("got %s %q", r.Status, r.Message)
	}
	r, err := f.asset.Invoke(context.Background(), "on_poll", nil, providers.Env{})
	if err != nil || r.OK() || !strings.Contains(r.Message, "goshawk poll tc") {
		t.Errorf("without a sink got %v, %v", r, err)
	}
	if f.srv.RequestCount() != 0 {
		t.Errorf("%d requests, want none", f.srv.RequestCount())
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	cp := checkpoint{added: time.Date(2025, 3, 8, 9, 35, 46, 0, time.UTC), id: 11111797252348113}
	s := cp.String()
	if s != "2025-03-08T09:35:46Z/11111797252348113" {
		t.Errorf("String = %q", s)
	}
	got, err := parseCheckpoint(s)
	if err != nil || got.compare(cp) != 0 {
		t.Errorf("parseCheckpoint(%q) = %v, %v", s, got, err)
	}
	for _, bad := range []string{"", "2025-03-08T09:35:46Z", "2025-03-08/1", "2025-03-08T09:35:46Z/x"} {
		if _, err := parseCheckpoint(bad); err == nil {
			t.Errorf("parseCheckpoint(%q) = nil error", bad)
		}
	}
}

// TestIntervalDaysIsRangeChecked guards issue 14 item 12: interval_days
// past a century is refused at config, so the look-back window can never
// overflow and start the poll in the future.
func TestIntervalDaysIsRangeChecked(t *testing.T) {
	base := map[string]any{"base_url": "https://x.example", "access_id": "id", "secret_key": testSecret}
	for _, days := range []int{106752, 36501, 0} {
		cfg := maps.Clone(base)
		cfg["interval_days"] = days
		if _, err := providers.OpenAsset("tc", Provider(), cfg); err == nil || !strings.Contains(err.Error(), "interval_days") {
			t.Errorf("interval_days %d: err = %v, want a range error", days, err)
		}
	}
	f := newFixture(t, tcfake.Options{Empty: true}, map[string]any{"interval_days": 36500})
	now := time.Now().UTC()
	sink := newMemSink()
	r := f.invokeEnv(t, "on_poll", map[string]any{"poll_now": true}, f.env(sink, now))
	if !r.OK() {
		t.Fatal(r.Message)
	}
	reqs := f.srv.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request")
	}
	uri, _ := url.QueryUnescape(reqs[0].RequestURI)
	if want := fmt.Sprintf("dateAdded >= \"%d-", now.Year()-100); !strings.Contains(uri, want) {
		t.Fatalf("the poll query %s does not look back a century (%s)", uri, want)
	}
}
