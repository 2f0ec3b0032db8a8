// Package wasmbuild compiles a Go plugin (a main package using the pdk) to
// a WASI reactor module with the Go toolchain. The tests use it to build
// plugins from source. The one committed module, the reputation plugin the
// goshawk binary embeds for its demo, is checked by a test that rebuilds it
// with this package and compares the bytes.
package wasmbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Build compiles the Go main package in pkgDir to the module out:
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared, plus any extra
// build flags (such as -ldflags "-X main.version=2").
func Build(ctx context.Context, pkgDir, out string, flags ...string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("wasmbuild: the go command is not on PATH: %w", err)
	}
	args := append([]string{"build", "-trimpath", "-buildmode=c-shared", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, gobin, append(args, ".")...)
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wasmbuild: go build in %s: %w: %s", pkgDir, err, strings.TrimSpace(msg.String()))
	}
	return nil
}
