package lua

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

// entry is one name of a library table or of the globals.
type entry struct {
	name  string
	value glua.LValue
}

// library is a table that each run gets its own copy of, so that a script
// that changes it (string.foo = 1, table.insert = nil) changes only its own
// run.
type library struct {
	name    string
	entries []entry
	// meta, when set, is a protected metatable whose __index raises a clear
	// error for the library's removed functions (os.execute, string.dump).
	meta *glua.LTable
}

// forbiddenGlobals explains, for each global the sandbox leaves out, why.
var forbiddenGlobals = map[string]string{
	"io":             "scripts cannot touch files",
	"debug":          "it can break out of the sandbox",
	"dofile":         "scripts cannot load files",
	"loadfile":       "scripts cannot load files",
	"require":        "scripts cannot load modules; everything a playbook may use is already a global",
	"module":         "scripts cannot define modules",
	"package":        "scripts cannot load modules",
	"getfenv":        "function environments are fixed",
	"setfenv":        "function environments are fixed",
	"collectgarbage": "the host manages memory",
	"coroutine":      "playbook scripts run straight through",
	"newproxy":       "it is undocumented",
	"channel":        "playbook scripts run straight through",
}

var forbiddenOS = map[string]string{
	"execute":   "scripts cannot run programs",
	"exit":      "scripts cannot stop the host; return or error() instead",
	"getenv":    "scripts cannot read the host's environment; use playbook inputs",
	"setenv":    "scripts cannot change the host's environment",
	"remove":    "scripts cannot touch files",
	"rename":    "scripts cannot touch files",
	"tmpname":   "scripts cannot touch files",
	"setlocale": "the locale is the host's",
	"difftime":  "subtract the two times instead",
}

var forbiddenString = map[string]string{
	"dump": "scripts cannot handle bytecode",
}

// keptBase lists the base functions that scripts get as they come from
// gopher-lua. print, load and loadstring are replaced; everything in
// forbiddenGlobals is left out.
var keptBase = []string{
	"assert", "error", "getmetatable", "ipairs", "next", "pairs",
	"rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber",
	"tostring", "type", "unpack", "_VERSION",
}

// openLibraries opens gopher-lua's base, table, string, math and os
// libraries in st.L once, and records what each run's copy is built from.
func (st *state) openLibraries() {
	L := st.L
	for _, open := range []glua.LGFunction{glua.OpenBase, glua.OpenTable, glua.OpenString, glua.OpenMath, glua.OpenOs} {
		L.Push(L.NewFunction(open))
		L.Call(0, 0)
	}
	g := L.G.Global
	pick := func(t *glua.LTable, names ...string) []entry {
		out := make([]entry, 0, len(names))
		for _, n := range names {
			if v := t.RawGetString(n); v != glua.LNil {
				out = append(out, entry{n, v})
			}
		}
		return out
	}
	all := func(t *glua.LTable, skip map[string]string) []entry {
		var out []entry
		t.ForEach(func(k, v glua.LValue) {
			if s, ok := k.(glua.LString); ok && skip[string(s)] == "" && s != "__index" {
				out = append(out, entry{string(s), v})
			}
		})
		return out
	}
	fn := func(name string, f glua.LGFunction) entry { return entry{name, L.NewFunction(f)} }

	st.base = pick(g, keptBase...)
	st.base = append(st.base,
		fn("print", st.print),
		fn("load", st.load),
		fn("loadstring", st.loadstring),
		fn("pcall", st.pcall),
		fn("xpcall", st.xpcall),
		fn(concatName, st.concat),
	)

	strLib := g.RawGetString("string").(*glua.LTable)
	str := all(strLib, forbiddenString)
	str = replaceEntry(str, fn("rep", st.strRep))
	str = replaceEntry(str, fn("format", st.strFormat(strLib.RawGetString("format"))))
	str = replaceEntry(str, fn("gsub", st.strGsub))
	str = replaceEntry(str, fn("find", st.strFind))
	str = replaceEntry(str, fn("match", st.strMatch))
	gmatch := fn("gmatch", st.strGmatch)
	str = replaceEntry(str, gmatch)
	str = replaceEntry(str, entry{"gfind", gmatch.value})

	tbl := all(g.RawGetString("table").(*glua.LTable), nil)
	tbl = replaceEntry(tbl, fn("concat", st.tableConcat))

	st.libs = []library{
		{name: "string", entries: str, meta: st.forbiddenMeta("string", forbiddenString)},
		{name: "table", entries: tbl},
		{name: "math", entries: replaceEntry(all(g.RawGetString("math").(*glua.LTable), nil), fn("random", mathRandom))},
		{name: "os", entries: pick(g.RawGetString("os").(*glua.LTable), "time", "date", "clock"), meta: st.forbiddenMeta("os", forbiddenOS)},
	}
	st.globalsMeta = st.forbiddenMeta("", forbiddenGlobals)
	st.libs = append(st.libs, st.stdlib()...)
}

func replaceEntry(es []entry, e entry) []entry {
	for i := range es {
		if es[i].name == e.name {
			es[i] = e
			return es
		}
	}
	return append(es, e)
}

// forbiddenMeta returns a protected metatable whose __index raises an error
// naming a removed function and why it is gone, instead of the usual
// "attempt to call a nil value". Other missing keys read as nil.
func (st *state) forbiddenMeta(lib string, why map[string]string) *glua.LTable {
	mt := newTable(0, 2)
	mt.RawSetString("__metatable", glua.LString("protected"))
	mt.RawSetString("__index", st.L.NewFunction(func(L *glua.LState) int {
		key, ok := L.Get(2).(glua.LString)
		if !ok {
			return 0
		}
		name := string(key)
		if reason, bad := why[name]; bad {
			if lib != "" {
				name = lib + "." + name
			}
			L.RaiseError("%s is not available in the playbook sandbox: %s", name, reason)
		}
		if lib == "" {
			if st.run != nil && slices.Contains(st.run.spec.Undeclared, name) {
				L.RaiseError("asset %s is not declared by this playbook; add it to the playbook's assets: list", name)
			}
		}
		return 0
	}))
	return mt
}

// print writes its arguments to the run log, separated by tabs.
func (st *state) print(L *glua.LState) int {
	top := L.GetTop()
	parts := make([]string, top)
	for i := 1; i <= top; i++ {
		parts[i-1] = L.ToStringMeta(L.Get(i)).String()
	}
	st.run.log.Info(strings.Join(parts, "\t"), "source", "print")
	return 0
}

// loadstring compiles Lua source text in the run's environment. Bytecode is
// refused: gopher-lua can't load it anyway, and saying so beats a parse error.
func (st *state) loadstring(L *glua.LState) int {
	return st.loadSource(L, L.CheckString(1), L.OptString(2, "<string>"))
}

// load is Lua 5.1's load(func [, chunkname]).
func (st *state) load(L *glua.LState) int {
	reader := L.CheckFunction(1)
	name := L.OptString(2, "=(load)")
	var b strings.Builder
	for {
		L.Push(reader)
		L.Call(0, 1)
		piece := L.Get(-1)
		L.Pop(1)
		if piece == glua.LNil {
			break
		}
		s, ok := piece.(glua.LString)
		if !ok {
			L.Push(glua.LNil)
			L.Push(glua.LString("reader function must return a string"))
			return 2
		}
		if len(s) == 0 {
			break
		}
		if b.Len()+len(s) > st.rt.opts.MaxStringBytes {
			L.RaiseError("load: chunk %v of %d bytes", errTooLarge, st.rt.opts.MaxStringBytes)
		}
		b.WriteString(string(s))
	}
	return st.loadSource(L, b.String(), name)
}

func (st *state) loadSource(L *glua.LState, src, name string) int {
	if strings.HasPrefix(src, "\x1b") {
		L.Push(glua.LNil)
		L.Push(glua.LString("binary chunks are not allowed in the playbook sandbox; load Lua source text"))
		return 2
	}
	proto, err := compile(name, []byte(src))
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

func (st *state) concat(L *glua.LState) int { return concat(L, st.rt.opts.MaxStringBytes) }

func (st *state) tooLarge(L *glua.LState, what string, size float64) {
	if limit := st.rt.opts.MaxStringBytes; size > float64(limit) {
		L.RaiseError("%s: result of %.0f bytes %v of %d bytes", what, size, errTooLarge, limit)
	}
}

// strRep is string.rep with the result capped.
func (st *state) strRep(L *glua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(glua.LString(""))
		return 1
	}
	st.tooLarge(L, "string.rep", float64(len(s))*float64(n))
	L.Push(glua.LString(strings.Repeat(s, n)))
	return 1
}

// tableConcat is table.concat with the result capped. It builds the string
// directly, so that concatenating a large list doesn't push every item onto
// the Lua stack as gopher-lua's version does.
func (st *state) tableConcat(L *glua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if i > j {
		L.Push(glua.LString(""))
		return 1
	}
	size := float64(len(sep)) * float64(j-i)
	for k := i; k <= j; k++ {
		v := t.RawGetInt(k)
		if !glua.LVCanConvToString(v) {
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type(), k)
		}
		if s, ok := v.(glua.LString); ok {
			size += float64(len(s))
		} else {
			size += float64(len(v.String()))
		}
		st.tooLarge(L, "table.concat", size)
	}
	var b strings.Builder
	b.Grow(int(size))
	for k := i; k <= j; k++ {
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(glua.LVAsString(t.RawGetInt(k)))
	}
	L.Push(glua.LString(b.String()))
	return 1
}

// strFormat wraps string.format, refusing a call whose output could pass the
// string limit before anything is allocated.
func (st *state) strFormat(orig glua.LValue) glua.LGFunction {
	return func(L *glua.LState) int {
		format := L.CheckString(1)
		st.tooLarge(L, "string.format", formatBound(L, format))
		return callThrough(L, orig)
	}
}

// formatBound is an upper bound on the length of string.format's output.
// Go's fmt, which gopher-lua uses, caps widths and precisions at 1e6.
func formatBound(L *glua.LState, format string) float64 {
	size := float64(len(format))
	arg := 2
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		num, pad := 0, 0.0
		for ; i < len(format) && strings.IndexByte("-+ #0123456789.", format[i]) >= 0; i++ {
			if c := format[i]; c >= '0' && c <= '9' {
				num = min(num*10+int(c-'0'), 1_000_000)
			} else {
				pad += float64(num)
				num = 0
			}
		}
		pad += float64(num)
		if i >= len(format) || format[i] == '%' {
			continue
		}
		size += pad
		switch v := L.Get(arg).(type) {
		case glua.LString:
			if format[i] == 'q' {
				size += 4*float64(len(v)) + 2
			} else {
				size += float64(len(v))
			}
		case glua.LNumber:
			size += 400 // %f of 1e308 has 309 digits
		default:
			size += 64
		}
		arg++
	}
	return size
}

// mathRandom is Lua's math.random([m [, n]]). gopher-lua's version panics
// on an empty interval and never returns n.
func mathRandom(L *glua.LState) int {
	switch L.GetTop() {
	case 0:
		L.Push(glua.LNumber(rand.Float64()))
	case 1:
		n := L.CheckInt(1)
		if n < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(glua.LNumber(rand.IntN(n) + 1))
	default:
		lo, hi := L.CheckInt(1), L.CheckInt(2)
		if lo > hi {
			L.ArgError(2, "interval is empty")
		}
		L.Push(glua.LNumber(lo + rand.IntN(hi-lo+1)))
	}
	return 1
}

// callThrough calls fn with the current arguments and returns its results.
func callThrough(L *glua.LState, fn glua.LValue) int {
	top := L.GetTop()
	L.Push(fn)
	for i := 1; i <= top; i++ {
		L.Push(L.Get(i))
	}
	L.Call(top, glua.MultRet)
	return L.GetTop() - top
}

// describeValue names a Lua value's type for error messages.
func describeValue(v glua.LValue) string {
	if v == glua.LNil {
		return "nil"
	}
	return fmt.Sprintf("a %s", v.Type())
}

// Globals returns the sorted names of the globals every script gets,
// besides the assets: the kept base functions, the libraries, input,
// container and plugins. Playbook lint uses it to tell a stdlib global from
// an undeclared asset, and config to refuse an asset named like one.
func Globals() []string { return slices.Clone(sandboxCatalog().globals) }

// Members returns the sorted names of the members of library lib ("string",
// "os", "json", ...) as every script sees it, or nil when the sandbox has no
// such library.
func Members(lib string) []string { return slices.Clone(sandboxCatalog().members[lib]) }

// Removed maps each name the sandbox leaves out on purpose to why: globals
// ("io", "dofile") and library members ("os.execute", "string.dump"). A
// script that uses one gets an error with that reason.
func Removed() map[string]string {
	m := make(map[string]string, len(forbiddenGlobals)+len(forbiddenOS)+len(forbiddenString))
	for name, why := range forbiddenGlobals {
		m[name] = why
	}
	for name, why := range forbiddenOS {
		m["os."+name] = why
	}
	for name, why := range forbiddenString {
		m["string."+name] = why
	}
	return m
}

// Keywords returns the reserved words of Lua 5.1, sorted: no global, and so
// no asset, can be named after one.
func Keywords() []string { return slices.Clone(keywords) }

var keywords = []string{
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
	"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

type catalog struct {
	globals []string
	members map[string][]string
	// baseOrder and libOrder are the base entries and the libraries in
	// the order every state builds them.
	baseOrder, libOrder []string
}

// sandboxCatalog reads the names from a state built the way every run's is,
// so the lists can't drift from what scripts see.
var sandboxCatalog = sync.OnceValue(func() catalog {
	rt := NewRuntime(Options{PoolSize: 1})
	st := rt.newState()
	defer st.L.Close()
	c := catalog{globals: []string{"_G", "input", "container", "plugins"}, members: map[string][]string{}}
	for _, e := range st.base {
		c.baseOrder = append(c.baseOrder, e.name)
		if e.name != concatName {
			c.globals = append(c.globals, e.name)
		}
	}
	for _, lib := range st.libs {
		c.libOrder = append(c.libOrder, lib.name)
		c.globals = append(c.globals, lib.name)
		names := make([]string, len(lib.entries))
		for i, e := range lib.entries {
			names[i] = e.name
		}
		slices.Sort(names)
		c.members[lib.name] = names
	}
	slices.Sort(c.globals)
	return c
})
