// Package wasm is goshawk's plugin host. It loads WASI reactor modules that
// follow the plugin ABI (docs/plugins.md) with wazero, checks the ABI before
// anything is swapped in, and runs calls from playbooks on a pool of
// sandboxed instances per plugin: bounded memory, a deadline per call, no
// filesystem and no network.
//
// The Lua runtime calls plugins through Host.Call; the engine's watcher
// reloads them with Host.Load and Host.Remove; `goshawk validate` checks a
// file with Validate. The Go plugin kit is in the pdk subpackage.
package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Limits bound what one plugin may use. A zero field takes the default.
type Limits struct {
	// MemoryPages caps each instance's linear memory, in 64 KiB pages.
	// The default is 256 pages, 16 MiB.
	MemoryPages uint32
	// Timeout is the deadline of one call. The default is one second.
	Timeout time.Duration
	// Instances is the size of the plugin's pool, and so how many calls
	// run at once; more calls wait. The default is GOMAXPROCS.
	Instances int
	// LogLines and LogBytes cap what one call may log with goshawk.log;
	// the rest is dropped, and one line at the end of the call says how
	// much. The defaults are 1,000 lines and 1 MiB.
	LogLines int
	LogBytes int
}

// Defaults of Limits.
const (
	DefaultMemoryPages = 256
	DefaultTimeout     = time.Second
	DefaultLogLines    = 1000
	DefaultLogBytes    = 1 << 20
	// maxMemoryPages is the most a 32-bit WebAssembly memory can hold.
	maxMemoryPages = 65536
)

// or returns l with its zero fields taken from d.
func (l Limits) or(d Limits) Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = d.MemoryPages
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	if l.Instances == 0 {
		l.Instances = d.Instances
	}
	if l.LogLines == 0 {
		l.LogLines = d.LogLines
	}
	if l.LogBytes == 0 {
		l.LogBytes = d.LogBytes
	}
	return l
}

func (l Limits) check() error {
	switch {
	case l.MemoryPages > maxMemoryPages:
		return fmt.Errorf("memory of %d pages is more than the %d a module can address; lower it", l.MemoryPages, maxMemoryPages)
	case l.Timeout < 0:
		return fmt.Errorf("timeout %s is negative; use a positive duration such as 1s", l.Timeout)
	case l.Instances < 0:
		return fmt.Errorf("instances %d is negative; use a positive number", l.Instances)
	case l.LogLines < 0:
		return fmt.Errorf("log lines %d is negative; use a positive number", l.LogLines)
	case l.LogBytes < 0:
		return fmt.Errorf("log bytes %d is negative; use a positive number", l.LogBytes)
	}
	return nil
}

func builtinLimits() Limits {
	return Limits{MemoryPages: DefaultMemoryPages, Timeout: DefaultTimeout, Instances: runtime.GOMAXPROCS(0),
		LogLines: DefaultLogLines, LogBytes: DefaultLogBytes}
}

// Options configure a Host.
type Options struct {
	// CacheDir holds wazero's compilation cache, so a plugin compiles
	// once across restarts. Empty means an in-memory cache only.
	CacheDir string
	// Default limits apply to every plugin; zero fields take the built-in
	// defaults.
	Default Limits
	// PerPlugin overrides Default, field by field, for the named plugins.
	PerPlugin map[string]Limits
	// Log receives the host's own messages (loads, reloads) and plugin log
	// lines of calls made without a logger. Nil discards them.
	Log *slog.Logger
}

// Host loads plugins and runs calls on them. It is safe for concurrent use.
type Host struct {
	opts  Options
	log   *slog.Logger
	cache wazero.CompilationCache

	// loading holds one mutex per plugin name, so two reloads of one
	// plugin don't compile twice or swap out of order, while different
	// plugins compile in parallel. Calls never wait for them.
	loading sync.Map // plugin name -> *sync.Mutex

	mu      sync.RWMutex
	plugins map[string]*plugin
	closed  bool
	// retired holds versions swapped out or removed whose last call may
	// still be running; Close waits for them.
	retired []*plugin

	// status is what Status reports, by plugin name; it has its own lock
	// so that reading it never waits for calls or loads.
	statusMu sync.Mutex
	status   map[string]*PluginStatus
}

// PluginStatus is the load state of one plugin file, as Status reports it.
type PluginStatus struct {
	// Name is the plugin's name: its file name without .wasm.
	Name string `json:"name"`
	// Path is the file last loaded or tried.
	Path string `json:"path"`
	// Running says whether a version of the plugin serves calls; the
	// fields up to Functions describe it.
	Running   bool      `json:"running"`
	Version   string    `json:"version,omitempty"`
	SHA256    string    `json:"sha256,omitempty"`
	LoadedAt  time.Time `json:"loaded_at,omitzero"`
	Functions []string  `json:"functions,omitempty"`
	// Error is why the last load of the file failed, empty when it
	// succeeded; a running version stays in service after a failed reload.
	Error   string    `json:"error,omitempty"`
	ErrorAt time.Time `json:"error_at,omitzero"`
}

// Status returns the state of every plugin file the host has loaded or
// tried to load, and not removed since, in name order.
func (h *Host) Status() []PluginStatus {
	h.statusMu.Lock()
	defer h.statusMu.Unlock()
	out := make([]PluginStatus, 0, len(h.status))
	for _, st := range h.status {
		c := *st
		c.Functions = slices.Clone(st.Functions)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b PluginStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// recordLoad updates the status of the plugin name after a load of path:
// p is the version now running (nil: unchanged), err why the load failed.
func (h *Host) recordLoad(name, path string, p *plugin, err error) {
	h.statusMu.Lock()
	defer h.statusMu.Unlock()
	st := h.status[name]
	if st == nil {
		st = &PluginStatus{Name: name}
		h.status[name] = st
	}
	st.Path = path
	if err != nil {
		st.Error, st.ErrorAt = err.Error(), time.Now()
		return
	}
	st.Error, st.ErrorAt = "", time.Time{}
	if p != nil {
		st.Running = true
		st.Version = p.manifest.Version
		st.SHA256 = hex.EncodeToString(p.sum[:])
		st.LoadedAt = time.Now()
		st.Functions = slices.Clone(p.pool.functions)
	}
}

// NewHost returns a Host with its compilation cache ready.
func NewHost(ctx context.Context, o Options) (*Host, error) {
	o.Default = o.Default.or(builtinLimits())
	if err := o.Default.check(); err != nil {
		return nil, fmt.Errorf("wasm: default limits: %w", err)
	}
	for name, l := range o.PerPlugin {
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("wasm: limits of plugin %s: %w", name, err)
		}
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache := wazero.NewCompilationCache()
	if o.CacheDir != "" {
		var err error
		if cache, err = wazero.NewCompilationCacheWithDir(o.CacheDir); err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w; check that the folder is writable", o.CacheDir, err)
		}
	}
	return &Host{opts: o, log: log, cache: cache, plugins: map[string]*plugin{}, status: map[string]*PluginStatus{}}, nil
}

func (h *Host) limits(name string) Limits {
	return h.opts.PerPlugin[name].or(h.opts.Default)
}

// LoadDir loads every *.wasm file in dir, compiling up to GOMAXPROCS of
// them at once. A plugin that fails to load is reported and skipped; the
// others still load. Errors come in file name order. A missing folder is one
// error that wraps fs.ErrNotExist.
func (h *Host) LoadDir(ctx context.Context, dir string) []error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []error{fmt.Errorf("wasm: read plugin folder: %w", err)}
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && filepath.Ext(e.Name()) == ".wasm" {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	results := make([]error, len(paths))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, path := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = h.Load(ctx, path)
		})
	}
	wg.Wait()
	var errs []error
	for _, err := range results {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Load compiles the plugin at path, checks its ABI and manifest, and swaps
// it in under its file name. If a version is already loaded, it keeps
// serving until the new one passes every check; calls already running on it
// finish there. A file whose content hasn't changed is not reloaded.
// Status reports the outcome.
//
// Load returns within about twice the plugin's timeout once the module is
// compiled, whatever the module does when it starts, and sooner when ctx
// ends.
func (h *Host) Load(ctx context.Context, path string) (err error) {
	var p *plugin
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	defer func() {
		if !errors.Is(err, ErrClosed) {
			h.recordLoad(name, path, p, err)
		}
	}()
	if _, err = pluginName(path); err != nil {
		return err
	}
	wasmBytes, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: read: %w", path, err)
	}
	sum := sha256.Sum256(wasmBytes)

	mu, _ := h.loading.LoadOrStore(name, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	h.mu.RLock()
	current, closed := h.plugins[name], h.closed
	h.mu.RUnlock()
	if closed {
		return fmt.Errorf("%s: %w", path, ErrClosed)
	}
	if current != nil && current.sum == sum {
		return nil
	}

	p, err = build(ctx, path, name, wasmBytes, h.limits(name), h.cache)
	if err != nil {
		return err
	}
	p.sum = sum

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.release()
		p = nil
		return fmt.Errorf("%s: %w", path, ErrClosed)
	}
	old := h.plugins[name]
	h.plugins[name] = p
	h.retire(old)
	h.mu.Unlock()
	if old != nil {
		old.release()
	}
	h.log.Info("plugin loaded", "plugin", name, "version", p.manifest.Version, "path", path, "replaced", old != nil)
	return nil
}

// Remove unloads the named plugin, and forgets its status. Calls already
// running finish first.
func (h *Host) Remove(name string) {
	h.statusMu.Lock()
	delete(h.status, name)
	h.statusMu.Unlock()
	h.mu.Lock()
	p := h.plugins[name]
	delete(h.plugins, name)
	h.retire(p)
	h.mu.Unlock()
	if p != nil {
		p.release()
		h.log.Info("plugin removed", "plugin", name)
	}
}

// retire records a version that is no longer current, and forgets those
// whose last call has finished. h.mu must be held.
func (h *Host) retire(p *plugin) {
	h.retired = slices.DeleteFunc(h.retired, func(r *plugin) bool {
		select {
		case <-r.done:
			return true
		default:
			return false
		}
	})
	if p != nil {
		h.retired = append(h.retired, p)
	}
}

// Functions returns the names of the plugin's functions in manifest order.
func (h *Host) Functions(plugin string) ([]string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	p, ok := h.plugins[plugin]
	if !ok {
		return nil, false
	}
	return slices.Clone(p.pool.functions), true
}

// Manifest returns the plugin's manifest.
func (h *Host) Manifest(plugin string) (Manifest, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	p, ok := h.plugins[plugin]
	if !ok {
		return Manifest{}, false
	}
	return p.manifest.clone(), true
}

// Call runs function of plugin on the JSON input and returns the JSON of
// its "ok" result. A plugin's {"error": ...} result is a *FuncError.
// Other failures wrap ErrNotFound, ErrTimeout, ErrMemory, ErrCrashed or
// ErrBadResult; after a failure other than *FuncError the instance is
// replaced, so the next call runs on a fresh one. Lines the plugin logs go
// to log, or to the host's logger when log is nil.
func (h *Host) Call(ctx context.Context, plugin, function string, input []byte, log *slog.Logger) ([]byte, error) {
	h.mu.RLock()
	p, closed := h.plugins[plugin], h.closed
	if p != nil {
		// Taken under the lock, so a concurrent swap can't close p before
		// this call holds it.
		p.acquire()
	}
	h.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("plugin %s: %s: %w", plugin, function, ErrClosed)
	}
	if p == nil {
		return nil, fmt.Errorf("plugin %s: %w: no plugin of that name is loaded; check the file name in the plugins folder", plugin, ErrNotFound)
	}
	defer p.release()
	if log == nil {
		log = h.log
	}
	return p.call(ctx, function, input, log)
}

// Close unloads every plugin, waits until running calls have finished or
// ctx ends, and then closes the compilation cache.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	all := h.retired
	for _, p := range h.plugins {
		all = append(all, p)
	}
	current := h.plugins
	h.plugins = nil
	h.retired = nil
	h.mu.Unlock()

	for _, p := range current {
		p.release()
	}
	for _, p := range all {
		select {
		case <-p.done:
		case <-ctx.Done():
			return fmt.Errorf("wasm: close: calls still running on plugin %s: %w", p.name, ctx.Err())
		}
	}
	if err := h.cache.Close(ctx); err != nil {
		return fmt.Errorf("wasm: close compilation cache: %w", err)
	}
	return nil
}

// Validate checks that wasmBytes, the content of the file at path, is a
// plugin this host would load: it compiles the module, checks its exports
// and imports, instantiates it and checks its manifest. It uses the default
// limits and no cache, and the path only names the plugin and the errors.
func Validate(ctx context.Context, path string, wasmBytes []byte) error {
	name, err := pluginName(path)
	if err != nil {
		return err
	}
	p, err := build(ctx, path, name, wasmBytes, builtinLimits(), nil)
	if err != nil {
		return err
	}
	p.release()
	return nil
}

// pluginName derives a plugin's name from its file name.
func pluginName(path string) (string, error) {
	base := filepath.Base(path)
	name, ok := strings.CutSuffix(base, ".wasm")
	if !ok {
		return "", fmt.Errorf("%s: a plugin file name must end in .wasm", path)
	}
	if err := checkIdentifier("plugin", name); err != nil {
		return "", fmt.Errorf("%s: %w; rename the file", path, err)
	}
	return name, nil
}

// plugin is one loaded version of a plugin. The host holds one reference
// while the version is current and each running call holds one; the last
// release closes it.
type plugin struct {
	name     string
	sum      [sha256.Size]byte
	manifest Manifest
	limits   Limits
	runtime  wazero.Runtime
	pool     *pool
	refs     atomic.Int64
	done     chan struct{}
}

func (p *plugin) acquire() { p.refs.Add(1) }

func (p *plugin) release() {
	if p.refs.Add(-1) == 0 {
		p.pool.close()
		// Closing the runtime frees the compiled code and the host modules;
		// there is nothing left to report to anyone if it fails.
		_ = p.runtime.Close(context.Background())
		close(p.done)
	}
}

// build compiles and checks one plugin version and instantiates its first
// instance. It returns a version holding one reference, or an error that
// starts with path; on error nothing is left open. It returns within about
// twice the plugin's timeout after compiling: the start function and
// _initialize share one deadline, goshawk_manifest has another.
func build(ctx context.Context, path, name string, wasmBytes []byte, lim Limits, cache wazero.CompilationCache) (_ *plugin, err error) {
	if !bytes.HasPrefix(wasmBytes, []byte("\x00asm")) {
		return nil, fmt.Errorf("%s: not a WebAssembly module (it doesn't start with \\0asm); build plugins as WASI reactors %s", path, docHint)
	}
	compileErr := func(err error) error {
		hint := "; rebuild the plugin for the WASI reactor target " + docHint
		if strings.Contains(err.Error(), "over limit") {
			hint = "; raise the plugin's memory limit"
		}
		return fmt.Errorf("%s: compile: %w%s", path, err, hint)
	}
	// The rewriter decodes the whole module, checking every length before
	// wazero allocates anything for it; its output is compiled only once
	// the original module has passed wazero's validation.
	checked, err := instrument(wasmBytes, fuelSlice)
	if err != nil {
		return nil, compileErr(err)
	}
	if err := validateOriginal(ctx, path, wasmBytes, lim, compileErr); err != nil {
		return nil, err
	}
	// No WithCloseOnContextDone: the fuel checks enforce deadlines, even
	// when guests occupy every CPU (see fuel.go).
	cfg := wazero.NewRuntimeConfig().WithMemoryLimitPages(lim.MemoryPages)
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer func() {
		if err != nil {
			_ = r.Close(context.Background())
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, fmt.Errorf("%s: set up WASI: %w", path, err)
	}
	if err := instantiateHostModule(ctx, r); err != nil {
		return nil, fmt.Errorf("%s: set up host functions: %w", path, err)
	}
	if err := instantiateFuelModule(ctx, r); err != nil {
		return nil, fmt.Errorf("%s: set up host functions: %w", path, err)
	}
	cm, err := r.CompileModule(ctx, checked)
	if err != nil {
		return nil, compileErr(err)
	}

	p := &plugin{name: name, limits: lim, runtime: r, pool: newPool(r, cm, lim), done: make(chan struct{})}
	p.refs.Store(1)
	inst, err := p.pool.instantiate(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.pool.slots <- struct{}{}
	inst.begin(ctx, nil, name, lim.Timeout)
	raw, err := inst.manifest(inst.wasmCtx)
	inst.end()
	if err != nil {
		msg := describeFailure(err, inst.output.String())
		switch {
		case ctx.Err() != nil:
			msg = "the caller gave up: " + ctx.Err().Error()
		case errors.Is(err, errDeadline):
			msg = fmt.Sprintf("did not finish within %s; make it faster or raise the plugin's timeout", lim.Timeout)
		}
		inst.close()
		return nil, &lineError{msg: path + ": goshawk_manifest: " + msg, cause: err}
	}
	p.manifest, err = parseManifest(raw, name, cm)
	if err != nil {
		inst.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, f := range p.manifest.Functions {
		p.pool.functions = append(p.pool.functions, f.Name)
	}
	if err := inst.bind(p.pool.functions); err != nil {
		inst.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.pool.put(inst)
	return p, nil
}

// validateOriginal runs wazero's validation on the module as the plugin's
// author built it, before anything of it is rewritten or run. It compiles
// for wazero's interpreter, which decodes and validates without generating
// machine code, and throws the result away.
// It also checks the module's exports and imports against the ABI.
func validateOriginal(ctx context.Context, path string, wasmBytes []byte, lim Limits, compileErr func(error) error) error {
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithMemoryLimitPages(lim.MemoryPages))
	defer r.Close(context.Background())
	cm, err := r.CompileModule(ctx, wasmBytes)
	if err != nil {
		return compileErr(err)
	}
	if err := checkExports(cm); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := checkImports(cm); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// call runs one function on an instance from the pool.
func (p *plugin) call(ctx context.Context, function string, input []byte, log *slog.Logger) ([]byte, error) {
	if !slices.Contains(p.pool.functions, function) {
		return nil, fmt.Errorf("plugin %s: %w: it has no function %q (it has %s)", p.name, ErrNotFound, function, strings.Join(p.pool.functions, ", "))
	}
	inst, err := p.pool.get(ctx)
	if err != nil {
		return nil, p.failure(function, ctx, nil, err)
	}
	inst.begin(ctx, log, p.name, p.limits.Timeout)
	inst.scope.logLimit = logLimit{lines: p.limits.LogLines, bytes: p.limits.LogBytes}
	out, pluginErr, err := inst.call(inst.wasmCtx, inst.funcs[function], input)
	inst.scope.reportDropped(function)
	inst.end()
	if err != nil {
		err = p.failure(function, ctx, inst, err)
		p.pool.discard(inst)
		return nil, err
	}
	p.pool.put(inst)
	if pluginErr != nil {
		return nil, &FuncError{Plugin: p.name, Function: function, Message: *pluginErr}
	}
	return out, nil
}

// failure explains why a call failed, naming the limit or the crash.
func (p *plugin) failure(function string, parent context.Context, inst *instance, err error) error {
	e := &callError{plugin: p.name, function: function, cause: err}
	var output string
	if inst != nil {
		output = inst.output.String()
	}
	var abi *errABI
	switch {
	case parent.Err() != nil:
		e.kind, e.detail = parent.Err(), "the caller gave up before the call finished"
		e.cause = nil
	case errors.As(err, &abi):
		e.kind, e.detail = ErrBadResult, abi.msg
	case errors.Is(err, errDeadline):
		e.kind = ErrTimeout
		e.detail = fmt.Sprintf("the call did not finish within %s; make the function faster or raise the plugin's timeout", p.limits.Timeout)
	case strings.Contains(output, "out of memory") || inst != nil && memoryFull(inst, p.limits):
		e.kind = ErrMemory
		e.detail = fmt.Sprintf("%s; the instance reached its %d MiB memory limit; use less memory or raise the plugin's memory limit",
			describeFailure(err, output), uint64(p.limits.MemoryPages)*64/1024)
	default:
		e.kind, e.detail = ErrCrashed, describeFailure(err, output)
	}
	return e
}

// memoryFull reports whether the instance's memory is within one page of
// its limit, which makes a failed allocation the likely cause of a crash.
func memoryFull(inst *instance, lim Limits) bool {
	return uint64(inst.mem.Size())+65536 >= uint64(lim.MemoryPages)*65536
}
