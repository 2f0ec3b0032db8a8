package wasm

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginLogIsCappedPerCall guards issue 14 item 9 on the plugin side:
// a plugin calling goshawk.log in a loop wrote every line, hundreds of
// megabytes in a one-second call. Now one call logs at most its limit, and
// one more line says how much was dropped.
func TestPluginLogIsCappedPerCall(t *testing.T) {
	h := newTestHost(t, Options{Default: Limits{LogLines: 10, LogBytes: 1 << 20}})
	load(t, h, "chatty")
	runLog := &recordHandler{}
	out, err := h.Call(ctx, "chatty", "flood", []byte(`{"n":100000,"message":"again"}`), slog.New(runLog))
	if err != nil || string(out) != "100000" {
		t.Fatalf("flood = %s, %v; want 100000", out, err)
	}
	var lines int
	var marker *slog.Record
	for i, r := range runLog.records {
		switch r.Message {
		case "again":
			lines++
		default:
			marker = &runLog.records[i]
		}
	}
	if lines != 10 {
		t.Errorf("the call logged %d lines, want its limit of 10", lines)
	}
	if marker == nil || len(runLog.records) != 11 {
		t.Fatalf("want 10 lines and one marker, got %d records", len(runLog.records))
	}
	attrs := map[string]int64{}
	marker.Attrs(func(a slog.Attr) bool {
		if a.Value.Kind() == slog.KindInt64 {
			attrs[a.Key] = a.Value.Int64()
		}
		return true
	})
	if attrs["dropped_lines"] != 100000-10 || attrs["dropped_bytes"] != (100000-10)*5 {
		t.Errorf("marker %q %v, want 99990 lines and 499950 bytes dropped", marker.Message, attrs)
	}

	// The byte limit applies too, and the next call starts afresh.
	h = newTestHost(t, Options{Default: Limits{LogBytes: 20}})
	load(t, h, "chatty")
	for range 2 {
		runLog = &recordHandler{}
		if _, err := h.Call(ctx, "chatty", "flood", []byte(`{"n":10,"message":"0123456789"}`), slog.New(runLog)); err != nil {
			t.Fatal(err)
		}
		if n := len(runLog.records); n != 3 || !strings.Contains(runLog.records[2].Message, "dropped") {
			t.Fatalf("got %d records, want two lines of 10 bytes and the marker", n)
		}
	}
}

func TestLogLimitsAreChecked(t *testing.T) {
	for _, l := range []Limits{{LogLines: -1}, {LogBytes: -1}} {
		if _, err := NewHost(ctx, Options{Default: l}); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("NewHost(%+v) = %v, want an error", l, err)
		}
	}
}

// TestStatusReportsLoadsAndFailures covers issue 14 item 20 on the plugin
// side: a failed reload was only logged; Status lists it next to the
// version that keeps running.
func TestStatusReportsLoadsAndFailures(t *testing.T) {
	h := newTestHost(t, Options{})
	dir := t.TempDir()
	path := filepath.Join(dir, "echo.wasm")
	good := pluginBytes(t, "echo")
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, path); err != nil {
		t.Fatal(err)
	}
	st := h.Status()
	if len(st) != 1 || !st[0].Running || st[0].Name != "echo" || st[0].Path != path || st[0].Version != "1" ||
		len(st[0].SHA256) != 64 || st[0].LoadedAt.IsZero() || st[0].Error != "" || len(st[0].Functions) == 0 {
		t.Fatalf("Status after a load = %+v", st)
	}
	loaded := st[0]

	// A broken reload: the old version keeps running, and the error shows.
	if err := os.WriteFile(path, []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, path); err == nil {
		t.Fatal("Load accepted a broken file")
	}
	st = h.Status()
	if len(st) != 1 || !st[0].Running || st[0].SHA256 != loaded.SHA256 || !strings.Contains(st[0].Error, "not a WebAssembly module") || st[0].ErrorAt.IsZero() {
		t.Fatalf("Status after a failed reload = %+v", st)
	}
	// JSON, as the HTTP API serves it.
	b, err := json.Marshal(st)
	if err != nil || !strings.Contains(string(b), `"error":"`) || !strings.Contains(string(b), `"running":true`) {
		t.Errorf("JSON = %s, %v", b, err)
	}

	// Putting the good file back clears the error.
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, path); err != nil {
		t.Fatal(err)
	}
	if st = h.Status(); len(st) != 1 || st[0].Error != "" || st[0].SHA256 != loaded.SHA256 {
		t.Fatalf("Status after the fix = %+v", st)
	}

	// A plugin that never loaded is listed, not running; removing forgets.
	bad := filepath.Join(dir, "broken.wasm")
	if err := os.WriteFile(bad, []byte("\x00asm junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, bad); err == nil {
		t.Fatal("Load accepted a broken file")
	}
	st = h.Status()
	if len(st) != 2 || st[0].Name != "broken" || st[0].Running || st[0].Error == "" {
		t.Fatalf("Status = %+v, want broken (not running) before echo", st)
	}
	h.Remove("broken")
	h.Remove("echo")
	if st = h.Status(); len(st) != 0 {
		t.Fatalf("Status after Remove = %+v, want none", st)
	}
}
