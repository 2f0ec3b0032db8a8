package lua

import (
	"strings"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"
)

// Protected calls and bounded tracebacks.
//
// When gopher-lua's PCall catches an error without a message handler, it
// builds a traceback with one line per tail call of every frame on the
// stack. A tail call reuses its frame and only counts up, so
// `local function f() return f() end` makes ten million of them a second,
// and the traceback of the error that ends it (the deadline, usually) holds
// gigabytes. Every protected call of the sandbox (the run itself, pcall and
// xpcall) therefore goes through a guard, a Go function that calls the
// protected function and, when an error passes through it, attaches a
// bounded traceback before the error reaches PCall, which then keeps it.

// maxTracebackLevels bounds the stack levels a traceback looks at; a run of
// tail calls is one line however long it is.
const maxTracebackLevels = 16

// tracebackNotKept is the traceback of errors that pcall and xpcall catch:
// the script never sees it, so it isn't built.
const tracebackNotKept = "stack traceback: (not kept)"

// newGuard returns the guard function. Called as guard(fn, args...), it
// returns fn(args...). With trace, an error gets a bounded traceback;
// otherwise it gets none.
func (st *state) newGuard(trace bool) *glua.LFunction {
	return st.L.NewFunction(func(L *glua.LState) int {
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if e, ok := r.(*glua.ApiError); ok && e.StackTrace == "" {
				if trace {
					e.StackTrace = traceback(L, st.runGuard)
				} else {
					e.StackTrace = tracebackNotKept
				}
			}
			panic(r)
		}()
		L.Call(L.GetTop()-1, glua.MultRet)
		return L.GetTop()
	})
}

// traceback describes the stack from the error outwards, at most
// maxTracebackLevels levels. It must run before the stack unwinds. gopher-lua
// counts each tail call as a stack level that resolves to the bottom frame,
// which is the run's guard: such levels become one "(tail calls)" line.
func traceback(L *glua.LState, bottom *glua.LFunction) string {
	var b strings.Builder
	b.WriteString("stack traceback:")
	inTail := false
	level := 0
	for ; level < maxTracebackLevels; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		fn, err := L.GetInfo("fnS", dbg, glua.LNil)
		if err != nil {
			break
		}
		if fn == bottom {
			inTail = true
			continue
		}
		if inTail {
			b.WriteString("\n\t(tail calls)")
			inTail = false
		}
		where := L.Where(level)
		if where == "" {
			where = "[G]:"
		}
		name := dbg.Name
		switch {
		case dbg.What != "G" && dbg.LineDefined == 0:
			name = "main chunk"
		case name == "main chunk":
		case name == "" || name[0] == '<' || name[0] == '(':
			name = "function " + name
		default:
			name = "function '" + name + "'"
		}
		b.WriteString("\n\t" + where + " in " + name)
	}
	if level == maxTracebackLevels {
		b.WriteString("\n\t...")
	}
	return b.String()
}

// pcall is Lua's pcall(f, ...) through the guard.
func (st *state) pcall(L *glua.LState) int {
	v := L.CheckAny(1)
	if v.Type() != glua.LTFunction && L.GetMetaField(v, "__call").Type() != glua.LTFunction {
		L.Push(glua.LFalse)
		L.Push(glua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	L.Insert(st.quietGuard, 1)
	if err := L.PCall(L.GetTop()-1, glua.MultRet, nil); err != nil {
		L.Push(glua.LFalse)
		L.Push(errorObject(err))
		return 2
	}
	L.Insert(glua.LTrue, 1)
	return L.GetTop()
}

// xpcall is Lua's xpcall(f, handler) through the guard. The handler gets
// the error after the stack has unwound rather than before; without the
// debug library a script cannot tell the difference. An error in the
// handler is the second result, as in gopher-lua.
func (st *state) xpcall(L *glua.LState) int {
	fn := L.CheckFunction(1)
	handler := L.CheckFunction(2)
	top := L.GetTop()
	L.Push(st.quietGuard)
	L.Push(fn)
	if err := L.PCall(1, glua.MultRet, nil); err != nil {
		L.Push(st.quietGuard)
		L.Push(handler)
		L.Push(errorObject(err))
		var out glua.LValue
		if herr := L.PCall(2, 1, nil); herr != nil {
			out = errorObject(herr)
		} else {
			out = L.Get(-1)
			L.Pop(1)
		}
		L.Push(glua.LFalse)
		L.Push(out)
		return 2
	}
	L.Insert(glua.LTrue, top+1)
	return L.GetTop() - top
}

func errorObject(err error) glua.LValue {
	if e, ok := err.(*glua.ApiError); ok {
		return e.Object
	}
	return glua.LString(err.Error())
}
