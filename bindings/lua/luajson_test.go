package lua

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

// jsonCases are documents for checking decodeLuaJSON against decodeJSON and
// ToLua, and seeds for the fuzz test.
var jsonCases = []string{
	`{"a":[1,2,{"b":null}],"c":"d"}`, `[]`, `{}`, `[[],{}]`, `12345678901234567890`, `-12345678901234567890`,
	`-0.0`, `1e20`, `1.5e-7`, `"\u00e9\ud83e\udd85"`, `{"1":"a","2":"b"}`, `[1,null,3]`, `[null]`, `null`,
	`true`, `false`, `"\u2028<&>"`, `9007199254740993`, `9007199254740992`, `1e400`, `-1e400`, `0.1`,
	`{"a":1,"a":2}`, `{"a":1,"a":null}`, `{"a":null,"a":1}`, ` { "x" : [ 1 , 2 ] } `, `"\ud800"`, "\"\xff\xfe\"",
	`"a\"b\\c\/d\b\f\n\r\t"`, `{"":""}`, `[[[[[[]]]]]]`, `{"k":{"k":{"k":{}}}}`, `"` + "\x7f" + `"`,
	`{"a":`, `{} x`, `[1,]`, `01`, `"\x"`, `nul`, ``, ` `, `[1 2]`, `{"a" 1}`, `"` + "\x01" + `"`, `1.`, `-`,
	`[1,2`, `{"a":1,}`, `"\u12"`, `"\u12G4"`, `-01`, `1.e5`, `1e`, `1e+`, `+1`, `.5`, `tru`, `nulll`, `[1]]`,
	`{"a":1 "b":2}`, `{1:2}`, `[,1]`, `"abc`, `"\`, `-0`, `0e0`, `1E-2`, `[true,false,null]`, `{"\u0000":1}`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000), strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

func TestDecodeLuaJSONMatchesGoPath(t *testing.T) {
	for _, s := range jsonCases {
		checkDecode(t, s)
	}
}

func FuzzDecodeLuaJSON(f *testing.F) {
	for _, s := range jsonCases {
		f.Add(s)
	}
	f.Fuzz(checkDecode)
}

// checkDecode compares decodeLuaJSON with decodeJSON then ToLua, and
// encodeLuaJSON with FromLua then encodeJSON on the result.
func checkDecode(t *testing.T, s string) {
	want, wantErr := decodeJSON([]byte(s))
	got, err := decodeLuaJSON([]byte(s))
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%q: error %v, want %v", s, err, wantErr)
	}
	if err != nil {
		return
	}
	wantLua := ToLua(nil, want)
	g1, e1 := FromLua(got)
	g2, e2 := FromLua(wantLua)
	if !errors.Is(e1, errTooDeep) || !errors.Is(e2, errTooDeep) {
		if (e1 == nil) != (e2 == nil) || !reflect.DeepEqual(g1, g2) {
			t.Fatalf("%q: decoded to %#v (%v), want %#v (%v)", s, g1, e1, g2, e2)
		}
	}
	checkEncode(t, s, got)
}

// checkEncode compares encodeLuaJSON(v) with encodeJSON(FromLua(v)).
func checkEncode(t *testing.T, what string, v glua.LValue) {
	t.Helper()
	const limit = 1 << 20
	got, err := encodeLuaJSON(v, limit)
	goValue, wantErr := FromLua(v)
	var want []byte
	if wantErr == nil {
		want, wantErr = encodeJSON(goValue, limit)
	}
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("%s: encoded %q (%v), want %q (%v)", what, got, err, want, wantErr)
	case err == nil && string(got) != string(want):
		t.Fatalf("%s: encoded %q, want %q", what, got, want)
	}
}

func TestEncodeLuaJSONMatchesGoPath(t *testing.T) {
	L := glua.NewState()
	defer L.Close()
	for _, src := range []string{
		`return nil`, `return true`, `return "x\0y\n\"<>&"`, `return 1`, `return -0.0`, `return 0.1`, `return 2^53`,
		`return 2^53 + 2`, `return -2^60`, `return 1e300`, `return 1/3`, `return 0/0`, `return 1/0`, `return -1/0`,
		`return {}`, `return {{}, {{}}}`, `return {1, 2, 3}`, `return {1, nil, 3}`, `return {nil, nil, 3}`,
		`return {[2] = "b", [1] = "a"}`, `return {[1] = "a", [3] = "c"}`, `return {[0] = "z", "a"}`,
		`return {[1.5] = "x"}`, `return {[-1] = "x"}`, `return {[2^31] = "x"}`, `return {a = 1, b = {c = {d = true}}}`,
		`return {[1] = "a", ["1"] = "b"}`, `return {"a", ["1"] = "b", x = 1}`, `return {[1.5] = "n", ["1.5"] = "s"}`,
		`return {["é"] = "\255", [""] = ""}`, `return {f = print}`, `return {print}`, `return {[true] = 1}`,
		`return {[{}] = 1}`, `local t = {} t.t = t return t`, `local t = {} t[1] = t return t`,
		`local s = {1} return {s, s, {s}}`, `local t = {} for i = 1, 40 do t = {t, t} end return t`,
		`local t = {} for i = 1, 2000 do t = {t} end return t`, `local t = {} for i = 1, 100 do t[i] = {k = i, v = {i}} end return t`,
		`return {nan = 0/0}`, `return {a = 0/0, b = print}`, `return {x = {1, 2, {y = 1/0}}}`,
		`return ("x"):rep(2^20)`,
	} {
		if err := L.DoString(src); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		v := L.Get(-1)
		L.Pop(1)
		checkEncode(t, src, v)
	}
	// An empty table made an array stays an array.
	checkEncode(t, "array", newArrayTable(0))
}

// Two keys that write the same name keep the one the conversion always
// kept: a string beats a whole number in the array part, and a number
// outside it (negative, fractional, huge) beats a string, whatever the
// order they were set in.
func TestKeysWrittenAlike(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	for src, want := range map[string]string{
		`{[1] = "a", ["1"] = "b", x = 1}`:         `{"1":"b","x":1}`,
		`{[1.5] = "n", ["1.5"] = "s"}`:            `{"1.5":"n"}`,
		`{["1.5"] = "s", [1.5] = "n"}`:            `{"1.5":"n"}`,
		`{[-1] = "n", ["-1"] = "s"}`:              `{"-1":"n"}`,
		`{["-1"] = "s", [-1] = "n"}`:              `{"-1":"n"}`,
		`{[2^40] = "n", ["1099511627776"] = "s"}`: `{"1099511627776":"n"}`,
		`{["1099511627776"] = "s", [2^40] = "n"}`: `{"1099511627776":"n"}`,
		`{[100] = "n", ["100"] = "s"}`:            `{"100":"s"}`,
		`{["100"] = "s", [100] = "n"}`:            `{"100":"s"}`,
		`{[0] = "n", ["0"] = "s"}`:                `{"0":"n"}`,
	} {
		if got := mustRun(t, rt, "return json.encode("+src+")", nil); got != want {
			t.Errorf("json.encode(%s) = %v, want %s", src, got, want)
		}
		v := mustRun(t, rt, "return "+src, nil)
		if got, err := encodeJSON(v, 1<<20); err != nil || string(got) != want {
			t.Errorf("FromLua(%s) = %v (%v), want %s", src, v, err, want)
		}
	}
}
