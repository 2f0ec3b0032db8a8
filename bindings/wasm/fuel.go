package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// How a call's deadline is enforced.
//
// Compiled WebAssembly is not preempted by the Go scheduler: a goroutine
// running guest code keeps its thread and its P until the guest calls out.
// A deadline timer, or wazero's WithCloseOnContextDone, needs another
// goroutine to run to set the flag that stops the guest, and when guests
// occupy every P that goroutine never runs: the calls never end, and
// nothing else in the process runs either (HTTP handlers, signal handling,
// the garbage collector's stop-the-world waits for them).
//
// So the guest counts its own work and checks the clock itself. Before
// compiling, instrument gives the module
//
//   - an imported function, goshawk_internal.fuel () -> i32, at function
//     index 0 (every function of the module moves up by one);
//   - a mutable i32 global, the fuel, numbered after the module's own
//     globals, and a scratch global after it; neither is exported;
//   - at the start of every function and of every loop, a checkpoint that
//     subtracts the number of instructions up to the next checkpoint from
//     the fuel and, when the fuel is used up, calls the fuel import;
//   - before each bulk memory or table instruction, a charge in proportion
//     to its length, and a checkpoint after it;
//   - after each call of a host function (an import: WASI or goshawk), an
//     instruction that empties the fuel, since the host's work is not
//     counted in instructions: the next checkpoint visits the host, which
//     reads the clock.
//
// The fuel import runs in Go, on the guest's own goroutine: it ends the
// call when the deadline has passed or the caller has given up, lets the
// Go scheduler run other goroutines (runtime.Gosched, at most once a
// millisecond), and refills the fuel. A refill is fuelSlice instructions, a few milliseconds of guest
// work, so a call overruns its deadline by at most about that much, and
// the guest leaves the CPU to the rest of the process that often, however
// many guests run at once and however few CPUs there are.
//
// Between two checkpoints control only moves forward inside a function
// (every backward branch targets a loop, which starts with a checkpoint),
// so a checkpoint's charge covers everything its function runs before the
// next one, and calls are charged by the callee's own checkpoints. The
// charge overestimates (a branch that skips code still pays for it), which
// only makes the fuel run out sooner.
//
// The module is decoded with every length checked before wazero sees it,
// and wazero validates the original, unmodified module before the
// rewritten one is compiled. The rewriter also refuses any global or
// function index outside the original module's own range, so no
// instruction of the plugin can read or write the fuel or call the fuel
// import.

// fuelSlice is how many instructions a guest runs between two visits to the
// host: about 5 to 20 ms of the tightest loops on a current CPU.
const fuelSlice = 1 << 24

// maxCharge caps one checkpoint's static charge; longer straight-line code
// is charged this much, which only matters for absurd functions.
const maxCharge = 1 << 24

// Host module and function of the injected import. A plugin may import
// only from wasi_snapshot_preview1 and goshawk, so it can't import this.
const (
	fuelModule   = "goshawk_internal"
	fuelFunction = "fuel"
)

// exportInterrupt is a name the host reserves; a plugin may not export it.
const exportInterrupt = "goshawk_interrupt"

// Limits of the decoder, so that a hostile module can't make wazero
// allocate without bound before validation.
const (
	// maxLocals is the most locals one function may declare, as in web
	// browsers' engines.
	maxLocals = 50000
	// maxTableElements is the most elements a table may start with or grow
	// to.
	maxTableElements = 1 << 20
)

// Section ids, in the order the binary format requires non-custom sections
// to appear (the tag section of exception handling sits before globals).
const (
	sectionCustom    = 0
	sectionType      = 1
	sectionImport    = 2
	sectionFunction  = 3
	sectionTable     = 4
	sectionMemory    = 5
	sectionGlobal    = 6
	sectionExport    = 7
	sectionStart     = 8
	sectionElement   = 9
	sectionCode      = 10
	sectionData      = 11
	sectionDataCount = 12
	sectionTag       = 13
)

var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

var sectionNames = map[byte]string{1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 13: "tag",
	6: "global", 7: "export", 8: "start", 9: "element", 12: "data count", 10: "code", 11: "data"}

// Opcodes the rewriter writes or must recognise.
const (
	opcodeUnreachable = 0x00
	opcodeLoop        = 0x03
	opcodeIf          = 0x04
	opcodeEnd         = 0x0b
	opcodeCall        = 0x10
	opcodeGlobalGet   = 0x23
	opcodeGlobalSet   = 0x24
	opcodeI32Const    = 0x41
	opcodeI32LeS      = 0x4c
	opcodeI32Sub      = 0x6b
	opcodeI32ShrU     = 0x76
	opcodeRefFunc     = 0xd2
	opcodeMisc        = 0xfc
	blockTypeEmpty    = 0x40
	valueTypeI32      = 0x7f
	globalMutable     = 0x01
	funcTypeForm      = 0x60
)

// errTruncated is what a read past the end of a section reports.
var errTruncated = errors.New("unexpected end")

// rewriter holds what instrument learns about the module as it goes.
type rewriter struct {
	types         uint32 // function types the module declares
	importedFuncs uint32
	// jsonValid is the index of the goshawk.json_valid import, which
	// watches the deadline itself.
	jsonValid       uint32
	funcs           uint32 // imported and defined
	importedGlobals uint32
	globals         uint32 // imported and defined
	tables          uint32
	// tablesBounded: every table declares a maximum of at most
	// maxTableElements, so table.grow can't exhaust the host's memory.
	tablesBounded bool
	fuel, scratch uint32 // indices of the added globals
	added         []byte // their definitions
	typeDone      bool
	importDone    bool
	globalDone    bool
}

// instrument returns a copy of the module binary wasmBytes with the fuel
// import, globals and checkpoints added (see the top of this file). Custom
// sections holding DWARF are dropped, because the code offsets they describe
// move; the name section is renumbered. It accepts the instruction set of
// wazero's default features (WebAssembly 2.0) and refuses anything it
// cannot decode, or any count that can't fit in the bytes that follow it.
//
// The fuel starts at fuel; the tests pass a small amount to see it charged.
func instrument(wasmBytes []byte, fuel int32) ([]byte, error) {
	if len(wasmBytes) < 8 || !bytes.Equal(wasmBytes[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 binary module")
	}
	out := make([]byte, 0, len(wasmBytes)+len(wasmBytes)/8)
	out = append(out, wasmBytes[:8]...)
	w := &rewriter{tablesBounded: true, added: addedGlobals(fuel), jsonValid: math.MaxUint32}
	r := reader{b: wasmBytes, off: 8}
	lastOrder := 0
	// fill adds the sections the module lacks that the additions need,
	// once the sections before the next one have been seen.
	fill := func(order int) {
		if !w.typeDone && order > sectionOrder[sectionType] {
			w.typeDone = true
			out = appendSection(out, sectionType, append([]byte{1}, fuelType...))
		}
		if !w.importDone && order > sectionOrder[sectionImport] {
			w.importDone = true
			out = appendSection(out, sectionImport, append([]byte{1}, fuelImport(w.types)...))
		}
		if !w.globalDone && order > sectionOrder[sectionGlobal] {
			w.globalDone = true
			w.fuel, w.scratch = w.globals, w.globals+1
			out = appendSection(out, sectionGlobal, append([]byte{2}, w.added...))
		}
	}
	for r.off < len(r.b) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		what := sectionNames[id] + " section"
		if id == sectionCustom {
			what = "custom section"
		}
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		content, err := r.bytes(int(size))
		if err != nil {
			return nil, fmt.Errorf("%s: %w of the module", what, err)
		}
		if id == sectionCustom {
			cr := reader{b: content}
			name, err := cr.name()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			switch {
			case strings.HasPrefix(name, ".debug_"):
			case name == "name":
				// Names only label stack traces; drop a section that
				// doesn't decode rather than refuse the module.
				if names, err := w.names(content[cr.off:]); err == nil {
					out = appendSection(out, id, append(content[:cr.off:cr.off], names...))
				}
			default:
				out = appendSection(out, id, content)
			}
			continue
		}
		order, ok := sectionOrder[id]
		if !ok || order <= lastOrder {
			return nil, fmt.Errorf("section %d is unknown or out of order", id)
		}
		lastOrder = order
		fill(order)
		cr := &reader{b: content}
		var body []byte
		switch id {
		case sectionType:
			body, err = w.typeSection(cr)
		case sectionImport:
			body, err = w.importSection(cr)
		case sectionFunction:
			body, err = w.functionSection(cr)
		case sectionTable:
			body, err = w.tableSection(cr)
		case sectionMemory:
			body, err = vector(cr, func(r *reader, out []byte) ([]byte, error) {
				start := r.off
				err := r.limits()
				return append(out, r.b[start:r.off]...), err
			})
		case sectionTag:
			body, err = vector(cr, func(r *reader, out []byte) ([]byte, error) {
				start := r.off
				if _, err := r.byte(); err != nil {
					return nil, err
				}
				_, err := r.u32()
				return append(out, r.b[start:r.off]...), err
			})
		case sectionGlobal:
			body, err = w.globalSection(cr)
		case sectionExport:
			body, err = w.exportSection(cr)
		case sectionStart:
			var idx uint32
			if idx, err = w.funcIndex(cr); err == nil {
				body = appendULEB(nil, uint64(idx))
			}
		case sectionElement:
			body, err = vector(cr, w.element)
		case sectionDataCount:
			_, err = cr.u32()
			body = content
		case sectionCode:
			body, err = w.codeSection(cr)
		case sectionData:
			body, err = vector(cr, w.data)
		}
		if err == nil && cr.off != len(content) {
			err = errors.New("trailing bytes")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = appendSection(out, id, body)
	}
	fill(len(sectionOrder) + 1)
	return out, nil
}

// fuelType is the type of the fuel import: () -> (i32).
var fuelType = []byte{funcTypeForm, 0, 1, valueTypeI32}

func fuelImport(typeIndex uint32) []byte {
	b := appendName(nil, fuelModule)
	b = appendName(b, fuelFunction)
	return appendULEB(append(b, 0x00), uint64(typeIndex))
}

// addedGlobals are the fuel (a mutable i32 starting at fuel) and the
// scratch global (a mutable i32 starting at zero).
func addedGlobals(fuel int32) []byte {
	b := []byte{valueTypeI32, globalMutable, opcodeI32Const}
	b = appendSLEB32(b, fuel)
	b = append(b, opcodeEnd)
	return append(b, valueTypeI32, globalMutable, opcodeI32Const, 0, opcodeEnd)
}

func appendName(b []byte, s string) []byte {
	return append(appendULEB(b, uint64(len(s))), s...)
}

// vector reads a vector whose items item reads and rewrites, after
// checking that its count can fit in what follows: every item takes at
// least a byte, and wazero would allocate room for the count before
// finding out.
func vector(r *reader, item func(*reader, []byte) ([]byte, error)) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out := appendULEB(make([]byte, 0, len(r.b)), uint64(n))
	for range n {
		if out, err = item(r, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (w *rewriter) typeSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	start := r.off
	for range n {
		form, err := r.byte()
		if err != nil {
			return nil, err
		}
		if form != funcTypeForm {
			return nil, fmt.Errorf("type form 0x%02x is not a function type", form)
		}
		for range 2 { // parameters, results
			k, err := r.count()
			if err != nil {
				return nil, err
			}
			if _, err := r.bytes(int(k)); err != nil {
				return nil, err
			}
		}
	}
	w.types, w.typeDone = n, true
	out := appendULEB(nil, uint64(n)+1)
	out = append(out, r.b[start:r.off]...)
	return append(out, fuelType...), nil
}

func (w *rewriter) importSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	start := r.off
	for range n {
		module, err := r.name()
		if err != nil {
			return nil, err
		}
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch kind {
		case 0: // function: type index
			if module == hostModule && name == "json_valid" {
				w.jsonValid = w.importedFuncs
			}
			w.importedFuncs++
			_, err = r.u32()
		case 1: // table: reference type, limits
			w.tables++
			w.tablesBounded = false
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case 2: // memory: limits
			err = r.limits()
		case 3: // global: value type, mutability
			w.importedGlobals++
			_, err = r.bytes(2)
		case 4: // tag: attribute, type index
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return nil, fmt.Errorf("unknown import kind %d", kind)
		}
		if err != nil {
			return nil, err
		}
	}
	w.funcs, w.globals, w.importDone = w.importedFuncs, w.importedGlobals, true
	// The fuel import comes first, as function 0.
	out := appendULEB(nil, uint64(n)+1)
	out = append(out, fuelImport(w.types)...)
	return append(out, r.b[start:r.off]...), nil
}

func (w *rewriter) functionSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	start := r.off
	for range n {
		t, err := r.u32()
		if err != nil {
			return nil, err
		}
		if t >= w.types {
			return nil, fmt.Errorf("type index %d out of range", t)
		}
	}
	w.funcs += n
	return append(appendULEB(nil, uint64(n)), r.b[start:r.off]...), nil
}

func (w *rewriter) tableSection(r *reader) ([]byte, error) {
	return vector(r, func(r *reader, out []byte) ([]byte, error) {
		start := r.off
		if _, err := r.byte(); err != nil { // reference type
			return nil, err
		}
		flags, err := r.byte()
		if err != nil {
			return nil, err
		}
		min, err := r.u32()
		if err != nil {
			return nil, err
		}
		if min > maxTableElements {
			return nil, fmt.Errorf("a table of %d elements is more than the %d a plugin may have", min, maxTableElements)
		}
		if flags&1 == 0 {
			w.tablesBounded = false
		} else {
			max, err := r.u32()
			if err != nil {
				return nil, err
			}
			if max > maxTableElements {
				w.tablesBounded = false
			}
		}
		w.tables++
		return append(out, r.b[start:r.off]...), nil
	})
}

func (w *rewriter) globalSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out := appendULEB(nil, uint64(n)+2)
	for i := range n {
		t, err := r.bytes(2) // value type, mutability
		if err != nil {
			return nil, err
		}
		out = append(out, t...)
		// A global's initialiser may read only the globals before it.
		if out, err = w.constExpr(r, out, w.globals); err != nil {
			return nil, fmt.Errorf("global %d: %w", i, err)
		}
		w.globals++
	}
	w.fuel, w.scratch, w.globalDone = w.globals, w.globals+1, true
	return append(out, w.added...), nil
}

func (w *rewriter) exportSection(r *reader) ([]byte, error) {
	return vector(r, func(r *reader, out []byte) ([]byte, error) {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if name == exportInterrupt {
			return nil, fmt.Errorf("the module exports %s, a name the host reserves for itself; rename that export", exportInterrupt)
		}
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		out = append(appendName(out, name), kind)
		if kind == 0 {
			idx, err := w.funcIndex(r)
			if err != nil {
				return nil, err
			}
			return appendULEB(out, uint64(idx)), nil
		}
		idx, err := r.u32()
		return appendULEB(out, uint64(idx)), err
	})
}

// funcIndex reads a function index of the original module and returns its
// index in the rewritten one.
func (w *rewriter) funcIndex(r *reader) (uint32, error) {
	idx, err := r.u32()
	if err != nil {
		return 0, err
	}
	if idx >= w.funcs {
		return 0, fmt.Errorf("function index %d out of range", idx)
	}
	return idx + 1, nil
}

// element rewrites one element segment; the eight encodings are told apart
// by their flags.
func (w *rewriter) element(r *reader, out []byte) ([]byte, error) {
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	if flags > 7 {
		return nil, fmt.Errorf("unknown element segment flags %d", flags)
	}
	out = appendULEB(out, uint64(flags))
	if flags&2 != 0 && flags&1 == 0 { // explicit table index
		t, err := r.u32()
		if err != nil {
			return nil, err
		}
		out = appendULEB(out, uint64(t))
	}
	if flags&1 == 0 { // active: offset expression
		if out, err = w.constExpr(r, out, w.globals); err != nil {
			return nil, err
		}
	}
	if flags&3 != 0 { // element kind or reference type
		b, err := r.byte()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	out = appendULEB(out, uint64(n))
	for range n {
		if flags&4 != 0 {
			if out, err = w.constExpr(r, out, w.globals); err != nil {
				return nil, err
			}
			continue
		}
		idx, err := w.funcIndex(r)
		if err != nil {
			return nil, err
		}
		out = appendULEB(out, uint64(idx))
	}
	return out, nil
}

// data checks one data segment; nothing in it needs renumbering beyond its
// offset expression.
func (w *rewriter) data(r *reader, out []byte) ([]byte, error) {
	flags, err := r.u32()
	if err != nil {
		return nil, err
	}
	out = appendULEB(out, uint64(flags))
	switch flags {
	case 0:
		out, err = w.constExpr(r, out, w.globals)
	case 1:
	case 2:
		var mem uint32
		if mem, err = r.u32(); err == nil {
			out = appendULEB(out, uint64(mem))
			out, err = w.constExpr(r, out, w.globals)
		}
	default:
		return nil, fmt.Errorf("unknown data segment flags %d", flags)
	}
	if err != nil {
		return nil, err
	}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	b, err := r.bytes(int(n))
	if err != nil {
		return nil, err
	}
	return append(appendULEB(out, uint64(n)), b...), nil
}

// constExpr rewrites a constant expression; it may read globals below
// globals.
func (w *rewriter) constExpr(r *reader, out []byte, globals uint32) ([]byte, error) {
	for {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		switch op {
		case opcodeEnd:
			return append(out, op), nil
		case opcodeRefFunc:
			idx, err := w.funcIndex(r)
			if err != nil {
				return nil, err
			}
			out = appendULEB(append(out, op), uint64(idx))
		case opcodeGlobalGet:
			g, err := r.u32()
			if err != nil {
				return nil, err
			}
			if g >= globals {
				return nil, fmt.Errorf("global index %d out of range", g)
			}
			out = append(out, r.b[start:r.off]...)
		default:
			if err := r.skipImmediates(op); err != nil {
				return nil, fmt.Errorf("instruction 0x%02x in a constant expression: %w", op, err)
			}
			out = append(out, r.b[start:r.off]...)
		}
	}
}

func (w *rewriter) codeSection(r *reader) ([]byte, error) {
	n, err := r.count()
	if err != nil {
		return nil, err
	}
	if n != w.funcs-w.importedFuncs {
		return nil, fmt.Errorf("%d function bodies for %d functions", n, w.funcs-w.importedFuncs)
	}
	out := appendULEB(make([]byte, 0, len(r.b)+len(r.b)/4), uint64(n))
	var body []byte
	for i := range n {
		size, err := r.u32()
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		code, err := r.bytes(int(size))
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		if body, err = w.body(body[:0], code); err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

// checkpoint appends a checkpoint charging a yet unknown number of
// instructions, and returns where the charge is, for setCharge.
func (w *rewriter) checkpoint(out []byte) ([]byte, int) {
	out = appendULEB(append(out, opcodeGlobalGet), uint64(w.fuel))
	at := len(out) + 1
	out = append(out, opcodeI32Const, 0x80, 0x80, 0x80, 0x80, 0x00, opcodeI32Sub)
	out = appendULEB(append(out, opcodeGlobalSet), uint64(w.fuel))
	return w.check(out), at
}

// check appends a test of the fuel: when it is used up, call the fuel
// import and store the refill it returns.
func (w *rewriter) check(out []byte) []byte {
	out = appendULEB(append(out, opcodeGlobalGet), uint64(w.fuel))
	out = append(out, opcodeI32Const, 0, opcodeI32LeS, opcodeIf, blockTypeEmpty, opcodeCall, 0)
	out = appendULEB(append(out, opcodeGlobalSet), uint64(w.fuel))
	return append(out, opcodeEnd)
}

// setCharge writes n into the 5-byte signed LEB128 placeholder at at.
func setCharge(out []byte, at int, n int) {
	n = max(1, min(n, maxCharge))
	for i := range 4 {
		out[at+i] = byte(n>>(7*i))&0x7f | 0x80
	}
	out[at+4] = byte(n>>28) & 0x7f
}

// charge appends code that charges the length on top of the stack, shifted
// right by shift, leaving the stack as it was.
func (w *rewriter) charge(out []byte, shift byte) []byte {
	out = appendULEB(append(out, opcodeGlobalSet), uint64(w.scratch))
	out = appendULEB(append(out, opcodeGlobalGet), uint64(w.scratch))
	out = appendULEB(append(out, opcodeGlobalGet), uint64(w.fuel))
	out = appendULEB(append(out, opcodeGlobalGet), uint64(w.scratch))
	out = append(out, opcodeI32Const, shift, opcodeI32ShrU, opcodeI32Sub)
	return appendULEB(append(out, opcodeGlobalSet), uint64(w.fuel))
}

// body appends the rewritten function body code to out.
func (w *rewriter) body(out, code []byte) ([]byte, error) {
	r := reader{b: code}
	groups, err := r.u32()
	if err != nil {
		return nil, err
	}
	var locals uint64
	for range groups {
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if locals += uint64(n); locals > maxLocals {
			return nil, fmt.Errorf("more than %d locals", maxLocals)
		}
		if _, err := r.byte(); err != nil { // value type
			return nil, err
		}
	}
	out = append(out, code[:r.off]...)
	out, at := w.checkpoint(out)
	count := 0
	for r.off < len(code) {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		count++
		switch op {
		case opcodeCall, opcodeRefFunc:
			idx, err := w.funcIndex(&r)
			if err != nil {
				return nil, err
			}
			out = appendULEB(append(out, op), uint64(idx))
			if op == opcodeCall && idx-1 < w.importedFuncs && idx-1 != w.jsonValid {
				// A host function's work isn't counted in instructions:
				// the next checkpoint visits the host, which reads the
				// clock.
				out = append(out, opcodeI32Const, 0)
				out = appendULEB(append(out, opcodeGlobalSet), uint64(w.fuel))
			}
			continue
		case opcodeGlobalGet, opcodeGlobalSet:
			g, err := r.u32()
			if err != nil {
				return nil, err
			}
			if g >= w.globals {
				return nil, fmt.Errorf("global index %d out of range", g)
			}
			out = append(out, code[start:r.off]...)
			continue
		case opcodeMisc:
			sub, err := r.u32()
			if err != nil {
				return nil, err
			}
			r.off = start + 1
			if err := r.skipImmediates(op); err != nil {
				return nil, fmt.Errorf("instruction 0xfc %d at byte %d: %w", sub, start, err)
			}
			var shift byte
			switch sub {
			case 8, 10, 11: // memory.init, memory.copy, memory.fill: bytes
				shift = 4
			case 12, 14, 15, 17: // table.init, table.copy, table.grow, table.fill: elements
				shift = 1
				if sub == 15 && !w.tablesBounded {
					return nil, fmt.Errorf("table.grow on a table without a maximum of at most %d elements; declare such a maximum", maxTableElements)
				}
			default:
				out = append(out, code[start:r.off]...)
				continue
			}
			out = w.charge(out, shift)
			out = append(out, code[start:r.off]...)
			out = w.check(out)
			continue
		}
		if err := r.skipImmediates(op); err != nil {
			return nil, fmt.Errorf("instruction 0x%02x at byte %d: %w", op, start, err)
		}
		out = append(out, code[start:r.off]...)
		if op == opcodeLoop {
			setCharge(out, at, count)
			out, at = w.checkpoint(out)
			count = 0
		}
	}
	setCharge(out, at, count)
	return out, nil
}

// names renumbers the function names of a name section's content and keeps
// its module name; other subsections (local and label names, whose
// function indices would need renumbering too) are dropped.
func (w *rewriter) names(content []byte) ([]byte, error) {
	r := reader{b: content}
	var out []byte
	for r.off < len(content) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		sub, err := r.bytes(int(size))
		if err != nil {
			return nil, err
		}
		switch id {
		case 0:
			sr := reader{b: sub}
			if _, err := sr.name(); err != nil || sr.off != len(sub) {
				return nil, errors.New("bad module name")
			}
			out = appendSection(out, id, sub)
		case 1:
			sr := &reader{b: sub}
			body, err := vector(sr, func(r *reader, out []byte) ([]byte, error) {
				idx, err := w.funcIndex(r)
				if err != nil {
					return nil, err
				}
				name, err := r.name()
				return appendName(appendULEB(out, uint64(idx)), name), err
			})
			if err != nil || sr.off != len(sub) {
				return nil, errors.New("bad function names")
			}
			out = appendSection(out, id, body)
		}
	}
	return out, nil
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendULEB(out, uint64(len(content)))
	return append(out, content...)
}

// reader decodes the binary format. Every method fails rather than read
// past the end.
type reader struct {
	b   []byte
	off int
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, errTruncated
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

// leb reads a LEB128 number of at most bits bits, unsigned or signed, and
// returns its raw low bits.
func (r *reader) leb(bits uint) (uint64, error) {
	var v uint64
	for shift := uint(0); shift < bits; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("integer too long")
}

func (r *reader) u32() (uint32, error) {
	v, err := r.leb(32)
	if err != nil {
		return 0, err
	}
	if v > 1<<32-1 {
		return 0, errors.New("integer too large")
	}
	return uint32(v), nil
}

// count reads the length of a vector whose items take at least a byte
// each, refusing one that can't fit in what follows.
func (r *reader) count() (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if int64(n) > int64(len(r.b)-r.off) {
		return 0, fmt.Errorf("%d items can't fit in the %d bytes left", n, len(r.b)-r.off)
	}
	return n, nil
}

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendSLEB32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(int(n))
	return string(b), err
}

func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.u32()
	}
	return err
}

// skipU32s reads n unsigned integers.
func (r *reader) skipU32s(n int) error {
	for range n {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// memarg reads a memory operand: alignment (with the multi-memory flag, a
// memory index follows) and offset.
func (r *reader) memarg() error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.leb(64)
	return err
}

func (r *reader) blockType() error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	switch c {
	case blockTypeEmpty, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return nil
	}
	// A type index, as a signed 33-bit number.
	r.off--
	_, err = r.leb(33)
	return err
}

// skipImmediates reads the immediates of the instruction op.
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op <= 0x01, op == 0x05, op == opcodeEnd, op == 0x0f, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1:
		return nil
	case op >= 0x02 && op <= 0x04: // block, loop, if
		return r.blockType()
	case op == 0x0c, op == 0x0d, op == 0x10, op >= 0x20 && op <= 0x26, op == 0xd2:
		return r.skipU32s(1)
	case op == 0x0e: // br_table
		n, err := r.count()
		if err != nil {
			return err
		}
		return r.skipU32s(int(n) + 1)
	case op == 0x11: // call_indirect
		return r.skipU32s(2)
	case op == 0x1c: // typed select
		n, err := r.u32()
		if err != nil {
			return err
		}
		_, err = r.bytes(int(n))
		return err
	case op >= 0x28 && op <= 0x3e:
		return r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		return r.skipU32s(1)
	case op == opcodeI32Const:
		_, err := r.leb(32)
		return err
	case op == 0x42:
		_, err := r.leb(64)
		return err
	case op == 0x43:
		_, err := r.bytes(4)
		return err
	case op == 0x44:
		_, err := r.bytes(8)
		return err
	case op == 0xd0: // ref.null
		_, err := r.byte()
		return err
	case op == opcodeMisc:
		return r.skipMisc()
	case op == 0xfd:
		return r.skipVector()
	}
	return errors.New("unsupported instruction")
}

// skipMisc reads a 0xfc instruction: saturating truncation, bulk memory
// and table operations.
func (r *reader) skipMisc() error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7:
		return nil
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		return r.skipU32s(2)
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17:
		return r.skipU32s(1)
	}
	return fmt.Errorf("unsupported instruction 0xfc %d", sub)
}

// skipVector reads a 0xfd (SIMD) instruction.
func (r *reader) skipVector() error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11, sub == 92, sub == 93: // loads and stores
		return r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		_, err := r.bytes(16)
		return err
	case sub >= 21 && sub <= 34: // extract and replace lane
		_, err := r.byte()
		return err
	case sub >= 84 && sub <= 91: // load and store lane
		if err := r.memarg(); err != nil {
			return err
		}
		_, err := r.byte()
		return err
	case sub <= 255:
		return nil
	}
	return fmt.Errorf("unsupported instruction 0xfd %d", sub)
}
