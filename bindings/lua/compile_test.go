package lua

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"local x = = 1", `p.lua:1:11: syntax error near "="`},
		{"return 1\nlocal x = 1", `p.lua:2:1: syntax error near "local"`},
		{"local t = {\n  a = 1,\n  b = 2 3\n}", `p.lua:3:9: syntax error near "3"`},
		{"for i=1 do end", `p.lua:1:9: syntax error near "do"`},
		{"x = 1 +", `p.lua:1:8: unexpected end of script`},
		{"if x then\n  y = 1\n", `p.lua:3:1: unexpected end of script`},
		{"x = 'abc", `p.lua:1:`},
		{"break", `p.lua:1:1: no loop to break`},
		{"local function f() return ... end", `p.lua:1:1: cannot use '...' outside a vararg function`},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			_, err := Compile("p.lua", []byte(c.src))
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("error %v, want it to start with %q", err, c.want)
			}
		})
	}
}

func TestCompileOnceRunMany(t *testing.T) {
	script, err := Compile("inc.lua", []byte(`local n = (input.n or 0) + 1 return "n=" .. n`))
	if err != nil {
		t.Fatal(err)
	}
	rt := NewRuntime(Options{PoolSize: 1})
	for i := range 3 {
		got, err := rt.Run(context.Background(), &RunSpec{Script: script, Inputs: map[string]any{"n": i}})
		if err != nil {
			t.Fatal(err)
		}
		if want := "n=" + string(rune('1'+i)); got != want {
			t.Fatalf("run %d = %v, want %s", i, got, want)
		}
	}
}

func TestConcatRewriteKeepsSemantics(t *testing.T) {
	rt := NewRuntime(Options{})
	cases := []struct {
		src  string
		want any
	}{
		{`return "a" .. "b" .. "c"`, "abc"},
		{`return 1 .. 2`, "12"},
		{`return 1.5 .. ""`, "1.5"},
		{`local function f(...) return "<" .. ... .. ">" end return f("x", "y")`, "<x>"},
		{`local t = {} for i = 1, 3 do t[#t + 1] = "v" .. i end return table.concat(t, ",")`, "v1,v2,v3"},
		{`local s = "" while #s < 3 do s = s .. "z" end return s`, "zzz"},
		{`return ("a" .. "b"):upper()`, "AB"},
		{`local mt = {__concat = function(a, b) return "L" end} return "x" .. setmetatable({}, mt) .. "y"`, "xL"},
		{`return #("ab" .. "cd")`, int64(4)},
	}
	for _, c := range cases {
		t.Run(c.src, func(t *testing.T) {
			if got := mustRun(t, rt, c.src, nil); got != c.want {
				t.Fatalf("got %#v, want %#v", got, c.want)
			}
		})
	}
	if _, err := runLua(t, rt, "local x\nreturn 'a' .. x", nil); err == nil || !strings.Contains(err.Error(), "test.lua:2: cannot perform concat operation between string and nil") {
		t.Fatalf("error %v", err)
	}
}

func TestCompileEmpty(t *testing.T) {
	rt := NewRuntime(Options{})
	for _, src := range []string{"", "-- only a comment\n", "--[[ block ]]"} {
		if got := mustRun(t, rt, src, nil); got != nil {
			t.Errorf("%q returned %v", src, got)
		}
	}
}

// FuzzCompile checks that no source text panics the parser or compiler,
// and that every error is located.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"return 1", "local x = = 1", "x = 'abc", "if x then", "return a .. b .. (c)",
		"local function f(...) return ... .. 'x' end", "goto l ::l::", "for i=1,2 do break end",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, err := Compile("f.lua", []byte(src))
		if err != nil && !strings.HasPrefix(err.Error(), "f.lua:") {
			t.Fatalf("error %q has no position", err)
		}
	})
}

func TestChunkVarargs(t *testing.T) {
	// The chunk itself builds no `arg` table; functions that use Lua 5.0's
	// arg still get theirs.
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	got := mustRun(t, rt, `
		local function old(...) return arg.n end
		local function new(...) return select("#", ...) end
		return {old(1, 2), new(1, 2, 3), select("#", ...), arg == nil, loadstring("return select('#', ...)")(1)}`, nil)
	want := []any{int64(2), int64(3), int64(0), true, int64(1)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
