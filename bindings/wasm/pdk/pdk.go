// Package pdk is the plugin development kit for writing goshawk WASM plugins
// in Go. It implements the host-facing half of the plugin ABI (version 1):
// buffer allocation, the manifest, the JSON envelopes and the log import, so
// that a plugin's main package only registers its functions and declares one
// one-line export per function.
//
// A plugin is built as a WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o reputation.wasm .
//
// A reactor never runs main.main, so functions are registered from init:
//
//	func init() {
//		pdk.Describe("reputation", "1.0.0")
//		pdk.Register("score", "Scores an indicator.", score)
//	}
//
//	//go:wasmexport score
//	func scoreExport(ptr, size uint32) uint64 { return pdk.Call("score", ptr, size) }
//
//	func main() {}
//
// Go cannot create exports at run time, which is why each function needs
// its //go:wasmexport line in the main package. The host checks at load time
// that every registered function is exported, so a forgotten export is a
// clear load error rather than a failure at call time.
//
// The package builds only for GOOS=wasip1 GOARCH=wasm; the ABI itself is
// described in docs/plugins.md.
package pdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Func is the shape of a plugin function: it receives the caller's JSON
// input and returns a value that is encoded as the "ok" result, or an error
// whose message becomes the "error" result.
type Func func(in json.RawMessage) (any, error)

// function is one registered plugin function.
type function struct {
	doc string
	fn  Func
}

var (
	pluginName    string
	pluginVersion string
	functions     = map[string]function{}
	// registerErr remembers the first registration mistake. It is reported
	// through the manifest, because a reactor has no other channel to the
	// host before the first call.
	registerErr error
)

// Describe sets the plugin's name and version as they appear in the
// manifest. The name must equal the plugin's file name without ".wasm".
func Describe(name, version string) {
	pluginName = name
	pluginVersion = version
}

// Register adds a plugin function under name, with a one-line doc string
// for `goshawk validate` and the editor stubs. Registering a name twice, an
// empty name or a nil function is a mistake that makes the manifest invalid,
// so the host refuses to load the plugin and says why.
func Register(name, doc string, fn Func) {
	switch {
	case name == "":
		setRegisterErr(fmt.Errorf("pdk: register: empty function name"))
	case fn == nil:
		setRegisterErr(fmt.Errorf("pdk: register %q: nil function", name))
	default:
		if _, dup := functions[name]; dup {
			setRegisterErr(fmt.Errorf("pdk: register %q: registered twice; give each function its own name", name))
			return
		}
		functions[name] = function{doc: doc, fn: fn}
	}
}

func setRegisterErr(err error) {
	if registerErr == nil {
		registerErr = err
	}
}

// Manifest is the plugin description that goshawk_manifest returns.
type Manifest struct {
	Name      string             `json:"name"`
	Version   string             `json:"version"`
	Functions []ManifestFunction `json:"functions"`
}

// ManifestFunction describes one exported plugin function.
type ManifestFunction struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

// manifestJSON builds the manifest from the registry. A registration
// mistake yields JSON that the host rejects with the mistake as the reason.
func manifestJSON() []byte {
	if registerErr != nil {
		b, _ := json.Marshal(map[string]string{"error": registerErr.Error()})
		return b
	}
	m := Manifest{Name: pluginName, Version: pluginVersion, Functions: []ManifestFunction{}}
	for name, f := range functions {
		m.Functions = append(m.Functions, ManifestFunction{Name: name, Doc: f.doc})
	}
	sort.Slice(m.Functions, func(i, j int) bool { return m.Functions[i].Name < m.Functions[j].Name })
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "pdk: encode manifest: " + err.Error()})
	}
	return b
}

// invoke runs the named function on input and returns the encoded result
// envelope. A panic in the function becomes an error result, so one bad
// input doesn't cost the host an instance. The envelope lives in a buffer
// the next call reuses.
func invoke(name string, input []byte) (out []byte) {
	f, ok := functions[name]
	if !ok {
		return errorEnvelope(fmt.Sprintf("pdk: function %q is exported but not registered; call pdk.Register(%q, ...) in init", name, name))
	}
	defer func() {
		if r := recover(); r != nil {
			out = errorEnvelope(fmt.Sprintf("%s: panic: %v", name, r))
		}
	}()
	// The host reuses its input buffer across calls, so the function gets a
	// copy it may keep.
	in := json.RawMessage(append([]byte(nil), input...))
	v, err := f.fn(in)
	if err != nil {
		return errorEnvelope(err.Error())
	}
	out, err = envelope(`{"ok":`, v)
	if err != nil {
		return errorEnvelope(fmt.Sprintf("%s: encode result: %v", name, err))
	}
	return out
}

func errorEnvelope(msg string) []byte {
	// A string always encodes.
	b, _ := envelope(`{"error":`, msg)
	return b
}

// The envelope of every result is built in one buffer, reused from call to
// call: the host copies a result and frees it before it calls again. Under
// Go's WebAssembly port an allocation and the reflection of a generic
// encoder each cost more than the rest of a small call.
var (
	outBuf bytes.Buffer
	outEnc = newEncoder(&outBuf)
)

// maxKeptOutput bounds the buffer kept between calls, so one large result
// doesn't hold its memory for the life of the instance.
const maxKeptOutput = 64 << 10

func newEncoder(buf *bytes.Buffer) *json.Encoder {
	enc := json.NewEncoder(buf)
	// Strings with <, > and & reach the host exactly as the function
	// returned them.
	enc.SetEscapeHTML(false)
	return enc
}

// envelope returns prefix, v as JSON, and a closing brace. A
// json.RawMessage is checked and passed through as it is, which saves the
// standard encoder's slow validation and compaction.
func envelope(prefix string, v any) ([]byte, error) {
	if outBuf.Cap() > maxKeptOutput {
		outBuf = bytes.Buffer{}
		outEnc = newEncoder(&outBuf)
	}
	outBuf.Reset()
	outBuf.WriteString(prefix)
	switch v := v.(type) {
	case nil:
		outBuf.WriteString("null")
	case json.RawMessage:
		if v == nil {
			outBuf.WriteString("null")
			break
		}
		if !validJSON(v) {
			// The standard encoder explains what is wrong with it.
			_, err := json.Marshal(v)
			if err == nil {
				err = errors.New("invalid JSON in json.RawMessage")
			}
			return nil, err
		}
		outBuf.Write(v)
	default:
		if err := outEnc.Encode(v); err != nil {
			return nil, err
		}
		outBuf.Truncate(outBuf.Len() - 1) // Encode's newline
	}
	outBuf.WriteByte('}')
	return outBuf.Bytes(), nil
}
