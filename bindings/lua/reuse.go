package lua

import (
	"reflect"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

// Reusing tables between runs.
//
// Building the globals and the library tables afresh for every run took
// most of a trivial run's time: each gopher-lua table with string keys is
// three Go maps and a slice. A pooled state now keeps its tables and, once a
// run ends, checks each one it lent the script: a table that is exactly as
// built is kept, any other is rebuilt. So a run still sees only pristine
// libraries, whatever the previous run did to them.
//
// "Exactly as built" must also rule out keys that a script added and then
// removed: gopher-lua remembers every key a table ever had (its iteration
// order), so a script that added and removed a million keys would otherwise
// leave that memory in a pooled table for good. The check therefore reads
// how many keys the table has ever had, and the size of its array part,
// from gopher-lua's unexported fields, through reflection and read only.
// Should a gopher-lua version rename them, every table counts as changed
// and is rebuilt for every run, as before.

// tableFields locates the LTable fields the check reads: keys (every
// non-array key the table ever held), array (its array part), strdict and
// dict (its string and other keys now). ok is false when one is missing.
var tableFields = func() (f struct {
	ok                         bool
	keys, array, strdict, dict int
}) {
	t := reflect.TypeFor[glua.LTable]()
	index := func(name string, kind reflect.Kind) int {
		sf, found := t.FieldByName(name)
		if !found || sf.Type.Kind() != kind || len(sf.Index) != 1 {
			return -1
		}
		return sf.Index[0]
	}
	f.keys, f.array = index("keys", reflect.Slice), index("array", reflect.Slice)
	f.strdict, f.dict = index("strdict", reflect.Map), index("dict", reflect.Map)
	f.ok = f.keys >= 0 && f.array >= 0 && f.strdict >= 0 && f.dict >= 0
	return f
}()

// tableShape is the sizes of a table's parts.
type tableShape struct {
	// keys counts every non-array key the table ever held.
	keys int
	// array is the length of the array part.
	array int
	// strings and others count the string and other keys it holds now.
	strings, others int
}

// shapeOf returns t's shape; ok is false when it can't be read.
func shapeOf(t *glua.LTable) (s tableShape, ok bool) {
	if !tableFields.ok {
		return s, false
	}
	v := reflect.ValueOf(t).Elem()
	return tableShape{
		keys:    v.Field(tableFields.keys).Len(),
		array:   v.Field(tableFields.array).Len(),
		strings: v.Field(tableFields.strdict).Len(),
		others:  v.Field(tableFields.dict).Len(),
	}, true
}

// What a script can reach.
//
// Checking every table after every run cost more than the rest of a
// trivial run. But a script can only change a table it can reach, and it
// reaches a library or a base function only by naming it: gopher-lua reads
// and writes globals by constant names, and the rest (_G, getmetatable for
// the string metatable, load and loadstring for code built at run time) is
// named too. So Compile notes which of them a script's code names, every
// string constant of every function of it, and restoreTables checks only
// those; a script that names one of the four gets everything checked.

// broadNames give a script a way to every table.
var broadNames = []string{"_G", "getmetatable", "load", "loadstring"}

// reach is what a compiled script names.
type reach struct {
	all bool
	// baseBits and libBits have bit i set when the script names base
	// entry i or library i, in the order every state builds them.
	baseBits, libBits uint64
	// names are all its string constants, for asset names.
	names map[string]bool
}

// reaches reports whether the script can reach the global or asset name.
func (r *reach) reaches(name string) bool { return r == nil || r.all || r.names[name] }

func (r *reach) base(i int) bool { return r == nil || r.all || r.baseBits&(1<<i) != 0 }
func (r *reach) lib(i int) bool  { return r == nil || r.all || r.libBits&(1<<i) != 0 }

// scriptReach collects the names that proto and the functions in it use.
func scriptReach(proto *glua.FunctionProto) *reach {
	r := &reach{names: map[string]bool{}}
	var walk func(p *glua.FunctionProto)
	walk = func(p *glua.FunctionProto) {
		for _, c := range p.Constants {
			if s, ok := c.(glua.LString); ok {
				r.names[string(s)] = true
			}
		}
		for _, f := range p.FunctionPrototypes {
			walk(f)
		}
	}
	walk(proto)
	layout := sandboxCatalog()
	if len(layout.baseOrder) > 64 || len(layout.libOrder) > 64 {
		r.all = true
	}
	for _, n := range broadNames {
		r.all = r.all || r.names[n]
	}
	for i, n := range layout.baseOrder {
		if r.names[n] {
			r.baseBits |= 1 << i
		}
	}
	for i, n := range layout.libOrder {
		if r.names[n] {
			r.libBits |= 1 << i
		}
	}
	return r
}

// pristine is a table that a state builds once and lends to every run, with
// what it must hold when a run gives it back.
type pristine struct {
	t       *glua.LTable
	entries []entry
	meta    glua.LValue
	// keys is how many keys t held when built.
	keys int
}

func newPristine(entries []entry, meta *glua.LTable) *pristine {
	p := &pristine{entries: entries, meta: glua.LNil}
	if meta != nil {
		p.meta = meta
	}
	p.build()
	return p
}

func (p *pristine) build() {
	t := newTable(0, len(p.entries))
	for _, e := range p.entries {
		t.RawSetString(e.name, e.value)
	}
	t.Metatable = p.meta
	p.t = t
	shape, _ := shapeOf(t)
	p.keys = shape.keys
}

// intact reports whether t still holds exactly its entries and metatable
// and never held another key.
func (p *pristine) intact() bool {
	shape, ok := shapeOf(p.t)
	if !ok || shape.keys != p.keys || shape.array != 0 || p.t.Metatable != p.meta {
		return false
	}
	for _, e := range p.entries {
		if p.t.RawGetString(e.name) != e.value {
			return false
		}
	}
	return true
}

// restore rebuilds t unless it is intact, and reports whether it did.
func (p *pristine) restore() bool {
	if p.intact() {
		return false
	}
	p.build()
	return true
}

// maxRunGlobals bounds the keys that the names of assets, input, container
// and plugins leave in a reused globals table before it is rebuilt.
const maxRunGlobals = 64

// initTables builds the tables the state lends every run.
func (st *state) initTables() {
	st.libTabs = make([]*pristine, len(st.libs))
	for i, lib := range st.libs {
		st.libTabs[i] = newPristine(lib.entries, lib.meta)
		if lib.name == "string" {
			st.stringLib = i
		}
	}
	st.stringMeta = newPristine([]entry{{"__index", st.libTabs[st.stringLib].t}}, nil)
	st.pluginsMeta = missingMeta(st.L, func(L *glua.LState, key string) {
		L.RaiseError("plugin %s is not declared by this playbook; add it to the playbook's plugins: list", key)
	})
	// Every run's plugins table shares it, so no script may change it.
	st.pluginsMeta.RawSetString("__metatable", glua.LString("protected"))
	st.buildGlobals()
}

// buildGlobals builds the globals table: the base functions, _G and the
// libraries.
func (st *state) buildGlobals() {
	g := newTable(0, len(st.base)+len(st.libs)+8)
	for _, e := range st.base {
		g.RawSetString(e.name, e.value)
	}
	g.RawSetString("_G", g)
	for i, lib := range st.libs {
		g.RawSetString(lib.name, st.libTabs[i].t)
	}
	g.Metatable = st.globalsMeta
	st.globals = g
	st.globalsShape, _ = shapeOf(g)
}

// setRunGlobal sets a global that only this run has; restoreTables removes
// it.
func (st *state) setRunGlobal(name string, v glua.LValue) {
	st.globals.RawSetString(name, v)
	st.runGlobals = append(st.runGlobals, name)
}

// lend records a table the run was given, to be checked when it ends.
func (st *state) lend(name string, p *pristine) *glua.LTable {
	st.lent = append(st.lent, lentTable{name, p})
	return p.t
}

// lentTable is a table lent to one run under a global name.
type lentTable struct {
	name string
	p    *pristine
}

// startRun notes the globals' shape once the run's own globals are set.
func (st *state) startRun() {
	st.runShape, _ = shapeOf(st.globals)
}

// restoreTables readies the tables for the next run after a run that ended
// normally: the run's own globals go, and every table it could change is
// checked and rebuilt if it changed. r is what the run's script names
// (nil: anything).
func (st *state) restoreTables(r *reach) {
	g := st.globals
	shape, ok := shapeOf(g)
	intact := ok && shape.keys == st.runShape.keys && shape.array == 0 && shape.others == 0 &&
		shape.keys <= st.globalsShape.keys+maxRunGlobals && g.Metatable == st.globalsMeta
	for _, name := range st.runGlobals {
		g.RawSetString(name, glua.LNil)
	}
	st.runGlobals = st.runGlobals[:0]
	if intact {
		shape, _ = shapeOf(g)
		intact = shape.strings == st.globalsShape.strings
	}
	if intact && r.reaches("_G") {
		intact = g.RawGetString("_G") == g
	}
	for i := 0; intact && i < len(st.base); i++ {
		if r.base(i) {
			intact = g.RawGetString(st.base[i].name) == st.base[i].value
		}
	}
	for i := 0; intact && i < len(st.libs); i++ {
		if r.lib(i) {
			intact = g.RawGetString(st.libs[i].name) == st.libTabs[i].t
		}
	}
	rebuilt := false
	for i, p := range st.libTabs {
		if r.lib(i) {
			rebuilt = p.restore() || rebuilt
		}
	}
	if st.stringMeta.entries[0].value != st.libTabs[st.stringLib].t {
		st.stringMeta.entries[0].value = st.libTabs[st.stringLib].t
		st.stringMeta.build()
	} else if r.reaches("getmetatable") {
		st.stringMeta.restore()
	}
	for _, l := range st.lent {
		if r.reaches(l.name) {
			l.p.restore()
		}
	}
	clear(st.lent)
	st.lent = st.lent[:0]
	if !intact || rebuilt {
		st.buildGlobals()
	}
}
