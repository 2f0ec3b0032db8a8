// Command chatty is a test plugin that logs in a loop, to hit the per-call
// log limit.
package main

import (
	"encoding/json"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

func init() {
	pdk.Describe("chatty", "1")
	pdk.Register("flood", "Logs input.message input.n times.", func(in json.RawMessage) (any, error) {
		var args struct {
			N       int
			Message string
		}
		if err := json.Unmarshal(in, &args); err != nil {
			return nil, err
		}
		for range args.N {
			pdk.Log(pdk.LevelInfo, args.Message)
		}
		return args.N, nil
	})
	pdk.Register("ok", "Returns true.", func(json.RawMessage) (any, error) { return true, nil })
}

//go:wasmexport flood
func floodExport(ptr, size uint32) uint64 { return pdk.Call("flood", ptr, size) }

//go:wasmexport ok
func okExport(ptr, size uint32) uint64 { return pdk.Call("ok", ptr, size) }

func main() {}
