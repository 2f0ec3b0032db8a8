package lua

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"

	"github.com/goshawk/goshawk/providers"
)

// maxExactInt is the largest integer a Lua number (a float64) holds exactly.
const maxExactInt = 1 << 53

// maxDepth bounds the nesting of tables converted to Go, so a hostile script
// can't exhaust the Go stack with a deeply nested table.
const maxDepth = 1000

// errTooDeep is returned for tables nested deeper than maxDepth.
var errTooDeep = fmt.Errorf("tables nested deeper than %d levels cannot be converted", maxDepth)

// arrayMeta marks tables that came from a Go slice or a JSON array, so that an
// empty array stays an array on its way back to Go. It is shared by every
// state and never written after init: __metatable hides it from getmetatable
// and makes setmetatable refuse to replace it, so no script can reach it.
var arrayMeta = func() *glua.LTable {
	mt := newTable(0, 1)
	mt.RawSetString("__metatable", glua.LString("array"))
	return mt
}()

// newTable returns an empty table with room reserved for acap array items
// and hcap hash entries. CreateTable doesn't touch its receiver, which lets
// conversions run without a state.
func newTable(acap, hcap int) *glua.LTable {
	return (*glua.LState).CreateTable(nil, acap, hcap)
}

// newArrayTable returns an empty table marked as an array, sized for n items.
func newArrayTable(n int) *glua.LTable {
	t := newTable(n, 0)
	t.Metatable = arrayMeta
	return t
}

// ToLua converts a Go value to a Lua value.
//
// Integers, floats, strings, bools and nil map to their Lua counterparts.
// An integer whose magnitude exceeds 2^53, including a json.Number, becomes
// its decimal string, because a Lua number would silently round it. A
// json.Number that is not an integer becomes a Lua number, or a string when
// it overflows a float64. Maps become tables; slices become tables with keys
// 1..n that are marked as arrays, so an empty slice converts back to an empty
// slice. Any other value is converted through its JSON encoding (time.Time
// becomes an RFC 3339 string), and a value JSON can't encode becomes its
// fmt %v string.
func ToLua(L *glua.LState, v any) glua.LValue {
	switch x := v.(type) {
	case nil:
		return glua.LNil
	case glua.LValue:
		return x
	case string:
		return glua.LString(x)
	case []byte:
		return glua.LString(x)
	case bool:
		return glua.LBool(x)
	case float64:
		return floatToLua(x)
	case float32:
		return floatToLua(float64(x))
	case int:
		return intToLua(int64(x))
	case int8:
		return intToLua(int64(x))
	case int16:
		return intToLua(int64(x))
	case int32:
		return intToLua(int64(x))
	case int64:
		return intToLua(x)
	case uint:
		return uintToLua(uint64(x))
	case uint8:
		return uintToLua(uint64(x))
	case uint16:
		return uintToLua(uint64(x))
	case uint32:
		return uintToLua(uint64(x))
	case uint64:
		return uintToLua(x)
	case json.Number:
		return jsonNumberToLua(x)
	case time.Duration:
		// Durations are seconds in Lua, matching time.now().
		return glua.LNumber(x.Seconds())
	case map[string]any:
		t := newTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, ToLua(L, e))
		}
		return t
	case providers.Values:
		return ToLua(L, map[string]any(x))
	case map[string]string:
		t := newTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, glua.LString(e))
		}
		return t
	case []any:
		t := newArrayTable(len(x))
		for i, e := range x {
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	case []string:
		t := newArrayTable(len(x))
		for i, e := range x {
			t.RawSetInt(i+1, glua.LString(e))
		}
		return t
	case []map[string]any:
		t := newArrayTable(len(x))
		for i, e := range x {
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	}
	return viaJSON(L, v)
}

// viaJSON converts values of other types (structs, typed maps and slices)
// through their JSON form, so they look in Lua exactly as they look in a
// run record.
func viaJSON(L *glua.LState, v any) glua.LValue {
	b, err := json.Marshal(v)
	if err != nil {
		return glua.LString(fmt.Sprint(v))
	}
	decoded, err := decodeLuaJSON(b)
	if err != nil {
		return glua.LString(fmt.Sprint(v))
	}
	return decoded
}

func intToLua(n int64) glua.LValue {
	if n >= 0 && n < int64(len(smallNumbers)) {
		return smallNumbers[n]
	}
	if n > maxExactInt || n < -maxExactInt {
		return glua.LString(strconv.FormatInt(n, 10))
	}
	return glua.LNumber(n)
}

func uintToLua(n uint64) glua.LValue {
	if n < uint64(len(smallNumbers)) {
		return smallNumbers[n]
	}
	if n > maxExactInt {
		return glua.LString(strconv.FormatUint(n, 10))
	}
	return glua.LNumber(n)
}

// smallNumbers are the Lua values of 0 to 1023, made once: putting a number
// in an LValue allocates, and counts, codes and scores are mostly small.
var smallNumbers = func() (a [1024]glua.LValue) {
	for i := range a {
		a[i] = glua.LNumber(i)
	}
	return a
}()

// floatToLua is glua.LNumber(f), sharing the values of small whole numbers.
func floatToLua(f float64) glua.LValue {
	if f >= 0 && f < float64(len(smallNumbers)) && f == math.Trunc(f) && !math.Signbit(f) {
		return smallNumbers[int(f)]
	}
	return glua.LNumber(f)
}

func jsonNumberToLua(n json.Number) glua.LValue {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return intToLua(i)
	}
	if isIntegerLiteral(s) {
		// An integer literal beyond int64: no Lua number holds it exactly.
		return glua.LString(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out of float64 range (or not a number at all): keep the digits.
		return glua.LString(s)
	}
	return glua.LNumber(f)
}

func isIntegerLiteral(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FromLua converts a Lua value to a Go value.
//
// nil, booleans and strings map to nil, bool and string. A number that is an
// integer of magnitude at most 2^53 becomes an int64, any other number a
// float64. A table whose keys are exactly 1..n becomes a []any; an empty table
// becomes an empty []any when it came from a Go slice or a JSON array (or was
// made by json.array()), and an empty map[string]any otherwise. Any other
// table becomes a map[string]any whose numeric keys are written in decimal.
// Functions, userdata, threads, table keys that are neither strings nor
// numbers, tables that contain themselves, and nesting deeper than 1000
// levels are errors.
func FromLua(v glua.LValue) (any, error) {
	var buf [8]*glua.LTable
	c := converter{walk{path: buf[:0]}}
	return c.value(v, 0)
}

type converter struct {
	walk
}

// walk is the state FromLua and the JSON encoder share while they walk a
// table tree: the cycle check, the value budget and the entries stack.
type walk struct {
	// path holds the tables from the root to the current one, so a cycle is
	// an error while a table shared by two branches still converts. It is
	// a slice, not a map, because paths are short and most conversions
	// (action parameters) never nest.
	path []*glua.LTable
	// nodes counts the values converted so far. A table shared by two
	// parents converts once per parent, so nesting {t, t} n deep is 2^n
	// values; the budget stops that before it exhausts memory.
	nodes int
	// pairs holds the entries of the objects being converted, shared by
	// all levels as a stack.
	pairs []pair
}

// count takes one value from the budget.
func (w *walk) count() error {
	if w.nodes++; w.nodes > maxNodes {
		return errTooManyValues
	}
	return nil
}

// enter checks depth and cycles, pushes t on the path and scans its
// entries onto the pairs stack from base; leave(base) undoes both.
func (w *walk) enter(t *glua.LTable, depth int) (base int, kind tableKind, err error) {
	if depth >= maxDepth {
		return 0, kind, errTooDeep
	}
	if slices.Contains(w.path, t) {
		return 0, kind, errors.New("table contains itself (a cycle) and cannot be converted")
	}
	w.path = append(w.path, t)
	base = len(w.pairs)
	w.pairs, kind = scanTable(t, w.pairs)
	return base, kind, nil
}

func (w *walk) leave(base int) {
	w.path = w.path[:len(w.path)-1]
	clear(w.pairs[base:])
	w.pairs = w.pairs[:base]
}

// maxNodes bounds the values one conversion produces.
const maxNodes = 1 << 18

var errTooManyValues = fmt.Errorf("value too large: more than %d elements (a table shared by several parents counts once per parent)", maxNodes)

func (c *converter) value(v glua.LValue, depth int) (any, error) {
	if err := c.count(); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		return bool(x), nil
	case glua.LString:
		return string(x), nil
	case glua.LNumber:
		return numberToGo(x), nil
	case *glua.LTable:
		return c.table(x, depth)
	}
	return nil, fmt.Errorf("cannot convert a Lua %s to data; only nil, booleans, numbers, strings and tables convert", v.Type())
}

func numberToGo(n glua.LNumber) any {
	f := float64(n)
	if f == math.Trunc(f) && f <= maxExactInt && f >= -maxExactInt {
		return int64(f)
	}
	return f
}

func (c *converter) table(t *glua.LTable, depth int) (any, error) {
	base, kind, err := c.enter(t, depth)
	if err != nil {
		return nil, err
	}
	defer c.leave(base)
	switch kind.form {
	case emptyTable:
		if t.Metatable == arrayMeta {
			return []any{}, nil
		}
		return map[string]any{}, nil
	case arrayTable:
		out := make([]any, kind.count)
		for i := range out {
			e, err := c.value(t.RawGetInt(i+1), depth+1)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i+1, err)
			}
			out[i] = e
		}
		return out, nil
	}
	out := make(map[string]any, kind.count)
	// Ranks 0 and 1 come in that order; rank 2 (numbers outside the array
	// part) goes last, so that of two keys written the same the higher
	// rank stays (see pair.rank).
	for pass := range 2 {
		for i := base; i < len(c.pairs); i++ {
			p := c.pairs[i]
			if (p.rank == 2) != (pass == 1) {
				continue
			}
			key, err := objectKey(p.key)
			if err != nil {
				return nil, err
			}
			ge, err := c.value(p.value, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			out[key] = ge
		}
	}
	return out, nil
}
