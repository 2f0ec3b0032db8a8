package lua

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// allocatedBy returns the bytes the Go heap allocated while f ran.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// tracebackBudget is far above what a bounded traceback and one run need,
// and far below one line per tail call of the runs below.
const tracebackBudget = 4 << 20

// countingBudget is tracebackBudget plus the 8 bytes that gopher-lua
// allocates for each number a million-step countdown computes. A traceback
// with a line per tail call takes about 90 bytes per call.
const countingBudget = tracebackBudget + 8<<20 + 8<<20

func TestTailCallTracebackIsBounded(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	// Warm the pool so the state's own allocation isn't counted.
	mustRun(t, rt, `return 1`, nil)
	cases := []struct{ name, src, want string }{
		{"error after a million tail calls",
			`local function f(n) if n == 0 then error("boom") end return f(n - 1) end return f(1e6)`, "boom"},
		{"pcall around a million tail calls",
			`local function f(n) if n == 0 then error("boom") end return f(n - 1) end
			 local ok, err = pcall(f, 1e6) error(err, 0)`, "boom"},
		{"xpcall whose handler fails after a million tail calls",
			`local function f(n) if n == 0 then error("boom") end return f(n - 1) end
			 local ok, err = xpcall(function() return f(1e6) end, function(e) error("again: " .. e, 0) end)
			 error(err, 0)`, "again"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			n := allocatedBy(func() { _, err = runLua(t, rt, c.src, nil) })
			var le *Error
			if !errors.As(err, &le) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a Lua error containing %q", err, c.want)
			}
			if n > countingBudget {
				t.Fatalf("the run allocated %d bytes, want at most %d: the traceback grows with the tail calls", n, countingBudget)
			}
			if lines := strings.Count(le.Traceback, "\n"); lines > 20 {
				t.Fatalf("traceback of %d lines, want at most %d:\n%s", lines, 20, le.Traceback)
			}
		})
	}
}

func TestInfiniteTailRecursionTimesOutInBoundedMemory(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	mustRun(t, rt, `return 1`, nil)
	for _, src := range []string{
		`local function f() return f() end return f()`,
		`local function f() return f() end while true do pcall(f) end`,
	} {
		script, err := Compile("tail.lua", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		n := allocatedBy(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_, err = rt.Run(ctx, &RunSpec{Script: script})
		})
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("%s: error %v, want ErrTimeout", src, err)
		}
		if n > tracebackBudget {
			t.Fatalf("%s: the run allocated %d bytes, want at most %d: the traceback grows with the tail calls", src, n, tracebackBudget)
		}
	}
	if v := mustRun(t, rt, `return "alive"`, nil); v != "alive" {
		t.Fatalf("after the timeout got %v", v)
	}
}

func TestTracebackNamesFramesAndTailCalls(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	_, err := runLua(t, rt, "local function g(n) if n == 0 then error('x') end return g(n - 1) end\n"+
		"local function f() g(5) return 1 end\nlocal v = f()\nreturn v", nil)
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a Lua error", err)
	}
	want := "stack traceback:\n" +
		"\t[G]: in function 'error'\n" +
		"\ttest.lua:1: in function <test.lua:1>\n" +
		"\t(tail calls)\n" +
		"\ttest.lua:2: in function 'f'\n" +
		"\ttest.lua:3: in main chunk"
	if le.Traceback != want {
		t.Fatalf("traceback\n%s\nwant\n%s", le.Traceback, want)
	}
}

func TestPcallAndXpcallKeepLuaSemantics(t *testing.T) {
	rt := NewRuntime(Options{PoolSize: 1})
	defer rt.Close()
	got := mustRun(t, rt, `
		local callable = setmetatable({}, {__call = function(self, a, b) return a + b end})
		local function pack(...) return {n = select("#", ...), ...} end
		local r1 = pack(pcall(function(a, b) return a, b, nil end, 1, 2))
		local r2 = pack(xpcall(function() error({code = 7}) end, function(e) return "handled " .. e.code end))
		local r3 = pack(xpcall(function() return 1, 2 end, print))
		local r4 = pack(xpcall(function() error("first", 0) end, function(e) error("second: " .. e, 0) end))
		local ok5, e5 = pcall(42)
		local ok6, v6 = pcall(callable, 40, 2)
		local ok7, e7 = pcall(function() local t = nil; return t.x end)
		local ok8, e8 = pcall(error)
		return {
			r1 = tostring(r1[1]) .. "," .. r1[2] .. "," .. r1[3] .. "," .. tostring(r1[4]) .. ",n=" .. r1.n,
			r2 = tostring(r2[1]) .. "," .. r2[2],
			r3 = tostring(r3[1]) .. "," .. r3[2] .. "," .. r3[3] .. ",n=" .. r3.n,
			r4 = tostring(r4[1]) .. "," .. r4[2],
			r5 = tostring(ok5) .. "," .. e5,
			r6 = tostring(ok6) .. "," .. v6,
			r7 = tostring(ok7) .. "," .. e7,
			r8 = tostring(ok8) .. "," .. tostring(e8),
		}`, nil).(map[string]any)
	want := map[string]any{
		"r1": "true,1,2,nil,n=4",
		"r2": "false,handled 7",
		"r3": "true,1,2,n=3",
		"r4": "false,second: first",
		"r5": "false,attempt to call a number value",
		"r6": "true,42",
		"r7": "false,test.lua:10: attempt to index a non-table object(nil) with key 'x'",
		"r8": "false,test.lua:11: bad argument #1 to (anonymous) (value expected)",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
}
