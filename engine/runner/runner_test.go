package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers/cef"
)

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecordWrittenAtStartAndEnd(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("record", `
inputs:
  ip: {type: string, contains: [ip], required: true}
assets: [box]
lua: |
  local w = box.wait{}
  local h = box.echo{text = "hello " .. input.ip}
  return {waited = w.message, echoed = h.data[1].text}
`)
	rec, wait, err := e.runner.Start(context.Background(), runner.Request{Playbook: pb, Inputs: map[string]any{"ip": "192.0.2.7"}, Trigger: "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	e.awaitEntered(1)

	// While the script is blocked, the store already has the run.
	got := e.stored(rec.ID)
	if got.Status != runner.StatusRunning || got.Finished != nil {
		t.Fatalf("while running: status %q, finished %v; want running and no finish time", got.Status, got.Finished)
	}
	if got.Playbook != "record" || got.Version != pb.Version || got.Trigger != "webhook" || !got.Started.Equal(fixedNow) {
		t.Fatalf("while running: %+v", got)
	}
	if got.Inputs["ip"] != "192.0.2.7" || len(got.Steps) != 0 || got.Result != nil || got.Error != "" {
		t.Fatalf("while running: inputs %v, steps %v, result %v, error %q", got.Inputs, got.Steps, got.Result, got.Error)
	}

	close(e.gate.release)
	wait()
	got = e.stored(rec.ID)
	if got.Status != runner.StatusSuccess || got.Error != "" {
		t.Fatalf("after the end: status %q, error %q", got.Status, got.Error)
	}
	if got.Finished == nil || !got.Finished.Equal(fixedNow) {
		t.Fatalf("finished %v, want %v", got.Finished, fixedNow)
	}
	if want := `{"echoed":"hello 192.0.2.7","waited":"released"}`; toJSON(t, got.Result) != want {
		t.Fatalf("result %s, want %s", toJSON(t, got.Result), want)
	}
	want := []store.Step{
		{Asset: "box", Action: "wait", Status: "success", Message: "released"},
		{Asset: "box", Action: "echo", Status: "success", Message: "hello 192.0.2.7"},
	}
	if len(got.Steps) != len(want) {
		t.Fatalf("steps %+v, want %+v", got.Steps, want)
	}
	for i, s := range got.Steps {
		if s.DurationMS < 0 {
			t.Errorf("step %d: negative duration %v", i, s.DurationMS)
		}
		if o := outcome(s); o != outcome(want[i]) {
			t.Errorf("step %d: %+v, want %+v", i, o, want[i])
		}
	}
	// The record the caller gets is the record the store keeps.
	if a, b := toJSON(t, rec), toJSON(t, got); a != b {
		t.Fatalf("returned record differs from the stored one:\n%s\n%s", a, b)
	}
}

func TestRunStatuses(t *testing.T) {
	e := newEnv(t)
	script := filepath.Join(e.dir, "fails.lua")
	if err := os.WriteFile(script, []byte("local n = 2\nerror(\"bad verdict \" .. n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, yaml string
		status     string
		result     string // JSON of the result
		errPrefix  string // the error starts with it, after FILE is replaced
		errHas     string
	}{
		{name: "success", yaml: "lua: return {answer = 42, ok = true}\n", status: runner.StatusSuccess, result: `{"answer":42,"ok":true}`},
		{name: "nil result", yaml: "lua: local x = 1\n", status: runner.StatusSuccess, result: `null`},
		{name: "unrecordable result", yaml: "lua: return {ratio = 0/0}\n", status: runner.StatusFailed, result: `null`,
			errHas: "return value cannot be recorded"},
		// Inline Lua: the error names the line of the YAML file.
		{name: "inline error", yaml: "description: fails on line 4\nlua: |\n  local n = 1\n  error(\"bad verdict \" .. n)\n",
			status: runner.StatusFailed, result: `null`, errPrefix: "FILE:4:", errHas: "bad verdict 1"},
		{name: "script error", yaml: "script: fails.lua\n", status: runner.StatusFailed, result: `null`,
			errPrefix: script + ":2:", errHas: "bad verdict 2"},
		{name: "runtime error", yaml: "lua: |\n  local t = nil\n  return t.field\n", status: runner.StatusFailed, result: `null`,
			errPrefix: "FILE:3:", errHas: "nil"},
		{name: "timeout", yaml: "timeout: 200ms\nlua: while true do end\n", status: runner.StatusTimeout, result: `null`,
			errHas: "exceeded its 200ms limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := e.playbook(strings.ReplaceAll(c.name, " ", "_"), c.yaml)
			start := time.Now()
			rec := e.run(pb, nil)
			elapsed := time.Since(start)
			if rec.Status != c.status {
				t.Fatalf("status %q (error %q), want %q", rec.Status, rec.Error, c.status)
			}
			if c.status == runner.StatusTimeout {
				t.Logf("a %s timeout ended the run %s past its deadline", pb.Timeout, elapsed-pb.Timeout)
			}
			if got := toJSON(t, rec.Result); got != c.result {
				t.Errorf("result %s, want %s", got, c.result)
			}
			prefix := strings.ReplaceAll(c.errPrefix, "FILE", pb.File)
			if !strings.HasPrefix(rec.Error, prefix) || !strings.Contains(rec.Error, c.errHas) {
				t.Errorf("error %q, want it to start with %q and contain %q", rec.Error, prefix, c.errHas)
			}
			if c.errHas == "" && rec.Error != "" {
				t.Errorf("error %q, want none", rec.Error)
			}
			got := e.stored(rec.ID)
			if got.Status != c.status || got.Error != rec.Error || got.Finished == nil {
				t.Errorf("stored as %q %q finished %v", got.Status, got.Error, got.Finished)
			}
		})
	}
}

func TestInterruptStopsRunsInFlight(t *testing.T) {
	e := newEnv(t)
	blocked := e.playbook("blocked", "assets: [box]\nlua: |\n  box.wait{}\n  return 1\n")
	spinning := e.playbook("spinning", "lua: while true do end\n")
	ctx := context.Background()
	rec1, wait1, err := e.runner.Start(ctx, runner.Request{Playbook: blocked, Trigger: "manual"})
	if err != nil {
		t.Fatal(err)
	}
	rec2, wait2, err := e.runner.Start(ctx, runner.Request{Playbook: spinning, Trigger: "manual"})
	if err != nil {
		t.Fatal(err)
	}
	e.awaitEntered(1)
	e.runner.Interrupt()
	wait1()
	wait2()
	if err := e.runner.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*store.Run{rec1, rec2} {
		got := e.stored(rec.ID)
		if got.Status != runner.StatusInterrupted || !strings.Contains(got.Error, "interrupted") || got.Finished == nil {
			t.Errorf("run of %s: status %q, error %q, finished %v; want interrupted", got.Playbook, got.Status, got.Error, got.Finished)
		}
	}
}

func TestSandboxThroughTheRunner(t *testing.T) {
	e := newEnv(t)
	next := e.playbook("next", "lua: return 'still up'\n")
	cases := []struct{ name, src, want string }{
		{"io.open", `return io.open("/etc/passwd")`, "io is not available"},
		{"os.execute", `return os.execute("id")`, "os.execute is not available"},
		{"require os", `return require "os"`, "require is not available"},
		{"dofile", `return dofile("x.lua")`, "dofile is not available"},
		{"loadfile", `return loadfile("x.lua")`, "loadfile is not available"},
		{"getfenv", `return getfenv(0)`, "getfenv is not available"},
		{"string.rep", `return string.rep("x", 2^33)`, "string.rep"},
		{"recursion 1e6", `local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end return f(1e6)`, "stack overflow"},
		// Lint refuses the plain names; this is how a script would try to
		// get past it.
		{"io through _G", `local lib = _G["i" .. "o"] return lib.open("/etc/passwd")`, "io is not available"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pb := unlinted(strings.ReplaceAll(c.name, " ", "_"), c.src)
			rec := e.run(pb, nil)
			if rec.Status != runner.StatusFailed {
				t.Fatalf("status %q, result %v; want failed", rec.Status, rec.Result)
			}
			if !strings.HasPrefix(rec.Error, pb.SourceName+":1:") || !strings.Contains(rec.Error, c.want) {
				t.Fatalf("error %q, want it to start with %s:1: and name %q", rec.Error, pb.SourceName, c.want)
			}
			if after := e.run(next, nil); after.Status != runner.StatusSuccess || after.Result != "still up" {
				t.Fatalf("the run after it: %s %v %s", after.Status, after.Result, after.Error)
			}
		})
	}
}

func TestGlobalsDoNotLeakBetweenRuns(t *testing.T) {
	e := newEnv(t) // one pooled Lua state, so both runs use the same one
	pb := e.playbook("leaky", `
inputs:
  mark: {type: string, required: true}
lua: |
  local before = {global = leaked, lib = string.leaked, print = tostring(print == nil)}
  leaked = input.mark
  string.leaked = input.mark
  print = nil
  return before
`)
	for _, mark := range []string{"first", "second"} {
		rec := e.run(pb, map[string]any{"mark": mark})
		if rec.Status != runner.StatusSuccess {
			t.Fatalf("run %s: %s %s", mark, rec.Status, rec.Error)
		}
		if got := toJSON(t, rec.Result); got != `{"print":"false"}` {
			t.Fatalf("run %s saw an earlier run's globals: %s", mark, got)
		}
	}
}

func TestBadInputsAreRefusedBeforeTheScript(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("checked", `
inputs:
  ip: {type: string, contains: [ip], required: true}
  score: {type: number}
assets: [box]
lua: |
  box.echo{text = "the script ran"}
  return input.ip
`)
	cases := []struct {
		name   string
		inputs map[string]any
		want   []string
	}{
		{"missing required", map[string]any{"score": 3}, []string{`"ip"`, "required"}},
		{"ip of nope", map[string]any{"ip": "nope"}, []string{"ip", `"nope" is not a valid ip`}},
		{"number of abc", map[string]any{"ip": "192.0.2.1", "score": "abc"}, []string{`"score"`, "abc"}},
		{"unknown input", map[string]any{"ip": "192.0.2.1", "scor": 1}, []string{`"scor"`, `did you mean "score"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, err := e.runner.Run(context.Background(), runner.Request{Playbook: pb, Inputs: c.inputs, Trigger: "manual"})
			if !errors.Is(err, runner.ErrBadInput) {
				t.Fatalf("error %v, record %+v; want ErrBadInput", err, rec)
			}
			if rec != nil {
				t.Fatalf("a refused run returned a record: %+v", rec)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	runs, err := e.store.ListRuns(context.Background(), store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 0 {
		t.Fatalf("refused runs were recorded: %+v", runs)
	}
	if rec := e.run(pb, map[string]any{"ip": "192.0.2.1", "score": "2.5"}); rec.Status != runner.StatusSuccess {
		t.Fatalf("good inputs: %s %s", rec.Status, rec.Error)
	}
}

// busy waits until the runner reports the given counts for the playbook.
func (e *env) busy(name string, running, waiting int) {
	e.t.Helper()
	for {
		r, w := e.runner.Busy(name)
		if r == running && w == waiting {
			return
		}
		if r > running {
			e.t.Fatalf("%d runs of %s running, want at most %d", r, name, running)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrencyAndQueue(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("narrow", "concurrency: 2\nqueue: 1\nassets: [box]\nlua: |\n  box.wait{}\n  return 1\n")
	ctx := context.Background()
	req := runner.Request{Playbook: pb, Trigger: "manual"}

	var waits []func()
	for i := 0; i < 2; i++ {
		_, wait, err := e.runner.Start(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, wait)
	}
	e.awaitEntered(2)

	// The third run waits for a slot: Start does not return yet.
	third := make(chan error, 1)
	go func() {
		_, wait, err := e.runner.Start(ctx, req)
		if err == nil {
			wait()
		}
		third <- err
	}()
	e.busy("narrow", 2, 1)

	// The queue holds one: a fourth is refused at once and not recorded.
	if _, _, err := e.runner.Start(ctx, req); !errors.Is(err, runner.ErrQueueFull) {
		t.Fatalf("fourth run: %v, want ErrQueueFull", err)
	} else if !strings.Contains(err.Error(), "raise concurrency or queue") {
		t.Fatalf("the error does not say what to do: %v", err)
	}
	if got := e.gate.peak.Load(); got != 2 {
		t.Fatalf("%d scripts ran at once, want 2", got)
	}

	close(e.gate.release)
	for _, w := range waits {
		w()
	}
	if err := <-third; err != nil {
		t.Fatalf("third run: %v", err)
	}
	if got := e.gate.peak.Load(); got != 2 {
		t.Fatalf("%d scripts ran at once, want at most 2", got)
	}
	runs, _ := e.store.ListRuns(ctx, store.RunQuery{Playbook: "narrow"})
	if len(runs) != 3 {
		t.Fatalf("%d runs recorded, want 3", len(runs))
	}
	for _, r := range runs {
		if r.Status != runner.StatusSuccess {
			t.Fatalf("run %d: %s %s", r.ID, r.Status, r.Error)
		}
	}
}

func TestNeverMoreThanConcurrency(t *testing.T) {
	e := newEnvPool(t, 4)
	const concurrency, runs = 3, 12
	pb := e.playbook("wide", fmt.Sprintf("concurrency: %d\nassets: [box]\nlua: |\n  box.wait{}\n  return 1\n", concurrency))
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := 0; i < runs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := e.runner.Run(context.Background(), runner.Request{Playbook: pb, Trigger: "manual"})
			if err == nil && rec.Status != runner.StatusSuccess {
				err = fmt.Errorf("run %d: %s %s", rec.ID, rec.Status, rec.Error)
			}
			errs <- err
		}()
	}
	e.awaitEntered(concurrency)
	e.busy("wide", concurrency, runs-concurrency)
	close(e.gate.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := e.gate.peak.Load(); got != concurrency {
		t.Fatalf("%d scripts ran at once, want %d", got, concurrency)
	}
}

func TestStepsAndSecretsAreRedacted(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("secrets", `
inputs:
  note: {type: string, required: true}
assets: [box]
lua: |
  local ok = box.echo{text = "token " .. input.note}
  local no = box.refuse{text = input.note}
  log.info("calling with " .. input.note)
  return {echoed = ok.message, refused = no.message, status = no.status, nested = {input.note}}
`)
	rec := e.run(pb, map[string]any{"note": testSecret})
	if rec.Status != runner.StatusSuccess {
		t.Fatalf("%s %s", rec.Status, rec.Error)
	}
	want := []store.Step{
		{Asset: "box", Action: "echo", Status: "success", Message: "token " + logx.Redacted},
		{Asset: "box", Action: "refuse", Status: "failed", Message: "box refused " + logx.Redacted},
	}
	got := e.stored(rec.ID)
	if len(got.Steps) != len(want) {
		t.Fatalf("steps %+v, want %+v", got.Steps, want)
	}
	for i := range want {
		if o := outcome(got.Steps[i]); o != outcome(want[i]) {
			t.Errorf("step %d: %+v, want %+v", i, o, want[i])
		}
	}
	wantResult := fmt.Sprintf(`{"echoed":"token %[1]s","nested":["%[1]s"],"refused":"box refused %[1]s","status":"failed"}`, logx.Redacted)
	if r := toJSON(t, got.Result); r != wantResult {
		t.Errorf("result %s, want %s", r, wantResult)
	}
	if got.Inputs["note"] != logx.Redacted {
		t.Errorf("inputs %v, want the note redacted", got.Inputs)
	}

	failing := e.playbook("secret_error", `
inputs:
  note: {type: string, required: true}
assets: [box]
lua: |
  local params = {text = input.note}
  params["tx" .. "et"] = 1 -- a misspelt name that lint cannot see
  box.echo(params)
`)
	bad := e.run(failing, map[string]any{"note": testSecret})
	if bad.Status != runner.StatusFailed || !strings.Contains(bad.Error, `unknown parameter "txet"`) {
		t.Fatalf("a malformed action call: %s %q", bad.Status, bad.Error)
	}
	if len(bad.Steps) != 1 || bad.Steps[0].Status != "failed" || bad.Steps[0].Action != "echo" {
		t.Fatalf("the malformed call is not a failed step: %+v", bad.Steps)
	}
	raising := e.playbook("secret_raise", `
inputs:
  note: {type: string, required: true}
lua: |
  error("cannot use " .. input.note)
`)
	raised := e.run(raising, map[string]any{"note": testSecret})
	if raised.Status != runner.StatusFailed || !strings.Contains(raised.Error, "cannot use "+logx.Redacted) {
		t.Fatalf("error %q, want the secret redacted", raised.Error)
	}
	for _, r := range []*store.Run{rec, bad, raised} {
		for _, v := range []any{r, e.stored(r.ID)} {
			if s := toJSON(t, v); strings.Contains(s, testSecret) {
				t.Fatalf("the secret leaked into the run record: %s", s)
			}
		}
	}
}

func TestOnPollContainer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	batch := []cef.Container{{
		Asset: "box", Name: "Address 192.0.2.9", Label: "events", Severity: "medium", Status: "new",
		SourceDataIdentifier: "box-1",
		Artifacts: []cef.Artifact{{
			Name: "Address Artifact", Label: "event", Type: "network", SourceDataIdentifier: "box-1",
			CEF: map[string]any{"deviceAddress": "192.0.2.9"}, CEFTypes: map[string][]string{"deviceAddress": {"ip"}},
		}},
	}}
	if _, _, err := e.store.Ingest(ctx, "box", batch, nil); err != nil {
		t.Fatal(err)
	}
	c := batch[0]
	if c.ID == 0 {
		t.Fatal("the ingested container has no id")
	}
	pb := e.playbook("triage", `
trigger: {on_poll: box}
lua: |
  local a = container.artifacts[1]
  return {id = container.id, name = container.name, address = a.cef.deviceAddress, types = a.cef_types.deviceAddress}
`)
	req := runner.Request{Playbook: pb, Trigger: "on_poll", Container: &c}
	rec, wait, err := e.runner.Start(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	wait()
	if rec.Status != runner.StatusSuccess || rec.ContainerID != c.ID {
		t.Fatalf("%s %s (container %d)", rec.Status, rec.Error, rec.ContainerID)
	}
	want := fmt.Sprintf(`{"address":"192.0.2.9","id":%d,"name":"Address 192.0.2.9","types":["ip"]}`, c.ID)
	if got := toJSON(t, rec.Result); got != want {
		t.Fatalf("result %s, want %s", got, want)
	}

	// The same container never starts the playbook twice.
	if _, _, err := e.runner.Start(ctx, req); !errors.Is(err, runner.ErrDuplicate) {
		t.Fatalf("second start: %v, want ErrDuplicate", err)
	}
	runs, _ := e.store.ListRuns(ctx, store.RunQuery{Playbook: "triage"})
	if len(runs) != 1 {
		t.Fatalf("%d runs recorded, want 1", len(runs))
	}
	// The slot of the refused run was given back.
	if running, waiting := e.runner.Busy("triage"); running != 0 || waiting != 0 {
		t.Fatalf("busy %d/%d after the refusal", running, waiting)
	}
}

func TestGivingUpWhileQueued(t *testing.T) {
	e := newEnv(t)
	pb := e.playbook("single", "concurrency: 1\nassets: [box]\nlua: |\n  box.wait{}\n  return 1\n")
	req := runner.Request{Playbook: pb, Trigger: "manual"}
	_, wait, err := e.runner.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	e.awaitEntered(1)

	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, _, err := e.runner.Start(ctx, req)
		queued <- err
	}()
	e.busy("single", 1, 1)
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "waiting for a run slot") {
		t.Fatalf("queued start: %v, want it to give up with context.Canceled", err)
	}
	e.busy("single", 1, 0)

	close(e.gate.release)
	wait()
	e.busy("single", 0, 0)
	runs, _ := e.store.ListRuns(context.Background(), store.RunQuery{Playbook: "single"})
	if len(runs) != 1 {
		t.Fatalf("%d runs recorded, want 1", len(runs))
	}
}

func TestUndeclaredAssetSaysHowToFix(t *testing.T) {
	e := newEnv(t)
	// Lint refuses box.echo{} outright; this is the dynamic access only
	// the runtime can catch.
	pb := e.playbook("forgot_assets", "lua: |\n  return _G[\"b\" .. \"ox\"].echo{}\n")
	rec, err := e.runner.Run(context.Background(), runner.Request{Playbook: pb, Trigger: "manual"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != runner.StatusFailed || !strings.Contains(rec.Error, "box") || !strings.Contains(rec.Error, "assets:") {
		t.Fatalf("status %s, error %q", rec.Status, rec.Error)
	}
}

// A secret with characters JSON escapes must still be found in a result.
func TestRedactsSecretsJSONWouldEscape(t *testing.T) {
	e := newEnv(t)
	const odd = `p<ss"w&rd\x`
	e.redact.Add(odd)
	pb := e.playbook("escaped", "inputs:\n  note: {type: string}\nlua: |\n  return {echo = input.note, list = {input.note}}\n")
	rec, err := e.runner.Run(context.Background(), runner.Request{Playbook: pb, Inputs: map[string]any{"note": "x " + odd}, Trigger: "manual"})
	if err != nil {
		t.Fatal(err)
	}
	res := rec.Result.(map[string]any)
	want := "x " + logx.Redacted
	if res["echo"] != want || res["list"].([]any)[0] != want || rec.Inputs["note"] != want {
		t.Fatalf("secret not redacted: result %v, inputs %v", res, rec.Inputs)
	}
}
