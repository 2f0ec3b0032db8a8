// Command crash is a test plugin whose functions kill their instance.
package main

import (
	"encoding/json"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

func init() {
	pdk.Describe("crash", "1")
	// The two crashing functions are registered for the manifest only;
	// their exports below bypass pdk.Call and its recover on purpose.
	pdk.Register("panic", "Panics outside the kit.", func(json.RawMessage) (any, error) { return nil, nil })
	pdk.Register("nilderef", "Dereferences a nil pointer outside the kit.", func(json.RawMessage) (any, error) { return nil, nil })
	pdk.Register("recovered", "Panics inside the kit, which turns it into an error.", func(json.RawMessage) (any, error) {
		panic("recovered boom")
	})
	pdk.Register("ok", "Returns true.", func(json.RawMessage) (any, error) { return true, nil })
}

//go:wasmexport panic
func panicExport(ptr, size uint32) uint64 { panic("boom") }

var nilPointer *uint64

//go:wasmexport nilderef
func nilderefExport(ptr, size uint32) uint64 { return *nilPointer }

//go:wasmexport recovered
func recoveredExport(ptr, size uint32) uint64 { return pdk.Call("recovered", ptr, size) }

//go:wasmexport ok
func okExport(ptr, size uint32) uint64 { return pdk.Call("ok", ptr, size) }

func main() {}
