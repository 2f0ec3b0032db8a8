// Command spin is a test plugin that never returns.
package main

import (
	"encoding/json"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

// counter is global, so the compiler can't drop the loop.
var counter uint64

func init() {
	pdk.Describe("spin", "1")
	pdk.Register("spin", "Logs \"spinning\" and loops forever.", func(json.RawMessage) (any, error) {
		// The line tells a test that the loop is about to start.
		pdk.Log(pdk.LevelInfo, "spinning")
		for {
			counter++
		}
	})
	pdk.Register("ok", "Returns true.", func(json.RawMessage) (any, error) { return true, nil })
}

//go:wasmexport spin
func spinExport(ptr, size uint32) uint64 { return pdk.Call("spin", ptr, size) }

//go:wasmexport ok
func okExport(ptr, size uint32) uint64 { return pdk.Call("ok", ptr, size) }

func main() {}
