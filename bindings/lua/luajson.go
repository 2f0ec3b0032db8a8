package lua

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	glua "github.com/yuin/gopher-lua"
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
	e := luaEncoder{limit: limit}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type luaEncoder struct {
	buf   []byte
	limit int
	// path and nodes are FromLua's cycle check and value budget.
	path  []*glua.LTable
	nodes int
	// members is scratch space for the members of the objects being
	// written, shared by all levels as a stack.
	members []member
}

type member struct {
	key   string
	value glua.LValue
	order int
}

func (e *luaEncoder) value(v glua.LValue, depth int) error {
	if e.nodes++; e.nodes > maxNodes {
		return errTooManyValues
	}
	switch x := v.(type) {
	case *glua.LNilType:
		e.buf = append(e.buf, "null"...)
	case glua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(x))
	case glua.LString:
		e.buf = appendJSONString(e.buf, string(x))
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
	if depth >= maxDepth {
		return errTooDeep
	}
	if slices.Contains(e.path, t) {
		return errors.New("table contains itself (a cycle) and cannot be converted")
	}
	e.path = append(e.path, t)
	defer func() { e.path = e.path[:len(e.path)-1] }()

	count, maxKey, isArray := tableKind(t)
	if count == 0 {
		if t.Metatable == arrayMeta {
			e.buf = append(e.buf, "[]"...)
		} else {
			e.buf = append(e.buf, "{}"...)
		}
		return nil
	}
	if isArray && maxKey == count {
		e.buf = append(e.buf, '[')
		for i := 1; i <= count; i++ {
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
	// An object: its keys as FromLua writes them, sorted. Two keys that
	// write the same ("1" and 1) keep the later one, as FromLua's map does.
	base := len(e.members)
	defer func() {
		clear(e.members[base:])
		e.members = e.members[:base]
	}()
	var err error
	t.ForEach(func(k, v glua.LValue) {
		if err != nil {
			return
		}
		var key string
		switch kk := k.(type) {
		case glua.LString:
			key = string(kk)
		case glua.LNumber:
			key = kk.String()
		default:
			err = fmt.Errorf("table key of type %s cannot be converted; use string or number keys", k.Type())
			return
		}
		e.members = append(e.members, member{key, v, len(e.members)})
	})
	if err != nil {
		return err
	}
	ms := e.members[base:]
	slices.SortFunc(ms, func(a, b member) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.order, b.order))
	})
	e.buf = append(e.buf, '{')
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && ms[i+1].key == m.key {
			continue
		}
		if !first {
			e.buf = append(e.buf, ',')
		}
		first = false
		e.buf = appendJSONString(e.buf, m.key)
		e.buf = append(e.buf, ':')
		if err := e.value(m.value, depth+1); err != nil {
			return fmt.Errorf("%s: %w", m.key, err)
		}
	}
	e.buf = append(e.buf, '}')
	return nil
}

// tableKind counts t's entries and tells whether all its keys are whole
// numbers from 1 up, and the largest.
func tableKind(t *glua.LTable) (count, maxKey int, isArray bool) {
	isArray = true
	t.ForEach(func(k, _ glua.LValue) {
		count++
		if !isArray {
			return
		}
		n, ok := k.(glua.LNumber)
		if !ok || float64(n) != math.Trunc(float64(n)) || n < 1 || float64(n) > math.MaxInt32 {
			isArray = false
			return
		}
		maxKey = max(maxKey, int(n))
	})
	return count, maxKey, isArray
}

// decodeLuaJSON is ToLua(decodeJSON(b)) in one pass: the same Lua values
// (numbers kept exact, arrays marked, a null member left out) and the same
// errors, with object members set in the order of the document.
func decodeLuaJSON(b []byte) (glua.LValue, error) {
	if !json.Valid(b) {
		if _, err := decodeJSON(b); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON")
	}
	d := luaDecoder{b: b}
	return d.value(), nil
}

// luaDecoder reads a document that json.Valid accepted.
type luaDecoder struct {
	b []byte
	i int
	// stack holds the items and members of the arrays and objects being
	// read, so each table is made once, at its size.
	stack []glua.LValue
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

func (d *luaDecoder) value() glua.LValue {
	d.space()
	switch d.b[d.i] {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return glua.LString(d.string())
	case 't':
		d.i += len("true")
		return glua.LTrue
	case 'f':
		d.i += len("false")
		return glua.LFalse
	case 'n':
		d.i += len("null")
		return glua.LNil
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			d.i++
			continue
		}
		break
	}
	return jsonNumberToLua(json.Number(d.b[start:d.i]))
}

func (d *luaDecoder) array() *glua.LTable {
	d.i++ // [
	base := len(d.stack)
	d.space()
	if d.b[d.i] == ']' {
		d.i++
		return newArrayTable(0)
	}
	for {
		d.stack = append(d.stack, d.value())
		d.space()
		c := d.b[d.i]
		d.i++
		if c == ']' {
			break
		}
	}
	items := d.stack[base:]
	t := newArrayTable(len(items))
	for i, v := range items {
		t.RawSetInt(i+1, v)
	}
	clear(items)
	d.stack = d.stack[:base]
	return t
}

func (d *luaDecoder) object() *glua.LTable {
	d.i++ // {
	base := len(d.stack)
	d.space()
	if d.b[d.i] == '}' {
		d.i++
		return newTable(0, 0)
	}
	for {
		d.space()
		key := glua.LString(d.string())
		d.space()
		d.i++ // :
		d.stack = append(d.stack, key, d.value())
		d.space()
		c := d.b[d.i]
		d.i++
		if c == '}' {
			break
		}
	}
	members := d.stack[base:]
	t := newTable(0, len(members)/2)
	for i := 0; i < len(members); i += 2 {
		t.RawSetString(string(members[i].(glua.LString)), members[i+1])
	}
	clear(members)
	d.stack = d.stack[:base]
	return t
}

// string reads a string. Plain ASCII without escapes is sliced; anything
// else is unquoted by encoding/json, for its exact handling of escapes,
// surrogates and invalid UTF-8.
func (d *luaDecoder) string() string {
	start := d.i
	d.i++ // "
	plain := true
	for {
		c := d.b[d.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			d.i += 2
			continue
		}
		if c >= 0x80 {
			plain = false
		}
		d.i++
	}
	d.i++ // "
	if plain {
		return string(d.b[start+1 : d.i-1])
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		// json.Valid accepted the document, so this can't happen.
		panic(fmt.Sprintf("lua: unquoting a valid JSON string: %v", err))
	}
	return s
}
