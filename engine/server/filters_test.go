package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/host"
	"github.com/goshawk/goshawk/engine/server"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

// seedRuns records finished runs with chosen starts, oldest first, and
// returns their ids.
func seedRuns(t *testing.T, h *host.Host) []int64 {
	t.Helper()
	day := func(d int) time.Time { return time.Date(2024, 3, d, 12, 0, 0, 0, time.UTC) }
	seeds := []struct {
		playbook, trigger, status string
		started                   time.Time
	}{
		{"lookup", "webhook", "success", day(1)},
		{"lookup", "webhook", "failed", day(2)},
		{"manual", "manual", "success", day(3)},
		{"lookup", "schedule", "timeout", day(4)},
		{"lookup", "webhook", "failed", day(5)},
	}
	var ids []int64
	for _, sd := range seeds {
		r := &store.Run{Playbook: sd.playbook, Trigger: sd.trigger, Started: sd.started}
		if err := h.Store.StartRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		end := sd.started.Add(time.Minute)
		r.Status, r.Finished = sd.status, &end
		if err := h.Store.FinishRun(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

func runIDs(t *testing.T, r reply) []int64 {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	var runs []store.Run
	if err := json.Unmarshal([]byte(r.body), &runs); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	ids := []int64{}
	for _, run := range runs {
		ids = append(ids, run.ID)
	}
	return ids
}

// TestRunFiltersAndPaging filters GET /api/runs by status, trigger,
// playbook and start time, and pages through it with the cursor.
func TestRunFiltersAndPaging(t *testing.T) {
	h, srv := api(t, server.Options{Token: token})
	id := seedRuns(t, h)
	cases := []struct {
		query string
		want  []int64
	}{
		{"status=failed", []int64{id[4], id[1]}},
		{"trigger=webhook&status=success", []int64{id[0]}},
		{"since=2024-03-02&until=2024-03-04", []int64{id[2], id[1]}},
		{"since=2024-03-02T12:00:00Z&until=2024-03-02T12:00:01Z", []int64{id[1]}},
		{"playbook=manual", []int64{id[2]}},
		{"status=failed&since=2024-03-06", []int64{}},
		{"since=1h", []int64{}}, // an age: every seeded run is older
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			if got := runIDs(t, send(t, srv, call{"GET", "/api/runs?" + c.query, "", ""})); !slices.Equal(got, c.want) {
				t.Fatalf("runs %v, want %v", got, c.want)
			}
		})
	}

	// Paging: a full page carries the next cursor; the last page none.
	r := send(t, srv, call{"GET", "/api/runs?playbook=lookup&limit=2", "", ""})
	if got := runIDs(t, r); !slices.Equal(got, []int64{id[4], id[3]}) {
		t.Fatalf("page 1: %v", got)
	}
	cursor := r.hdr.Get("X-Next-Cursor")
	if cursor != strconv.FormatInt(id[3], 10) || !strings.Contains(r.hdr.Get("Link"), "cursor="+cursor) || !strings.Contains(r.hdr.Get("Link"), `rel="next"`) {
		t.Fatalf("page 1 headers: X-Next-Cursor %q, Link %q", cursor, r.hdr.Get("Link"))
	}
	link := strings.TrimSuffix(strings.TrimPrefix(strings.Split(r.hdr.Get("Link"), ";")[0], "<"), ">")
	r = send(t, srv, call{"GET", link, "", ""})
	if got := runIDs(t, r); !slices.Equal(got, []int64{id[1], id[0]}) || r.hdr.Get("X-Next-Cursor") != "" {
		t.Fatalf("page 2 (%s): %v, next %q", link, got, r.hdr.Get("X-Next-Cursor"))
	}
}

// TestContainerFilters filters GET /api/containers by asset, severity,
// status and creation time.
func TestContainerFilters(t *testing.T) {
	h, srv := api(t, server.Options{Token: token})
	ctx := context.Background()
	c := func(sdi, severity string) cef.Container {
		return cef.Container{Name: sdi, Label: "threatconnect", Severity: severity, SourceDataIdentifier: sdi}
	}
	if _, _, err := h.Store.Ingest(ctx, "tc", []cef.Container{c("a", "high"), c("b", "low"), c("c", "high")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Store.Ingest(ctx, "tq", []cef.Container{c("d", "high")}, nil); err != nil {
		t.Fatal(err)
	}
	closed := "closed"
	if _, err := h.Store.UpdateContainer(ctx, 3, store.ContainerUpdate{Status: &closed}); err != nil {
		t.Fatal(err)
	}
	names := func(query string) []string {
		t.Helper()
		r := send(t, srv, call{"GET", "/api/containers?" + query, "", ""})
		var cs []cef.Container
		if err := json.Unmarshal([]byte(r.body), &cs); r.code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %s", query, r.code, r.body)
		}
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	cases := map[string][]string{
		"asset=tc":                      {"a", "b", "c"},
		"severity=high":                 {"a", "c", "d"},
		"asset=tc&severity=high":        {"a", "c"},
		"status=closed":                 {"c"},
		"asset=tc&status=new":           {"a", "b"},
		"since=1h":                      {"a", "b", "c", "d"},
		"until=1h":                      {},
		"since=2999-01-01":              {},
		"asset=tc&severity=low&after=1": {"b"},
	}
	for query, want := range cases {
		if got := names(query); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
}

// TestBadListQueriesAreClearErrors sends unknown, repeated and malformed
// query parameters: each is a 400 that says what the route takes.
func TestBadListQueriesAreClearErrors(t *testing.T) {
	_, srv := api(t, server.Options{Token: token})
	cases := []struct{ path, want string }{
		{"/api/runs?stauts=failed", `unknown query parameter "stauts"; did you mean "status"?; GET /api/runs takes cursor, limit, playbook, since, status, trigger, until`},
		{"/api/runs?page=2", `unknown query parameter "page"; GET /api/runs takes cursor, limit, playbook, since, status, trigger, until`},
		{"/api/runs?status=failed&status=success", "query parameter status is given 2 times; give it once"},
		{"/api/runs?since=yesterday", `query parameter since must be a time such as 2024-03-04T10:00:00Z, a date such as 2024-03-04, or an age such as 24h or 7d, got "yesterday"`},
		{"/api/runs?until=2024-13-40", `query parameter until must be a time such as`},
		{"/api/runs?since=2024-03-05&until=2024-03-01", "query parameter since (2024-03-05T00:00:00Z) must be before until"},
		{"/api/runs?status=broken", `query parameter status "broken" is not a run status; use one of running, success, failed, timeout, interrupted`},
		{"/api/runs?trigger=cron", `query parameter trigger "cron" is not a trigger`},
		{"/api/runs?cursor=abc", "query parameter cursor must be the X-Next-Cursor of a previous page"},
		{"/api/runs?limit=0", "query parameter limit must be from 1 to 1000"},
		{"/api/containers?sevrity=high", `unknown query parameter "sevrity"; did you mean "severity"?; GET /api/containers takes after, asset, limit, severity, since, status, until`},
		{"/api/containers?severity=urgent", `query parameter severity "urgent" is not a severity`},
		{"/api/containers?status=done", `query parameter status "done" is not a container status`},
		{"/api/containers?since=soon", "query parameter since must be a time such as"},
		{"/api/playbooks?name=x", `unknown query parameter "name"; GET /api/playbooks takes no query parameters`},
		{"/api/plugins?all=1", `unknown query parameter "all"; GET /api/plugins takes no query parameters`},
		{"/api/runs/1?steps=0", `unknown query parameter "steps"; GET /api/runs/1 takes no query parameters`},
		{"/api/containers/1?x=1", `unknown query parameter "x"; GET /api/containers/1 takes no query parameters`},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			r := send(t, srv, call{"GET", c.path, "", ""})
			if r.code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.code, r.body)
			}
			if msg := errorOf(t, r); !strings.Contains(msg, c.want) {
				t.Fatalf("error %q does not say %q", msg, c.want)
			}
		})
	}
}

// TestWebhookRejectionsCounted refuses webhooks for each reason and reads
// the counter by reason from /metrics.
func TestWebhookRejectionsCounted(t *testing.T) {
	h, srv := apiWith(t, server.Options{Token: token}, map[string]string{"blocker.yaml": strings.Replace(blockerYAML, "queue: 2", "queue: 0", 1)})
	defer h.Store.KVSet(context.Background(), "blocker", "release", "yes")
	run := "/api/playbooks/lookup/run"
	send(t, srv, call{"POST", run, "", `{"ip": "1.2.3.4"}`})
	send(t, srv, call{"POST", run, "Bearer nope", `{"ip": "1.2.3.4"}`})
	send(t, srv, call{"POST", run, bearer, `{"ip": `})
	send(t, srv, call{"POST", run, bearer, `{"ip": "not-an-ip"}`})
	send(t, srv, call{"POST", run + "?wait=soon", bearer, `{}`})
	if r := send(t, srv, call{"POST", run + "?wiat=true", bearer, `{"ip": "1.2.3.4"}`}); r.code != 400 || !strings.Contains(errorOf(t, r), `unknown query parameter "wiat"; did you mean "wait"?`) {
		t.Fatalf("an unknown webhook parameter: %d %s", r.code, r.body)
	}
	send(t, srv, call{"POST", "/api/playbooks/blocker/run", bearer, `{}`}) // takes the one slot
	if r := send(t, srv, call{"POST", "/api/playbooks/blocker/run", bearer, `{}`}); r.code != http.StatusTooManyRequests {
		t.Fatalf("a webhook past a full queue: %d %s", r.code, r.body)
	}
	body := send(t, srv, call{"GET", "/metrics", "", ""}).body
	for _, want := range []string{
		`goshawk_webhook_rejections_total{reason="auth"} 2`,
		`goshawk_webhook_rejections_total{reason="bad_input"} 4`,
		`goshawk_webhook_rejections_total{reason="queue_full"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
