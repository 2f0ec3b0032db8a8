package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var ctx = context.Background()

// created reports how many instances the current version of a plugin has
// made, so a test can see that a broken one was replaced.
func created(t *testing.T, h *Host, plugin string) int64 {
	t.Helper()
	h.mu.RLock()
	defer h.mu.RUnlock()
	p, ok := h.plugins[plugin]
	if !ok {
		t.Fatalf("plugin %s not loaded", plugin)
	}
	return p.pool.created.Load()
}

func TestCallRoundTripsNestedJSON(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "echo")
	inputs := []string{
		`{"indicator":"1.2.3.4","tc":{"rating":3.5,"confidence":80,"tags":["c2","<script>&amp;"]},"tq":{"score":{"manual_score":null,"generated_score":7},"status":{"id":1,"name":"Active"}},"deep":[[[[{"a":[1,-2.5e-3,12345678901234567890,true,false,null]}]]]],"text":"ünïcødé 🦅 \"quoted\" \\ back\nslash\u0000"}`,
		`[]`,
		`"just a string"`,
		`0`,
		`null`,
	}
	for _, in := range inputs {
		out, err := h.Call(ctx, "echo", "echo", []byte(in), nil)
		if err != nil {
			t.Fatalf("echo(%s): %v", in, err)
		}
		if string(out) != in {
			t.Errorf("echo did not round-trip exactly:\n got %s\nwant %s", out, in)
		}
	}
	// Inputs larger than the first buffer make the host grow it.
	big := `{"blob":"` + strings.Repeat("x", 100_000) + `"}`
	out, err := h.Call(ctx, "echo", "echo", []byte(big), nil)
	if err != nil || string(out) != big {
		t.Fatalf("echo of %d bytes: err %v, got %d bytes", len(big), err, len(out))
	}
	// An empty input is sent as null.
	if out, err := h.Call(ctx, "echo", "echo", nil, nil); err != nil || string(out) != "null" {
		t.Fatalf("echo(nil) = %s, %v; want null", out, err)
	}
}

func TestManifestAndFunctions(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "echo")
	m, ok := h.Manifest("echo")
	if !ok {
		t.Fatal("Manifest(echo) not found")
	}
	if m.Name != "echo" || m.Version != "1" {
		t.Errorf("manifest = %+v, want name echo version 1", m)
	}
	fns, ok := h.Functions("echo")
	if want := []string{"echo", "fail", "log", "version"}; !ok || !slices.Equal(fns, want) {
		t.Errorf("Functions(echo) = %v, %v; want %v", fns, ok, want)
	}
	if _, ok := h.Functions("nope"); ok {
		t.Error("Functions(nope) found a plugin")
	}
}

func TestPluginErrorKeepsInstance(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "echo")
	before := created(t, h, "echo")
	_, err := h.Call(ctx, "echo", "fail", []byte(`{"message":"no such indicator"}`), nil)
	var fe *FuncError
	if !errors.As(err, &fe) || fe.Message != "no such indicator" || fe.Plugin != "echo" || fe.Function != "fail" {
		t.Fatalf("err = %v, want a *FuncError with the plugin's message", err)
	}
	if err.Error() != "plugin echo: fail: no such indicator" {
		t.Errorf("message = %q", err)
	}
	if _, err := h.Call(ctx, "echo", "echo", []byte(`1`), nil); err != nil {
		t.Fatal(err)
	}
	if after := created(t, h, "echo"); after != before {
		t.Errorf("a plugin error replaced the instance: created %d -> %d", before, after)
	}
}

// recordHandler keeps the records it handles.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}

func TestLogGoesToTheCallersLogger(t *testing.T) {
	hostLog := &recordHandler{}
	h := newTestHost(t, Options{Log: slog.New(hostLog)})
	load(t, h, "echo")
	runLog := &recordHandler{}
	if _, err := h.Call(ctx, "echo", "log", []byte(`{"message":"looked up 1.2.3.4"}`), slog.New(runLog)); err != nil {
		t.Fatal(err)
	}
	var levels []slog.Level
	for _, r := range runLog.records {
		if r.Message != "looked up 1.2.3.4" {
			t.Errorf("message = %q", r.Message)
		}
		var plugin string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "plugin" {
				plugin = a.Value.String()
			}
			return true
		})
		if plugin != "echo" {
			t.Errorf("plugin attribute = %q, want echo", plugin)
		}
		levels = append(levels, r.Level)
	}
	if want := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}; !slices.Equal(levels, want) {
		t.Errorf("levels = %v, want %v", levels, want)
	}
	for _, r := range hostLog.records {
		if r.Message == "looked up 1.2.3.4" {
			t.Error("a call's log line went to the host's logger")
		}
	}
}

func TestCallNotFound(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "echo")
	for _, c := range []struct{ plugin, function string }{{"nope", "echo"}, {"echo", "nope"}} {
		_, err := h.Call(ctx, c.plugin, c.function, nil, nil)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Call(%s, %s) = %v, want ErrNotFound", c.plugin, c.function, err)
		}
	}
}

func TestMisbehavingPlugins(t *testing.T) {
	h := newTestHost(t, Options{PerPlugin: map[string]Limits{
		// The loop never ends anyway; the deadline also bounds starting
		// the fresh instance of the next call, which a loaded machine
		// under the race detector can take well over 100ms to do.
		"spin": {Timeout: 2 * time.Second},
	}})
	for _, key := range []string{"hog", "spin", "crash", "garbage"} {
		load(t, h, key)
	}
	tests := []struct {
		plugin, function string
		kind             error
		message          string
	}{
		{"hog", "hog", ErrMemory, "16 MiB memory limit"},
		{"spin", "spin", ErrTimeout, "did not finish within 2s"},
		{"crash", "panic", ErrCrashed, "panic: boom"},
		{"crash", "nilderef", ErrCrashed, "nil pointer dereference"},
		{"garbage", "invalid", ErrBadResult, "result is not valid JSON"},
		{"garbage", "noenvelope", ErrBadResult, `neither "ok" nor "error"`},
		{"garbage", "outofrange", ErrBadResult, "outside the module's memory"},
	}
	for _, tt := range tests {
		t.Run(tt.plugin+"/"+tt.function, func(t *testing.T) {
			before := created(t, h, tt.plugin)
			_, err := h.Call(ctx, tt.plugin, tt.function, []byte(`{}`), nil)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.message) || !strings.HasPrefix(msg, "plugin "+tt.plugin+": "+tt.function+": ") {
				t.Errorf("message %q lacks %q or the plugin and function", msg, tt.message)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("message spans lines: %q", msg)
			}
			out, err := h.Call(ctx, tt.plugin, "ok", nil, nil)
			if err != nil || string(out) != "true" {
				t.Fatalf("next call: %s, %v; want true", out, err)
			}
			if after := created(t, h, tt.plugin); after != before+1 {
				t.Errorf("instances created %d -> %d, want one fresh instance", before, after)
			}
		})
	}
}

func TestRecoveredPanicIsAPluginError(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "crash")
	_, err := h.Call(ctx, "crash", "recovered", nil, nil)
	var fe *FuncError
	if !errors.As(err, &fe) || fe.Message != "recovered: panic: recovered boom" {
		t.Fatalf("err = %v, want the kit's recovered panic as a *FuncError", err)
	}
}

func TestCallerDeadline(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "spin")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := h.Call(cctx, "spin", "spin", nil, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestBadModulesAreRejected(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		path string
		want string
		// loadOnly skips Validate where it would only repeat a check that
		// needs no compiling of its own.
		loadOnly bool
	}{
		{"missing alloc", pluginFile(t, "noalloc"), "noalloc.wasm: missing export goshawk_alloc (see docs/plugins.md)", false},
		{"missing manifest", pluginFile(t, "nomanifest"), "nomanifest.wasm: missing export goshawk_manifest (see docs/plugins.md)", false},
		{"function not exported", pluginFile(t, "unexported"), `unexported.wasm: manifest names function "score" which the module does not export`, false},
		{"not wasm", write("text.wasm", []byte("#!/bin/sh\necho hi\n")), "text.wasm: not a WebAssembly module", false},
		{"empty", write("empty.wasm", nil), "empty.wasm: not a WebAssembly module", false},
		{"truncated", write("truncated.wasm", pluginBytes(t, "echo")[:1000]), "truncated.wasm: compile:", false},
		{"name differs", write("other.wasm", pluginBytes(t, "echo")), `other.wasm: manifest names the plugin "echo" but its file name says "other"`, true},
		{"bad file name", write("my-plugin.wasm", pluginBytes(t, "echo")), `my-plugin.wasm: plugin name "my-plugin" must be`, false},
		{"no .wasm", write("echo.wat", pluginBytes(t, "echo")), "echo.wat: a plugin file name must end in .wasm", false},
	}
	h := newTestHost(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Validate compiles without a cache; in parallel it takes
			// half as long on two cores.
			t.Parallel()
			loadErr := h.Load(ctx, tt.path)
			if loadErr == nil || !strings.Contains(loadErr.Error(), tt.want) {
				t.Errorf("Load: %v\nwant an error containing %q", loadErr, tt.want)
			}
			if tt.loadOnly {
				return
			}
			b, _ := os.ReadFile(tt.path)
			validateErr := Validate(ctx, tt.path, b)
			if validateErr == nil || !strings.Contains(validateErr.Error(), tt.want) {
				t.Errorf("Validate: %v\nwant an error containing %q", validateErr, tt.want)
			}
		})
	}
}

func TestValidateAcceptsAGoodPlugin(t *testing.T) {
	if err := Validate(ctx, "plugins/hand.wasm", handPlugin("hand")); err != nil {
		t.Errorf("Validate(hand) = %v, want nil", err)
	}
}

func TestBrokenReloadKeepsTheOldVersion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "echo.wasm")
	if err := os.WriteFile(path, pluginBytes(t, "echo"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newTestHost(t, Options{})
	if err := h.Load(ctx, path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pluginBytes(t, "echo")[:500], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, path); err == nil {
		t.Fatal("Load of a truncated module succeeded")
	}
	out, err := h.Call(ctx, "echo", "version", nil, nil)
	if err != nil || string(out) != `"1"` {
		t.Fatalf("after a broken reload: %s, %v; want the old version 1", out, err)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "echo.wasm")
	v1, v2 := pluginBytes(t, "echo"), pluginBytes(t, "echo-v2")
	host := newTestHost(t, Options{Default: Limits{Instances: 4}})
	install := func(b []byte) {
		t.Helper()
		// Write and rename, as an editor or a deploy would.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if err := host.Load(ctx, path); err != nil {
			t.Fatal(err)
		}
	}
	install(v1)

	var (
		stop     atomic.Bool
		calls    atomic.Int64
		failures atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	input := []byte(`{"indicator":"1.2.3.4","nested":{"list":[1,2,3]}}`)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				out, err := host.Call(ctx, "echo", "echo", input, nil)
				calls.Add(1)
				if err != nil || string(out) != string(input) {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for i := range 6 {
		if i%2 == 0 {
			install(v2)
		} else {
			install(v1)
		}
	}
	install(v2)
	stop.Store(true)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed during reloads; first: %v", n, calls.Load(), firstErr.Load())
	}
	out, err := host.Call(ctx, "echo", "version", nil, nil)
	if err != nil || string(out) != `"2"` {
		t.Fatalf("after the reloads: %s, %v; want version 2", out, err)
	}
	if m, _ := host.Manifest("echo"); m.Version != "2" {
		t.Errorf("manifest version = %q, want 2", m.Version)
	}
	host.mu.RLock()
	retired := slices.Clone(host.retired)
	host.mu.RUnlock()
	for _, p := range retired {
		select {
		case <-p.done:
		default:
			t.Errorf("a replaced version is still open with %d references", p.refs.Load())
		}
	}
}

func TestUnchangedFileIsNotReloaded(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "echo")
	h.mu.RLock()
	first := h.plugins["echo"]
	h.mu.RUnlock()
	load(t, h, "echo")
	h.mu.RLock()
	second := h.plugins["echo"]
	h.mu.RUnlock()
	if first != second {
		t.Error("loading an unchanged file swapped in a new version")
	}
}

func TestRemoveAndClose(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "echo")
	h.Remove("echo")
	if _, err := h.Call(ctx, "echo", "echo", nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Call after Remove = %v, want ErrNotFound", err)
	}
	load(t, h, "echo")
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Call(ctx, "echo", "echo", nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after Close = %v, want ErrClosed", err)
	}
	if err := h.Load(ctx, pluginFile(t, "echo")); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"echo.wasm":   pluginBytes(t, "echo"),
		"broken.wasm": []byte("not wasm"),
		"README.md":   []byte("# plugins"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := newTestHost(t, Options{})
	errs := h.LoadDir(ctx, dir)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "broken.wasm: not a WebAssembly module") {
		t.Errorf("LoadDir errors = %v, want one for broken.wasm", errs)
	}
	if _, ok := h.Manifest("echo"); !ok {
		t.Error("echo was not loaded")
	}
	errs = h.LoadDir(ctx, filepath.Join(dir, "missing"))
	if len(errs) != 1 || !errors.Is(errs[0], os.ErrNotExist) {
		t.Errorf("LoadDir(missing) = %v, want one error wrapping fs.ErrNotExist", errs)
	}
}

func TestLimitsAreChecked(t *testing.T) {
	for _, o := range []Options{
		{Default: Limits{MemoryPages: 70000}},
		{Default: Limits{Timeout: -time.Second}},
		{PerPlugin: map[string]Limits{"echo": {Instances: -1}}},
	} {
		if _, err := NewHost(ctx, o); err == nil {
			t.Errorf("NewHost(%+v) accepted bad limits", o)
		}
	}
	h := newTestHost(t, Options{PerPlugin: map[string]Limits{"echo": {MemoryPages: 8}}})
	err := h.Load(ctx, pluginFile(t, "echo"))
	if err == nil || !strings.Contains(err.Error(), "over limit of 8 pages") || !strings.HasSuffix(err.Error(), "raise the plugin's memory limit") {
		t.Errorf("Load with 8 pages = %v, want a memory limit error", err)
	}
}

func TestCompilationCacheIsWritten(t *testing.T) {
	dir := t.TempDir()
	h, err := NewHost(ctx, Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	path := filepath.Join(t.TempDir(), "hand.wasm")
	if err := os.WriteFile(path, handPlugin("hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Load(ctx, path); err != nil {
		t.Fatal(err)
	}
	var files int
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, _ error) error {
		if d != nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files == 0 {
		t.Error("no compiled code in the cache folder")
	}
}

func TestReputationPlugin(t *testing.T) {
	h := newTestHost(t, Options{})
	load(t, h, "reputation")
	in := `{"indicator":"1.2.3.4","tc":{"rating":4.5,"confidence":60,"tags":{"data":[{"name":"testing"}]}},"tq":{"score":9,"status":{"id":1,"name":"Active"}}}`
	out, err := h.Call(ctx, "reputation", "score", []byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"indicator":"1.2.3.4","verdict":"malicious","rating":4.5,"confidence":92,"reasons":["ThreatConnect rating 4.5 at confidence 60","ThreatQ score 9/10 with status Active"]}`
	if string(out) != want {
		t.Errorf("score =\n%s\nwant\n%s", out, want)
	}
	out, err = h.Call(ctx, "reputation", "extract", []byte(`{"text":"C2 at hxxp://bad[.]example/x and 10[.]0[.]0[.]1"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var found struct{ IP, URL, Domain []string }
	if err := json.Unmarshal(out, &found); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(found.IP, []string{"10.0.0.1"}) || !slices.Equal(found.URL, []string{"http://bad.example/x"}) || !slices.Equal(found.Domain, []string{"bad.example"}) {
		t.Errorf("extract = %s", out)
	}
	_, err = h.Call(ctx, "reputation", "score", []byte(`{"tc":{"rating":"high"}}`), nil)
	var fe *FuncError
	if !errors.As(err, &fe) || !strings.Contains(fe.Message, "score: input must be") {
		t.Errorf("score of a bad input = %v, want a *FuncError", err)
	}
}
