package wasm

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// benchInput is about 100 bytes of JSON, which echo returns unchanged.
var benchInput = []byte(`{"indicator":"203.0.113.7","tc":{"rating":3,"confidence":70},"tq":{"score":6,"status":"Active"}}`)

// BenchmarkCall measures one call on a warm pool: the input copied in, the
// guest function, the envelope decoded and the result freed.
func BenchmarkCall(b *testing.B) {
	h := newTestHost(b, Options{})
	load(b, h, "echo")
	b.SetBytes(int64(len(benchInput)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		out, err := h.Call(context.Background(), "echo", "echo", benchInput, nil)
		if err != nil || len(out) != len(benchInput) {
			b.Fatalf("echo: %s, %v", out, err)
		}
	}
}

// BenchmarkCallHostOverhead is BenchmarkCall with a guest that does almost
// nothing (the hand-assembled echo), so it measures goshawk's side of a
// call alone: pool, deadline, copies, envelope and free.
func BenchmarkCallHostOverhead(b *testing.B) {
	h := newTestHost(b, Options{})
	path := filepath.Join(b.TempDir(), "hand.wasm")
	if err := os.WriteFile(path, handPlugin("hand"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := h.Load(context.Background(), path); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchInput)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		out, err := h.Call(context.Background(), "hand", "echo", benchInput, nil)
		if err != nil || len(out) != len(benchInput) {
			b.Fatalf("echo: %s, %v", out, err)
		}
	}
}

// BenchmarkCallReputation measures a call of the example plugin's score
// function, which decodes and encodes real structures.
func BenchmarkCallReputation(b *testing.B) {
	h := newTestHost(b, Options{})
	load(b, h, "reputation")
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := h.Call(context.Background(), "reputation", "score", benchInput, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it per operation as cpu-ns/op.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkCallParallel measures calls from several goroutines sharing the
// pool.
func BenchmarkCallParallel(b *testing.B) {
	h := newTestHost(b, Options{})
	load(b, h, "echo")
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Call(context.Background(), "echo", "echo", benchInput, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPoolCheckout measures taking an instance from the pool and
// putting it back.
func BenchmarkPoolCheckout(b *testing.B) {
	h := newTestHost(b, Options{})
	load(b, h, "echo")
	p := h.plugins["echo"]
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		inst, err := p.pool.get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.pool.put(inst)
	}
}

// BenchmarkCompileCold adds the fuel checks to the reputation plugin
// and compiles it with no cache, as a first load does.
func BenchmarkCompileCold(b *testing.B) {
	wasmBytes := pluginBytes(b, "reputation")
	ctx := context.Background()
	defer reportCPU(b)()
	for b.Loop() {
		checked, err := instrument(wasmBytes, fuelSlice)
		if err != nil {
			b.Fatal(err)
		}
		r := wazero.NewRuntime(ctx)
		if _, err := r.CompileModule(ctx, checked); err != nil {
			b.Fatal(err)
		}
		r.Close(ctx)
	}
}

// BenchmarkCompileCached compiles the reputation plugin from a warm
// on-disk cache, as after a restart: a new cache and runtime each time.
func BenchmarkCompileCached(b *testing.B) {
	wasmBytes, err := instrument(pluginBytes(b, "reputation"), fuelSlice)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	dir := b.TempDir()
	compile := func() {
		cache, err := wazero.NewCompilationCacheWithDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCompilationCache(cache))
		if _, err := r.CompileModule(ctx, wasmBytes); err != nil {
			b.Fatal(err)
		}
		r.Close(ctx)
		cache.Close(ctx)
	}
	compile()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		b.Fatalf("the cache folder is empty after a compile: %v", err)
	}
	defer reportCPU(b)()
	for b.Loop() {
		compile()
	}
}
