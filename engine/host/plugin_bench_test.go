package host_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/bindings/wasm"
	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
	"github.com/goshawk/goshawk/internal/cputime"
)

// BenchmarkPluginCallFromLua is one plugins.echo.echo(t) from a playbook
// script with about 100 bytes of JSON each way: Lua table to JSON, the
// copy into the instance, the guest function, and JSON back to a table.
// The loop runs inside one script, so the per-run cost is not counted.
func BenchmarkPluginCallFromLua(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if err := wasmbuild.Build(ctx, filepath.Join("..", "..", "testdata", "plugins", "echo"), filepath.Join(dir, "echo.wasm")); err != nil {
		b.Fatal(err)
	}
	plugins, err := wasm.NewHost(ctx, wasm.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer plugins.Close(ctx)
	if err := plugins.Load(ctx, filepath.Join(dir, "echo.wasm")); err != nil {
		b.Fatal(err)
	}
	script, err := lua.Compile("bench.lua", []byte(`
local payload = {indicator = "203.0.113.7", tc = {rating = 3, confidence = 70}, tq = {score = 6, status = "Active"}}
local out
for i = 1, input.n do out = plugins.echo.echo(payload) end
return out.tq.status`))
	if err != nil {
		b.Fatal(err)
	}
	rt := lua.NewRuntime(lua.Options{})
	defer rt.Close()
	spec := &lua.RunSpec{Script: script, Plugins: plugins, AllowedPlugins: []string{"echo"}}
	spec.Inputs = map[string]any{"n": int64(100)}
	if _, err := rt.Run(ctx, spec); err != nil { // warm the pool
		b.Fatal(err)
	}
	b.ReportAllocs()
	spec.Inputs = map[string]any{"n": int64(b.N)}
	cpu0, _ := cputime.Process()
	b.ResetTimer()
	res, err := rt.Run(ctx, spec)
	b.StopTimer()
	if err != nil || res != "Active" {
		b.Fatalf("%v %v", res, err)
	}
	// CPU time per call, which the machine's other work disturbs less than
	// the wall-clock ns/op (the collector runs beside the loop).
	if cpu1, ok := cputime.Process(); ok && cpu1 > cpu0 {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-µs/op")
	}
}
