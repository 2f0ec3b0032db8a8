package lua

import (
	"errors"
	"strings"
	"time"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"

	"github.com/goshawk/goshawk/providers"
)

// assetKey identifies the action functions of one asset in a state. The
// provider is part of the key so that an asset reconfigured with another
// provider gets new functions.
type assetKey struct {
	name     string
	provider *providers.Provider
}

// assetFuncs are the action functions of one asset, built once per state.
// The functions look the asset up by name in the run in progress, so they
// serve every run.
type assetFuncs struct {
	// table holds one function per action. Its metatable raises for an
	// action the provider doesn't have; it is shared between runs, so it
	// is protected from scripts.
	table *pristine
}

// maxCachedAssets bounds the per-state cache of asset functions; reloads that
// rename assets would otherwise grow it forever.
const maxCachedAssets = 64

// assetTable returns the asset's table, with one function per action of its
// provider, as built. The spec table is the only source: there is no code
// per action.
func (st *state) assetTable(name string, p *providers.Provider) *glua.LTable {
	key := assetKey{name, p}
	fns, ok := st.assets[key]
	if !ok {
		if len(st.assets) >= maxCachedAssets {
			clear(st.assets)
		}
		fns = st.newAssetFuncs(name, p)
		st.assets[key] = fns
	}
	return st.lend(name, fns.table)
}

func (st *state) newAssetFuncs(name string, p *providers.Provider) assetFuncs {
	L := st.L
	actions := make([]entry, 0, len(p.Actions))
	for i := range p.Actions {
		action := p.Actions[i].Name
		fn := L.NewClosure(st.callAction, glua.LString(name), glua.LString(action))
		// Ported playbooks name actions as SOAR prints them ("hunt ip")
		// or by the app's own id (the spec's Aliases); all call the action.
		for _, n := range providers.ActionNames(&p.Actions[i]) {
			actions = append(actions, entry{n, fn})
		}
	}
	meta := missingMeta(L, func(L *glua.LState, key string) {
		L.RaiseError("asset %s: %v", name, p.UnknownActionError(key))
	})
	meta.RawSetString("__metatable", glua.LString("protected"))
	return assetFuncs{table: newPristine(actions, meta)}
}

// callAction is the one adapter behind every action function:
// asset.action{name = value, ...} returns the action result as a table
// {status, message, parameter, data, summary}. A failed action returns its
// failed result; a malformed call (unknown parameter, wrong type, missing
// required parameter) raises.
func (st *state) callAction(L *glua.LState) int {
	asset := string(L.Get(glua.UpvalueIndex(1)).(glua.LString))
	action := string(L.Get(glua.UpvalueIndex(2)).(glua.LString))
	where := asset + "." + action
	rn := st.run
	a := rn.spec.Assets[asset]
	if a == nil {
		L.RaiseError("asset %s is not available in this run", asset)
	}
	if L.GetTop() > 1 {
		L.RaiseError("%s takes one table of parameters; call it as %s{name = value} (with a dot, not a colon)", where, where)
	}
	var raw map[string]any
	switch arg := L.Get(1).(type) {
	case *glua.LNilType:
	case *glua.LTable:
		v, err := FromLua(arg)
		if err != nil {
			L.RaiseError("%s: parameters: %v", where, err)
		}
		switch m := v.(type) {
		case map[string]any:
			raw = m
		case []any:
			if len(m) > 0 {
				L.RaiseError("%s: parameters must be named, like %s{ip = \"1.2.3.4\"}, not a list", where, where)
			}
		}
	default:
		L.RaiseError("%s expects a table of parameters, like %s{ip = \"1.2.3.4\"}, got %s", where, where, describeValue(arg))
	}
	if raw == nil {
		raw = map[string]any{}
	}

	start := time.Now()
	res, err := a.Invoke(rn.ctx, action, raw, rn.env)
	elapsed := time.Since(start)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, providers.ErrUnknownAction) || !strings.HasPrefix(msg, where+":") {
			msg = where + ": " + msg
		}
		st.step(Step{Asset: asset, Action: action, Status: providers.StatusFailed, Message: msg, Duration: elapsed, Started: start, Params: raw})
		L.RaiseError("%s", msg)
	}
	st.step(Step{Asset: asset, Action: action, Status: res.Status, Message: res.Message, Duration: elapsed, Started: start, Params: raw, Result: res})
	L.Push(resultTable(L, res))
	return 1
}

func (st *state) step(s Step) {
	if f := st.run.spec.OnStep; f != nil {
		f(s)
	}
}

// resultTable converts an action result to Lua, the same shape as its JSON.
func resultTable(L *glua.LState, res *providers.Result) *glua.LTable {
	t := newTable(0, 6)
	t.RawSetString("status", statusValue(res.Status))
	t.RawSetString("message", glua.LString(res.Message))
	t.RawSetString("parameter", ToLua(L, res.Parameter))
	t.RawSetString("data", ToLua(L, res.Data))
	t.RawSetString("summary", ToLua(L, res.Summary))
	if tt := res.Totals; tt != nil {
		totals := newTable(0, 2)
		totals.RawSetString("total_objects", intToLua(int64(tt.TotalObjects)))
		totals.RawSetString("total_objects_successful", intToLua(int64(tt.TotalObjectsSuccessful)))
		t.RawSetString("totals", totals)
	}
	return t
}

// The two statuses, converted once.
var (
	luaSuccess glua.LValue = glua.LString(providers.StatusSuccess)
	luaFailed  glua.LValue = glua.LString(providers.StatusFailed)
)

func statusValue(s string) glua.LValue {
	switch s {
	case providers.StatusSuccess:
		return luaSuccess
	case providers.StatusFailed:
		return luaFailed
	}
	return glua.LString(s)
}
