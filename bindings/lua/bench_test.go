package lua

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkActionCall measures one action call from Lua: the Lua call, the
// conversion of the parameters to Go, Invoke of a no-op action, the step
// callback and the conversion of the result back to a Lua table.
func BenchmarkActionCall(b *testing.B) {
	script, err := Compile("bench.lua", []byte(`for i = 1, input.n do local r = tc.noop{} end`))
	if err != nil {
		b.Fatal(err)
	}
	rt := NewRuntime(Options{})
	defer rt.Close()
	spec := &RunSpec{Script: script, Assets: testAssets(b), OnStep: func(Step) {}}
	b.ReportAllocs()
	b.ResetTimer()
	spec.Inputs = map[string]any{"n": b.N}
	if _, err := rt.Run(context.Background(), spec); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkActionCallWithParams is BenchmarkActionCall with a validated
// parameter table.
func BenchmarkActionCallWithParams(b *testing.B) {
	script, err := Compile("bench.lua", []byte(`for i = 1, input.n do local r = tc.hunt_ip{ip = "1.2.3.4", tag = true} end`))
	if err != nil {
		b.Fatal(err)
	}
	rt := NewRuntime(Options{})
	defer rt.Close()
	spec := &RunSpec{Script: script, Assets: testAssets(b)}
	b.ReportAllocs()
	b.ResetTimer()
	spec.Inputs = map[string]any{"n": b.N}
	if _, err := rt.Run(context.Background(), spec); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRunTrivial measures a whole run of `return 1`: pool checkout, a
// fresh environment, the call, the result conversion and the return to the
// pool. runs/s is the figure to compare with the 5,000/s target.
func BenchmarkRunTrivial(b *testing.B) {
	script, err := Compile("trivial.lua", []byte(`return 1`))
	if err != nil {
		b.Fatal(err)
	}
	rt := NewRuntime(Options{})
	defer rt.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := &RunSpec{Script: script, Inputs: map[string]any{"ip": "1.2.3.4"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := rt.Run(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// BenchmarkRunTrivialParallel is BenchmarkRunTrivial on every core.
func BenchmarkRunTrivialParallel(b *testing.B) {
	script, err := Compile("trivial.lua", []byte(`return 1`))
	if err != nil {
		b.Fatal(err)
	}
	rt := NewRuntime(Options{})
	defer rt.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		spec := &RunSpec{Script: script}
		for pb.Next() {
			if _, err := rt.Run(context.Background(), spec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// BenchmarkIdleStateMemory reports the heap held by one idle pooled state,
// measured over 100 states.
func BenchmarkIdleStateMemory(b *testing.B) {
	const n = 100
	rt := NewRuntime(Options{PoolSize: n})
	var perState float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		states := make([]*state, n)
		for i := range states {
			states[i] = rt.newState()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perState = float64(after.HeapAlloc-before.HeapAlloc) / n
		for _, st := range states {
			st.L.Close()
		}
		runtime.KeepAlive(states)
	}
	b.ReportMetric(perState, "bytes/state")
}

// BenchmarkJSONRoundTrip is json.encode then json.decode of the payload
// of BenchmarkPluginCallFromLua (about 100 bytes): the Lua side of a
// plugin call, without the plugin.
func BenchmarkJSONRoundTrip(b *testing.B) {
	script, err := Compile("bench.lua", []byte(`
local payload = {indicator = "203.0.113.7", tc = {rating = 3, confidence = 70}, tq = {score = 6, status = "Active"}}
local out
for i = 1, input.n do out = json.decode(json.encode(payload)) end
return out.tq.status`))
	if err != nil {
		b.Fatal(err)
	}
	rt := NewRuntime(Options{})
	defer rt.Close()
	b.ReportAllocs()
	b.ResetTimer()
	res, err := rt.Run(context.Background(), &RunSpec{Script: script, Inputs: map[string]any{"n": b.N}})
	if err != nil || res != "Active" {
		b.Fatalf("%v %v", res, err)
	}
}
