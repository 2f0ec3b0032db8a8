package wasm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// A call's deadline is enforced by a flag the module itself checks, not by
// wazero's WithCloseOnContextDone. That option makes compiled code leave
// native code for Go at every loop iteration to ask whether the module was
// closed, and Go's WebAssembly backend runs every jump of a function
// through one loop, so a Go plugin paid it on nearly every basic block:
// about 35 ns each, 48 of the 60 µs a small echo call took.
//
// Instead, before compiling, addInterruptChecks gives the module one more
// mutable i32 global, exported as goshawk_interrupt, and makes every
// function entry and every loop header read it and trap when it is not
// zero: a load and a branch, much like wasmtime's epoch interruption.
// The host sets the global from the deadline's timer; the running code
// traps at its next call or loop iteration. Every sequence of instructions
// that never enters a function or a loop is finite, so no call can outrun
// the flag.

// exportInterrupt is the global the host adds to every module. A plugin
// may not export that name itself.
const exportInterrupt = "goshawk_interrupt"

// interruptCheck is the instruction sequence added at every check point
// once the global's index is known: global.get G; if; unreachable; end.
func interruptCheck(global uint32) []byte {
	b := appendULEB([]byte{opcodeGlobalGet}, uint64(global))
	return append(b, opcodeIf, blockTypeEmpty, opcodeUnreachable, opcodeEnd)
}

// Section ids, in the order the binary format requires non-custom sections
// to appear (the tag section of exception handling sits before globals).
const (
	sectionCustom    = 0
	sectionImport    = 2
	sectionGlobal    = 6
	sectionExport    = 7
	sectionCode      = 10
	importKindGlobal = 3
	exportKindGlobal = 3
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
	opcodeGlobalGet   = 0x23
	opcodeI32Const    = 0x41
	blockTypeEmpty    = 0x40
	valueTypeI32      = 0x7f
	globalMutable     = 0x01
)

// errTruncated is what a read past the end of a section reports.
var errTruncated = errors.New("unexpected end")

// addInterruptChecks returns a copy of the module binary wasmBytes with the
// goshawk_interrupt global and its checks added. Custom sections holding
// DWARF are dropped, because the code offsets they describe move. It
// accepts the instruction set of wazero's default features (WebAssembly
// 2.0) and refuses anything it cannot decode.
func addInterruptChecks(wasmBytes []byte) ([]byte, error) {
	if len(wasmBytes) < 8 || !bytes.Equal(wasmBytes[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return nil, errors.New("not a WebAssembly 1.0 binary module")
	}
	out := make([]byte, 0, len(wasmBytes)+len(wasmBytes)/16)
	out = append(out, wasmBytes[:8]...)
	r := reader{b: wasmBytes, off: 8}
	var (
		importedGlobals uint32
		global          uint32
		globalDone      bool
		exportDone      bool
		lastOrder       int
	)
	// addGlobal writes a global section holding only the new global, for
	// a module that has none.
	addGlobal := func() {
		global, globalDone = importedGlobals, true
		out = appendSection(out, sectionGlobal, append([]byte{1}, newGlobal...))
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
			name, _ := (&reader{b: content}).name()
			if !strings.HasPrefix(name, ".debug_") {
				out = appendSection(out, id, content)
			}
			continue
		}
		order, ok := sectionOrder[id]
		if !ok || order <= lastOrder {
			return nil, fmt.Errorf("section %d is unknown or out of order", id)
		}
		lastOrder = order
		if id != 8 && id != 12 {
			// Every other section is a vector, and each item takes at least
			// a byte. A larger count is malformed, and wazero would
			// allocate room for it before finding out.
			cr := reader{b: content}
			n, err := cr.u32()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			if int64(n) > int64(len(content)-cr.off) {
				return nil, fmt.Errorf("%s: %d items can't fit in %d bytes", what, n, len(content))
			}
		}
		if !globalDone && order > sectionOrder[sectionGlobal] {
			addGlobal()
		}
		if !exportDone && order > sectionOrder[sectionExport] {
			out = appendSection(out, sectionExport, append([]byte{1}, newExport(global)...))
			exportDone = true
		}
		switch id {
		case sectionImport:
			if importedGlobals, err = countImportedGlobals(content); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		case sectionGlobal:
			cr := reader{b: content}
			n, err := cr.u32()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			global, globalDone = importedGlobals+n, true
			content = append(appendULEB(nil, uint64(n)+1), content[cr.off:]...)
			content = append(content, newGlobal...)
		case sectionExport:
			if content, err = addExport(content, global); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			exportDone = true
		case sectionCode:
			if content, err = addChecks(content, interruptCheck(global)); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		}
		out = appendSection(out, id, content)
	}
	if !globalDone {
		addGlobal()
	}
	if !exportDone {
		out = appendSection(out, sectionExport, append([]byte{1}, newExport(global)...))
	}
	return out, nil
}

// newGlobal is the added global: a mutable i32 that starts at zero.
var newGlobal = []byte{valueTypeI32, globalMutable, opcodeI32Const, 0, opcodeEnd}

func newExport(global uint32) []byte {
	b := appendULEB(nil, uint64(len(exportInterrupt)))
	b = append(b, exportInterrupt...)
	return appendULEB(append(b, exportKindGlobal), uint64(global))
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendULEB(out, uint64(len(content)))
	return append(out, content...)
}

// countImportedGlobals returns how many globals the import section
// imports; the module's own globals are numbered after them.
func countImportedGlobals(content []byte) (uint32, error) {
	r := reader{b: content}
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	var globals uint32
	for range n {
		if _, err := r.name(); err != nil {
			return 0, err
		}
		if _, err := r.name(); err != nil {
			return 0, err
		}
		kind, err := r.byte()
		if err != nil {
			return 0, err
		}
		switch kind {
		case 0: // function: type index
			_, err = r.u32()
		case 1: // table: reference type, limits
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case 2: // memory: limits
			err = r.limits()
		case importKindGlobal: // global: value type, mutability
			globals++
			_, err = r.bytes(2)
		case 4: // tag: attribute, type index
			if _, err = r.byte(); err == nil {
				_, err = r.u32()
			}
		default:
			return 0, fmt.Errorf("unknown import kind %d", kind)
		}
		if err != nil {
			return 0, err
		}
	}
	return globals, nil
}

// addExport appends the interrupt global to the export section, refusing a
// module that already exports the name.
func addExport(content []byte, global uint32) ([]byte, error) {
	r := reader{b: content}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	entries := r.off
	for range n {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if name == exportInterrupt {
			return nil, fmt.Errorf("the module exports %s, a name the host reserves for itself; rename that export", exportInterrupt)
		}
		if _, err := r.byte(); err != nil {
			return nil, err
		}
		if _, err := r.u32(); err != nil {
			return nil, err
		}
	}
	if r.off != len(content) {
		return nil, errors.New("trailing bytes")
	}
	out := appendULEB(nil, uint64(n)+1)
	out = append(out, content[entries:]...)
	return append(out, newExport(global)...), nil
}

// addChecks rewrites the code section: check is placed at the start of
// every function body and after the block type of every loop.
func addChecks(content, check []byte) ([]byte, error) {
	r := reader{b: content}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendULEB(make([]byte, 0, len(content)+len(content)/8), uint64(n))
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
		if body, err = checkBody(body[:0], code, check); err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	if r.off != len(content) {
		return nil, errors.New("trailing bytes")
	}
	return out, nil
}

// checkBody appends the rewritten function body code to out.
func checkBody(out, code, check []byte) ([]byte, error) {
	r := reader{b: code}
	groups, err := r.u32()
	if err != nil {
		return nil, err
	}
	for range groups {
		if _, err := r.u32(); err != nil { // count
			return nil, err
		}
		if _, err := r.byte(); err != nil { // value type
			return nil, err
		}
	}
	out = append(out, code[:r.off]...)
	out = append(out, check...)
	for r.off < len(code) {
		start := r.off
		op, err := r.byte()
		if err != nil {
			return nil, err
		}
		if err := r.skipImmediates(op); err != nil {
			return nil, fmt.Errorf("instruction 0x%02x at byte %d: %w", op, start, err)
		}
		out = append(out, code[start:r.off]...)
		if op == opcodeLoop {
			out = append(out, check...)
		}
	}
	return out, nil
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

func appendULEB(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
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
		n, err := r.u32()
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
	case op == 0xfc:
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
