package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/store"
)

func TestRunTreeShowsStepsParametersLogAndDataOnVerbose(t *testing.T) {
	started := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	finished := started.Add(1500 * time.Millisecond)
	r := &store.Run{
		ID: 7, Playbook: "hunt", Version: "abc", Trigger: "manual", Status: "failed",
		Inputs: map[string]any{"ip": "192.0.2.1"}, Error: "hunt.lua:9: no verdict",
		Started: started, Finished: &finished,
		Steps: []store.Step{
			{
				Asset: "tc", Action: "hunt_ip", Status: "success", Message: "found 1", DurationMS: 12.5, Started: started,
				Params: json.RawMessage(`{"ip":"192.0.2.1"}`),
				Result: &store.StepResult{Status: "success", Message: "found 1", Summary: json.RawMessage(`{"total":1}`), Data: json.RawMessage(`[{"rating":4}]`)},
			},
			{
				Asset: "tq", Action: "search", Status: "failed", Message: "boom", DurationMS: 3, Started: started,
				Params:    json.RawMessage(`{"value":"192.0.2.1"}`),
				Result:    &store.StepResult{Status: "failed", Message: "boom", Summary: json.RawMessage(`{}`), Data: json.RawMessage(`[]`)},
				Truncated: &store.Truncation{Bytes: 70000, Limit: 65536, Omitted: []string{"data[3:]"}},
			},
		},
		Log: []store.LogLine{{Time: started, Level: "WARN", Message: "enrichment failed", Fields: json.RawMessage(`{"fields":{"why":"boom"}}`)}},
	}
	var plain, verbose bytes.Buffer
	printRunTree(&plain, r, false)
	printRunTree(&verbose, r, true)
	for _, want := range []string{
		"run 7  hunt (version abc, manual): failed in 1.5s",
		`inputs: {"ip":"192.0.2.1"}`,
		"├─ 1. tc.hunt_ip  success  12.5 ms",
		`params:  {"ip":"192.0.2.1"}`,
		"message: found 1",
		`summary: {"total":1}`,
		"data:    1 item(s), 14 bytes; -v shows them",
		"└─ 2. tq.search  failed  3.0 ms",
		"cut:     68.4 KiB over the 64.0 KiB cap of a step; left out: data[3:]",
		`15:09:26.000 WARN  enrichment failed  {"fields":{"why":"boom"}}`,
		"error: hunt.lua:9: no verdict",
	} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("tree lacks %q:\n%s", want, plain.String())
		}
	}
	if strings.Contains(plain.String(), `"rating"`) {
		t.Errorf("data shown without -v:\n%s", plain.String())
	}
	if !strings.Contains(verbose.String(), `"rating": 4`) {
		t.Errorf("data not shown with -v:\n%s", verbose.String())
	}
}

// TestRunTreeOfAnOldRecord prints a record stored before steps kept their
// parameters and results: the steps still show, with nothing invented.
func TestRunTreeOfAnOldRecord(t *testing.T) {
	r := &store.Run{ID: 1, Playbook: "p", Status: "success", Result: map[string]any{"ok": true},
		Steps: []store.Step{{Asset: "tc", Action: "hunt_ip", Status: "success", Message: "found 1", DurationMS: 1}}}
	var b bytes.Buffer
	printRunTree(&b, r, true)
	out := b.String()
	if !strings.Contains(out, "└─ 1. tc.hunt_ip  success  1.0 ms") || strings.Contains(out, "params:") || !strings.Contains(out, `result: {"ok":true}`) {
		t.Errorf("tree of an old record:\n%s", out)
	}
}
