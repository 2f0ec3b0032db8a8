package pdk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// reset clears the registry, which is global because a plugin has one.
func reset(t *testing.T) {
	t.Helper()
	pluginName, pluginVersion, functions, registerErr = "", "", map[string]function{}, nil
	t.Cleanup(func() { pluginName, pluginVersion, functions, registerErr = "", "", map[string]function{}, nil })
}

func TestManifest(t *testing.T) {
	reset(t)
	Describe("demo", "1.2.3")
	Register("b", "Second.", func(json.RawMessage) (any, error) { return nil, nil })
	Register("a", "First.", func(json.RawMessage) (any, error) { return nil, nil })
	const want = `{"name":"demo","version":"1.2.3","functions":[{"name":"a","doc":"First."},{"name":"b","doc":"Second."}]}`
	if got := string(manifestJSON()); got != want {
		t.Errorf("manifest = %s, want %s", got, want)
	}
}

func TestRegistrationMistakes(t *testing.T) {
	ok := func(json.RawMessage) (any, error) { return nil, nil }
	tests := []struct {
		name     string
		register func()
		want     string
	}{
		{"twice", func() { Register("a", "", ok); Register("a", "", ok) }, `{"error":"pdk: register \"a\": registered twice; give each function its own name"}`},
		{"empty name", func() { Register("", "", ok) }, `{"error":"pdk: register: empty function name"}`},
		{"nil function", func() { Register("a", "", nil) }, `{"error":"pdk: register \"a\": nil function"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reset(t)
			tt.register()
			if got := string(manifestJSON()); got != tt.want {
				t.Errorf("manifest = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInvoke(t *testing.T) {
	reset(t)
	Register("echo", "", func(in json.RawMessage) (any, error) { return in, nil })
	Register("fail", "", func(json.RawMessage) (any, error) { return nil, errors.New("no such <indicator>") })
	Register("boom", "", func(json.RawMessage) (any, error) { panic("bad state") })
	Register("html", "", func(json.RawMessage) (any, error) { return "<a href=x>&</a>", nil })
	Register("rawbad", "", func(json.RawMessage) (any, error) { return json.RawMessage(`{"a":`), nil })
	Register("rawnil", "", func(json.RawMessage) (any, error) { return json.RawMessage(nil), nil })
	Register("nil", "", func(json.RawMessage) (any, error) { return nil, nil })
	Register("unencodable", "", func(json.RawMessage) (any, error) { return func() {}, nil })
	tests := []struct{ name, input, want string }{
		{"echo", `{"a":[1,{"b":null}],"s":"<&>"}`, `{"ok":{"a":[1,{"b":null}],"s":"<&>"}}`},
		{"fail", `{}`, `{"error":"no such <indicator>"}`},
		{"boom", `{}`, `{"error":"boom: panic: bad state"}`},
		{"html", `{}`, `{"ok":"<a href=x>&</a>"}`},
		// A raw result passes through as it is, spaces included.
		{"echo", ` [1, 2] `, `{"ok": [1, 2] }`},
		{"rawbad", `{}`, `{"error":"rawbad: encode result: json: error calling MarshalJSON for type json.RawMessage: unexpected end of JSON input"}`},
		{"rawnil", `{}`, `{"ok":null}`},
		{"nil", `{}`, `{"ok":null}`},
		{"unencodable", `{}`, `{"error":"unencodable: encode result: json: unsupported type: func()"}`},
		{"missing", `{}`, `{"error":"pdk: function \"missing\" is exported but not registered; call pdk.Register(\"missing\", ...) in init"}`},
	}
	for _, tt := range tests {
		if got := string(invoke(tt.name, []byte(tt.input))); got != tt.want {
			t.Errorf("invoke(%s) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestInvokeCopiesInput(t *testing.T) {
	reset(t)
	var kept json.RawMessage
	Register("keep", "", func(in json.RawMessage) (any, error) { kept = in; return nil, nil })
	input := []byte(`"first"`)
	invoke("keep", input)
	copy(input, `"other"`)
	if string(kept) != `"first"` {
		t.Errorf("the function's input changed when the host reused its buffer: %s", kept)
	}
}

func TestLargeOutputIsNotKept(t *testing.T) {
	reset(t)
	Register("echo", "", func(in json.RawMessage) (any, error) { return in, nil })
	big := []byte(`"` + strings.Repeat("x", 2*maxKeptOutput) + `"`)
	if got := invoke("echo", big); len(got) != len(big)+len(`{"ok":}`) {
		t.Fatalf("echo of %d bytes returned %d", len(big), len(got))
	}
	if got := string(invoke("echo", []byte(`1`))); got != `{"ok":1}` {
		t.Fatalf("echo after a large result = %s", got)
	}
	if outBuf.Cap() > maxKeptOutput {
		t.Errorf("the output buffer kept %d bytes after a small result; want at most %d", outBuf.Cap(), maxKeptOutput)
	}
}
