package lua

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

func TestValueRoundTrip(t *testing.T) {
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	defer L.Close()
	cases := []struct {
		name string
		in   any
		want any // what FromLua(ToLua(in)) gives; nil means in itself
	}{
		{"nil", nil, nil},
		{"true", true, nil},
		{"false", false, nil},
		{"string", "hello", nil},
		{"utf8", "héllo 世界 🦅", nil},
		{"binary", "a\x00b\xff", nil},
		{"empty string", "", nil},
		{"int64", int64(42), nil},
		{"negative", int64(-7), nil},
		{"int", 42, int64(42)},
		{"uint8", uint8(200), int64(200)},
		{"max exact", int64(1 << 53), nil},
		{"min exact", int64(-(1 << 53)), nil},
		{"beyond 2^53", int64(1<<53 + 1), "9007199254740993"},
		{"max int64", int64(math.MaxInt64), "9223372036854775807"},
		{"max uint64", uint64(math.MaxUint64), "18446744073709551615"},
		{"float", 3.25, nil},
		{"integral float", 2.0, int64(2)},
		{"tiny float", 1e-300, nil},
		{"large float", 1e300, nil},
		{"json int", json.Number("12"), int64(12)},
		{"json big int", json.Number("123456789012345678901234567890"), "123456789012345678901234567890"},
		{"json int beyond 2^53", json.Number("9007199254740993"), "9007199254740993"},
		{"json float", json.Number("0.5"), 0.5},
		{"json exponent", json.Number("1e3"), int64(1000)},
		{"json overflow", json.Number("1e400"), "1e400"},
		{"duration", 1500 * time.Millisecond, 1.5},
		{"time", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), "2024-05-06T07:08:09Z"},
		{"array", []any{int64(1), "two", 3.5, true}, nil},
		{"empty array", []any{}, nil},
		{"string slice", []string{"a", "b"}, []any{"a", "b"}},
		{"object", map[string]any{"a": int64(1), "b": "x"}, nil},
		{"empty object", map[string]any{}, nil},
		{"string map", map[string]string{"k": "v"}, map[string]any{"k": "v"}},
		{"nested", map[string]any{
			"list": []any{map[string]any{"x": int64(1)}, []any{}, map[string]any{}},
			"obj":  map[string]any{"deep": map[string]any{"deeper": []any{"z"}}},
		}, nil},
		{"nil in map drops", map[string]any{"a": nil, "b": int64(1)}, map[string]any{"b": int64(1)}},
		{"maps of maps", []map[string]any{{"id": int64(1)}}, []any{map[string]any{"id": int64(1)}}},
		{"struct via json", struct {
			Name string `json:"name"`
			N    int    `json:"n"`
		}{"x", 3}, map[string]any{"name": "x", "n": int64(3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == nil {
				want = c.in
			}
			got, err := FromLua(ToLua(L, c.in))
			if err != nil {
				t.Fatalf("FromLua: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip of %#v = %#v, want %#v", c.in, got, want)
			}
		})
	}
}

func TestFromLuaTables(t *testing.T) {
	rt := NewRuntime(Options{})
	cases := []struct {
		src  string
		want any
	}{
		{`return {1, 2, 3}`, []any{int64(1), int64(2), int64(3)}},
		{`return {}`, map[string]any{}},
		{`return json.array()`, []any{}},
		{`return json.array({})`, []any{}},
		{`return {[1] = "a", [3] = "c"}`, map[string]any{"1": "a", "3": "c"}},
		{`return {1, 2, x = 3}`, map[string]any{"1": int64(1), "2": int64(2), "x": int64(3)}},
		{`return {[1.5] = "f"}`, map[string]any{"1.5": "f"}},
		{`return {[0] = "zero"}`, map[string]any{"0": "zero"}},
		{`return {a = {b = {c = {}}}}`, map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{}}}}},
		{`local t = {} t[1] = nil return t`, map[string]any{}},
		{`local shared = {1} return {a = shared, b = shared}`, map[string]any{"a": []any{int64(1)}, "b": []any{int64(1)}}},
		{`return 0.1`, 0.1},
		{`return 2^53`, int64(1 << 53)},
		{`return 2^53 + 2`, float64(1<<53 + 2)},
		{`return -0`, int64(0)},
		{`return 1/0`, math.Inf(1)},
		{`local r = {} r.data = {} return r`, map[string]any{"data": map[string]any{}}},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			got := mustRun(t, rt, c.src, nil)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("%s = %#v, want %#v", c.src, got, c.want)
			}
		})
	}
}

func TestFromLuaErrors(t *testing.T) {
	rt := NewRuntime(Options{})
	cases := []struct{ src, want string }{
		{`local t = {} t.t = t return t`, "cycle"},
		{`local a, b = {}, {} a.b = b b.a = a return a`, "cycle"},
		{`local t = {} t[1] = t return t`, "cycle"},
		{`return {f = print}`, "function"},
		{`return {[true] = 1}`, "key of type boolean"},
		{`local t = {} for i = 1, 2000 do t = {t} end return t`, "nested deeper"},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			_, err := runLua(t, rt, c.src, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	rt := NewRuntime(Options{})
	cases := []struct{ src, want string }{
		{`return json.encode({b = 1, a = {1, 2}, c = {}})`, `{"a":[1,2],"b":1,"c":{}}`},
		{`return json.encode(json.decode('{"a":[],"b":{},"c":[{}]}'))`, `{"a":[],"b":{},"c":[{}]}`},
		{`return json.encode(json.decode('{"big":12345678901234567890,"n":9007199254740993}'))`, `{"big":"12345678901234567890","n":"9007199254740993"}`},
		{`return json.encode(json.decode('[1.5, 1e20, -0.25, 3]'))`, `[1.5,1e+20,-0.25,3]`},
		{`return json.encode("<a & b>\n\"")`, `"<a & b>\n\""`},
		{`return json.encode("\226\128\168")`, `"\u2028"`},
		{`return json.encode(nil)`, `null`},
		{`return json.decode('"x"')`, `x`},
		{`return tostring(json.decode('{"n": 2}').n + 1)`, `3`},
		{`return json.encode(json.decode('{"a":[1,2,3]}').a)`, `[1,2,3]`},
		{`local t = json.decode('[]') t[1] = "x" return json.encode(t)`, `["x"]`},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			if got := mustRun(t, rt, c.src, nil); got != c.want {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
	for _, src := range []string{
		`return json.decode('{"a":')`,
		`return json.decode('{} x')`,
		`return json.encode(0/0)`,
		`return json.encode({f = print})`,
		`local t = {} t.t = t return json.encode(t)`,
	} {
		if _, err := runLua(t, rt, src, nil); err == nil || !strings.Contains(err.Error(), "json.") {
			t.Errorf("%s: error %v, want a json error", src, err)
		}
	}
}

// FuzzJSONRoundTrip checks that whatever json.decode accepts survives
// decode -> Lua -> encode -> decode unchanged, and that a second encode is
// byte for byte the first.
func FuzzJSONRoundTrip(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2,{"b":null}],"c":"d"}`, `[]`, `{}`, `[[],{}]`, `12345678901234567890`,
		`-0.0`, `1e20`, `1.5e-7`, `"\u00e9\ud83e\udd85"`, `{"1":"a","2":"b"}`, `[1,null,3]`,
		`true`, `"\u2028<&>"`, `9007199254740993`, `1e400`,
	} {
		f.Add(s)
	}
	L := glua.NewState(glua.Options{SkipOpenLibs: true})
	f.Cleanup(L.Close)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return
		}
		first, err := FromLua(ToLua(L, v))
		if errors.Is(err, errTooDeep) {
			return
		}
		if err != nil {
			t.Fatalf("FromLua after decoding %q: %v", s, err)
		}
		enc1, err := encodeJSON(first, DefaultMaxStringBytes)
		if err != nil {
			t.Fatalf("encode %#v: %v", first, err)
		}
		v2, err := decodeJSON(enc1)
		if err != nil {
			t.Fatalf("decode of our own output %q: %v", enc1, err)
		}
		second, err := FromLua(ToLua(L, v2))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, second) {
			t.Fatalf("round trip changed the value:\n%#v\n%#v", first, second)
		}
		enc2, err := encodeJSON(second, DefaultMaxStringBytes)
		if err != nil {
			t.Fatal(err)
		}
		if string(enc1) != string(enc2) {
			t.Fatalf("encoding is not stable: %s vs %s", enc1, enc2)
		}
		if !json.Valid(enc1) {
			t.Fatalf("invalid JSON %q", enc1)
		}
	})
}

// Shared sub-tables convert once per parent; nesting them must hit the
// budget, not exhaust memory.
func TestSharedTablesAreBounded(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString(`local t = {} for i = 1, 40 do t = {t, t} end result = t`); err != nil {
		t.Fatal(err)
	}
	_, err := FromLua(L.GetGlobal("result"))
	if err == nil || !strings.Contains(err.Error(), "value too large") {
		t.Fatalf("err = %v", err)
	}
}

// TestTraversalOfDecodedTables walks tables built by json.decode (which fill
// them once, without a key index: see third_party/gopher-lua) through the
// Lua idioms that need one: next from a key, clearing fields mid-walk, and
// a cleared key set again.
func TestTraversalOfDecodedTables(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	got := mustRun(t, rt, `
local t = json.decode('{"a":1,"b":2,"c":3,"d":4,"e":5}')
local order = {}
for k in pairs(t) do order[#order + 1] = k end
local again = {}
local k = next(t)
while k do again[#again + 1] = k; k = next(t, k) end
assert(table.concat(order) == table.concat(again), table.concat(order) .. " vs " .. table.concat(again))
local n = 0
for k in pairs(t) do n = n + 1; t[k] = nil end
assert(n == 5 and next(t) == nil)
t.c = 30; t.z = 26
local sum = 0
for _, v in pairs(t) do sum = sum + v end
return sum`, nil)
	if got != int64(56) && got != float64(56) {
		t.Fatalf("got %v (%T), want 56", got, got)
	}
}
