package lua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	glua "github.com/goshawk/goshawk/third_party/gopher-lua"

	"github.com/goshawk/goshawk/providers"
)

// ErrTimeout is returned, wrapped, when the run's deadline stopped the script.
var ErrTimeout = errors.New("lua: the script ran past its deadline")

// Options tunes a Runtime. The zero value gives the defaults.
type Options struct {
	// PoolSize is how many idle states are kept for reuse (default 64).
	// The pool only grows to the most runs seen at once, and an idle state
	// is about 100 KB, so the default costs at most a few MB. It should
	// cover the runs a host has at once: a state closed for want of room
	// is one the next run must build again (about 40 µs). More runs than
	// that at once still work; the extra states are closed when they
	// finish.
	PoolSize int
	// MaxStringBytes caps every string the sandbox builds: .., string.rep,
	// string.format, string.gsub, table.concat, json.encode (default 16 MiB).
	MaxStringBytes int
	// CallStackSize bounds the depth of Lua calls, so runaway recursion is
	// a "stack overflow" error (default 200).
	CallStackSize int
	// RegistryMaxSize bounds the Lua value stack, in slots (default 131072).
	RegistryMaxSize int
}

// The defaults of Options.
const (
	DefaultPoolSize        = 64
	DefaultMaxStringBytes  = 16 << 20
	DefaultCallStackSize   = 200
	DefaultRegistryMaxSize = 128 << 10
	// registrySize is the value stack a state starts with; it grows on
	// demand up to RegistryMaxSize, which keeps idle states small.
	registrySize = 1024
	// registryGrowStep is how many slots the value stack grows by at a time.
	// gopher-lua copies the stack on each growth, so gopher-lua's default of
	// 32 makes filling a large stack quadratic.
	registryGrowStep = 4096
)

func (o Options) withDefaults() Options {
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.MaxStringBytes <= 0 {
		o.MaxStringBytes = DefaultMaxStringBytes
	}
	if o.CallStackSize <= 0 {
		o.CallStackSize = DefaultCallStackSize
	}
	if o.RegistryMaxSize <= 0 {
		o.RegistryMaxSize = DefaultRegistryMaxSize
	}
	o.RegistryMaxSize = max(o.RegistryMaxSize, registrySize)
	return o
}

// KV is the persistent key-value store of one playbook, behind kv.get, kv.set
// and kv.delete. Its namespace is already bound to the playbook.
type KV interface {
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	Set(ctx context.Context, key, value string) error
	Delete(ctx context.Context, key string) error
}

// Containers reads and updates ingested containers, behind containers.get,
// containers.update and containers.list.
type Containers interface {
	Get(ctx context.Context, id int64) (map[string]any, error)
	Update(ctx context.Context, id int64, patch map[string]any) (map[string]any, error)
	List(ctx context.Context, filter map[string]any) ([]map[string]any, error)
}

// PluginHost calls WASM plugin functions with JSON in and out, behind
// plugins.<name>.<function>(table).
type PluginHost interface {
	Call(ctx context.Context, plugin, function string, input []byte, log *slog.Logger) ([]byte, error)
	Functions(plugin string) ([]string, bool)
}

// Step records one action call of a run.
type Step struct {
	Asset, Action, Status, Message string
	Duration                       time.Duration
	// Started is when the call began.
	Started time.Time
	// Params are the parameters as the script passed them (never nil).
	Params map[string]any
	// Result is the action's whole result; nil when the call failed
	// before the action could run (Message then says why).
	Result *providers.Result
}

// RunSpec is everything one run of a script needs.
type RunSpec struct {
	Script *Script
	// Inputs is the global `input`.
	Inputs map[string]any
	// Container, when non-nil, is the global `container` (on_poll runs).
	Container map[string]any
	// Assets become globals, each a table with one function per action of
	// its provider.
	Assets map[string]*providers.Asset
	// Undeclared names configured assets that the playbook doesn't list.
	// Using one raises an error that says to declare it, instead of the
	// plain "attempt to index a nil value".
	Undeclared []string
	// Env is lent to every action. A nil Env.Log is replaced by Log.
	Env providers.Env
	// Plugins serves plugins.<name>.<fn>; only AllowedPlugins are visible.
	Plugins        PluginHost
	AllowedPlugins []string
	KV             KV
	Containers     Containers
	// Log receives log.* and print; nil discards.
	Log *slog.Logger
	// OnStep, when set, is called after every action call.
	OnStep func(Step)
}

// Error is a failure raised inside the script, by the script itself or by a
// call it made. Message starts with the script's file:line.
type Error struct {
	Message   string
	Traceback string
}

func (e *Error) Error() string { return e.Message }

// Runtime runs compiled scripts on a pool of sandboxed Lua states. It is
// safe for concurrent use.
type Runtime struct {
	opts   Options
	pool   chan *state
	closed atomic.Bool
}

// NewRuntime returns a Runtime with the given options.
func NewRuntime(o Options) *Runtime {
	o = o.withDefaults()
	return &Runtime{opts: o, pool: make(chan *state, o.PoolSize)}
}

// Close closes the idle states. Call it once no more runs will start; a run
// still in flight closes its state when it finishes.
func (r *Runtime) Close() {
	r.closed.Store(true)
	for {
		select {
		case st := <-r.pool:
			st.L.Close()
		default:
			return
		}
	}
}

// run is what the Go side of the sandbox needs while a script runs.
type run struct {
	ctx  context.Context
	spec *RunSpec
	log  *slog.Logger
	env  providers.Env
	now  func() time.Time
}

// state is one pooled Lua state with the tables it lends every run.
type state struct {
	rt          *Runtime
	L           *glua.LState
	run         *run
	base        []entry
	libs        []library
	globalsMeta *glua.LTable
	idle        *glua.LTable
	assets      map[assetKey]assetFuncs
	// runGuard calls the script and gives its errors a bounded traceback;
	// quietGuard serves pcall and xpcall, whose tracebacks nobody sees.
	runGuard, quietGuard *glua.LFunction

	// The tables lent to every run (see reuse.go): the globals, the
	// library tables, the string metatable and the plugins table's
	// metatable.
	globals      *glua.LTable
	globalsShape tableShape
	libTabs      []*pristine
	stringLib    int
	stringMeta   *pristine
	pluginsMeta  *glua.LTable
	// What the run in progress added: its own globals, the shape of the
	// globals once they were set, and the asset tables it was lent.
	runGlobals []string
	runShape   tableShape
	lent       []lentTable
	// Scratch space of json.encode, json.decode and plugin calls (jsonBuf
	// holds json.encode's output and a plugin call's input).
	jsonEnc luaEncoder
	jsonDec luaDecoder
	jsonBuf []byte
}

// maxKeptBuffer bounds the output buffer a state keeps for json.encode.
const maxKeptBuffer = 64 << 10

func (r *Runtime) newState() *state {
	L := glua.NewState(glua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    r.opts.CallStackSize,
		RegistrySize:     registrySize,
		RegistryMaxSize:  r.opts.RegistryMaxSize,
		RegistryGrowStep: registryGrowStep,
	})
	st := &state{rt: r, L: L, idle: newTable(0, 0), assets: map[assetKey]assetFuncs{}}
	st.runGuard, st.quietGuard = st.newGuard(true), st.newGuard(false)
	st.openLibraries()
	st.initTables()
	st.L.G.Global, st.L.Env = st.idle, st.idle
	return st
}

func (r *Runtime) get() *state {
	select {
	case st := <-r.pool:
		return st
	default:
		return r.newState()
	}
}

func (r *Runtime) put(st *state) {
	if r.closed.Load() {
		st.L.Close()
		return
	}
	select {
	case r.pool <- st:
	default:
		st.L.Close()
	}
}

// Run runs spec.Script once in a pristine global environment and returns the
// script's first return value converted by FromLua. The run stops at ctx's
// deadline with an error wrapping ErrTimeout. A Lua error is an *Error.
func (r *Runtime) Run(ctx context.Context, spec *RunSpec) (result any, err error) {
	if spec == nil || spec.Script == nil || spec.Script.Proto == nil {
		return nil, errors.New("lua: run: no compiled script; compile it with Compile first")
	}
	if err := ctx.Err(); err != nil {
		return nil, runContextError(spec.Script.File, ctx, "")
	}
	st := r.get()
	reuse := false
	defer func() {
		st.reset()
		if reuse {
			st.restoreTables(spec.Script.reach)
			r.put(st)
		} else {
			st.L.Close()
		}
	}()

	st.run = newRun(ctx, spec)
	if err := st.setRunGlobals(spec); err != nil {
		reuse = true
		return nil, err
	}
	L := st.L
	g := st.globals
	L.G.Global, L.Env = g, g
	L.SetMetatable(glua.LString(""), st.stringMeta.t)
	// A context that can never be done would only slow every instruction.
	if ctx.Done() != nil {
		L.SetContext(ctx)
	}
	L.Push(st.runGuard)
	L.Push(L.NewFunctionFromProto(spec.Script.Proto))
	callErr := L.PCall(1, 1, nil)
	if callErr != nil {
		var apiErr *glua.ApiError
		if !errors.As(callErr, &apiErr) {
			return nil, fmt.Errorf("lua: %s: %w", spec.Script.File, callErr)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The state was interrupted at an arbitrary instruction:
			// don't trust it again.
			return nil, runContextError(spec.Script.File, ctx, apiErr.Object.String())
		}
		// PCall has unwound the stacks; a Go panic, though, may have left
		// the state anywhere.
		reuse = apiErr.Type != glua.ApiErrorPanic
		return nil, &Error{Message: apiErr.Object.String(), Traceback: apiErr.StackTrace}
	}
	reuse = true
	out, err := FromLua(L.Get(-1))
	if err != nil {
		return nil, fmt.Errorf("lua: %s: the script's return value cannot be recorded: %w", spec.Script.File, err)
	}
	return out, nil
}

// runContextError reports a run that its context stopped. msg is the Lua
// error the context raised ("file:line: context deadline exceeded"), or ""
// when the context was done before the script started.
func runContextError(file string, ctx context.Context, msg string) error {
	where := file + ", before the script started"
	if msg != "" {
		where = strings.TrimSuffix(strings.TrimSuffix(msg, ctx.Err().Error()), ": ")
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: stopped at %s; make the script finish sooner or raise the playbook's timeout", ErrTimeout, where)
	}
	return fmt.Errorf("lua: run canceled at %s: %w", where, ctx.Err())
}

func newRun(ctx context.Context, spec *RunSpec) *run {
	log := spec.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := spec.Env
	if env.Log == nil {
		env.Log = log
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	return &run{ctx: ctx, spec: spec, log: log, env: env, now: now}
}

// reset readies the state for the pool: it drops every reference to the
// finished run so that its values can be collected, and leaves an empty
// environment behind.
func (st *state) reset() {
	L := st.L
	L.RemoveContext()
	L.SetTop(0)
	L.G.Global, L.Env = st.idle, st.idle
	L.SetMetatable(glua.LString(""), glua.LNil)
	st.run = nil
}
