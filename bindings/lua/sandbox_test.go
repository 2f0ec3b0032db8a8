package lua

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goshawk/goshawk/providers"
)

// runLua compiles src and runs it once on rt.
func runLua(t *testing.T, rt *Runtime, src string, spec *RunSpec) (any, error) {
	t.Helper()
	script, err := Compile("test.lua", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if spec == nil {
		spec = &RunSpec{}
	}
	spec.Script = script
	return rt.Run(context.Background(), spec)
}

func mustRun(t *testing.T, rt *Runtime, src string, spec *RunSpec) any {
	t.Helper()
	v, err := runLua(t, rt, src, spec)
	if err != nil {
		t.Fatalf("run %q: %v", src, err)
	}
	return v
}

func TestSandboxRefusesEscapes(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	cases := []struct {
		name, src, want string
	}{
		{"io.open", `return io.open("/etc/passwd")`, "io is not available"},
		{"os.execute", `return os.execute("id")`, "os.execute is not available"},
		{"os.exit", `os.exit(1)`, "os.exit is not available"},
		{"os.getenv", `return os.getenv("HOME")`, "os.getenv is not available"},
		{"os.remove", `return os.remove("x")`, "os.remove is not available"},
		{"require", `return require "os"`, "require is not available"},
		{"dofile", `return dofile("x.lua")`, "dofile is not available"},
		{"loadfile", `return loadfile("x.lua")`, "loadfile is not available"},
		{"getfenv", `return getfenv(0)`, "getfenv is not available"},
		{"setfenv", `setfenv(1, {})`, "setfenv is not available"},
		{"collectgarbage", `collectgarbage()`, "collectgarbage is not available"},
		{"debug", `return debug.getinfo(1)`, "debug is not available"},
		{"string.dump", `return string.dump(print)`, "string.dump is not available"},
		{"string method dump", `return ("x"):dump()`, "string.dump is not available"},
		{"string.rep", `return string.rep("x", 2^33)`, "string.rep: result of 8589934592 bytes exceeds the string size limit"},
		{"string.rep method", `return ("ab"):rep(2^40)`, "string.rep"},
		{"recursion", `local function f(n) return 1 + f(n + 1) end return f(1)`, "stack overflow"},
		{"recursion 1e6", `local function f(n) if n == 0 then return 0 end return 1 + f(n - 1) end return f(1e6)`, "stack overflow"},
		{"concat doubling", `local s = "x" for i = 1, 40 do s = s .. s end return #s`, "string concatenation exceeds the string size limit"},
		{"table.concat", `local t = {} local s = string.rep("x", 1e6) for i = 1, 20 do t[i] = s end return table.concat(t)`, "table.concat"},
		{"string.format", `local s = string.rep("x", 9e6) return string.format("%s%s", s, s)`, "string.format"},
		{"gsub string", `local s = string.rep("x", 1e4) return s:gsub(".", s)`, "string.gsub"},
		{"gsub function", `local s = string.rep("x", 1e4) return s:gsub(".", function() return s end)`, "string.gsub"},
		{"bytecode", `local f, err = loadstring("\27Lua") error(err)`, "binary chunks are not allowed"},
		{"load bypass of concat cap", `return loadstring("local s = 'x' for i = 1, 40 do s = s .. s end")()`, "string concatenation exceeds"},
		{"math.random empty", `return math.random(0)`, "interval is empty"},
		{"math.random reversed", `return math.random(5, 1)`, "interval is empty"},
		{"unpack", `return unpack({}, 1, 1e7)`, "overflow"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runLua(t, rt, c.src, nil)
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v (%T) is not a Lua error", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
			// The host and the pooled state survive: the next run works.
			if v := mustRun(t, rt, `return 1 + 1`, nil); v != int64(2) {
				t.Fatalf("next run returned %v", v)
			}
		})
	}
}

func TestRecursionThroughPcallIsBounded(t *testing.T) {
	rt := NewRuntime(Options{CallStackSize: 100})
	v := mustRun(t, rt, `
		local depth = 0
		local function f() depth = depth + 1 pcall(f) end
		f()
		return depth`, nil)
	if d, ok := v.(int64); !ok || d < 10 || d > 100 {
		t.Fatalf("depth %v, want it stopped by the call stack size of 100", v)
	}
}

func TestSandboxErrorsNamePosition(t *testing.T) {
	rt := NewRuntime(Options{})
	_, err := runLua(t, rt, "local x = 1\nreturn io.open('f')", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "test.lua:2:") {
		t.Fatalf("error %v, want it to start with test.lua:2:", err)
	}
}

func TestSandboxKeepsWhatScriptsNeed(t *testing.T) {
	rt := NewRuntime(Options{})
	src := `
		local t = {3, 1, 2}
		table.sort(t)
		local parts = {}
		for _, v in ipairs(t) do parts[#parts + 1] = tostring(v) end
		local ok, err = pcall(error, "boom", 0)
		local f = loadstring("return 40 + 2")
		return {
			joined = table.concat(parts, ","),
			upper = ("abc"):upper(),
			rep = string.rep("ab", 3),
			fmt = string.format("%05.1f|%q", 3.14159, "a\"b"),
			gsub = (string.gsub("hello world", "o", "0")),
			gsubf = (string.gsub("a-b", "%w", function(c) return c:upper() end)),
			gsubt = (string.gsub("a-b", "%w", {a = "A"})),
			floor = math.floor(2.7),
			pcall = tostring(ok) .. ":" .. tostring(err),
			loaded = f(),
			time = type(os.time()),
			date = os.date("!%Y", 0),
			clock = type(os.clock()),
			concat = "n=" .. 1 .. "," .. 2.5,
			multi = "x" .. (function() return "y", "z" end)(),
			meta = tostring(setmetatable({}, {__concat = function(a, b) return "M" end}) .. "s"),
			global_G = _G.string == string,
			random = math.random(3, 3) + math.random(1),
		}`
	got := mustRun(t, rt, src, nil).(map[string]any)
	want := map[string]any{
		"joined": "1,2,3", "upper": "ABC", "rep": "ababab", "fmt": `003.1|"a\"b"`,
		"gsub": "hell0 w0rld", "gsubf": "A-B", "gsubt": "A-b", "floor": int64(2),
		"pcall": "false:boom", "loaded": int64(42), "time": "number", "date": "1970",
		"clock": "number", "concat": "n=1,2.5", "multi": "xy", "meta": "M", "global_G": true, "random": int64(4),
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}

func TestRunIsolation(t *testing.T) {
	// One pooled state, so every run reuses it.
	rt := NewRuntime(Options{PoolSize: 1})
	pooled := func() *state {
		st := <-rt.pool
		rt.pool <- st
		return st
	}
	mustRun(t, rt, `
		leaked = "yes"
		string.foo = 1
		table.insert = nil
		math.pi = 3
		os.time = nil
		json.encode = nil
		getmetatable("").__index = {upper = function() return "hacked" end}
		return 1`, nil)
	first := pooled()
	got := mustRun(t, rt, `return {
		leaked = leaked == nil,
		foo = string.foo == nil,
		insert = type(table.insert),
		pi = math.pi > 3.14,
		time = type(os.time),
		encode = type(json.encode),
		upper = ("a"):upper(),
	}`, nil).(map[string]any)
	if pooled() != first {
		t.Fatal("the second run did not reuse the pooled state")
	}
	want := map[string]any{"leaked": true, "foo": true, "insert": "function", "pi": true, "time": "function", "encode": "function", "upper": "A"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v: the previous run leaked", k, got[k], w)
		}
	}
}

func TestProtectedMetatables(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	for _, src := range []string{
		`setmetatable(_G, nil)`,
		`setmetatable(os, nil)`,
	} {
		if _, err := runLua(t, rt, src, nil); err == nil || !strings.Contains(err.Error(), "protected metatable") {
			t.Errorf("%s: error %v, want protected metatable", src, err)
		}
	}
	// A run that tried and failed leaves the next one intact.
	if _, err := runLua(t, rt, `return io`, nil); err == nil {
		t.Fatal("io is reachable after a failed metatable change")
	}
}

func TestTimeout(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	script, err := Compile("loop.lua", []byte(`while true do end`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = rt.Run(ctx, &RunSpec{Script: script})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "stopped at loop.lua:1;") {
		t.Fatalf("error %q does not say where the script stopped", err)
	}
	// A script that swallows errors is still stopped.
	script, _ = Compile("pcall.lua", []byte(`while true do pcall(function() while true do end end) end`))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err = rt.Run(ctx2, &RunSpec{Script: script}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if v := mustRun(t, rt, `return "alive"`, nil); v != "alive" {
		t.Fatalf("after timeout got %v", v)
	}
}

func TestCanceledContext(t *testing.T) {
	rt := NewRuntime(Options{})
	script, _ := Compile("x.lua", []byte(`return 1`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := rt.Run(ctx, &RunSpec{Script: script})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestPrintGoesToRunLog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rt := NewRuntime(Options{})
	mustRun(t, rt, `print("hello", 42, nil)`, &RunSpec{Log: log})
	if !strings.Contains(buf.String(), `msg="hello\t42\tnil"`) || !strings.Contains(buf.String(), "source=print") {
		t.Fatalf("log = %q", buf.String())
	}
}

func TestUndeclaredAsset(t *testing.T) {
	rt := NewRuntime(Options{})
	_, err := runLua(t, rt, `return tq.query{}`, &RunSpec{Undeclared: []string{"tq"}})
	if err == nil || !strings.Contains(err.Error(), "asset tq is not declared by this playbook") {
		t.Fatalf("error %v", err)
	}
	// Reading an unknown global that isn't an asset is still plain nil.
	if v := mustRun(t, rt, `return container == nil`, nil); v != true {
		t.Fatalf("got %v", v)
	}
}

func TestRunWithoutScript(t *testing.T) {
	rt := NewRuntime(Options{})
	if _, err := rt.Run(context.Background(), &RunSpec{}); err == nil {
		t.Fatal("no error for a spec without a script")
	}
}

func TestReturnValueMustConvert(t *testing.T) {
	rt := NewRuntime(Options{})
	_, err := runLua(t, rt, `local t = {} t.self = t return t`, nil)
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("error %v, want a cycle error", err)
	}
	_, err = runLua(t, rt, `return print`, nil)
	if err == nil || !strings.Contains(err.Error(), "function") {
		t.Fatalf("error %v, want a function conversion error", err)
	}
}

func TestConcurrentRuns(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 2})
	script, err := Compile("c.lua", []byte(`counter = (counter or 0) + input.n return counter`))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			v, err := rt.Run(context.Background(), &RunSpec{Script: script, Inputs: map[string]any{"n": i}})
			if err == nil && v != int64(i) {
				err = errors.New("a global leaked between concurrent runs")
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestGlobals(t *testing.T) {
	want := []string{
		"_G", "_VERSION", "assert", "containers", "container", "error", "getmetatable", "input", "ipairs",
		"json", "kv", "load", "loadstring", "log", "math", "next", "os", "pairs", "pcall", "plugins", "print",
		"rawequal", "rawget", "rawset", "select", "setmetatable", "string", "table", "time", "tonumber",
		"tostring", "type", "unpack", "xpcall",
	}
	slices.Sort(want)
	if got := Globals(); !slices.Equal(got, want) {
		t.Fatalf("Globals() = %v\nwant %v", got, want)
	}
}

func TestNameListsMatchTheSandbox(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	// Every member Members lists is there, and nothing else is.
	for _, lib := range []string{"string", "table", "math", "os", "log", "json", "kv", "containers", "time"} {
		names := Members(lib)
		if len(names) == 0 {
			t.Fatalf("Members(%q) is empty", lib)
		}
		src := `local names = {} for k in pairs(` + lib + `) do names[#names + 1] = k end table.sort(names) return names`
		got := mustRun(t, rt, src, nil).([]any)
		if len(got) != len(names) {
			t.Fatalf("%s has %v, Members says %v", lib, got, names)
		}
		for i := range got {
			if got[i] != names[i] {
				t.Fatalf("%s has %v, Members says %v", lib, got, names)
			}
		}
	}
	if got := Members("os"); !slices.Equal(got, []string{"clock", "date", "time"}) {
		t.Fatalf("Members(os) = %v", got)
	}
	if Members("io") != nil {
		t.Fatal("Members(io) is not nil")
	}
	// Every removed name raises with its reason.
	for name, why := range Removed() {
		src := "return " + name + ".x"
		if strings.Contains(name, ".") {
			src = "return " + name + "()"
		}
		_, err := runLua(t, rt, src, nil)
		if err == nil || !strings.Contains(err.Error(), name+" is not available in the playbook sandbox: "+why) {
			t.Errorf("%s: error %v", name, err)
		}
		if slices.Contains(Globals(), name) {
			t.Errorf("%s is both removed and a global", name)
		}
	}
	// A keyword can't be a global.
	for _, k := range Keywords() {
		if slices.Contains(Globals(), k) {
			t.Errorf("keyword %s is a global", k)
		}
		if _, err := Compile("k.lua", []byte("local "+k+" = 1")); err == nil {
			t.Errorf("%s compiles as a local name; it is not a keyword", k)
		}
	}
}

// pooledState returns the one idle state of a runtime with PoolSize 1.
func pooledState(t *testing.T, rt *Runtime) *state {
	t.Helper()
	select {
	case st := <-rt.pool:
		rt.pool <- st
		return st
	default:
		t.Fatal("no pooled state")
		return nil
	}
}

func TestReusedTablesNeverLeakChanges(t *testing.T) {
	if !tableFields.ok {
		t.Fatal("gopher-lua's table layout changed: reuse.go can't read it, so every run rebuilds its tables")
	}
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	spec := func() *RunSpec { return &RunSpec{Assets: testAssets(t), Inputs: map[string]any{"n": 1}} }
	// What a run sees when nothing before it changed anything.
	const probe = `
		local names = {}
		for _, lib in ipairs({string, table, math, os, json, log, kv, containers, time, tc, _G}) do
			local n = 0
			for k in pairs(lib) do n = n + 1 end
			names[#names + 1] = n
		end
		return {
			counts = table.concat(names, ","),
			format = string.format("%d", 7), upper = ("a"):upper(), insert = type(table.insert),
			pi = math.pi > 3.14, x = x == nil, tc = type(tc.noop), tq = tq == nil,
			meta = tostring(getmetatable(math)), array = rawget(string, 1) == nil and rawget(_G, 1) == nil,
			input = input.n,
			plugins = select(2, pcall(function() return plugins.nope end)),
			pluginsMeta = tostring(getmetatable(plugins)),
		}`
	want := mustRun(t, rt, probe, spec())
	st := pooledState(t, rt)
	globals, str := st.globals, st.libTabs[st.stringLib].t
	// A run that changes nothing keeps the tables.
	if mustRun(t, rt, `return string.len("abc") + #table.concat({"a"})`, spec()) != int64(4) || st.globals != globals || st.libTabs[st.stringLib].t != str {
		t.Fatal("a run that changed nothing did not reuse the tables")
	}
	for _, change := range []string{
		`string.format = function() return "hacked" end`,
		`string.format = nil`,
		`string.foo = 1`,
		`string.foo = 1 string.foo = nil`,
		`for i = 1, 1000 do string["k" .. i] = i string["k" .. i] = nil end`,
		`rawset(string, 1, "a") string[1] = nil`,
		`string[true] = 1 string[true] = nil`,
		`table.insert = nil`,
		`table.insert = table.remove`,
		`math.pi = 3`,
		`setmetatable(math, {__index = function() return 42 end})`,
		`getmetatable("").__index = {upper = function() return "hacked" end}`,
		`getmetatable("").__index.upper = function() return "hacked" end`,
		`getmetatable("").extra = 1`,
		`os.time = nil`,
		`json.encode = nil`,
		`time.now = function() return 0 end`,
		`tc.noop = nil`,
		`tc.extra = 1 tc.extra = nil`,
		`x = 1`,
		`x = 1 x = nil`,
		`tq = 1`,
		`_G[1] = 1 _G[1] = nil`,
		`_G[true] = 1`,
		`_G._G = nil`,
		`_G.string = {}`,
		`print = nil`,
		`input.n = 2 plugins = nil`,
		`pcall(function() getmetatable(plugins).__index = function() return 1 end end) pcall(setmetatable, plugins, nil)`,
		// Through names a script doesn't spell out.
		`local function f() return function() string.foo = 1 end end f()()`,
		`local g = _G g.string.foo = 1 g.math.pi = 3`,
		`local g = _G g["str" .. "ing"]["k" .. 1] = 1`,
		`local mt = getmetatable("") mt.__index.upper = function() return "hacked" end`,
		`loadstring("string.foo = 1 math.pi = 3 tc.noop = nil")()`,
		`local done = false load(function() if done then return nil end done = true return "table.insert = nil" end)()`,
		`local t = _G["tc"] t.noop = nil`,
	} {
		// Run the change twice, first with one more asset, so that a reused
		// globals table has held tq before.
		mustRun(t, rt, change, &RunSpec{Assets: map[string]*providers.Asset{"tc": testAssets(t)["tc"], "tq": testAssets(t)["tc"]}})
		mustRun(t, rt, change, spec())
		got := mustRun(t, rt, probe, spec())
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("after %s the next run saw\n%v\nwant\n%v", change, got, want)
		}
		if pooledState(t, rt) != st {
			t.Fatal("the runs did not share the pooled state")
		}
		// Keys added and removed again are gone too, not just invisible:
		// gopher-lua remembers every key a table held.
		for i, p := range st.libTabs {
			if shape, _ := shapeOf(p.t); shape.keys != len(st.libs[i].entries) {
				t.Fatalf("after %s the %s table has held %d keys, want %d", change, st.libs[i].name, shape.keys, len(st.libs[i].entries))
			}
		}
		for _, fns := range st.assets {
			if shape, _ := shapeOf(fns.table.t); shape.keys != len(fns.table.entries) {
				t.Fatalf("after %s an asset table has held %d keys, want %d", change, shape.keys, len(fns.table.entries))
			}
		}
	}
}
