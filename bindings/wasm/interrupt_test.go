package wasm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

const (
	opLoop = 0x03
	opBr   = 0x0c
	// blockEmpty is the block type of a block without parameters or
	// results.
	blockEmpty = 0x40
)

// spinBody loops forever without calling anything, so only a check at its
// loop header can stop it, then returns 0.
var spinBody = []byte{opLoop, blockEmpty, opBr, 0, opEnd, opI64Const, 0}

// spinPlugin returns a hand-assembled plugin named spinner with the
// functions spin (loops forever) and ok (returns true). With spinInit its
// _initialize loops forever too.
func spinPlugin(spinInit bool) []byte {
	manifest := []byte(`{"name":"spinner","version":"hand","functions":[{"name":"spin","doc":""},{"name":"ok","doc":""}]}`)
	okResult := []byte(`{"ok":true}`)
	m := wasmModule{
		funcs: []wasmFunc{
			{export: exportAlloc, typ: tAlloc, body: []byte{opGlobalGet, 0, opGlobalGet, 0, opLocalGet, 0, opI32Add, opGlobalSet, 0}},
			{export: exportFree, typ: tFree},
			{export: exportManifest, typ: tManifest, body: returnBuffer(1024, uint32(len(manifest)))},
			{export: "ok", typ: tFunction, body: returnBuffer(2048, uint32(len(okResult)))},
			{export: "spin", typ: tFunction, body: spinBody},
		},
		data: map[uint32][]byte{1024: manifest, 2048: okResult},
	}
	if spinInit {
		m.funcs = append(m.funcs, wasmFunc{export: exportInitialize, body: []byte{opLoop, blockEmpty, opBr, 0, opEnd}})
	}
	return m.encode()
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
	err := h.Load(ctx, writePlugin(t, "spinner", spinPlugin(true)))
	const want = "spinner.wasm: instantiate: _initialize: did not finish within 50ms"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load = %v, want an error containing %q", err, want)
	}
}

// instantiateChecked compiles wasmBytes with the interrupt checks added and
// returns its instance and interrupt flag.
func instantiateChecked(t *testing.T, wasmBytes []byte) (api.Module, api.MutableGlobal) {
	t.Helper()
	checked, err := addInterruptChecks(wasmBytes)
	if err != nil {
		t.Fatal(err)
	}
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	mod, err := r.InstantiateWithConfig(ctx, checked, wazero.NewModuleConfig().WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	flag, ok := mod.ExportedGlobal(exportInterrupt).(api.MutableGlobal)
	if !ok {
		t.Fatalf("no mutable global %s among the exports", exportInterrupt)
	}
	return mod, flag
}

func TestInterruptChecksFunctionEntries(t *testing.T) {
	mod, flag := instantiateChecked(t, handPlugin("hand"))
	ok := mod.ExportedFunction("ok")
	if _, err := ok.Call(ctx, 0, 0); err != nil {
		t.Fatalf("ok before the interrupt: %v", err)
	}
	flag.Set(1)
	// ok has no loop, so only the check at its entry can stop it.
	if _, err := ok.Call(ctx, 0, 0); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("ok after the interrupt = %v, want the unreachable trap", err)
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

func TestInterruptGlobalIsAddedWhereNoneExists(t *testing.T) {
	checked, err := addInterruptChecks(bareModule())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(checked, []byte(".debug_info")) || !bytes.Contains(checked, []byte("keep")) {
		t.Errorf("want the DWARF section dropped and the other custom section kept")
	}
	mod, flag := instantiateChecked(t, bareModule())
	f := mod.ExportedFunction("f")
	if res, err := f.Call(ctx); err != nil || res[0] != 7 {
		t.Fatalf("f = %v, %v; want 7", res, err)
	}
	flag.Set(1)
	if _, err := f.Call(ctx); err == nil {
		t.Fatal("f ran after the interrupt")
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

// checkRewrite fails the test if addInterruptChecks panics, or if it
// accepts a module wazero compiles and then produces one wazero doesn't.
func checkRewrite(t *testing.T, r wazero.Runtime, wasmBytes []byte) {
	t.Helper()
	checked, err := addInterruptChecks(wasmBytes)
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

func TestAddInterruptChecksOnTruncatedModules(t *testing.T) {
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	full := handPlugin("hand")
	for n := range len(full) {
		checkRewrite(t, r, full[:n])
	}
}

// FuzzAddInterruptChecks feeds the rewriter arbitrary bytes. It must never
// panic, and whatever it accepts it must be able to decode again: its
// output's code section reads back instruction by instruction. (Compiling
// arbitrary bytes would fuzz wazero's decoder, which allocates whatever a
// nested count asks for.)
func FuzzAddInterruptChecks(f *testing.F) {
	f.Add(handPlugin("hand"))
	f.Add(spinPlugin(true))
	f.Add(bareModule())
	f.Fuzz(func(t *testing.T, wasmBytes []byte) {
		checked, err := addInterruptChecks(wasmBytes)
		if err != nil {
			return
		}
		r := reader{b: checked, off: 8}
		for r.off < len(r.b) {
			id, _ := r.byte()
			size, err := r.u32()
			if err != nil {
				t.Fatalf("output section %d: %v", id, err)
			}
			content, err := r.bytes(int(size))
			if err != nil {
				t.Fatalf("output section %d: %v", id, err)
			}
			if id == sectionCode {
				if _, err := addChecks(content, nil); err != nil {
					t.Fatalf("output code section: %v", err)
				}
			}
		}
	})
}
