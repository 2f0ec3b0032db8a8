package runner_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
)

// TestFailedRunRecordShowsTheFailingStepsParametersAndTheLogBefore is the
// debugging case of issue 10: from the stored record alone, a failed run
// tells which call failed, with the exact parameters it was given, and
// what the script logged up to then.
func TestFailedRunRecordShowsTheFailingStepsParametersAndTheLogBefore(t *testing.T) {
	e := newEnv(t)
	rec := e.run(e.playbook("post", `assets: [box]
lua: |
  log.info("hunting", {ip = "192.0.2.7"})
  local ok = box.echo{text = "192.0.2.7"}
  print("echoed", ok.message)
  local no = box.refuse{text = "rating=5 confidence=" .. 80}
  if no.status ~= "success" then
    log.error("post refused", {why = no.message})
    error("post failed: " .. no.message)
  end
  return 1
`), nil)
	if rec.Status != runner.StatusFailed {
		t.Fatalf("%s: %s", rec.Status, rec.Error)
	}
	got := e.stored(rec.ID)
	if len(got.Steps) != 2 {
		t.Fatalf("steps %+v", got.Steps)
	}
	failing := got.Steps[1]
	if failing.Action != "refuse" || failing.Status != "failed" || string(failing.Params) != `{"text":"rating=5 confidence=80"}` {
		t.Errorf("failing step %s.%s %s params %s", failing.Asset, failing.Action, failing.Status, failing.Params)
	}
	if r := failing.Result; r == nil || r.Status != "failed" || r.Message != "box refused rating=5 confidence=80" || string(r.Summary) != "{}" || string(r.Data) != "[]" {
		t.Errorf("failing step result %+v", failing.Result)
	}
	if failing.Started.IsZero() || failing.Truncated != nil {
		t.Errorf("failing step started %v, truncated %+v", failing.Started, failing.Truncated)
	}
	first := got.Steps[0]
	if string(first.Params) != `{"text":"192.0.2.7"}` || first.Result == nil || string(first.Result.Data) != `[{"text":"192.0.2.7"}]` {
		t.Errorf("first step params %s result %+v", first.Params, first.Result)
	}
	var msgs []string
	for _, l := range got.Log {
		msgs = append(msgs, l.Level+" "+l.Message)
	}
	want := "INFO hunting|INFO echoed\t192.0.2.7|ERROR post refused"
	if strings.Join(msgs, "|") != want {
		t.Errorf("log %q, want %q", strings.Join(msgs, "|"), want)
	}
	if !strings.Contains(got.Error, "post failed: box refused rating=5 confidence=80") {
		t.Errorf("error %q", got.Error)
	}
}

// TestMalformedCallIsRecordedWithItsParameters: a call the action refuses
// before running (an unknown parameter) raises in the script; its step
// keeps the parameters and has no result.
func TestMalformedCallIsRecordedWithItsParameters(t *testing.T) {
	e := newEnv(t)
	// The key is built at run time, so lint cannot refuse it first.
	rec := e.run(e.playbook("typo", `assets: [box]
lua: |
  local p = {text = "a"}
  p["col" .. "our"] = "red"
  return box.echo(p)
`), nil)
	if rec.Status != runner.StatusFailed {
		t.Fatalf("%s: %s", rec.Status, rec.Error)
	}
	got := e.stored(rec.ID)
	if len(got.Steps) != 1 {
		t.Fatalf("steps %+v", got.Steps)
	}
	s := got.Steps[0]
	if s.Status != "failed" || string(s.Params) != `{"colour":"red","text":"a"}` || s.Result != nil || !strings.Contains(s.Message, "colour") {
		t.Errorf("step %+v (params %s)", s, s.Params)
	}
}

// TestStepOverTheCapIsMarkedTruncated: a step whose result exceeds the
// per-step cap keeps what fits, says what it left out, and is never cut
// silently.
func TestStepOverTheCapIsMarkedTruncated(t *testing.T) {
	e := newEnvWith(t, 1, func(o *runner.Options) { o.StepBytes = 8 << 10 })
	rec := e.run(e.playbook("big", `assets: [box]
lua: |
  local small = box.echo{text = string.rep("s", 100)}
  local big = box.echo{text = string.rep("b", 3000)}
  return #big.data[1].text
`), nil)
	if rec.Status != runner.StatusSuccess {
		t.Fatalf("%s: %s", rec.Status, rec.Error)
	}
	if r, _ := rec.Result.(int64); r != 3000 {
		t.Errorf("the script saw %v bytes: the cap must not change what the script gets", rec.Result)
	}
	got := e.stored(rec.ID)
	small, big := got.Steps[0], got.Steps[1]
	if small.Truncated != nil || small.Result == nil || !strings.Contains(string(small.Result.Data), strings.Repeat("s", 100)) {
		t.Errorf("a step within the cap was cut: %+v", small)
	}
	tr := big.Truncated
	if tr == nil {
		t.Fatalf("step over the cap not marked: params %d bytes, data %d bytes", len(big.Params), len(big.Result.Data))
	}
	if tr.Limit != 8<<10 || tr.Bytes <= tr.Limit || strings.Join(tr.Omitted, ",") != "data[0:]" {
		t.Errorf("truncation %+v", tr)
	}
	if string(big.Result.Data) != "[]" || !strings.Contains(string(big.Params), strings.Repeat("b", 3000)) {
		t.Errorf("over the cap: params %d bytes, data %s", len(big.Params), big.Result.Data)
	}
	if kept := len(big.Message) + len(big.Params) + len(big.Result.Summary) + len(big.Result.Data); kept > 8<<10 {
		t.Errorf("the step keeps %d bytes over its 8 KiB cap", kept)
	}
	if raw, _ := json.Marshal(big); !strings.Contains(string(raw), `"truncated":{"bytes":`) {
		t.Errorf("step JSON without its truncation note: %.300s", raw)
	}
}

// TestStepRecordsAreRedacted puts a secret in an action's parameters, its
// message and its data: none reaches the record.
func TestStepRecordsAreRedacted(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("leak", `assets: [box]
inputs:
  s: {type: string}
lua: |
  box.echo{text = "a " .. input.s .. " <&> \"q\""}
  return 1
`)
	got := e.stored(e.run(pb, map[string]any{"s": testSecret}).ID)
	raw, _ := json.Marshal(got)
	if strings.Contains(string(raw), testSecret) {
		t.Fatalf("secret in the record: %s", raw)
	}
	s := got.Steps[0]
	want := `{"text":"a ` + logx.Redacted + ` <&> \"q\""}`
	if string(s.Params) != want {
		t.Errorf("params %s, want %s", s.Params, want)
	}
}

// TestRunResultIsRedactedWhenTheSecretSitsInAnEscapedString: a result
// string that JSON escapes (a quote, a newline) is checked on its own, so
// a secret inside it is redacted like any other.
func TestRunResultIsRedactedWhenTheSecretSitsInAnEscapedString(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("quoted", `inputs:
  s: {type: string}
lua: |
  return {q = "\"" .. input.s .. "\"\n", plain = "ok", list = {"x\t" .. input.s}}
`)
	rec := e.run(pb, map[string]any{"s": testSecret})
	for _, r := range []*store.Run{rec, ptrTo(e.stored(rec.ID))} {
		raw, _ := json.Marshal(r.Result)
		if strings.Contains(string(raw), testSecret) || !strings.Contains(string(raw), logx.Redacted) || !strings.Contains(string(raw), `"plain":"ok"`) {
			t.Errorf("result %s", raw)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
