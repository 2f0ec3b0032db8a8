package lua

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"

	"github.com/goshawk/goshawk/internal/hint"
)

// stdlib returns goshawk's own libraries: log, json, kv, containers and time.
// Their functions are created once per state and read the run in progress
// from st.run.
func (st *state) stdlib() []library {
	L := st.L
	fn := func(name string, f glua.LGFunction) entry { return entry{name, L.NewFunction(f)} }
	return []library{
		{name: "log", entries: []entry{
			fn("debug", st.logAt("log.debug", slog.LevelDebug)),
			fn("info", st.logAt("log.info", slog.LevelInfo)),
			fn("warn", st.logAt("log.warn", slog.LevelWarn)),
			fn("error", st.logAt("log.error", slog.LevelError)),
		}},
		{name: "json", entries: []entry{
			fn("encode", st.jsonEncode),
			fn("decode", st.jsonDecode),
			fn("array", jsonArray),
		}},
		{name: "kv", entries: []entry{
			fn("get", st.kvGet),
			fn("set", st.kvSet),
			fn("delete", st.kvDelete),
		}},
		{name: "containers", entries: []entry{
			fn("get", st.containerGet),
			fn("update", st.containerUpdate),
			fn("list", st.containerList),
		}},
		{name: "time", entries: []entry{
			fn("now", st.timeNow),
			fn("format", st.timeFormat),
		}},
	}
}

// setRunGlobals adds the values that differ from run to run: input,
// container, plugins and the assets.
func (st *state) setRunGlobals(spec *RunSpec) error {
	L := st.L
	defer st.startRun()
	input := ToLua(L, spec.Inputs)
	if input == glua.LNil {
		input = newTable(0, 0)
	}
	st.setRunGlobal("input", input)
	if spec.Container != nil {
		st.setRunGlobal("container", ToLua(L, spec.Container))
	}
	st.setRunGlobal("plugins", st.pluginsTable(spec))
	for name, asset := range spec.Assets {
		if st.globals.RawGetString(name) != glua.LNil || forbiddenGlobals[name] != "" {
			return fmt.Errorf("lua: asset %q has the name of a built-in global; rename the asset", name)
		}
		if asset == nil || asset.Provider == nil {
			return fmt.Errorf("lua: asset %q has no provider", name)
		}
		st.setRunGlobal(name, st.assetTable(name, asset.Provider))
	}
	return nil
}

// argError raises a Lua error for a bad argument of the named function.
func argError(L *glua.LState, fn string, format string, args ...any) {
	L.RaiseError("%s: %s", fn, fmt.Sprintf(format, args...))
}

// LogFieldsKey is the group that holds the fields of a script's log.* call,
// so log.warn("x", {msg = "y"}) logs fields.msg=y beside the logger's msg.
const LogFieldsKey = "fields"

func (st *state) logAt(name string, level slog.Level) glua.LGFunction {
	return func(L *glua.LState) int {
		msg := L.ToStringMeta(L.Get(1)).String()
		var attrs []slog.Attr
		switch fields := L.Get(2).(type) {
		case *glua.LNilType:
		case *glua.LTable:
			v, err := FromLua(fields)
			if err != nil {
				argError(L, name, "fields: %v", err)
			}
			switch m := v.(type) {
			case map[string]any:
				keys := make([]string, 0, len(m))
				for k := range m {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				group := make([]slog.Attr, 0, len(keys))
				for _, k := range keys {
					group = append(group, slog.Any(k, m[k]))
				}
				// Under their own group, a script's fields never
				// collide with the logger's keys (time, level, msg)
				// or the run's own (playbook, run, version).
				if len(group) > 0 {
					attrs = append(attrs, slog.GroupAttrs(LogFieldsKey, group...))
				}
			case []any:
				if len(m) > 0 {
					attrs = append(attrs, slog.Any(LogFieldsKey, m))
				}
			}
		default:
			argError(L, name, "fields must be a table, like %s(\"message\", {ip = ip}), got %s", name, describeValue(fields))
		}
		st.run.log.LogAttrs(st.run.ctx, level, msg, attrs...)
		return 0
	}
}

func (st *state) jsonEncode(L *glua.LState) int {
	b, err := st.jsonEnc.encode(st.jsonBuf[:0], L.Get(1), st.rt.opts.MaxStringBytes)
	if err != nil {
		argError(L, "json.encode", "%v", err)
	}
	L.Push(glua.LString(b))
	if cap(b) <= maxKeptBuffer {
		st.jsonBuf = b
	}
	return 1
}

func (st *state) jsonDecode(L *glua.LState) int {
	s := L.CheckString(1)
	v, err := st.jsonDec.decode([]byte(s))
	if err != nil {
		argError(L, "json.decode", "invalid JSON: %v", err)
	}
	L.Push(v)
	return 1
}

// jsonArray marks a table as an array, so that it encodes as [] even when
// empty. With no argument it returns a new empty array.
func jsonArray(L *glua.LState) int {
	switch t := L.Get(1).(type) {
	case *glua.LNilType:
		L.Push(newArrayTable(0))
	case *glua.LTable:
		if t.Metatable != glua.LNil && t.Metatable != arrayMeta {
			argError(L, "json.array", "the table already has a metatable")
		}
		t.Metatable = arrayMeta
		L.Push(t)
	default:
		argError(L, "json.array", "expects a table or nothing, got %s", describeValue(t))
	}
	return 1
}

func (st *state) kv(L *glua.LState, fn string) KV {
	if st.run.spec.KV == nil {
		argError(L, fn, "no key-value store is configured for this run")
	}
	return st.run.spec.KV
}

func (st *state) kvGet(L *glua.LState) int {
	kv := st.kv(L, "kv.get")
	v, ok, err := kv.Get(st.run.ctx, L.CheckString(1))
	if err != nil {
		argError(L, "kv.get", "%v", err)
	}
	if !ok {
		L.Push(glua.LNil)
		return 1
	}
	L.Push(glua.LString(v))
	return 1
}

func (st *state) kvSet(L *glua.LState) int {
	kv := st.kv(L, "kv.set")
	key := L.CheckString(1)
	var value string
	switch v := L.Get(2).(type) {
	case glua.LString:
		value = string(v)
	case glua.LNumber:
		value = v.String()
	default:
		argError(L, "kv.set", "the value must be a string or a number, got %s; store tables with json.encode", describeValue(v))
	}
	if err := kv.Set(st.run.ctx, key, value); err != nil {
		argError(L, "kv.set", "%v", err)
	}
	return 0
}

func (st *state) kvDelete(L *glua.LState) int {
	kv := st.kv(L, "kv.delete")
	if err := kv.Delete(st.run.ctx, L.CheckString(1)); err != nil {
		argError(L, "kv.delete", "%v", err)
	}
	return 0
}

func (st *state) containers(L *glua.LState, fn string) Containers {
	if st.run.spec.Containers == nil {
		argError(L, fn, "no container store is configured for this run")
	}
	return st.run.spec.Containers
}

// containerID reads a container id argument, which must be a whole number.
func containerID(L *glua.LState, fn string) int64 {
	n, ok := L.Get(1).(glua.LNumber)
	if !ok || float64(n) != math.Trunc(float64(n)) || n < 1 || n > maxExactInt {
		argError(L, fn, "the container id must be a positive whole number, got %s", describeValue(L.Get(1)))
	}
	return int64(n)
}

// tableArg converts argument n, an optional table with named keys.
func tableArg(L *glua.LState, fn string, n int) map[string]any {
	v := L.Get(n)
	if v == glua.LNil {
		return nil
	}
	if _, ok := v.(*glua.LTable); !ok {
		argError(L, fn, "argument %d must be a table, got %s", n, describeValue(v))
	}
	gv, err := FromLua(v)
	if err != nil {
		argError(L, fn, "argument %d: %v", n, err)
	}
	switch m := gv.(type) {
	case map[string]any:
		return m
	case []any:
		if len(m) == 0 {
			return map[string]any{}
		}
	}
	argError(L, fn, "argument %d must be a table with named keys, not a list", n)
	return nil
}

func (st *state) containerGet(L *glua.LState) int {
	cs := st.containers(L, "containers.get")
	c, err := cs.Get(st.run.ctx, containerID(L, "containers.get"))
	if err != nil {
		argError(L, "containers.get", "%v", err)
	}
	L.Push(ToLua(L, c))
	return 1
}

func (st *state) containerUpdate(L *glua.LState) int {
	cs := st.containers(L, "containers.update")
	id := containerID(L, "containers.update")
	patch := tableArg(L, "containers.update", 2)
	if patch == nil {
		argError(L, "containers.update", "give the fields to change, like containers.update(id, {severity = \"high\"})")
	}
	c, err := cs.Update(st.run.ctx, id, patch)
	if err != nil {
		argError(L, "containers.update", "%v", err)
	}
	L.Push(ToLua(L, c))
	return 1
}

func (st *state) containerList(L *glua.LState) int {
	cs := st.containers(L, "containers.list")
	list, err := cs.List(st.run.ctx, tableArg(L, "containers.list", 1))
	if err != nil {
		argError(L, "containers.list", "%v", err)
	}
	L.Push(ToLua(L, list))
	return 1
}

// timeNow returns the run clock's time as Unix seconds with a fraction.
func (st *state) timeNow(L *glua.LState) int {
	now := st.run.now()
	L.Push(glua.LNumber(float64(now.Unix()) + float64(now.Nanosecond())/1e9))
	return 1
}

// namedLayouts are the layout names time.format accepts besides a Go
// reference layout such as "2006-01-02 15:04".
var namedLayouts = map[string]string{
	"rfc3339":     time.RFC3339,
	"rfc3339nano": time.RFC3339Nano,
	"rfc1123":     time.RFC1123,
	"rfc1123z":    time.RFC1123Z,
	"rfc822":      time.RFC822,
	"rfc822z":     time.RFC822Z,
	"datetime":    time.DateTime,
	"dateonly":    time.DateOnly,
	"timeonly":    time.TimeOnly,
	"kitchen":     time.Kitchen,
}

// timeFormat is time.format([t [, layout]]): t is Unix seconds (default
// now), layout a Go reference layout or one of namedLayouts (default
// RFC3339). The time is always shown in UTC.
func (st *state) timeFormat(L *glua.LState) int {
	var t time.Time
	switch v := L.Get(1).(type) {
	case *glua.LNilType:
		t = st.run.now()
	case glua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
			argError(L, "time.format", "the time must be Unix seconds, got %v", f)
		}
		// A float64 near today's Unix time resolves about 0.2 µs, so finer
		// digits are noise: round to the microsecond.
		sec, frac := math.Modf(f)
		t = time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3)
	default:
		argError(L, "time.format", "the time must be Unix seconds (a number), got %s", describeValue(v))
	}
	layout := L.OptString(2, time.RFC3339)
	if named, ok := namedLayouts[strings.ToLower(layout)]; ok {
		layout = named
	}
	if len(layout) > 256 {
		argError(L, "time.format", "the layout is longer than 256 bytes")
	}
	L.Push(glua.LString(t.UTC().Format(layout)))
	return 1
}

// pluginsTable builds the run's `plugins` global: one table per allowed
// plugin with one function per plugin function.
func (st *state) pluginsTable(spec *RunSpec) *glua.LTable {
	t := newTable(0, len(spec.AllowedPlugins))
	for _, name := range spec.AllowedPlugins {
		t.RawSetString(name, st.pluginTable(name, spec.Plugins))
	}
	t.Metatable = st.pluginsMeta
	return t
}

func (st *state) pluginTable(name string, host PluginHost) *glua.LTable {
	L := st.L
	var fns []string
	ok := false
	if host != nil {
		fns, ok = host.Functions(name)
	}
	t := newTable(0, len(fns))
	if !ok {
		t.Metatable = missingMeta(L, func(L *glua.LState, key string) {
			L.RaiseError("plugin %s is not loaded; check that %s.wasm is in the plugins folder and passes goshawk validate", name, name)
		})
		return t
	}
	for _, fn := range fns {
		t.RawSetString(fn, L.NewClosure(st.callPlugin, glua.LString(name), glua.LString(fn)))
	}
	t.Metatable = missingMeta(L, func(L *glua.LState, key string) {
		msg := fmt.Sprintf("plugin %s has no function %q", name, key)
		msg += hint.OrList(key, fns, "its functions are:")
		L.RaiseError("%s", msg)
	})
	return t
}

// missingMeta returns a metatable whose __index calls raise for any missing
// string key.
func missingMeta(L *glua.LState, raise func(L *glua.LState, key string)) *glua.LTable {
	mt := newTable(0, 1)
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		if key, ok := L.Get(2).(glua.LString); ok {
			raise(L, string(key))
		}
		return 0
	}))
	return mt
}

// callPlugin is plugins.<name>.<fn>(value): the value goes to the plugin as
// JSON and the plugin's JSON answer comes back as a Lua value.
func (st *state) callPlugin(L *glua.LState) int {
	plugin := string(L.Get(glua.UpvalueIndex(1)).(glua.LString))
	fn := string(L.Get(glua.UpvalueIndex(2)).(glua.LString))
	where := func() string { return "plugins." + plugin + "." + fn }
	// The input is built in json.encode's buffer: Call copies it into the
	// instance and keeps nothing.
	in, err := st.jsonEnc.encode(st.jsonBuf[:0], L.Get(1), st.rt.opts.MaxStringBytes)
	if err != nil {
		argError(L, where(), "%v", err)
	}
	if cap(in) <= maxKeptBuffer {
		st.jsonBuf = in
	}
	out, err := st.run.spec.Plugins.Call(st.run.ctx, plugin, fn, in, st.run.log)
	if err != nil {
		argError(L, where(), "%v", err)
	}
	if len(out) > st.rt.opts.MaxStringBytes {
		argError(L, where(), "the plugin's answer %v of %d bytes", errTooLarge, st.rt.opts.MaxStringBytes)
	}
	res, err := st.jsonDec.decode(out)
	if err != nil {
		argError(L, where(), "the plugin answered with invalid JSON: %v", err)
	}
	L.Push(res)
	return 1
}
