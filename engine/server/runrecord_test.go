package server_test

import (
	"encoding/json"
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
