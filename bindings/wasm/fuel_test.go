package wasm

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	opLoop = 0x03
	opBr   = 0x0c
	opDrop = 0x1a
	// blockEmpty is the block type of a block without parameters or
	// results.
	blockEmpty = 0x40
	opCall     = 0x10
	miscFill   = 0x0b
)

// hangGuard is how long a test waits for something that must not hang. It
// guards hangs, not speed: the machine running the tests may be busy.
const hangGuard = 3 * time.Minute

// within runs f and fails the test if it has not returned after hangGuard.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatalf("%s has not returned after %s", what, hangGuard)
	}
}

// spinBody loops forever without calling anything, so only a check at its
// loop header can stop it, then returns 0.
var spinBody = []byte{opLoop, blockEmpty, opBr, 0, opEnd, opI64Const, 0}

// spinModule returns a hand-assembled plugin named spinner with the
// functions spin (body spin) and ok (returns true), and, when init is not
// nil, an _initialize with that body.
func spinModule(spin, init []byte) wasmModule {
	manifest := []byte(`{"name":"spinner","version":"hand","functions":[{"name":"spin","doc":""},{"name":"ok","doc":""}]}`)
	okResult := []byte(`{"ok":true}`)
	m := wasmModule{
		funcs: []wasmFunc{
			{export: exportAlloc, typ: tAlloc, body: []byte{opGlobalGet, 0, opGlobalGet, 0, opLocalGet, 0, opI32Add, opGlobalSet, 0}},
			{export: exportFree, typ: tFree},
			{export: exportManifest, typ: tManifest, body: returnBuffer(1024, uint32(len(manifest)))},
			{export: "ok", typ: tFunction, body: returnBuffer(2048, uint32(len(okResult)))},
			{export: "spin", typ: tFunction, body: spin},
		},
		data: map[uint32][]byte{1024: manifest, 2048: okResult},
	}
	if init != nil {
		m.funcs = append(m.funcs, wasmFunc{export: exportInitialize, body: init})
	}
	return m
}

// spinPlugin returns spinModule with a spin that loops forever. With
// spinInit its _initialize loops forever too.
func spinPlugin(spinInit bool) []byte {
	var init []byte
	if spinInit {
		init = []byte{opLoop, blockEmpty, opBr, 0, opEnd}
	}
	return spinModule(spinBody, init).encode()
}

func writePlugin(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".wasm")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDeadlineStopsALoopWithoutCalls(t *testing.T) {
	h := newTestHost(t, Options{Default: Limits{Timeout: 50 * time.Millisecond}})
	if err := h.Load(ctx, writePlugin(t, "spinner", spinPlugin(false))); err != nil {
		t.Fatal(err)
	}
	before := created(t, h, "spinner")
	_, err := h.Call(ctx, "spinner", "spin", nil, nil)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "did not finish within 50ms") {
		t.Fatalf("spin = %v, want ErrTimeout", err)
	}
	if out, err := h.Call(ctx, "spinner", "ok", nil, nil); err != nil || string(out) != "true" {
		t.Fatalf("ok after the timeout = %s, %v; want true", out, err)
	}
	if after := created(t, h, "spinner"); after != before+1 {
		t.Errorf("instances created %d -> %d, want one fresh instance", before, after)
	}
}

func TestDeadlineStopsInitialize(t *testing.T) {
	h := newTestHost(t, Options{Default: Limits{Timeout: 50 * time.Millisecond}})
	var err error
	within(t, "Load", func() { err = h.Load(ctx, writePlugin(t, "spinner", spinPlugin(true))) })
	const want = "spinner.wasm: instantiate: _initialize: did not finish within 50ms"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load = %v, want an error containing %q", err, want)
	}
}

// TestLoopingStartFunctionDoesNotHangLoading guards issue 14 item 4: a
// module whose start section loops forever used to hang Load and
// Validate, because wazero runs the start function while instantiating,
// before any deadline was set.
func TestLoopingStartFunctionDoesNotHangLoading(t *testing.T) {
	m := spinModule(spinBody, nil)
	m.funcs = append(m.funcs, wasmFunc{body: []byte{opLoop, blockEmpty, opBr, 0, opEnd}})
	m.start = len(m.funcs)
	looping := m.encode()

	h := newTestHost(t, Options{Default: Limits{Timeout: 50 * time.Millisecond}})
	path := writePlugin(t, "spinner", looping)
	var err error
	within(t, "Load", func() { err = h.Load(ctx, path) })
	const want = "spinner.wasm: instantiate: did not finish within 50ms; make the start function faster"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load = %v, want an error containing %q", err, want)
	}
	st := h.Status()
	if len(st) != 1 || st[0].Running || !strings.Contains(st[0].Error, want) {
		t.Errorf("Status = %+v, want the load error and nothing running", st)
	}

	// Validate, as `goshawk validate` runs it, with the default limits.
	within(t, "Validate", func() { err = Validate(ctx, path, looping) })
	if err == nil || !strings.Contains(err.Error(), "did not finish within 1s") {
		t.Fatalf("Validate = %v, want a time limit error", err)
	}

	// A caller that gives up (a watcher shutting down) is not kept
	// waiting for the plugin's own timeout.
	h = newTestHost(t, Options{Default: Limits{Timeout: time.Hour}})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	within(t, "Load with a cancelled context", func() { err = h.Load(cctx, path) })
	if err == nil || !strings.Contains(err.Error(), "the caller gave up") {
		t.Fatalf("Load = %v, want an error saying the caller gave up", err)
	}
}

// TestPluginCannotReachTheFuel guards issue 14 item 3: the host's added
// global used to be validated together with the plugin, so a plugin could
// address it by its predictable index and reset it in a loop, switching its
// deadline off. Now the original module is validated on its own, and
// nothing in it can name the added global or the fuel import.
func TestPluginCannotReachTheFuel(t *testing.T) {
	// The hand-assembled modules have one global, so the host's first
	// added global is number 1 (and function 0 becomes the fuel import).
	resetLoop := []byte{opLoop, blockEmpty, opI32Const, 0x80, 0x80, 0x80, 0x08, opGlobalSet, 1, opBr, 0, opEnd}
	readLoop := []byte{opLoop, blockEmpty, opGlobalGet, 1, opDrop, opBr, 0, opEnd}
	nFuncs := byte(len(spinModule(spinBody, nil).funcs))
	tests := []struct {
		name   string
		module []byte
		want   string
	}{
		{"reset in a call", spinModule(append(resetLoop, opI64Const, 0), nil).encode(), "global"},
		{"reset in _initialize", spinModule(spinBody, resetLoop).encode(), "global"},
		{"read in a call", spinModule(append(readLoop, opI64Const, 0), nil).encode(), "global"},
		// The function after the module's own is where an appended import
		// would be; calling it must be as invalid as before rewriting.
		{"call past the functions", spinModule([]byte{opCall, nFuncs, opI64Const, 0}, nil).encode(), "function"},
		{"import the fuel", handPlugin("spinner", wasmImport{fuelModule, fuelFunction, wasmType{nil, []byte{wI32}}}),
			"imports goshawk_internal.fuel; a plugin may import only from wasi_snapshot_preview1 and goshawk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHost(t, Options{Default: Limits{Timeout: 50 * time.Millisecond}})
			path := writePlugin(t, "spinner", tt.module)
			var err error
			within(t, "Load", func() { err = h.Load(ctx, path) })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error naming the %s", err, tt.want)
			}
			within(t, "Validate", func() { err = Validate(ctx, path, tt.module) })
			if err == nil {
				t.Fatal("Validate accepted the module")
			}
		})
	}
}

// instantiateWithFuel compiles wasmBytes with the fuel checks added,
// starting with fuel, and a fuel import that counts its calls and refills
// fuel each time.
func instantiateWithFuel(t *testing.T, wasmBytes []byte, fuel int32) (api.Module, *atomic.Int64) {
	t.Helper()
	checked, err := instrument(wasmBytes, fuel)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	calls := new(atomic.Int64)
	_, err = r.NewHostModuleBuilder(fuelModule).NewFunctionBuilder().
		WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) {
			calls.Add(1)
			stack[0] = uint64(fuel)
		}), nil, []api.ValueType{i32}).
		Export(fuelFunction).Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateWithConfig(ctx, checked, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	return mod, calls
}

func TestFuelIsChargedAtFunctionEntries(t *testing.T) {
	mod, calls := instantiateWithFuel(t, bareModule(), 10)
	f := mod.ExportedFunction("f")
	// f has no loop, so only the checkpoint at its entry charges it.
	for range 100 {
		if res, err := f.Call(ctx); err != nil || res[0] != 7 {
			t.Fatalf("f = %v, %v; want 7", res, err)
		}
	}
	if calls.Load() == 0 {
		t.Error("100 calls of f never used up 10 units of fuel")
	}
}

func TestFuelIsChargedForBulkMemory(t *testing.T) {
	// fill sets 64 KiB of memory in one instruction, without a loop.
	fill := []byte{opI32Const, 0, opI32Const, 0, opI32Const, 0x80, 0x80, 0x04, opMisc, miscFill, 0, opI64Const, 0}
	m := spinModule(fill, nil)
	mod, calls := instantiateWithFuel(t, m.encode(), 1000)
	if _, err := mod.ExportedFunction("spin").Call(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if calls.Load() == 0 {
		t.Error("a 64 KiB memory.fill did not use up 1000 units of fuel")
	}
}

// TestHostCallsDoNotOutrunTheDeadline: a host function's work is not
// counted in instructions, so a loop of a few instructions around a slow
// host call (random_get of a megabyte) would use up its fuel only after
// hours. The host reads the clock after every host call.
func TestHostCallsDoNotOutrunTheDeadline(t *testing.T) {
	for _, im := range []wasmImport{
		{"wasi_snapshot_preview1", "random_get", wasmType{[]byte{wI32, wI32}, []byte{wI32}}},
		// json_valid reads the clock itself instead.
		{"goshawk", "json_valid", wasmType{[]byte{wI32, wI32}, []byte{wI32}}},
	} {
		t.Run(im.name, func(t *testing.T) {
			// spin passes the megabyte after the first page to the
			// import, forever. The import is function 0, so spinModule's
			// own functions move up by one. The megabyte is spaces, which
			// json_valid reads to the end.
			body := []byte{opLoop, blockEmpty, opI32Const, 0x80, 0x80, 0x04, opI32Const, 0x80, 0x80, 0xc0, 0x00, opCall, 0, opDrop, opBr, 0, opEnd, opI64Const, 0}
			m := spinModule(body, nil)
			m.imports = []wasmImport{im}
			m.pages = 17
			m.data[65536] = bytes.Repeat([]byte(" "), 1<<20)
			h := newTestHost(t, Options{Default: Limits{Timeout: 50 * time.Millisecond}})
			if err := h.Load(ctx, writePlugin(t, "spinner", m.encode())); err != nil {
				t.Fatal(err)
			}
			var err error
			within(t, "a call looping on "+im.name, func() { _, err = h.Call(ctx, "spinner", "spin", nil, nil) })
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("spin = %v, want ErrTimeout", err)
			}
		})
	}
}

// bareModule has no global section and carries two custom sections: DWARF,
// which the rewriter drops, and another, which it keeps. Its function f
// returns 7.
func bareModule() []byte {
	custom := func(n string) []byte { return section(0, append(name(n), "data"...)) }
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, vec([]byte{0x60, 0x00, 0x01, wI32}))...)
	out = append(out, custom(".debug_info")...)
	out = append(out, section(3, vec([]byte{0x00}))...)
	out = append(out, section(7, vec(append(name("f"), 0x00, 0x00)))...)
	body := append(vec(), opI32Const, 7, opEnd)
	out = append(out, section(10, vec(append(uleb(uint64(len(body))), body...)))...)
	return append(out, custom("keep")...)
}

func TestFuelGlobalIsAddedWhereNoneExists(t *testing.T) {
	checked, err := instrument(bareModule(), fuelSlice)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(checked, []byte(".debug_info")) || !bytes.Contains(checked, []byte("keep")) {
		t.Errorf("want the DWARF section dropped and the other custom section kept")
	}
	mod, _ := instantiateWithFuel(t, bareModule(), fuelSlice)
	if res, err := mod.ExportedFunction("f").Call(ctx); err != nil || res[0] != 7 {
		t.Fatalf("f = %v, %v; want 7", res, err)
	}
}

func TestReservedInterruptExport(t *testing.T) {
	m := wasmModule{funcs: []wasmFunc{{export: exportInterrupt, typ: tFree}}}
	err := Validate(ctx, "plugins/bad.wasm", m.encode())
	const want = "plugins/bad.wasm: compile: export section: the module exports goshawk_interrupt, a name the host reserves for itself; rename that export"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Validate = %v\nwant an error containing %q", err, want)
	}
}

// TestSpinningCallsEndWhenTheyOccupyEveryCPU guards issue 14 item 2: with
// as many spinning calls as the process has Ps, the timer meant to stop
// them never ran, since compiled guest code is not preempted; the calls
// never returned, and nothing else in the process ran. The test runs in a
// child process with GOMAXPROCS=2, so that a hang there fails the test
// here instead of freezing it.
func TestSpinningCallsEndWhenTheyOccupyEveryCPU(t *testing.T) {
	if os.Getenv("GOSHAWK_SPIN_CHILD") != "" {
		spinChild(t)
		return
	}
	spin := pluginFile(t, "spin")
	cctx, cancel := context.WithTimeout(ctx, hangGuard)
	defer cancel()
	cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestSpinningCallsEndWhenTheyOccupyEveryCPU$", "-test.v")
	cmd.Env = append(os.Environ(), "GOSHAWK_SPIN_CHILD="+spin, "GOSHAWK_SPIN_CACHE="+cacheDir, "GOMAXPROCS=2")
	out, err := cmd.CombinedOutput()
	if cctx.Err() != nil {
		t.Fatalf("the child process hung and was killed after %s:\n%s", hangGuard, out)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// spinChild starts four spinning calls on two Ps, answers an HTTP request
// while they spin, and checks that every call ends at its time limit.
func spinChild(t *testing.T) {
	runtime.GOMAXPROCS(2)
	const calls = 4
	started := make(chan struct{}, calls)
	log := slog.New(startHandler{started})
	h, err := NewHost(ctx, Options{
		CacheDir: os.Getenv("GOSHAWK_SPIN_CACHE"),
		Default:  Limits{Timeout: 2 * time.Second, Instances: calls},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Load(ctx, os.Getenv("GOSHAWK_SPIN_CHILD")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()

	var wg sync.WaitGroup
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() { _, errs[i] = h.Call(ctx, "spin", "spin", nil, log) })
	}
	for range calls {
		<-started
	}
	// Every P may be running guest code now; the request still gets an
	// answer.
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("healthz-style request while the plugins spin: %v", err)
	}
	resp.Body.Close()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("call %d = %v, want ErrTimeout", i, err)
		}
	}
}

// startHandler signals each "spinning" line the spin plugin logs as it
// starts its loop.
type startHandler struct{ started chan<- struct{} }

func (h startHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h startHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h startHandler) WithGroup(string) slog.Handler            { return h }
func (h startHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "spinning" {
		h.started <- struct{}{}
	}
	return nil
}

// checkRewrite fails the test if instrument panics, or if it accepts a
// module wazero compiles and then produces one wazero doesn't.
func checkRewrite(t *testing.T, r wazero.Runtime, wasmBytes []byte) {
	t.Helper()
	checked, err := instrument(wasmBytes, fuelSlice)
	if err != nil {
		return
	}
	cm, err := r.CompileModule(ctx, wasmBytes)
	if err != nil {
		return
	}
	cm.Close(ctx)
	cm, err = r.CompileModule(ctx, checked)
	if err != nil {
		t.Fatalf("the rewritten module doesn't compile: %v", err)
	}
	cm.Close(ctx)
}

func TestInstrumentTruncatedModules(t *testing.T) {
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	full := handPlugin("hand")
	for n := range len(full) {
		checkRewrite(t, r, full[:n])
	}
}

// FuzzInstrument feeds the rewriter arbitrary bytes. It must never panic,
// and whatever it accepts it must be able to decode again: its output
// rewrites once more. (FuzzLoad compiles what it accepts.)
func FuzzInstrument(f *testing.F) {
	f.Add(handPlugin("hand"))
	f.Add(spinPlugin(true))
	f.Add(bareModule())
	f.Fuzz(func(t *testing.T, wasmBytes []byte) {
		checked, err := instrument(wasmBytes, fuelSlice)
		if err != nil {
			return
		}
		if _, err := instrument(checked, fuelSlice); err != nil {
			t.Fatalf("the rewriter's output doesn't decode: %v", err)
		}
	})
}
