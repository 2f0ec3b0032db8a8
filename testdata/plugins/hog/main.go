// Command hog is a test plugin that allocates memory without bound.
package main

import (
	"encoding/json"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

// kept holds every block, so the collector can free none of them.
var kept [][]byte

func init() {
	pdk.Describe("hog", "1")
	pdk.Register("hog", "Allocates 1 MiB blocks until memory runs out.", func(json.RawMessage) (any, error) {
		for {
			block := make([]byte, 1<<20)
			block[len(block)-1] = 1
			kept = append(kept, block)
		}
	})
	pdk.Register("ok", "Returns true.", func(json.RawMessage) (any, error) { return true, nil })
}

//go:wasmexport hog
func hogExport(ptr, size uint32) uint64 { return pdk.Call("hog", ptr, size) }

//go:wasmexport ok
func okExport(ptr, size uint32) uint64 { return pdk.Call("ok", ptr, size) }

func main() {}
