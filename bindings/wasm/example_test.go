package wasm_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/goshawk/goshawk/bindings/wasm"
)

// This example loads a plugins folder and calls a function, as the engine
// does for a playbook's plugins.reputation.score{...}.
func ExampleHost_Call() {
	ctx := context.Background()
	host, err := wasm.NewHost(ctx, wasm.Options{
		CacheDir:  ".goshawk-cache/wasm",
		Default:   wasm.Limits{Timeout: 2 * time.Second},
		PerPlugin: map[string]wasm.Limits{"reputation": {MemoryPages: 512}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Close(ctx)
	for _, err := range host.LoadDir(ctx, "plugins") {
		fmt.Println(err) // a bad plugin is skipped; the others load
	}
	out, err := host.Call(ctx, "reputation", "score",
		[]byte(`{"indicator":"203.0.113.7","tq":{"score":9,"status":"Active"}}`),
		slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(out))
}
