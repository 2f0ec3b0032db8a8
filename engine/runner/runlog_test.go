package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
)

// syncBuffer is a bytes.Buffer that several goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSuffix(s.b.String(), "\n"), "\n")
}

// logEnv is a test env whose process log is JSON in buf, at debug level.
func logEnv(t *testing.T, opt func(*runner.Options)) (*env, *syncBuffer) {
	buf := &syncBuffer{}
	e := newEnvWith(t, 1, func(o *runner.Options) {
		o.Log = logx.New(buf, "json", slog.LevelDebug, o.Redact)
		if opt != nil {
			opt(o)
		}
	})
	return e, buf
}

// scriptLines returns the process log lines that came from the run's
// script (everything but the runner's own "run finished").
func scriptLines(t *testing.T, lines []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["msg"] != "run finished" {
			out = append(out, m)
		}
	}
	return out
}

func TestRunLogCapDropsLinesPastTheLimitAndSaysHowMany(t *testing.T) {
	for _, c := range []struct {
		name, loop string
	}{
		{"print", `for i = 1, 5000 do print("line", i) end`},
		{"log.info", `for i = 1, 5000 do log.info("line " .. i, {i = i}) end`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, buf := logEnv(t, func(o *runner.Options) { o.LogLines = 10 })
			rec := e.run(e.playbook("loud", "lua: |\n  "+c.loop+"\n  return 1\n"), nil)
			if rec.Status != runner.StatusSuccess {
				t.Fatalf("%s: %s", rec.Status, rec.Error)
			}
			got := e.stored(rec.ID)
			if len(got.Log) != 11 {
				t.Fatalf("record keeps %d log lines, want 10 and the marker", len(got.Log))
			}
			if !strings.HasPrefix(got.Log[0].Message, "line") || !strings.Contains(got.Log[9].Message, "10") {
				t.Errorf("first lines kept: %q ... %q", got.Log[0].Message, got.Log[9].Message)
			}
			marker := got.Log[10]
			if marker.Level != "WARN" || !strings.Contains(marker.Message, "log limit reached: 4990 more lines") ||
				!strings.Contains(marker.Message, "a run keeps 10 lines") {
				t.Errorf("marker line %+v", marker)
			}
			if !strings.Contains(string(marker.Fields), `"dropped_lines":4990`) {
				t.Errorf("marker fields %s", marker.Fields)
			}
			// The process log got the same lines: the cap bounds what a
			// run writes, not only what it keeps.
			lines := scriptLines(t, buf.lines())
			if len(lines) != 11 {
				t.Fatalf("process log has %d lines of the run, want 11", len(lines))
			}
			if m := lines[10]; !strings.Contains(m["msg"].(string), "4990 more lines") || m["run"] != float64(rec.ID) {
				t.Errorf("process log marker %v", m)
			}
		})
	}
}

func TestRunLogCapCountsBytes(t *testing.T) {
	e, buf := logEnv(t, func(o *runner.Options) { o.LogBytes = 10 << 10 })
	rec := e.run(e.playbook("wide", "lua: |\n  for i = 1, 100 do print(string.rep(\"x\", 1000)) end\n  return 1\n"), nil)
	got := e.stored(rec.ID)
	if len(got.Log) != 11 {
		t.Fatalf("record keeps %d lines of 1000 bytes under a 10 KiB cap, want 10 and the marker", len(got.Log))
	}
	if m := got.Log[10].Message; !strings.Contains(m, "90 more lines (90000 bytes of messages)") {
		t.Errorf("marker %q", m)
	}
	if n := len(scriptLines(t, buf.lines())); n != 11 {
		t.Errorf("process log has %d lines of the run, want 11", n)
	}
}

func TestRunLogLineMessageIsCut(t *testing.T) {
	e, _ := logEnv(t, nil)
	// 1 MiB: over the run's whole byte budget, yet kept, cut to one line's
	// limit.
	rec := e.run(e.playbook("long", "lua: |\n  print(string.rep(\"y\", 1024 * 1024))\n  return 1\n"), nil)
	got := e.stored(rec.ID)
	if len(got.Log) != 1 {
		t.Fatalf("%d lines", len(got.Log))
	}
	if m := got.Log[0].Message; len(m) > 16<<10 || !strings.HasSuffix(m, "more bytes]") {
		t.Errorf("a 1 MiB line is kept as %d bytes ending %q", len(m), m[max(0, len(m)-40):])
	}
}

// TestScriptLogFieldsNeverCollideWithLoggerKeys is the JSON log of a run
// whose script logs fields named like the logger's own keys: every line is
// one JSON object without a repeated key.
func TestScriptLogFieldsNeverCollideWithLoggerKeys(t *testing.T) {
	e, buf := logEnv(t, nil)
	rec := e.run(e.playbook("clash", `lua: |
  log.warn("x", {msg = "m", time = "t", level = "l", run = "r", playbook = "p", source = "s"})
  return 1
`), nil)
	if rec.Status != runner.StatusSuccess {
		t.Fatalf("%s: %s", rec.Status, rec.Error)
	}
	for _, line := range buf.lines() {
		if err := noDuplicateKeys(line); err != nil {
			t.Errorf("%v in %s", err, line)
		}
	}
	lines := scriptLines(t, buf.lines())
	if len(lines) != 1 {
		t.Fatalf("%d script lines", len(lines))
	}
	f, _ := lines[0]["fields"].(map[string]any)
	if lines[0]["msg"] != "x" || lines[0]["level"] != "WARN" || f["msg"] != "m" || f["time"] != "t" || f["level"] != "l" || f["run"] != "r" {
		t.Errorf("line %v", lines[0])
	}
	got := e.stored(rec.ID)
	if len(got.Log) != 1 || got.Log[0].Message != "x" || got.Log[0].Level != "WARN" ||
		string(got.Log[0].Fields) != `{"fields":{"level":"l","msg":"m","playbook":"p","run":"r","source":"s","time":"t"}}` {
		t.Errorf("record log %+v", got.Log)
	}
}

// noDuplicateKeys reports a key repeated in one JSON object, at any depth.
func noDuplicateKeys(doc string) error {
	d := json.NewDecoder(strings.NewReader(doc))
	var walk func() error
	walk = func() error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				if seen[k.(string)] {
					return fmt.Errorf("key %q twice", k)
				}
				seen[k.(string)] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token()
			return err
		case json.Delim('['):
			for d.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token()
			return err
		}
		return nil
	}
	return walk()
}

// TestRunErrorTextIsCapped is error(string.rep("E", 16 MiB)): the record,
// and so every printout, gets a bounded error with the cut marked.
func TestRunErrorTextIsCapped(t *testing.T) {
	e := newEnv(t)
	rec := e.run(e.playbook("shout", "lua: error(string.rep(\"E\", 16 * 1024 * 1024))\n"), nil)
	if rec.Status != runner.StatusFailed {
		t.Fatalf("%s: %.100s", rec.Status, rec.Error)
	}
	got := e.stored(rec.ID)
	for _, r := range []*store.Run{rec, &got} {
		if len(r.Error) > runner.DefaultErrorBytes || !strings.HasSuffix(r.Error, "more bytes]") || !strings.Contains(r.Error, "EEEE") {
			t.Errorf("error of %d bytes ending %q", len(r.Error), r.Error[max(0, len(r.Error)-40):])
		}
	}
}

// TestPluginLogLinesCountAgainstTheRunLogCap has a real plugin log in a
// loop through the logger the runner hands to plugin calls.
func TestPluginLogLinesCountAgainstTheRunLogCap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a plugin")
	}
	ctx := context.Background()
	dir := t.TempDir()
	if err := wasmbuild.Build(ctx, filepath.Join("..", "..", "testdata", "plugins", "echo"), filepath.Join(dir, "echo.wasm")); err != nil {
		t.Fatal(err)
	}
	plugins, err := wasm.NewHost(ctx, wasm.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plugins.Close(context.Background()) })
	if err := plugins.Load(ctx, filepath.Join(dir, "echo.wasm")); err != nil {
		t.Fatal(err)
	}
	e, buf := logEnv(t, func(o *runner.Options) { o.Plugins = plugins; o.LogLines = 20 })
	e.lint.Plugins = plugins.Functions
	rec := e.run(e.playbook("chatty", `plugins: [echo]
lua: |
  for i = 1, 200 do plugins.echo.log{message = "m" .. i} end
  return 1
`), nil)
	if rec.Status != runner.StatusSuccess {
		t.Fatalf("%s: %s", rec.Status, rec.Error)
	}
	got := e.stored(rec.ID)
	if len(got.Log) != 21 || got.Log[0].Message != "m1" || got.Log[0].Level != "DEBUG" {
		t.Fatalf("record log: %d lines, first %+v", len(got.Log), got.Log[0])
	}
	if !strings.Contains(string(got.Log[0].Fields), `"plugin":"echo"`) {
		t.Errorf("plugin line fields %s", got.Log[0].Fields)
	}
	if m := got.Log[20].Message; !strings.Contains(m, "780 more lines") {
		t.Errorf("marker %q", m)
	}
	if n := len(scriptLines(t, buf.lines())); n != 21 {
		t.Errorf("process log has %d lines of the run, want 21", n)
	}
}

// TestRunLogKeepsTimesAndLevels checks the record's lines against what the
// script logged, secrets redacted.
func TestRunLogKeepsTimesAndLevels(t *testing.T) {
	e, _ := logEnv(t, nil)
	before := time.Now().UTC()
	rec := e.run(e.playbook("levels", `lua: |
  log.debug("d")
  log.info("token " .. input.t, {secret = input.t})
  log.error("e", {n = 1.5, list = {1, 2}})
  print("p", 1)
  return 1
inputs:
  t: {type: string}
`), map[string]any{"t": testSecret})
	got := e.stored(rec.ID)
	want := []struct{ level, msg, fields string }{
		{"DEBUG", "d", ""},
		{"INFO", "token " + logx.Redacted, `{"fields":{"secret":"` + logx.Redacted + `"}}`},
		{"ERROR", "e", `{"fields":{"list":[1,2],"n":1.5}}`},
		{"INFO", "p\t1", `{"source":"print"}`},
	}
	if len(got.Log) != len(want) {
		t.Fatalf("log %+v", got.Log)
	}
	for i, w := range want {
		l := got.Log[i]
		if l.Level != w.level || l.Message != w.msg || string(l.Fields) != w.fields || l.Time.Before(before.Add(-time.Second)) {
			t.Errorf("line %d: %+v, want %+v", i, l, w)
		}
	}
	raw, _ := json.Marshal(got)
	if bytes.Contains(raw, []byte(testSecret)) {
		t.Errorf("secret in the record: %s", raw)
	}
}

// TestActionDebugLinesFollowTheProcessLogLevel: a connector's debug line
// per request is kept in the record only when the process log shows debug
// lines; its info lines and the script's own debug lines always are.
func TestActionDebugLinesFollowTheProcessLogLevel(t *testing.T) {
	pb := "assets: [box]\nlua: |\n  log.debug(\"script debug\")\n  box.chat{text = \"hi\"}\n  return 1\n"
	for _, c := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelInfo, "DEBUG script debug|INFO answer received"},
		{slog.LevelDebug, "DEBUG script debug|DEBUG request sent|INFO answer received"},
	} {
		buf := &syncBuffer{}
		e := newEnvWith(t, 1, func(o *runner.Options) { o.Log = logx.New(buf, "json", c.level, o.Redact) })
		got := e.stored(e.run(e.playbook("chat", pb), nil).ID)
		var lines []string
		for _, l := range got.Log {
			lines = append(lines, l.Level+" "+l.Message)
		}
		if strings.Join(lines, "|") != c.want {
			t.Errorf("process log at %s: record keeps %q, want %q", c.level, strings.Join(lines, "|"), c.want)
		}
	}
}
