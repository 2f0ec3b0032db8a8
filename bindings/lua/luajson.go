package lua

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"

	"github.com/goshawk/goshawk/internal/jsonw"
)

// JSON straight between bytes and Lua values.
//
// json.encode, json.decode and plugin calls used to go through Go values:
// FromLua then encodeJSON, decodeJSON then ToLua. Building the Go maps in
// between cost more than the JSON itself. encodeLuaJSON and decodeLuaJSON
// give the same bytes and the same Lua values without them.

// encodeLuaJSON is encodeJSON(FromLua(v)) in one pass: the same output, and
// the same errors (a value FromLua refuses, NaN, the output limit).
func encodeLuaJSON(v glua.LValue, limit int) ([]byte, error) {
	var e luaEncoder
	return e.encode(nil, v, limit)
}

// encode appends v to buf. Its scratch space is kept between values.
func (e *luaEncoder) encode(buf []byte, v glua.LValue, limit int) ([]byte, error) {
	e.buf, e.limit, e.nodes = buf, limit, 0
	err := e.value(v, 0)
	out := e.buf
	e.buf = nil
	if cap(e.pairs) > maxKeptScratch {
		e.pairs = nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

type luaEncoder struct {
	buf   []byte
	limit int
	// walk is FromLua's cycle check, value budget and entries stack.
	walk
}

func (e *luaEncoder) value(v glua.LValue, depth int) error {
	if err := e.count(); err != nil {
		return err
	}
	switch x := v.(type) {
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case glua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(x))
	case glua.LString:
		e.buf = jsonw.AppendString(e.buf, string(x))
	case glua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && f <= maxExactInt && f >= -maxExactInt {
			e.buf = strconv.AppendInt(e.buf, int64(f), 10)
		} else {
			var err error
			if e.buf, err = appendJSONFloat(e.buf, f); err != nil {
				return err
			}
		}
	case *glua.LTable:
		if err := e.table(x, depth); err != nil {
			return err
		}
	default:
		return fmt.Errorf("cannot convert a Lua %s to data; only nil, booleans, numbers, strings and tables convert", v.Type())
	}
	if len(e.buf) > e.limit {
		return fmt.Errorf("json.encode: output %w of %d bytes", errTooLarge, e.limit)
	}
	return nil
}

func (e *luaEncoder) table(t *glua.LTable, depth int) error {
	base, kind, err := e.enter(t, depth)
	if err != nil {
		return err
	}
	defer e.leave(base)
	switch kind.form {
	case emptyTable:
		if t.Metatable == arrayMeta {
			e.buf = append(e.buf, "[]"...)
		} else {
			e.buf = append(e.buf, "{}"...)
		}
		return nil
	case arrayTable:
		e.buf = append(e.buf, '[')
		for i := 1; i <= kind.count; i++ {
			if i > 1 {
				e.buf = append(e.buf, ',')
			}
			if err := e.value(t.RawGetInt(i), depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		e.buf = append(e.buf, ']')
		return nil
	}
	// An object: its keys as FromLua writes them, sorted. Of two keys that
	// write the same ("1" and 1), the one FromLua keeps wins: the higher
	// rank.
	ms := e.pairs[base:]
	for i := range ms {
		key, err := objectKey(ms[i].key)
		if err != nil {
			return err
		}
		ms[i].name = key
	}
	slices.SortFunc(ms, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.rank, b.rank))
	})
	e.buf = append(e.buf, '{')
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && ms[i+1].name == m.name {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.buf = jsonw.AppendString(e.buf, m.name)
		e.buf = append(e.buf, ':')
		if err := e.value(m.value, depth+1); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// objectKey is the name of a table key in an object, as FromLua writes it.
func objectKey(k glua.LValue) (string, error) {
	switch kk := k.(type) {
	case glua.LString:
		return string(kk), nil
	case glua.LNumber:
		f := float64(kk)
		if f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return strconv.FormatInt(int64(f), 10), nil
		}
		return kk.String(), nil
	}
	return "", fmt.Errorf("table key of type %s cannot be converted; use string or number keys", k.Type())
}

// pair is one entry of a table being converted.
type pair struct {
	key, value glua.LValue
	// name is the key as written in an object.
	name string
	// rank orders keys that write the same name: a whole number in the
	// table's array part (0), a string (1), any other number (2). The
	// highest wins, as it always has: FromLua used to fill its map in
	// ForEach's order, which visits the parts in that order.
	rank int
}

func keyRank(k glua.LValue) int {
	switch kk := k.(type) {
	case glua.LString:
		return 1
	case glua.LNumber:
		if f := float64(kk); f == math.Trunc(f) && f >= 1 && f < float64(glua.MaxArrayIndex) {
			return 0
		}
	}
	return 2
}

type tableForm int

const (
	emptyTable  tableForm = iota
	arrayTable            // keys exactly 1..count
	objectTable           // any other keys
)

type tableKind struct {
	form  tableForm
	count int
}

// scanTable classifies t as FromLua does and, for an object, appends its
// entries to pairs. An array is read with RawGetInt instead. A table whose
// keys all sit in its array part is classified without iterating it; other
// tables are walked by position with Entry, which, unlike ForEach,
// allocates nothing and, unlike Next, needs no index of the table's keys.
func scanTable(t *glua.LTable, pairs []pair) ([]pair, tableKind) {
	if shape, ok := shapeOf(t); ok && shape.strings == 0 && shape.others == 0 {
		count, last := 0, 0
		for i := 1; i <= shape.array; i++ {
			if t.RawGetInt(i) != glua.LNil {
				count, last = count+1, i
			}
		}
		switch {
		case count == 0:
			return pairs, tableKind{emptyTable, 0}
		case count == last:
			return pairs, tableKind{arrayTable, count}
		}
	}
	base := len(pairs)
	maxKey, isArray := 0, true
	for k, v, pos, ok := t.Entry(0); ok; k, v, pos, ok = t.Entry(pos) {
		pairs = append(pairs, pair{key: k, value: v, rank: keyRank(k)})
		if !isArray {
			continue
		}
		n, ok := k.(glua.LNumber)
		if !ok || float64(n) != math.Trunc(float64(n)) || n < 1 || float64(n) > math.MaxInt32 {
			isArray = false
			continue
		}
		maxKey = max(maxKey, int(n))
	}
	count := len(pairs) - base
	switch {
	case count == 0:
		return pairs, tableKind{emptyTable, 0}
	case isArray && maxKey == count:
		clear(pairs[base:])
		return pairs[:base], tableKind{arrayTable, count}
	}
	return pairs, tableKind{objectTable, count}
}

// decodeLuaJSON is ToLua(decodeJSON(b)) in one pass: the same Lua values
// (numbers kept exact, arrays marked, a null member left out) and the same
// errors, with object members set in the order of the document.
func decodeLuaJSON(b []byte) (glua.LValue, error) {
	var d luaDecoder
	return d.decode(b)
}

// luaDecoder reads JSON into Lua values, checking it as it goes with
// encoding/json's rules. Its scratch space is kept between documents.
type luaDecoder struct {
	b     []byte
	i     int
	bad   bool
	depth int
	// values and keys hold the items and members of the arrays and
	// objects being read, so each table is made once, at its size.
	values []glua.LValue
	keys   []string
}

func (d *luaDecoder) decode(b []byte) (glua.LValue, error) {
	d.b, d.i, d.bad, d.depth = b, 0, false, 0
	v := d.value()
	d.space()
	bad := d.bad || d.i != len(b)
	d.b = nil
	if bad {
		clear(d.values)
		d.values, d.keys = d.values[:0], d.keys[:0]
	}
	if cap(d.values) > maxKeptScratch || cap(d.keys) > maxKeptScratch {
		d.values, d.keys = nil, nil
	}
	if bad {
		// encoding/json words the error; should it accept what this
		// reader refused, its reading stands.
		goValue, err := decodeJSON(b)
		if err != nil {
			return nil, err
		}
		return ToLua(nil, goValue), nil
	}
	return v, nil
}

// maxKeptScratch bounds the scratch entries kept between documents.
const maxKeptScratch = 4096

// maxJSONDepth is encoding/json's limit on nesting.
const maxJSONDepth = 10000

// fail marks the document invalid; the readers then unwind.
func (d *luaDecoder) fail() glua.LValue {
	d.bad = true
	d.i = len(d.b)
	return glua.LNil
}

// end reads what follows an array's element or an object's member: a
// comma (false: another comes) or close (true). Anything else, or an error
// in the value, fails the document and also ends the loop.
func (d *luaDecoder) end(close byte) bool {
	d.space()
	if d.bad || d.i >= len(d.b) {
		d.fail()
		return true
	}
	c := d.b[d.i]
	d.i++
	if c == close {
		return true
	}
	if c != ',' {
		d.fail()
		return true
	}
	return false
}

func (d *luaDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// literal reads word, which starts at d.i.
func (d *luaDecoder) literal(word string, v glua.LValue) glua.LValue {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return d.fail()
	}
	d.i += len(word)
	return v
}

func (d *luaDecoder) value() glua.LValue {
	d.space()
	if d.i >= len(d.b) {
		return d.fail()
	}
	switch d.b[d.i] {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		s, ok := d.string()
		if !ok {
			return d.fail()
		}
		return glua.LString(s)
	case 't':
		return d.literal("true", glua.LTrue)
	case 'f':
		return d.literal("false", glua.LFalse)
	case 'n':
		return d.literal("null", glua.LNil)
	}
	return d.number()
}

// number reads a number with JSON's grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *luaDecoder) number() glua.LValue {
	b := d.b
	start, i := d.i, d.i
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return d.fail()
	}
	integer := true
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return d.fail()
		}
		integer = false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return d.fail()
		}
		integer = false
	}
	d.i = i
	lit := b[start:i]
	if integer && len(lit) <= 15 {
		// At most 15 digits: exact in a float64, no string needed.
		n, neg := int64(0), lit[0] == '-'
		if neg {
			lit = lit[1:]
		}
		for _, c := range lit {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return intToLua(n)
	}
	return jsonNumberToLua(json.Number(lit))
}

func (d *luaDecoder) array() glua.LValue {
	if d.depth++; d.depth > maxJSONDepth {
		return d.fail()
	}
	defer func() { d.depth-- }()
	d.i++ // [
	base := len(d.values)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return newArrayTable(0)
	}
	for {
		d.values = append(d.values, d.value())
		if d.end(']') {
			break
		}
	}
	if d.bad {
		return glua.LNil
	}
	items := d.values[base:]
	t := newArrayTable(len(items))
	for i, v := range items {
		t.RawSetInt(i+1, v)
	}
	clear(items)
	d.values = d.values[:base]
	return t
}

func (d *luaDecoder) object() glua.LValue {
	if d.depth++; d.depth > maxJSONDepth {
		return d.fail()
	}
	defer func() { d.depth-- }()
	d.i++ // {
	base, kbase := len(d.values), len(d.keys)
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return newTable(0, 0)
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.fail()
		}
		key, ok := d.string()
		if !ok {
			return d.fail()
		}
		d.keys = append(d.keys, key)
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.fail()
		}
		d.i++
		d.values = append(d.values, d.value())
		if d.end('}') {
			break
		}
	}
	if d.bad {
		return glua.LNil
	}
	keys, values := d.keys[kbase:], d.values[base:]
	t := newTable(0, len(keys))
	for i, k := range keys {
		t.RawSetString(k, values[i])
	}
	clear(keys)
	clear(values)
	d.keys, d.values = d.keys[:kbase], d.values[:base]
	return t
}

// string reads a string at d.i. Plain ASCII without escapes is sliced;
// anything else is unquoted by encoding/json, for its exact handling of
// escapes, surrogates and invalid UTF-8.
func (d *luaDecoder) string() (string, bool) {
	b := d.b
	start := d.i
	i := start + 1 // "
	plain := true
	for {
		if i >= len(b) {
			return "", false
		}
		c := b[i]
		switch {
		case c == '"':
			i++
			d.i = i
			if plain {
				return string(b[start+1 : i-1]), true
			}
			var s string
			if err := json.Unmarshal(b[start:i], &s); err != nil {
				return "", false
			}
			return s, true
		case c < 0x20:
			return "", false
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return "", false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 || !isXDigit(b[i+2]) || !isXDigit(b[i+3]) || !isXDigit(b[i+4]) || !isXDigit(b[i+5]) {
					return "", false
				}
				i += 6
			default:
				return "", false
			}
		case c >= 0x80:
			plain = false
			i++
		default:
			i++
		}
	}
}
