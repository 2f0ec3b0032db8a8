package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/logging"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

func TestZZDebug(t *testing.T) {
	for _, v := range []struct{ close bool; pages uint32 }{{false, 0}} {
		debugVariant(t, v.close, v.pages)
	}
}

func debugVariant(t *testing.T, closeOnDone bool, pages uint32) {
	var buf bytes.Buffer
	_ = experimental.WithFunctionListenerFactory
	_ = logging.LogScopeAll
	ctx := experimental.WithFunctionListenerFactory(context.Background(), logging.NewLoggingListenerFactory(&buf))
	cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(closeOnDone)
	if pages > 0 {
		cfg = cfg.WithMemoryLimitPages(pages)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg.WithCompilationCache(func() wazero.CompilationCache { c, _ := wazero.NewCompilationCacheWithDir(os.Getenv("HOME") + "/.cache/zzwasm"); return c }()))
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	instantiateHostModule(ctx, r)
	cm, err := r.CompileModule(ctx, pluginBytes(t, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader))
	if err != nil {
		t.Fatal(err)
	}
	p := &pool{}
	_ = p
	inst := &instance{mod: mod, mem: mod.ExportedMemory("memory"), alloc: mod.ExportedFunction("goshawk_alloc"), free: mod.ExportedFunction("goshawk_free"), stack: make([]uint64, 2)}
	inst.bind([]string{"echo"})
	inst.call(ctx, inst.funcs["echo"], benchInput)
	buf.Reset()
	start := time.Now()
	for range 3 {
		if _, _, err := inst.call(ctx, inst.funcs["echo"], benchInput); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("close %v pages %d echo: %v/op memory %d", closeOnDone, pages, time.Since(start)/1000, inst.mem.Size())
	counts := map[string]int{}
	for _, l := range strings.Split(buf.String(), "\n") {
		l = strings.TrimLeft(l, " -<>|")
		if i := strings.Index(l, "("); i > 0 {
			counts[l[:i]]++
		}
	}
	type kv struct{ k string; v int }
	var kvs []kv
	for k, v := range counts { kvs = append(kvs, kv{k, v}) }
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
	for _, e := range kvs[:min(40, len(kvs))] { t.Logf("%8d %s", e.v, e.k) }
}
