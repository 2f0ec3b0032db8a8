package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
)

var update = flag.Bool("update", false, "rebuild the embedded reputation plugin from its source")

// TestEmbeddedPluginIsReproducible rebuilds the reputation plugin from
// examples/plugins/reputation with the flags the committed module was built
// with and checks the two are byte for byte the same: the binary module in
// the repository is exactly what its source builds to.
func TestEmbeddedPluginIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the reputation plugin")
	}
	out := filepath.Join(t.TempDir(), "reputation.wasm")
	if *update {
		abs, err := filepath.Abs(filepath.Join("assets", "reputation.wasm")) // the build runs in the plugin's folder
		if err != nil {
			t.Fatal(err)
		}
		out = abs
	}
	src := filepath.Join("..", "..", "examples", "plugins", "reputation")
	if err := wasmbuild.Build(context.Background(), src, out, reputationBuildFlags...); err != nil {
		t.Fatal(err)
	}
	if *update {
		return
	}
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(built, reputationWasm) {
		t.Fatalf("cmd/goshawk/assets/reputation.wasm (%d bytes) is not what examples/plugins/reputation builds to with %s (%d bytes): "+
			"the plugin's source, the plugin kit or the Go toolchain changed. Rebuild it with\n"+
			"  go test ./cmd/goshawk -run TestEmbeddedPluginIsReproducible -update",
			len(reputationWasm), runtime.Version(), len(built))
	}
}
