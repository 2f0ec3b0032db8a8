//go:build !wasip1

package pdk

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/goshawk/goshawk/bindings/wasm/internal/jsonvalid"
)

// hostLog stands in for the goshawk.log import when a plugin's code runs
// natively, as in its own unit tests, so those tests can still see the lines.
func hostLog(level uint32, ptr *byte, size uint32) {
	fmt.Fprintf(os.Stderr, "plugin log level=%d: %s\n", level, unsafe.String(ptr, size))
}

// validJSON checks JSON in Go when the code runs natively.
func validJSON(b []byte) bool { return jsonvalid.Valid(b) }
