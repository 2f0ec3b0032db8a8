package server_test

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/server"
	"github.com/goshawk/goshawk/engine/store"
)

// TestRunRecordOverHTTPHasTheLogAndError: GET /api/runs/{id} serves the
// whole run record, the lines the script logged before it failed included.
func TestRunRecordOverHTTPHasTheLogAndError(t *testing.T) {
	_, srv := apiWith(t, server.Options{Token: token}, map[string]string{"noisy.yaml": `trigger: {webhook: true}
inputs:
  ip: {type: string}
lua: |
  log.info("checking", {ip = input.ip, msg = "a field named msg"})
  print("about to fail")
  error("no verdict for " .. input.ip)
`})
	r := send(t, srv, call{"POST", "/api/playbooks/noisy/run?wait=true", bearer, `{"ip": "192.0.2.7"}`})
	var rec store.Run
	if err := json.Unmarshal([]byte(r.body), &rec); err != nil || rec.Status != "failed" {
		t.Fatalf("run: %d %s", r.code, r.body)
	}
	r = send(t, srv, call{"GET", "/api/runs/" + strconv.FormatInt(rec.ID, 10), "", ""})
	var got store.Run
	if err := json.Unmarshal([]byte(r.body), &got); r.code != 200 || err != nil {
		t.Fatalf("GET: %d %s", r.code, r.body)
	}
	if len(got.Log) != 2 || got.Log[0].Message != "checking" || got.Log[0].Level != "INFO" ||
		string(got.Log[0].Fields) != `{"fields":{"ip":"192.0.2.7","msg":"a field named msg"}}` || got.Log[1].Message != "about to fail" {
		t.Errorf("log over HTTP: %s", r.body)
	}
	if !strings.Contains(got.Error, "no verdict for 192.0.2.7") {
		t.Errorf("error %q", got.Error)
	}
}

// TestWebhookWaitAnswersTheOutcome: a webhook with ?wait is answered the
// run record GET /api/runs/{id} serves, with its result, awkward strings
// and numbers, but without its steps and log lines, which stay in the
// record (TestDemoServe checks a run with steps end to end).
func TestWebhookWaitAnswersTheOutcome(t *testing.T) {
	_, srv := apiWith(t, server.Options{Token: token}, map[string]string{"echo.yaml": `trigger: {webhook: true}
inputs:
  ip: {type: string}
  n: {type: number}
lua: |
  log.info("checking <" .. input.ip .. "> & more", {ip = input.ip, tiny = 1e-9, big = 1e21, list = {1, "two", true}})
  print("caf\u{e9} \u{2028} \"quoted\"")
  return {ip = input.ip, n = input.n, nested = {a = {b = "<&>"}}, list = {0.5, -0.0, 3}, note = "caf\u{e9} \u{2028}"}
`})
	r := send(t, srv, call{"POST", "/api/playbooks/echo/run?wait=true", bearer, `{"ip": "192.0.2.7", "n": 12.5}`})
	if r.code != 200 || r.hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("run: %d %v %s", r.code, r.hdr, r.body)
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
	if logs, _ := stored["log"].([]any); len(logs) != 2 {
		t.Fatalf("want the two log lines in the record: %s", g.body)
	}
	if _, ok := stored["steps"]; !ok {
		t.Fatalf("want the steps in the record: %s", g.body)
	}
	delete(stored, "steps")
	delete(stored, "log")
	if !reflect.DeepEqual(waited, stored) {
		t.Fatalf("the webhook's answer is not the record without its steps and log:\n%s\n%s", r.body, g.body)
	}
}
