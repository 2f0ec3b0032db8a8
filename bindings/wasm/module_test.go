package wasm

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// This file assembles small plugins byte by byte, with no Go runtime in
// them: proof that the ABI needs nothing from the Go kit, and a way to
// produce a real wasm trap (unreachable) and odd imports.

// Value types and opcodes of the WebAssembly binary format.
const (
	wI32 = 0x7f
	wI64 = 0x7e

	opUnreachable = 0x00
	opEnd         = 0x0b
	opLocalGet    = 0x20
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opI32Const    = 0x41
	opI64Const    = 0x42
	opI32Add      = 0x6a
	opI32Store8   = 0x3a
	opI64Store    = 0x37
	opI64ExtendU  = 0xad
	opI64Or       = 0x84
	opMisc        = 0xfc
	miscMemCopy   = 0x0a
)

type wasmType struct{ params, results []byte }

type wasmImport struct {
	module, name string
	typ          wasmType
}

type wasmFunc struct {
	export string // empty: not exported
	typ    wasmType
	body   []byte // instructions, without the final end
}

type wasmModule struct {
	imports []wasmImport
	funcs   []wasmFunc
	data    map[uint32][]byte
	// start is one more than the index in funcs of the start function; 0
	// means none.
	start int
	// pages is the memory's size, in 64 KiB pages; 0 means one.
	pages uint32
}

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(v int64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func vec(items ...[]byte) []byte {
	b := uleb(uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(id byte, content []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(content)))...), content...)
}

// encode returns the binary module: the imports, one memory of one page
// exported as memory, a mutable i32 global (a bump pointer starting at
// 4096), the functions and the data segments.
func (m wasmModule) encode() []byte {
	var types [][]byte
	typeIndex := map[string]int{}
	typeOf := func(t wasmType) []byte {
		enc := append(append([]byte{0x60}, vec(bytesEach(t.params)...)...), vec(bytesEach(t.results)...)...)
		key := string(enc)
		if _, ok := typeIndex[key]; !ok {
			typeIndex[key] = len(types)
			types = append(types, enc)
		}
		return uleb(uint64(typeIndex[key]))
	}
	var imports, funcs, exports, codes [][]byte
	for _, im := range m.imports {
		imports = append(imports, append(append(append(name(im.module), name(im.name)...), 0x00), typeOf(im.typ)...))
	}
	exports = append(exports, append(name("memory"), 0x02, 0x00))
	for i, f := range m.funcs {
		funcs = append(funcs, typeOf(f.typ))
		if f.export != "" {
			exports = append(exports, append(append(name(f.export), 0x00), uleb(uint64(len(m.imports)+i))...))
		}
		body := append(vec(), append(f.body, opEnd)...) // no locals
		codes = append(codes, append(uleb(uint64(len(body))), body...))
	}
	var datas [][]byte
	for _, off := range slices.Sorted(maps.Keys(m.data)) {
		b := m.data[off]
		seg := append([]byte{0x00, opI32Const}, sleb(int64(off))...)
		seg = append(seg, opEnd)
		datas = append(datas, append(seg, append(uleb(uint64(len(b))), b...)...))
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, section(1, vec(types...))...)
	if len(imports) > 0 {
		out = append(out, section(2, vec(imports...))...)
	}
	out = append(out, section(3, vec(funcs...))...)
	out = append(out, section(5, vec(append([]byte{0x00}, uleb(uint64(max(m.pages, 1)))...)))...)
	global := append([]byte{wI32, 0x01, opI32Const}, sleb(4096)...)
	out = append(out, section(6, vec(append(global, opEnd)))...)
	out = append(out, section(7, vec(exports...))...)
	if m.start > 0 {
		out = append(out, section(8, uleb(uint64(len(m.imports)+m.start-1)))...)
	}
	out = append(out, section(10, vec(codes...))...)
	if len(datas) > 0 {
		out = append(out, section(11, vec(datas...))...)
	}
	return out
}

func bytesEach(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// returnBuffer is a body that returns the packed form of a buffer.
func returnBuffer(ptr, size uint32) []byte {
	return append([]byte{opI64Const}, sleb(int64(uint64(ptr)<<32|uint64(size)))...)
}

var (
	tAlloc    = wasmType{[]byte{wI32}, []byte{wI32}}
	tFree     = wasmType{[]byte{wI32, wI32}, nil}
	tManifest = wasmType{nil, []byte{wI64}}
	tFunction = wasmType{[]byte{wI32, wI32}, []byte{wI64}}
)

// echoBody wraps the input in {"ok": ...} at address 8192: it stores the
// prefix {"ok": as one i64, copies the input after it and appends }.
var echoBody = func() []byte {
	const out = 8192
	prefix := int64(0)
	for i, c := range []byte(`{"ok":`) {
		prefix |= int64(c) << (8 * i)
	}
	b := []byte{opI32Const}
	b = append(b, sleb(out)...)
	b = append(b, opI64Const)
	b = append(b, sleb(prefix)...)
	b = append(b, opI64Store, 3, 0)
	b = append(b, opI32Const)
	b = append(b, sleb(out+6)...)
	b = append(b, opLocalGet, 0, opLocalGet, 1, opMisc, miscMemCopy, 0, 0)
	b = append(b, opI32Const)
	b = append(b, sleb(out+6)...)
	b = append(b, opLocalGet, 1, opI32Add, opI32Const)
	b = append(b, sleb('}')...)
	b = append(b, opI32Store8, 0, 0)
	b = append(b, opI64Const)
	b = append(b, sleb(out<<32)...)
	b = append(b, opLocalGet, 1, opI32Const, 7, opI32Add, opI64ExtendU, opI64Or)
	return b
}()

// handPlugin returns a minimal plugin named name with the functions ok
// (returns true), echo (returns its input) and boom (traps), plus extra
// imports.
func handPlugin(pluginName string, imports ...wasmImport) []byte {
	manifest := []byte(fmt.Sprintf(`{"name":%q,"version":"hand","functions":[{"name":"ok","doc":"Returns true."},{"name":"echo","doc":"Returns its input."},{"name":"boom","doc":"Traps."}]}`, pluginName))
	okResult := []byte(`{"ok":true}`)
	return wasmModule{
		imports: imports,
		funcs: []wasmFunc{
			// A bump allocator: return the pointer, then advance it.
			{export: exportAlloc, typ: tAlloc, body: []byte{opGlobalGet, 0, opGlobalGet, 0, opLocalGet, 0, opI32Add, opGlobalSet, 0}},
			{export: exportFree, typ: tFree},
			{export: exportManifest, typ: tManifest, body: returnBuffer(1024, uint32(len(manifest)))},
			{export: "ok", typ: tFunction, body: returnBuffer(2048, uint32(len(okResult)))},
			{export: "echo", typ: tFunction, body: echoBody},
			{export: "boom", typ: tFunction, body: []byte{opUnreachable}},
		},
		data: map[uint32][]byte{1024: manifest, 2048: okResult},
	}.encode()
}

func TestHandAssembledPlugin(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hand.wasm")
	if err := os.WriteFile(path, handPlugin("hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newTestHost(t, Options{})
	if err := h.Load(ctx, path); err != nil {
		t.Fatal(err)
	}
	out, err := h.Call(ctx, "hand", "ok", []byte(`{"any":"input"}`), nil)
	if err != nil || string(out) != "true" {
		t.Fatalf("ok = %s, %v; want true", out, err)
	}
	for _, in := range []string{`{"nested":[1,{"a":"b"}]}`, `"x"`, string(benchInput)} {
		out, err := h.Call(ctx, "hand", "echo", []byte(in), nil)
		if err != nil || string(out) != in {
			t.Fatalf("echo(%s) = %s, %v", in, out, err)
		}
	}
	before := created(t, h, "hand")
	_, err = h.Call(ctx, "hand", "boom", nil, nil)
	if !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("boom = %v, want a crash naming the unreachable trap", err)
	}
	if out, err := h.Call(ctx, "hand", "ok", nil, nil); err != nil || string(out) != "true" {
		t.Fatalf("ok after the trap = %s, %v; want true", out, err)
	}
	if after := created(t, h, "hand"); after != before+1 {
		t.Errorf("instances created %d -> %d, want one fresh instance", before, after)
	}
}

func TestImportsAreChecked(t *testing.T) {
	log := wasmType{[]byte{wI32, wI32, wI32}, nil}
	tests := []struct {
		name    string
		imports []wasmImport
		want    string
	}{
		{"log is allowed", []wasmImport{{"goshawk", "log", log}}, ""},
		{"wasi is allowed", []wasmImport{{"wasi_snapshot_preview1", "random_get", wasmType{[]byte{wI32, wI32}, []byte{wI32}}}}, ""},
		{"unknown module", []wasmImport{{"env", "abort", wasmType{}}}, "imports env.abort; a plugin may import only from wasi_snapshot_preview1 and goshawk"},
		{"unknown host function", []wasmImport{{"goshawk", "http_get", tFree}}, "imports goshawk.http_get, which this host does not provide (it provides goshawk.log, goshawk.json_valid)"},
		{"wrong log type", []wasmImport{{"goshawk", "log", tFree}}, "imports goshawk.log with type (i32, i32) -> (), want (i32, i32, i32) -> ()"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(ctx, "plugins/hand.wasm", handPlugin("hand", tt.imports...))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestWrongExportTypes(t *testing.T) {
	m := wasmModule{funcs: []wasmFunc{
		{export: exportAlloc, typ: tFree},
		{export: exportFree, typ: tFree},
		{export: exportManifest, typ: tManifest, body: returnBuffer(0, 0)},
	}}
	err := Validate(ctx, "plugins/bad.wasm", m.encode())
	const want = "plugins/bad.wasm: export goshawk_alloc has type (i32, i32) -> (), want (i32) -> (i32) (see docs/plugins.md)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v\nwant %s", err, want)
	}
}
