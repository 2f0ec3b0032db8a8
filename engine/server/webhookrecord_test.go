package server_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/goshawk/goshawk/engine/server"
)

// TestWebhookWaitAnswerIsTheRecord: the run record a webhook with ?wait
// answers (written by the server's own encoder) is the record GET
// /api/runs/{id} serves from the store (written by encoding/json), with
// its log, fields, result and awkward strings, and it comes with its
// Content-Length.
func TestWebhookWaitAnswerIsTheRecord(t *testing.T) {
	_, srv := apiWith(t, server.Options{Token: token}, map[string]string{"echo.yaml": `trigger: {webhook: true}
inputs:
  ip: {type: string}
  n: {type: number}
lua: |
  log.info("checking <" .. input.ip .. "> & more", {ip = input.ip, tiny = 1e-9, big = 1e21, list = {1, "two", true}})
  print("caf\u{e9} \u{2028} \"quoted\"")
  return {ip = input.ip, n = input.n, nested = {a = {b = "<&>"}}, list = {0.5, -0.0, 3}}
`})
	r := send(t, srv, call{"POST", "/api/playbooks/echo/run?wait=true", bearer, `{"ip": "192.0.2.7", "n": 12.5}`})
	if r.code != 200 {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	if cl := r.hdr.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
		t.Fatalf("Content-Length %q for a body of %d bytes", cl, len(r.body))
	}
	var waited map[string]any
	if err := json.Unmarshal([]byte(r.body), &waited); err != nil || waited["status"] != "success" {
		t.Fatalf("run: %v %s", err, r.body)
	}
	id := int64(waited["id"].(float64))
	g := send(t, srv, call{"GET", "/api/runs/" + strconv.FormatInt(id, 10), "", ""})
	var stored map[string]any
	if err := json.Unmarshal([]byte(g.body), &stored); g.code != 200 || err != nil {
		t.Fatalf("GET: %d %s", g.code, g.body)
	}
	if !reflect.DeepEqual(waited, stored) {
		t.Fatalf("the webhook's answer differs from the stored record:\n%s\n%s", r.body, g.body)
	}
	if logs, _ := waited["log"].([]any); len(logs) != 2 {
		t.Fatalf("want the two log lines in the answer: %s", r.body)
	}
}
