// Command unexported is a test plugin that registers "score" but forgets
// its //go:wasmexport line, which the host must refuse at load time.
package main

import (
	"encoding/json"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

func init() {
	pdk.Describe("unexported", "1")
	pdk.Register("score", "Never reachable: not exported.", func(json.RawMessage) (any, error) { return 0, nil })
}

func main() {}
