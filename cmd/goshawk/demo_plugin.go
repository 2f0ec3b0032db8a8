package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/goshawk/goshawk/bindings/wasm/wasmbuild"
)

// buildDemoPlugin compiles the example reputation plugin from its source
// into the demo's plugins folder with the Go toolchain, which `go run`
// implies is present. It returns a line for the demo's header.
func buildDemoPlugin(ctx context.Context, pluginsDir string) string {
	root := moduleRoot()
	if root == "" {
		return "reputation plugin not built: run the demo from a goshawk checkout so its source can be compiled"
	}
	out := filepath.Join(pluginsDir, "reputation.wasm")
	if err := wasmbuild.Build(ctx, filepath.Join(root, "examples", "plugins", "reputation"), out); err != nil {
		return fmt.Sprintf("reputation plugin not built: %v", err)
	}
	return "reputation.wasm compiled from examples/plugins/reputation"
}

// moduleRoot finds the goshawk checkout the command runs in, or "".
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module github.com/goshawk/goshawk")) {
			if _, err := os.Stat(filepath.Join(dir, "examples", "plugins", "reputation")); err == nil {
				return dir
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
