package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// pool holds the instances of one plugin version. Slots bound how many
// instances exist at once; idle holds the ones ready for a call.
type pool struct {
	runtime   wazero.Runtime
	compiled  wazero.CompiledModule
	functions []string
	timeout   time.Duration
	slots     chan struct{}
	idle      chan *instance
	// created counts instances ever made, so tests can see that a broken
	// instance was replaced.
	created atomic.Int64
}

func newPool(r wazero.Runtime, cm wazero.CompiledModule, lim Limits) *pool {
	size := lim.Instances
	return &pool{
		runtime:  r,
		compiled: cm,
		timeout:  lim.Timeout,
		slots:    make(chan struct{}, size),
		idle:     make(chan *instance, size),
	}
}

// get returns an idle instance, or a new one while the pool is below its
// size, or waits for one to come back until ctx ends.
func (p *pool) get(ctx context.Context) (*instance, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("wait for a free instance: %w", err)
	}
	// A free slot is the common case, and a non-blocking send costs less
	// than a select on two channels.
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for a free instance: %w", ctx.Err())
		}
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	inst, err := p.instantiate(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return inst, nil
}

// put returns a healthy instance to the pool.
func (p *pool) put(inst *instance) {
	p.idle <- inst
	<-p.slots
}

// discard closes an instance that can't be trusted any more (it trapped,
// timed out or broke the ABI) and frees its slot for a fresh one.
func (p *pool) discard(inst *instance) {
	inst.close()
	<-p.slots
}

// close closes the idle instances. It runs once no call holds the plugin
// version, so every instance is idle.
func (p *pool) close() {
	for {
		select {
		case inst := <-p.idle:
			inst.close()
		default:
			return
		}
	}
}

// instance is one instantiation of a plugin with its function handles,
// looked up once. Only one call uses an instance at a time.
type instance struct {
	mod         api.Module
	mem         api.Memory
	alloc, free api.Function
	funcs       map[string]api.Function
	stack       []uint64
	// in and inCap describe the input buffer, allocated with goshawk_alloc
	// and reused across calls so a call costs one guest allocation less.
	in, inCap uint32
	// output holds the start of what the guest wrote to stdout and stderr
	// during the current call, so a crash can say why (a Go panic message).
	output headBuffer

	// scope is what host functions need to know about the running call,
	// its deadline among them; wasmCtx, made once, carries it to them, so
	// a call allocates no context of its own.
	scope   callScope
	wasmCtx context.Context
}

// instantiate makes a new instance: wazero instantiates the module and runs
// its start function, and then its _initialize export runs, both within one
// time limit, as long as a call's.
func (p *pool) instantiate(ctx context.Context) (*instance, error) {
	inst := &instance{stack: make([]uint64, 2)}
	inst.wasmCtx = context.WithValue(context.Background(), callScopeKey{}, &inst.scope)
	cfg := wazero.NewModuleConfig().
		// Anonymous, so that many instances of one module can coexist.
		WithName("").
		// _initialize is called below; wazero would call _start.
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithStdout(&inst.output).
		WithStderr(&inst.output)
	inst.begin(ctx, nil, "", p.timeout)
	defer inst.end()
	mod, err := p.runtime.InstantiateModule(inst.wasmCtx, p.compiled, cfg)
	if err != nil {
		return nil, &lineError{msg: "instantiate: " + p.initFailure("the start function", ctx, err, inst), cause: err}
	}
	inst.mod = mod
	if init := mod.ExportedFunction(exportInitialize); init != nil {
		if err := init.CallWithStack(inst.wasmCtx, nil); err != nil {
			inst.close()
			return nil, &lineError{msg: "instantiate: " + exportInitialize + ": " + p.initFailure("the plugin's initialisation", ctx, err, inst), cause: err}
		}
	}
	inst.mem = mod.ExportedMemory(exportMemory)
	inst.alloc = mod.ExportedFunction(exportAlloc)
	inst.free = mod.ExportedFunction(exportFree)
	if err := inst.bind(p.functions); err != nil {
		inst.close()
		return nil, err
	}
	p.created.Add(1)
	return inst, nil
}

// initFailure explains why what (the start function or _initialize)
// failed.
func (p *pool) initFailure(what string, ctx context.Context, err error, inst *instance) string {
	switch {
	case ctx.Err() != nil:
		return "the caller gave up: " + ctx.Err().Error()
	case errors.Is(err, errDeadline):
		return fmt.Sprintf("did not finish within %s; make %s faster or raise the plugin's timeout", p.timeout, what)
	}
	return describeFailure(err, inst.output.String())
}

// bind looks up the handles of the plugin's functions.
func (inst *instance) bind(names []string) error {
	inst.funcs = make(map[string]api.Function, len(names))
	for _, name := range names {
		fn := inst.mod.ExportedFunction(name)
		if fn == nil {
			return fmt.Errorf("instance lacks export %q", name)
		}
		inst.funcs[name] = fn
	}
	return nil
}

// begin sets the scope of the instance's next wasm calls: they end when
// timeout passes or ctx ends, and log to log. The caller must call end once
// those calls are over.
func (inst *instance) begin(ctx context.Context, log *slog.Logger, plugin string, timeout time.Duration) {
	now := time.Now()
	inst.scope = callScope{ctx: ctx, log: log, plugin: plugin, deadline: now.Add(timeout), yielded: now}
}

// end clears the scope, so the instance holds nothing of the call.
func (inst *instance) end() { inst.scope = callScope{} }

func (inst *instance) close() {
	// The module may already be closed by an exit; closing again is
	// harmless.
	_ = inst.mod.Close(context.Background())
}

// errABI marks a result that breaks the ABI, as opposed to a wasm failure.
type errABI struct{ msg string }

func (e *errABI) Error() string { return e.msg }

var nullJSON = []byte("null")

// call runs one plugin function on input. It returns the plugin's "ok"
// value, a plugin error message, or an error that leaves the instance
// unusable (a wasm failure or an ABI violation).
func (inst *instance) call(ctx context.Context, fn api.Function, input []byte) ([]byte, *string, error) {
	if len(input) == 0 {
		input = nullJSON
	}
	if len(input) > math.MaxInt32 {
		return nil, nil, &errABI{"input is larger than 2 GiB"}
	}
	inst.output.Reset()
	if uint32(len(input)) > inst.inCap {
		if err := inst.growInput(ctx, uint32(len(input))); err != nil {
			return nil, nil, err
		}
	}
	if !inst.mem.Write(inst.in, input) {
		return nil, nil, &errABI{fmt.Sprintf("goshawk_alloc returned %#x, which is outside the module's memory", inst.in)}
	}
	inst.stack[0], inst.stack[1] = uint64(inst.in), uint64(len(input))
	if err := fn.CallWithStack(ctx, inst.stack); err != nil {
		return nil, nil, err
	}
	ok, pluginErr, err := inst.takeResult(ctx, inst.stack[0])
	return ok, pluginErr, err
}

// manifest calls goshawk_manifest and returns a copy of the JSON.
func (inst *instance) manifest(ctx context.Context) ([]byte, error) {
	fn := inst.mod.ExportedFunction(exportManifest)
	if err := fn.CallWithStack(ctx, inst.stack); err != nil {
		return nil, err
	}
	ptr, size := unpack(inst.stack[0])
	view, ok := inst.mem.Read(ptr, size)
	if !ok {
		return nil, &errABI{fmt.Sprintf("goshawk_manifest returned buffer %#x+%d, which is outside the module's memory", ptr, size)}
	}
	raw := append([]byte(nil), view...)
	return raw, inst.freeBuffer(ctx, ptr, size)
}

// takeResult decodes the envelope at packed and frees it. Decoding copies,
// so nothing points into guest memory once the buffer is freed.
func (inst *instance) takeResult(ctx context.Context, packed uint64) ([]byte, *string, error) {
	ptr, size := unpack(packed)
	view, ok := inst.mem.Read(ptr, size)
	if !ok {
		return nil, nil, &errABI{fmt.Sprintf("result buffer %#x+%d is outside the module's memory", ptr, size)}
	}
	val, pluginErr, err := decodeEnvelope(view)
	if err != nil {
		return nil, nil, &errABI{err.Error()}
	}
	if err := inst.freeBuffer(ctx, ptr, size); err != nil {
		return nil, nil, err
	}
	return val, pluginErr, nil
}

func (inst *instance) freeBuffer(ctx context.Context, ptr, size uint32) error {
	inst.stack[0], inst.stack[1] = uint64(ptr), uint64(size)
	return inst.free.CallWithStack(ctx, inst.stack)
}

// growInput replaces the input buffer with one of at least n bytes.
func (inst *instance) growInput(ctx context.Context, n uint32) error {
	if inst.inCap > 0 {
		if err := inst.freeBuffer(ctx, inst.in, inst.inCap); err != nil {
			return err
		}
		inst.in, inst.inCap = 0, 0
	}
	// Round up so that inputs of similar sizes share one buffer.
	size := (uint64(n) + 1023) &^ 1023
	inst.stack[0] = size
	if err := inst.alloc.CallWithStack(ctx, inst.stack); err != nil {
		return err
	}
	ptr := uint32(inst.stack[0])
	if ptr == 0 {
		return &errABI{fmt.Sprintf("goshawk_alloc(%d) returned 0", size)}
	}
	inst.in, inst.inCap = ptr, uint32(size)
	return nil
}

func unpack(packed uint64) (ptr, size uint32) {
	return uint32(packed >> 32), uint32(packed)
}

// headBuffer keeps the first bytes written to it and drops the rest; a
// crash's reason is at the start of the guest's output.
type headBuffer struct {
	buf []byte
}

const headBufferSize = 2 << 10

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := headBufferSize - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) Reset()         { b.buf = b.buf[:0] }
func (b *headBuffer) String() string { return string(b.buf) }

// describeFailure turns a wasm failure and the guest's output into one
// readable line.
func describeFailure(err error, output string) string {
	reason := firstLine(err.Error())
	if line := crashLine(output); line != "" {
		reason += ": " + line
	}
	return reason
}

// crashLine picks the line of a guest's output that explains a crash: a Go
// runtime "panic:" or "fatal error:" line, else the first line.
func crashLine(output string) string {
	for line := range strings.Lines(output) {
		if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") {
			return firstLine(line)
		}
	}
	return firstLine(output)
}
