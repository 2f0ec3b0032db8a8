// Command echo is a well-behaved test plugin.
package main

import (
	"encoding/json"
	"errors"

	"github.com/goshawk/goshawk/bindings/wasm/pdk"
)

// version is set at build time with -ldflags "-X main.version=...", so the
// tests can build two versions of one plugin.
var version = "1"

func init() {
	pdk.Describe("echo", version)
	pdk.Register("echo", "Returns its input unchanged.", func(in json.RawMessage) (any, error) {
		return in, nil
	})
	pdk.Register("version", "Returns the plugin's build version.", func(json.RawMessage) (any, error) {
		return version, nil
	})
	pdk.Register("log", "Logs input.message once at each level.", func(in json.RawMessage) (any, error) {
		var args struct{ Message string }
		if err := json.Unmarshal(in, &args); err != nil {
			return nil, err
		}
		for _, l := range []pdk.Level{pdk.LevelDebug, pdk.LevelInfo, pdk.LevelWarn, pdk.LevelError} {
			pdk.Log(l, args.Message)
		}
		return nil, nil
	})
	pdk.Register("fail", "Returns input.message as an error.", func(in json.RawMessage) (any, error) {
		var args struct{ Message string }
		if err := json.Unmarshal(in, &args); err != nil {
			return nil, err
		}
		return nil, errors.New(args.Message)
	})
}

//go:wasmexport echo
func echoExport(ptr, size uint32) uint64 { return pdk.Call("echo", ptr, size) }

//go:wasmexport version
func versionExport(ptr, size uint32) uint64 { return pdk.Call("version", ptr, size) }

//go:wasmexport log
func logExport(ptr, size uint32) uint64 { return pdk.Call("log", ptr, size) }

//go:wasmexport fail
func failExport(ptr, size uint32) uint64 { return pdk.Call("fail", ptr, size) }

func main() {}
