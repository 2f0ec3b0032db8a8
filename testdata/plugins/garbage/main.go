// Command garbage is a test plugin whose results break the ABI.
package main

import (
	"encoding/json"
	"unsafe"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

// The raw results live in globals, so they stay put; the host's
// goshawk_free of them is a no-op in the kit.
var (
	invalid    = []byte(`{"ok": nope`)
	noEnvelope = []byte(`{"result": 1}`)
)

func packed(b []byte) uint64 {
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))<<32 | uint64(len(b))
}

func init() {
	pdk.Describe("garbage", "1")
	for _, name := range []string{"invalid", "noenvelope", "outofrange"} {
		pdk.Register(name, "Returns a result that breaks the ABI.", func(json.RawMessage) (any, error) { return nil, nil })
	}
	pdk.Register("ok", "Returns true.", func(json.RawMessage) (any, error) { return true, nil })
}

//go:wasmexport invalid
func invalidExport(ptr, size uint32) uint64 { return packed(invalid) }

//go:wasmexport noenvelope
func noEnvelopeExport(ptr, size uint32) uint64 { return packed(noEnvelope) }

//go:wasmexport outofrange
func outOfRangeExport(ptr, size uint32) uint64 { return 0xfffffff0<<32 | 100 }

//go:wasmexport ok
func okExport(ptr, size uint32) uint64 { return pdk.Call("ok", ptr, size) }

func main() {}
