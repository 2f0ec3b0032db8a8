package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/server"
	"github.com/goshawk/goshawk/engine/store"
)

// blockerYAML runs until the kv flag "release" is set; one at a time, with
// room for two more in the queue.
const blockerYAML = `trigger: {webhook: true}
concurrency: 1
queue: 2
lua: |
  while kv.get("release") ~= "yes" do end
  return {done = true}
`

type accepted struct {
	ID       int64  `json:"id"`
	Playbook string `json:"playbook"`
	Status   string `json:"status"`
}

// TestWebhookWithoutWaitAnswersAtOnce fills a playbook's one slot: further
// webhooks without ?wait are answered 202 with their run's id at once,
// while their runs wait for the slot, until the queue is full (429). Once
// the slot frees, every accepted run finishes. Without the fix the second
// request waits for the slot and this test hangs.
func TestWebhookWithoutWaitAnswersAtOnce(t *testing.T) {
	h, srv := apiWith(t, server.Options{Token: token}, map[string]string{"blocker.yaml": blockerYAML})
	var ids []int64
	for i := range 3 {
		r := send(t, srv, call{"POST", "/api/playbooks/blocker/run", bearer, `{}`})
		var a accepted
		if err := json.Unmarshal([]byte(r.body), &a); r.code != http.StatusAccepted || err != nil || a.ID == 0 || a.Playbook != "blocker" {
			t.Fatalf("webhook %d without wait: %d %s", i+1, r.code, r.body)
		}
		ids = append(ids, a.ID)
	}
	if running, waiting := h.Runner.Busy("blocker"); running != 1 || waiting != 2 {
		t.Fatalf("%d running and %d waiting, want 1 and 2", running, waiting)
	}
	r := send(t, srv, call{"POST", "/api/playbooks/blocker/run", bearer, `{}`})
	if r.code != http.StatusTooManyRequests || r.hdr.Get("Retry-After") == "" || !strings.Contains(errorOf(t, r), "queue full") {
		t.Fatalf("a webhook past the queue: %d %s", r.code, r.body)
	}
	// The queued runs are recorded and can be looked up by their id.
	for _, id := range ids {
		r := send(t, srv, call{"GET", "/api/runs/" + strconv.FormatInt(id, 10), "", ""})
		if r.code != http.StatusOK {
			t.Fatalf("GET the accepted run %d: %d %s", id, r.code, r.body)
		}
	}

	if err := h.Store.KVSet(context.Background(), "blocker", "release", "yes"); err != nil {
		t.Fatal(err)
	}
	if err := h.Runner.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		run, err := h.Store.GetRun(context.Background(), id)
		if err != nil || run.Status != store.RunSuccess {
			t.Fatalf("accepted run %d: %+v, %v", id, run, err)
		}
	}
}

// TestWrongMethodIs405WithAllow sends methods a route does not have: 405
// with Allow and a JSON error; a path no route has stays a 404.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	_, srv := api(t, server.Options{Token: token})
	cases := []struct {
		method, path, allow string
	}{
		{"GET", "/api/playbooks/lookup/run", "POST"},
		{"DELETE", "/api/playbooks/lookup/run", "POST"},
		{"POST", "/api/runs", "GET, HEAD"},
		{"PUT", "/api/containers/1", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := send(t, srv, call{c.method, c.path, bearer, ""})
			if r.code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d, want 405: %s", r.code, r.body)
			}
			if got := r.hdr.Get("Allow"); got != c.allow {
				t.Fatalf("Allow %q, want %q", got, c.allow)
			}
			if msg := errorOf(t, r); !strings.Contains(msg, "method "+c.method+" is not allowed") || !strings.Contains(msg, c.allow) {
				t.Fatalf("error %q", msg)
			}
		})
	}
	if r := send(t, srv, call{"DELETE", "/api/nothing", bearer, ""}); r.code != http.StatusNotFound || !strings.Contains(errorOf(t, r), "no route") {
		t.Fatalf("an unknown path: %d %s", r.code, r.body)
	}
}
