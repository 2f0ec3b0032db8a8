package lua

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

// The pattern functions are a port of Lua 5.1's. These cases give the same
// results there, in gopher-lua's own string library and in the sandbox.
var sameAsGopherLua = []string{
	`string.find("hello world", "o w")`,
	`string.find("hello world", "o", 6)`,
	`string.find("hello world", "l+")`,
	`string.find("hello world", "(h)(e)")`,
	`string.find("hello", "()ll()")`,
	`string.find("hello", "xyz")`,
	`string.find("a.b", ".", 1, true)`,
	`string.find("a+b", "+", 1, true)`,
	`string.find("hello", "l", -2)`,
	`string.find("hello", "^h")`,
	`string.find("hello", "^e")`,
	`string.find("hello", "o$")`,
	`string.find("hel$lo", "l$l")`,
	`string.find("  key = value  ", "^%s*(%w+)%s*=%s*(%w+)%s*$")`,
	`string.find("THE (quick) fox", "%((%a+)%)")`,
	`string.find("f(a(b)c)d", "%b()")`,
	`string.find("abc123def", "%d+")`,
	`string.find("abc", "[a-b]+")`,
	`string.find("abc]", "[]]")`,
	`string.find("a-b", "[a%-]+")`,
	`string.find("x^y", "[%^]")`,
	`string.find("hello", "[^aeiou]+")`,
	`string.find("1.2.3.4", "^(%d+)%.(%d+)%.(%d+)%.(%d+)$")`,
	`string.find("aaa", "a-")`,
	`string.find("aaab", "a-b")`,
	`string.find("aaa", "a*")`,
	`string.find("", "a*")`,
	`string.find("abc", "b?c")`,
	`string.find("abcabc", "(abc)%1")`,
	`string.find("  x", "%S")`,
	`string.find("Hello World", "%u%l+", 2)`,
	`string.find("tab\there", "%c")`,
	`string.find("a,b;c", "%p")`,
	`string.find("0x1F", "%x+", 3)`,
	`string.find("hello", ".-l")`,
	`string.find("hello", "h.-o")`,
	`string.find("hello", "h(.*)o")`,
	`string.match("hello world", "%w+")`,
	`string.match("hello world", "(%w+) (%w+)")`,
	`string.match("key=val", "(%w+)=(%w*)")`,
	`string.match("2024-01-15", "(%d+)-(%d+)-(%d+)")`,
	`string.match("hello", "()ll()")`,
	`string.match("hello", ".", -1)`,
	`string.match("  trim me  ", "^%s*(.-)%s*$")`,
	`string.match("user@example.com", "^[%w%.]+@([%w%.]+)$")`,
	`string.match("192.168.1.1", "^%d+%.%d+%.%d+%.%d+$")`,
	`string.match("[[x]]", "%[%[(.-)%]%]")`,
	`string.match("abc", "a(b?)c")`,
	`string.match("ac", "a(b?)c")`,
	`string.match("hello", "(h)(e)(l)(l)(o)")`,
	`string.gsub("hello world", "o", "0")`,
	`string.gsub("hello world", "o", "0", 1)`,
	`string.gsub("hello world", "(%w+)", "<%1>")`,
	`string.gsub("hello world", "%w+", "%0 %0")`,
	`string.gsub("hello", "", "-")`,
	`string.gsub("abc", "%w", "%%")`,
	`string.gsub("hello world", "(%w+) (%w+)", "%2 %1")`,
	`string.gsub("hello", "l", {l = "L"})`,
	`string.gsub("hello", "(h)(e)", {h = "H"})`,
	`string.gsub("hello", "l", function(c) return c:upper() end)`,
	`string.gsub("hello", "l", function(c) return nil end)`,
	`string.gsub("hello", "l", function(c) return false end)`,
	`string.gsub("a1b2", "%d", function(d) return d * 2 end)`,
	`string.gsub("abc", "^a", "X")`,
	`string.gsub("aaa", "^a", "X")`,
	`string.gsub("abc", "c$", "X")`,
	`string.gsub("$1,000", "[%$,]", "")`,
	`string.gsub("one two  three", "%s+", " ")`,
	`string.gsub("hello", "()", "%1")`,
	`string.gsub("abc", ".", {a = 1, b = true and "B"})`,
	`string.gsub("x = 1, y = 2", "(%w+) = (%w+)", "%2 = %1")`,
	`string.gsub("abc", "b*", "-")`,
	`("x"):rep(3):gsub("x", "yz")`,
	`select("#", string.gsub("", "x", "y"))`,
	`string.find("abc", "b", 10)`,
	`string.find("abc", "b", -10)`,
	`string.match("a\0b", "%z")`,
	`string.gsub("hello world", "%w+", "%1")`,
}

// lua51Only are cases where gopher-lua's own string library differs from
// Lua 5.1 (no %f, no number as a replacement, init ignored with an empty
// pattern, match returning nothing, a plain find past the end that panics),
// with the answers of the reference Lua 5.1 interpreter.
var lua51Only = map[string]string{
	`string.gsub("THE (quick) fox", "%f[%a]%a+", "W")`: `2|string:W (W) W,number:3`,
	`string.gsub("hello", "l+", 5)`:                    `2|string:he5o,number:1`,
	`string.find("abc", "", 10)`:                       `2|number:4,number:3`,
	`string.find("abc", "", 2)`:                        `2|number:2,number:1`,
	`string.match("abc", "x")`:                         `1|nil:nil`,
	`select("#", string.match("abc", "x"))`:            `1|number:1`,
	`string.find("abc", "x", 10, true)`:                `1|nil:nil`,
}

// showResults is a Lua chunk that evaluates each expression of `cases` and
// describes its results ("2|number:1,number:3"), or "error".
const showResults = `
local function show(...)
	local parts = {}
	for i = 1, select("#", ...) do
		local v = select(i, ...)
		parts[i] = type(v) .. ":" .. tostring(v)
	end
	return select("#", ...) .. "|" .. table.concat(parts, ",")
end
local out = {}
for i, src in ipairs(cases) do
	local f = assert(loadstring("return " .. src))
	local ok, r = pcall(function() return show(f()) end)
	out[i] = ok and r or "error"
end
return out`

// luaList is exprs as a Lua list of long strings.
func luaList(exprs []string) string {
	var b strings.Builder
	b.WriteString("local cases = {\n")
	for _, e := range exprs {
		b.WriteString("[==[" + e + "]==],\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// sandboxResults runs the expressions in the sandbox.
func sandboxResults(t *testing.T, exprs []string) []any {
	t.Helper()
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	return mustRun(t, rt, luaList(exprs)+showResults, nil).([]any)
}

func TestPatternsMatchGopherLua(t *testing.T) {
	got := sandboxResults(t, sameAsGopherLua)
	L := glua.NewState()
	defer L.Close()
	if err := L.DoString(luaList(sameAsGopherLua) + showResults); err != nil {
		t.Fatal(err)
	}
	want := L.Get(-1).(*glua.LTable)
	for i, e := range sameAsGopherLua {
		if w := want.RawGetInt(i + 1).String(); got[i] != w {
			t.Errorf("%s = %v, gopher-lua gives %v", e, got[i], w)
		}
	}
}

func TestPatternsFollowLua51(t *testing.T) {
	exprs := make([]string, 0, len(lua51Only))
	for e := range lua51Only {
		exprs = append(exprs, e)
	}
	got := sandboxResults(t, exprs)
	for i, e := range exprs {
		if got[i] != lua51Only[e] {
			t.Errorf("%s = %v, Lua 5.1 gives %v", e, got[i], lua51Only[e])
		}
	}
}

func TestPatternErrors(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	cases := []struct{ src, want string }{
		{`return string.find("a", "%")`, "malformed pattern (ends with '%')"},
		{`return string.find("a", "[a")`, "malformed pattern (missing ']')"},
		{`return string.find("a", "[")`, "malformed pattern (missing ']')"},
		{`return string.find("a", "(a")`, "unfinished capture"},
		{`return string.match("a", "a)")`, "invalid pattern capture"},
		{`return string.find("aa", "(a)%2")`, "invalid capture index"},
		{`return string.gsub("a", "a", "%2")`, "invalid capture index"},
		{`return string.find("a", "%b(")`, "missing arguments to '%b'"},
		{`return string.find("a", "%fa")`, "missing '[' after '%f' in pattern"},
		{`return string.find("a", ("()"):rep(33))`, "too many captures"},
		{`return string.find(("a"):rep(300), ("a?"):rep(300))`, "pattern too complex"},
		{`return string.gsub("a", "a", {a = {}})`, "invalid replacement value (a table)"},
		{`return string.gsub("a", "a", true)`, "bad argument #3"},
		{`return string.gsub(("x"):rep(1e6), "x", ("y"):rep(100))`, "string.gsub: result exceeds the string size limit"},
	}
	for _, c := range cases {
		_, err := runLua(t, rt, c.src, nil)
		var le *Error
		if !errors.As(err, &le) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want a Lua error containing %q", c.src, err, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), "test.lua:1:") {
			t.Errorf("%s: error %q does not name the script's line", c.src, err)
		}
	}
	if v := mustRun(t, rt, `return ("alive"):match("%a+")`, nil); v != "alive" {
		t.Fatalf("after the errors got %v", v)
	}
}

// runGuarded runs src with the given deadline and fails the test if the
// run has not returned long after it: it guards a hang, it times nothing.
func runGuarded(t *testing.T, rt *Runtime, src string, deadline time.Duration) error {
	t.Helper()
	script, err := Compile("test.lua", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := rt.Run(ctx, &RunSpec{Script: script})
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(deadline + 2*time.Minute):
		t.Fatalf("%s: still running two minutes past its deadline", src)
		return nil
	}
}

func TestRunawayPatternStopsAtDeadline(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	for _, src := range []string{
		`return string.find(("a"):rep(300), ("a-"):rep(5) .. "b")`,
		`return string.find(("("):rep(1e6), "%b()")`,
		`return string.match(("a"):rep(300), ("a*"):rep(6) .. "b")`,
		`return string.gsub(("a"):rep(300), ("a-"):rep(5) .. "b", "x")`,
		`for m in string.gmatch(("a"):rep(300), ("a-"):rep(5) .. "b") do end`,
		`local ok = pcall(string.find, ("("):rep(1e6), "%b()") while true do end`,
	} {
		err := runGuarded(t, rt, src, 200*time.Millisecond)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("%s: error %v, want ErrTimeout", src, err)
		}
		if !strings.Contains(err.Error(), "stopped at test.lua:1;") {
			t.Fatalf("%s: error %q does not say where the script stopped", src, err)
		}
	}
	if v := mustRun(t, rt, `return ("alive"):match("%a+")`, nil); v != "alive" {
		t.Fatalf("after the timeouts got %v", v)
	}
}

func TestGsubIsLinear(t *testing.T) {
	// gopher-lua's gsub copied the whole subject once per replacement:
	// a million replacements of a megabyte ran for minutes.
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	script, err := Compile("test.lua", []byte(`
		local s, n = ("x"):rep(2^20):gsub(".", "y")
		return {n = n, ok = s == ("y"):rep(2^20)}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v, err := rt.Run(ctx, &RunSpec{Script: script})
	if err != nil {
		t.Fatal(err)
	}
	if m := v.(map[string]any); m["n"] != int64(1<<20) || m["ok"] != true {
		t.Fatalf("got %v", v)
	}
}

func TestGmatchIsLazy(t *testing.T) {
	// gopher-lua's gmatch found every match before returning the first.
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	mustRun(t, rt, `return 1`, nil)
	var v any
	n := allocatedBy(func() {
		v = mustRun(t, rt, `
			local s = ("x"):rep(2^22)
			local count = 0
			for c in s:gmatch(".") do count = count + 1 if count == 3 then break end end
			return count`, nil)
	})
	if v != int64(3) {
		t.Fatalf("got %v", v)
	}
	// The 4 MiB subject, and not a match record per character.
	if limit := uint64(16 << 20); n > limit {
		t.Fatalf("the run allocated %d bytes, want at most %d", n, limit)
	}
}

func FuzzPattern(f *testing.F) {
	for _, e := range []struct{ s, p string }{
		{"hello world", "(%w+) (%w+)"}, {"f(a(b)c)d", "%b()"}, {"THE (quick) fox", "%f[%a]%a+"},
		{"key = value", "^%s*(%w+)%s*=%s*(%w+)%s*$"}, {"abcabc", "(abc)%1"}, {"aaa", "a-"},
		{"x", "[%"}, {"x", "[]"}, {"x", "%f["}, {"", "()"}, {"ab", "(()a)%2"},
	} {
		f.Add(e.s, e.p)
	}
	rt := NewRuntime(Options{PoolSize: 1})
	script, err := Compile("fuzz.lua", []byte(`
		local s, p = input.s, input.p
		string.find(s, p) string.find(s, p, 2) string.match(s, p, -2)
		for a, b in string.gmatch(s, p) do end
		string.gsub(s, p, "<%0>") string.gsub(s, p, function(a) return a end) string.gsub(s, p, {})`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s, p string) {
		// Long inputs only make backtracking patterns run to the deadline.
		s, p = s[:min(len(s), 256)], p[:min(len(p), 64)]
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := rt.Run(ctx, &RunSpec{Script: script, Inputs: map[string]any{"s": s, "p": p}})
		var le *Error
		if err != nil && !errors.Is(err, ErrTimeout) && !errors.As(err, &le) {
			t.Fatalf("s=%q p=%q: %v", s, p, err)
		}
		if le != nil && (strings.Contains(le.Message, "runtime error") || !strings.HasPrefix(le.Message, "fuzz.lua:")) {
			t.Fatalf("s=%q p=%q: a Go panic or an unplaced error: %v", s, p, le.Message)
		}
	})
}
