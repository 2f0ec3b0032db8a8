package main

import (
	"os"
	"strings"
	"testing"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// TestServeStoreThatDoesNotOpenExitsTwo starts serve on a store that
// cannot open: a clear error naming the store without its password, exit
// 2, and no panic.
func TestServeStoreThatDoesNotOpenExitsTwo(t *testing.T) {
	f := newFixture(t, tcfake.Options{}, "")
	const pw = "Sup3rS3cret-store-pw"
	if err := os.WriteFile(f.cfg, []byte("store: postgres://goshawk:"+pw+"@127.0.0.1:1/goshawk?sslmode=disable\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := f.run("serve")
	if code != exitUsage || !strings.Contains(errOut, "store postgres://goshawk:xxxxx@127.0.0.1:1/goshawk?sslmode=disable does not open") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, pw) {
		t.Fatalf("the store password leaked: %s", errOut)
	}
}
