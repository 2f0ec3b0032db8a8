package wasm

import (
	"context"
	"testing"
	"time"
)

// fuzzLimits keep each FuzzLoad case small and short.
var fuzzLimits = Limits{MemoryPages: 16, Timeout: 20 * time.Millisecond, Instances: 1, LogLines: 10, LogBytes: 1 << 10}

// FuzzLoad loads arbitrary bytes as a plugin, as the reload watcher and
// `goshawk validate` do, and when they load, calls each of the plugin's
// functions. Every case must end in an error or a result within its time
// limit: never a panic, never a hang. The seeds are the hand-assembled
// modules of the other tests, among them the hostile ones: loops in the
// start function and _initialize, a loop resetting the host's global, a
// bulk memory fill.
func FuzzLoad(f *testing.F) {
	f.Add(handPlugin("fuzz"))
	f.Add(spinPlugin(true))
	f.Add(bareModule())
	m := spinModule(spinBody, nil)
	m.funcs = append(m.funcs, wasmFunc{body: []byte{opLoop, blockEmpty, opBr, 0, opEnd}})
	m.start = len(m.funcs)
	f.Add(m.encode())
	f.Add(spinModule([]byte{opLoop, blockEmpty, opI32Const, 0, opGlobalSet, 1, opBr, 0, opEnd, opI64Const, 0}, nil).encode())
	f.Add(spinModule([]byte{opI32Const, 0, opI32Const, 0, opI32Const, 0x80, 0x80, 0x04, opMisc, miscFill, 0, opI64Const, 0}, nil).encode())
	f.Fuzz(func(t *testing.T, wasmBytes []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			loadAndCall(wasmBytes)
		}()
		select {
		case <-done:
		case <-time.After(hangGuard):
			t.Fatalf("loading and calling the module has not returned after %s", hangGuard)
		}
	})
}

// loadAndCall builds wasmBytes as the plugin fuzz and calls each of its
// functions once with an empty object.
func loadAndCall(wasmBytes []byte) {
	ctx := context.Background()
	p, err := build(ctx, "fuzz.wasm", "fuzz", wasmBytes, fuzzLimits, nil)
	if err != nil {
		return
	}
	defer p.release()
	for _, fn := range p.pool.functions {
		_, _ = p.call(ctx, fn, []byte(`{}`), nil)
	}
}
