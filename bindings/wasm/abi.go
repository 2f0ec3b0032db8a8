package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/goshawk/goshawk/bindings/wasm/internal/jsonvalid"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The export names of the plugin ABI, version 1. docs/plugins.md is the
// authoritative description; keep the two in step.
const (
	exportMemory     = "memory"
	exportAlloc      = "goshawk_alloc"
	exportFree       = "goshawk_free"
	exportManifest   = "goshawk_manifest"
	exportInitialize = "_initialize"

	hostModule = "goshawk"
	wasiModule = "wasi_snapshot_preview1"

	docHint = "(see docs/plugins.md)"
)

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// Manifest describes a plugin, as returned by its goshawk_manifest export.
type Manifest struct {
	Name      string     `json:"name"`
	Version   string     `json:"version"`
	Functions []Function `json:"functions"`
}

// Function is one function a plugin exports to playbooks.
type Function struct {
	Name string `json:"name"`
	Doc  string `json:"doc"`
}

func (m Manifest) clone() Manifest {
	m.Functions = slices.Clone(m.Functions)
	return m
}

// signature is a function type, compared against a module's exports.
type signature struct {
	params, results []api.ValueType
}

func (s signature) matches(def api.FunctionDefinition) bool {
	return slices.Equal(s.params, def.ParamTypes()) && slices.Equal(s.results, def.ResultTypes())
}

func (s signature) String() string {
	return fmt.Sprintf("(%s) -> (%s)", typeNames(s.params), typeNames(s.results))
}

func typeNames(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, ", ")
}

var (
	sigAlloc      = signature{params: []api.ValueType{i32}, results: []api.ValueType{i32}}
	sigFree       = signature{params: []api.ValueType{i32, i32}}
	sigManifest   = signature{results: []api.ValueType{i64}}
	sigInitialize = signature{}
	sigFunction   = signature{params: []api.ValueType{i32, i32}, results: []api.ValueType{i64}}
)

// reservedNames can't be plugin functions: they are the ABI's own exports.
var reservedNames = []string{exportMemory, exportAlloc, exportFree, exportManifest, exportInitialize, exportInterrupt, "_start"}

// checkExports checks the exports every plugin needs, before anything of
// the module runs.
func checkExports(cm wazero.CompiledModule) error {
	if _, ok := cm.ExportedMemories()[exportMemory]; !ok {
		return fmt.Errorf("missing export %s %s", exportMemory, docHint)
	}
	funcs := cm.ExportedFunctions()
	for _, want := range []struct {
		name     string
		sig      signature
		optional bool
	}{
		{exportAlloc, sigAlloc, false},
		{exportFree, sigFree, false},
		{exportManifest, sigManifest, false},
		{exportInitialize, sigInitialize, true},
	} {
		def, ok := funcs[want.name]
		if !ok {
			if want.optional {
				continue
			}
			return fmt.Errorf("missing export %s %s", want.name, docHint)
		}
		if !want.sig.matches(def) {
			return fmt.Errorf("export %s has type %s, want %s %s",
				want.name, signature{def.ParamTypes(), def.ResultTypes()}, want.sig, docHint)
		}
	}
	return nil
}

// checkImports refuses imports the host doesn't provide, with a clearer
// message than the instantiation failure they would otherwise cause.
func checkImports(cm wazero.CompiledModule) error {
	for _, def := range cm.ImportedFunctions() {
		module, name, _ := def.Import()
		switch module {
		case wasiModule:
			// wazero provides all of WASI preview 1; the sandbox lies in
			// the module config (no mounts, no sockets), not in missing
			// functions.
		case hostModule:
			hf, ok := findHostFunction(name)
			if !ok {
				return fmt.Errorf("imports %s.%s, which this host does not provide (it provides %s) %s",
					module, name, hostFunctionNames(), docHint)
			}
			if !hf.sig.matches(def) {
				return fmt.Errorf("imports %s.%s with type %s, want %s %s",
					module, name, signature{def.ParamTypes(), def.ResultTypes()}, hf.sig, docHint)
			}
		default:
			return fmt.Errorf("imports %s.%s; a plugin may import only from %s and %s %s",
				module, name, wasiModule, hostModule, docHint)
		}
	}
	return nil
}

// parseManifest decodes and checks a manifest against the module's exports
// and the name the plugin's file gives it.
func parseManifest(raw []byte, name string, cm wazero.CompiledModule) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		// The Go kit reports registration mistakes as {"error": "..."}.
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return Manifest{}, fmt.Errorf("manifest reports an error: %s", e.Error)
		}
		return Manifest{}, fmt.Errorf("manifest is not valid JSON of the form {\"name\",\"version\",\"functions\":[{\"name\",\"doc\"}]}: %w %s", err, docHint)
	}
	if m.Name != name {
		return Manifest{}, fmt.Errorf("manifest names the plugin %q but its file name says %q; rename the file or the plugin", m.Name, name)
	}
	if len(m.Functions) == 0 {
		return Manifest{}, fmt.Errorf("manifest lists no functions; register at least one %s", docHint)
	}
	exports := cm.ExportedFunctions()
	seen := make(map[string]bool, len(m.Functions))
	for _, f := range m.Functions {
		if err := checkIdentifier("function", f.Name); err != nil {
			return Manifest{}, fmt.Errorf("manifest: %w", err)
		}
		if slices.Contains(reservedNames, f.Name) {
			return Manifest{}, fmt.Errorf("manifest names function %q, which is reserved by the ABI; rename it", f.Name)
		}
		if seen[f.Name] {
			return Manifest{}, fmt.Errorf("manifest names function %q twice", f.Name)
		}
		seen[f.Name] = true
		def, ok := exports[f.Name]
		if !ok {
			return Manifest{}, fmt.Errorf("manifest names function %q which the module does not export; add the export (with Go: //go:wasmexport %s) %s", f.Name, f.Name, docHint)
		}
		if !sigFunction.matches(def) {
			return Manifest{}, fmt.Errorf("function %q has type %s, want %s %s",
				f.Name, signature{def.ParamTypes(), def.ResultTypes()}, sigFunction, docHint)
		}
	}
	return m, nil
}

// checkIdentifier requires a Lua identifier, because playbooks call a
// plugin function as plugins.<plugin>.<function>.
func checkIdentifier(what, s string) error {
	ok := s != "" && len(s) <= 64
	for i, c := range s {
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		if !letter && !(digit && i > 0) {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("%s name %q must be 1 to 64 letters, digits or underscores, not starting with a digit, because playbooks call it as plugins.<plugin>.<function>", what, s)
	}
	return nil
}

var okPrefix = []byte(`{"ok":`)

// decodeEnvelope returns the "ok" value of a result envelope, copied out of
// guest memory, or the plugin's "error" message.
func decodeEnvelope(view []byte) (ok json.RawMessage, pluginErr *string, err error) {
	// Fast path for the common compact form {"ok":VALUE}: if VALUE alone is
	// valid JSON, the envelope has exactly that one key.
	if inner, found := bytes.CutPrefix(view, okPrefix); found && bytes.HasSuffix(inner, []byte("}")) {
		inner = inner[:len(inner)-1]
		if jsonvalid.Valid(inner) {
			return bytes.Clone(bytes.TrimSpace(inner)), nil, nil
		}
	}
	var env struct {
		OK    json.RawMessage `json:"ok"`
		Error *string         `json:"error"`
	}
	if err := json.Unmarshal(view, &env); err != nil {
		return nil, nil, fmt.Errorf("result is not valid JSON (%v); a function must return {\"ok\": value} or {\"error\": \"message\"} %s", err, docHint)
	}
	switch {
	case env.Error != nil && env.OK != nil:
		return nil, nil, errors.New(`result has both "ok" and "error"; return exactly one ` + docHint)
	case env.Error != nil:
		return nil, env.Error, nil
	case env.OK == nil:
		return nil, nil, errors.New(`result has neither "ok" nor "error"; return {"ok": value} or {"error": "message"} ` + docHint)
	}
	return env.OK, nil, nil
}

// hostFunction is one function of the goshawk import module. The table
// below is the whole host surface a plugin can reach; one loop registers it.
type hostFunction struct {
	name       string
	sig        signature
	paramNames []string
	fn         api.GoModuleFunc
}

var hostFunctions = []hostFunction{
	{
		name:       "log",
		sig:        signature{params: []api.ValueType{i32, i32, i32}},
		paramNames: []string{"level", "ptr", "len"},
		fn:         hostLog,
	},
	{
		name:       "json_valid",
		sig:        signature{params: []api.ValueType{i32, i32}, results: []api.ValueType{i32}},
		paramNames: []string{"ptr", "len"},
		fn:         hostJSONValid,
	},
}

// hostJSONValid is goshawk.json_valid(ptr, len) -> ok: 1 when the bytes are
// one JSON value, else 0 (also for a buffer outside memory). It checks
// natively what costs a Go plugin about 13 ns a byte to check itself; the
// Go kit calls it on every json.RawMessage result.
//
// Unlike other host functions, a call of it doesn't send the guest to the
// fuel import (see fuel.go), which would cost a small call more than the
// check: it reads the clock itself after checking a large buffer, the only
// kind that takes long.
func hostJSONValid(ctx context.Context, mod api.Module, stack []uint64) {
	b, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	stack[0] = 0
	if ok && jsonvalid.Valid(b) {
		stack[0] = 1
	}
	if len(b) >= 64<<10 {
		scope, _ := ctx.Value(callScopeKey{}).(*callScope)
		if scope == nil || scope.deadline.IsZero() {
			panic(errNoScope)
		}
		if time.Now().After(scope.deadline) {
			panic(errDeadline)
		}
	}
}

func findHostFunction(name string) (hostFunction, bool) {
	for _, hf := range hostFunctions {
		if hf.name == name {
			return hf, true
		}
	}
	return hostFunction{}, false
}

func hostFunctionNames() string {
	names := make([]string, len(hostFunctions))
	for i, hf := range hostFunctions {
		names[i] = hostModule + "." + hf.name
	}
	return strings.Join(names, ", ")
}

// instantiateHostModule adds the goshawk import module to r.
func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(hostModule)
	for _, hf := range hostFunctions {
		b.NewFunctionBuilder().
			WithGoModuleFunction(hf.fn, hf.sig.params, hf.sig.results).
			WithParameterNames(hf.paramNames...).
			Export(hf.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// callScope carries what host functions need to know about the running
// call: the caller's context, the deadline, and the logger with this call's
// share of it. Host functions receive it through the context of the wasm
// call that reached them.
type callScope struct {
	ctx      context.Context
	deadline time.Time
	// yielded is when the call last left its CPU to other goroutines.
	yielded time.Time
	log     *slog.Logger
	plugin  string
	// logLimit bounds what one call may log; the rest is counted in
	// dropped and reported in one line when the call ends.
	logLimit                   logLimit
	logLines, logBytes         int
	droppedLines, droppedBytes int
}

// logLimit is how many lines and bytes one call may log.
type logLimit struct{ lines, bytes int }

type callScopeKey struct{}

// Errors the fuel import stops a call with; they reach the caller wrapped
// by wazero, and failure turns them into ErrTimeout or the context's error.
var (
	errDeadline = errors.New("deadline passed")
	errNoScope  = errors.New("guest code ran outside a call")
)

// hostFuel is the fuel import that the rewriter adds to every module (see
// fuel.go). The guest calls it when its fuel is used up: it ends the call
// when the deadline has passed or the caller has given up, lets other
// goroutines run, and returns a new slice of fuel.
func hostFuel(ctx context.Context, stack []uint64) {
	scope, _ := ctx.Value(callScopeKey{}).(*callScope)
	if scope == nil || scope.deadline.IsZero() {
		panic(errNoScope)
	}
	if scope.ctx != nil {
		if err := scope.ctx.Err(); err != nil {
			panic(err)
		}
	}
	now := time.Now()
	if now.After(scope.deadline) {
		panic(errDeadline)
	}
	// Compiled guest code is never preempted; this is where the guest
	// leaves its CPU to the rest of the process. After a host call the
	// guest comes here at once, so this happens at most once a
	// millisecond.
	if now.Sub(scope.yielded) >= time.Millisecond {
		scope.yielded = now
		runtime.Gosched()
	}
	stack[0] = fuelSlice
}

// instantiateFuelModule adds the module of the fuel import to r.
func instantiateFuelModule(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(fuelModule).
		NewFunctionBuilder().
		WithGoFunction(api.GoFunc(hostFuel), nil, []api.ValueType{i32}).
		Export(fuelFunction).
		Instantiate(ctx)
	return err
}

// maxLogBytes caps one plugin log line; a plugin can't flood the run log
// with a single call.
const maxLogBytes = 8 << 10

var logLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

func hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	scope, _ := ctx.Value(callScopeKey{}).(*callScope)
	if scope == nil || scope.log == nil {
		return
	}
	level, ptr, size := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	truncated := size > maxLogBytes
	if truncated {
		size = maxLogBytes
	}
	if scope.logLines >= scope.logLimit.lines || scope.logBytes+int(size) > scope.logLimit.bytes {
		// Over the call's share: count it and move on, cheaply, so a
		// plugin logging in a loop costs little until its deadline.
		scope.droppedLines++
		scope.droppedBytes += int(uint32(stack[2]))
		return
	}
	scope.logLines++
	scope.logBytes += int(size)
	b, ok := mod.Memory().Read(ptr, size)
	if !ok {
		scope.log.LogAttrs(scope.ctx, slog.LevelWarn, "plugin passed a log buffer outside its memory",
			slog.String("plugin", scope.plugin))
		return
	}
	msg := string(b)
	if truncated {
		msg += " ...(truncated)"
	}
	lvl := slog.LevelInfo
	if int(level) < len(logLevels) {
		lvl = logLevels[level]
	}
	scope.log.LogAttrs(scope.ctx, lvl, msg, slog.String("plugin", scope.plugin))
}

// reportDropped writes the one line that says how much of a call's log was
// dropped, if any was.
func (s *callScope) reportDropped(function string) {
	if s.droppedLines == 0 || s.log == nil {
		return
	}
	s.log.LogAttrs(s.ctx, slog.LevelWarn, "plugin log over its per-call limit; lines dropped",
		slog.String("plugin", s.plugin), slog.String("function", function),
		slog.Int("dropped_lines", s.droppedLines), slog.Int("dropped_bytes", s.droppedBytes),
		slog.Int("limit_lines", s.logLimit.lines), slog.Int("limit_bytes", s.logLimit.bytes))
}
