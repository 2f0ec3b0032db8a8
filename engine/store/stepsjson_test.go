package store

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// marshalSteps is what encodeSteps must match: encoding/json without HTML
// escaping.
func marshalSteps(t testing.TB, steps []Step) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(steps); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestEncodeStepsMatchesEncodingJSON(t *testing.T) {
	steps := []Step{
		{Asset: "tc", Action: "hunt_ip", Status: "success", Message: "found 1", DurationMS: 12.5},
		{Asset: "tq", Action: "search", Status: "failed", Message: "a \"quoted\" <b>&</b>\n\t\x01 \u2028 caf\xe9", DurationMS: 1e-7,
			Started: time.Date(2026, 3, 14, 15, 9, 26, 123456789, time.UTC),
			Params:  json.RawMessage(`{"ip":"192.0.2.1","n":[1,2]}`),
			Result:  &StepResult{Status: "failed", Message: "m", Summary: json.RawMessage(`{}`), Data: json.RawMessage(`[{"a":"<x>"}]`)}},
		{Asset: "tc", Action: "big", Status: "success", DurationMS: 3e21,
			Params:    json.RawMessage(`{}`),
			Result:    &StepResult{Status: "success"},
			Truncated: &Truncation{Bytes: 70000, Limit: 65536, Omitted: []string{"summary", "data[3:]"}}},
		{Asset: "tc", Action: "x", Truncated: &Truncation{}},
	}
	if got, want := encodeSteps(steps).(string), marshalSteps(t, steps); got != want {
		t.Fatalf("encodeSteps:\n%s\nencoding/json:\n%s", got, want)
	}
	if encodeSteps(nil) != nil {
		t.Error("no steps are not NULL")
	}
}

func FuzzEncodeSteps(f *testing.F) {
	f.Add("tc", "hunt", "ok \"x\"", 1.5, `{"ip":"1.2.3.4"}`, `[{"k":1}]`)
	f.Add("a\x00", "\xff", "\u2029", 1e-9, `{}`, `[]`)
	f.Fuzz(func(t *testing.T, asset, action, msg string, ms float64, params, data string) {
		if !json.Valid([]byte(params)) || !json.Valid([]byte(data)) {
			return
		}
		var pc, dc bytes.Buffer
		json.Compact(&pc, []byte(params))
		json.Compact(&dc, []byte(data))
		st := []Step{{Asset: asset, Action: action, Status: "success", Message: msg, DurationMS: ms,
			Params: pc.Bytes(), Result: &StepResult{Status: "success", Message: msg, Summary: json.RawMessage(`{}`), Data: dc.Bytes()}}}
		if _, err := json.Marshal(ms); err != nil {
			return // no JSON form: never a duration
		}
		got := encodeSteps(st).(string)
		if want := marshalSteps(t, st); got != want {
			t.Fatalf("encodeSteps:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

// TestEncodeStepsRefusedByEncodingJSON covers the steps encoding/json
// cannot encode: a duration that is not finite is stored as 0 and a start
// outside years 0 to 9999 is left out, so the record still reads back.
func TestEncodeStepsRefusedByEncodingJSON(t *testing.T) {
	started := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	steps := []Step{
		{Asset: "tc", Action: "nan", Status: "success", DurationMS: math.NaN(), Started: started},
		{Asset: "tc", Action: "late", Status: "success", DurationMS: 2, Started: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{Asset: "tc", Action: "ok", Status: "success", DurationMS: 3},
	}
	want := []Step{
		{Asset: "tc", Action: "nan", Status: "success", DurationMS: 0, Started: started},
		{Asset: "tc", Action: "late", Status: "success", DurationMS: 2},
		{Asset: "tc", Action: "ok", Status: "success", DurationMS: 3},
	}
	if got, w := encodeSteps(steps).(string), marshalSteps(t, want); got != w {
		t.Fatalf("encodeSteps:\n%s\nwant:\n%s", got, w)
	}
	for i := range steps[:2] {
		if _, ok := appendStepJSON(nil, &steps[i]); ok {
			t.Errorf("appendStepJSON(%s) ok, but encoding/json refuses the step", steps[i].Action)
		}
	}
}
