// Package playtest runs playbook tests offline. A test file sits beside its
// playbook (hunt.yaml, hunt_test.yaml) and holds cases: the inputs, or the
// container of an on_poll playbook, the recorded result of each action
// call, and what the run must produce. A case runs the real playbook on the
// real Lua runtime and the real plugins, but its assets are never opened:
// every action call is answered from the recording, matched by asset,
// action and parameters, so a case needs no network and no secrets and
// runs in milliseconds.
//
// Recordings come from real runs: SaveRun turns a stored run record (the
// parameters and result of every step) into a case whose expectation is
// that run's outcome.
package playtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/goshawk/goshawk/bindings/lua"
	"github.com/goshawk/goshawk/engine/logx"
	"github.com/goshawk/goshawk/engine/playbook"
	"github.com/goshawk/goshawk/engine/runner"
	"github.com/goshawk/goshawk/engine/store"
	"github.com/goshawk/goshawk/providers"
	"github.com/goshawk/goshawk/providers/cef"
)

// TriggerTest is the trigger a test run is recorded with.
const TriggerTest = "test"

// File is one test file: the cases of one playbook.
type File struct {
	Path string
	// Playbook is the name of the playbook under test.
	Playbook     string
	PlaybookLine int
	Cases        []Case
}

// Case is one test case.
type Case struct {
	Name string
	Line int
	// Inputs are the run's inputs (manual, webhook and timed playbooks).
	Inputs map[string]any
	// Container is the container of an on_poll run; it is stored before
	// the run, so containers.get finds it.
	Container *cef.Container
	// Now fixes the run's clock (time.now); zero means the real clock.
	Now time.Time
	// KV is the playbook's key-value data before the run.
	KV map[string]string
	// Containers are stored before the run (besides Container).
	Containers []cef.Container
	// Calls is the recording: the result each action call gets.
	Calls  []Call
	Expect Expect
}

// Call is one recorded action call.
type Call struct {
	Asset  string
	Action string
	Params map[string]any
	Result providers.Result
	// Line and Col locate the call's asset.action in the test file.
	Line, Col int
}

// Expect is what a case's run must produce. Only what is set is checked.
type Expect struct {
	Status     string
	StatusLine int
	// Result, when HasResult, must equal the run's result.
	Result     any
	HasResult  bool
	ResultLine int
	// Paths are expected values at dotted paths of the result
	// (verdict, hits.1.id).
	Paths []PathExpect
	// Steps are the expected action calls, in order, as asset.action.
	Steps     []string
	HasSteps  bool
	StepsLine int
	// Error must be a substring of the run's error.
	Error     string
	ErrorLine int
}

// PathExpect is one expected value at a path of the result.
type PathExpect struct {
	Path  string
	Value any
	Line  int
}

// Failure is one unmet expectation, located in the test file.
type Failure struct {
	File    string
	Line    int
	Message string
}

func (f Failure) String() string { return fmt.Sprintf("%s:%d: %s", f.File, f.Line, f.Message) }

// Result is the outcome of one case.
type Result struct {
	File     string
	Case     string
	Line     int
	Passed   bool
	Failures []Failure
	Duration time.Duration
	// Run is the run record the case produced; nil when the case could
	// not start its run.
	Run *store.Run
}

// Suite runs test files against loaded playbooks. Assets maps each
// configured asset to its provider: their specs check the recorded calls,
// but no asset is ever opened.
type Suite struct {
	Assets    map[string]*providers.Provider
	Playbooks map[string]*playbook.Playbook
	// Plugins serves plugins.<name>.<fn> for real; nil when none are
	// loaded.
	Plugins lua.PluginHost
	Redact  *logx.Redactor
	Log     *slog.Logger

	once    sync.Once
	runtime *lua.Runtime
}

// Run runs the cases of f whose "file/case" name matches filter (all when
// filter is nil), in file order.
func (s *Suite) Run(ctx context.Context, f *File, filter *regexp.Regexp) []Result {
	s.once.Do(func() { s.runtime = lua.NewRuntime(lua.Options{}) })
	var out []Result
	for i := range f.Cases {
		c := &f.Cases[i]
		if filter != nil && !filter.MatchString(f.Playbook+"/"+c.Name) {
			continue
		}
		start := time.Now()
		res := s.runCase(ctx, f, c)
		res.Duration = time.Since(start)
		res.Passed = len(res.Failures) == 0
		out = append(out, res)
	}
	return out
}

// Close releases the suite's Lua runtime.
func (s *Suite) Close() {
	if s.runtime != nil {
		s.runtime.Close()
	}
}

func (s *Suite) runCase(ctx context.Context, f *File, c *Case) Result {
	res := Result{File: f.Path, Case: c.Name, Line: c.Line}
	fail := func(line int, format string, args ...any) {
		res.Failures = append(res.Failures, Failure{File: f.Path, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	pb, ok := s.Playbooks[f.Playbook]
	if !ok {
		fail(f.PlaybookLine, "%s", unknownPlaybook(f.Playbook, s.Playbooks))
		return res
	}
	st, err := store.OpenMemory(ctx)
	if err != nil {
		fail(c.Line, "opening the case's store: %v", err)
		return res
	}
	defer st.Close()
	container, err := seed(ctx, st, pb, c)
	if err != nil {
		fail(c.Line, "%v", err)
		return res
	}
	rp := &replay{file: f.Path, calls: c.Calls, used: make([]bool, len(c.Calls))}
	assets := make(map[string]*providers.Asset, len(pb.Assets))
	for _, name := range pb.Assets {
		p, ok := s.Assets[name]
		if !ok {
			fail(c.Line, "playbook %s uses asset %s, which the config does not declare; add it under assets: in goshawk.yaml", pb.Name, name)
			return res
		}
		assets[name] = &providers.Asset{Name: name, Provider: p, Replay: rp.answer}
	}
	now := time.Now
	if !c.Now.IsZero() {
		fixed := c.Now
		now = func() time.Time { return fixed }
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rn := runner.New(runner.Options{
		Store: st, Runtime: s.runtime, Plugins: s.Plugins,
		Log: log, Redact: s.Redact, Now: now,
	})
	rn.SetAssets(assets)
	rec, err := rn.Run(ctx, runner.Request{Playbook: pb, Inputs: c.Inputs, Trigger: TriggerTest, Container: container})
	if err != nil {
		fail(c.Line, "the run did not start: %v", err)
		return res
	}
	res.Run = rec
	for _, m := range rp.missed() {
		fail(c.Line, "%s", m)
	}
	res.Failures = append(res.Failures, check(f.Path, c, rec)...)
	return res
}

// seed stores the case's key-value data and containers, and returns the
// stored container of an on_poll case.
func seed(ctx context.Context, st *store.SQLite, pb *playbook.Playbook, c *Case) (*cef.Container, error) {
	for _, k := range slices.Sorted(maps.Keys(c.KV)) {
		if err := st.KVSet(ctx, pb.Name, k, c.KV[k]); err != nil {
			return nil, fmt.Errorf("kv.%s: %w", k, err)
		}
	}
	ingest := func(batch []cef.Container) error {
		byAsset := map[string][]int{}
		for i := range batch {
			a := batch[i].Asset
			if a == "" {
				a = pb.Trigger.OnPoll
			}
			if a == "" {
				a = "test"
			}
			batch[i].Asset = a
			byAsset[a] = append(byAsset[a], i)
		}
		for _, a := range slices.Sorted(maps.Keys(byAsset)) {
			part := make([]cef.Container, 0, len(byAsset[a]))
			for _, i := range byAsset[a] {
				part = append(part, batch[i])
			}
			if _, _, err := st.Ingest(ctx, a, part, nil); err != nil {
				return err
			}
			for j, i := range byAsset[a] {
				batch[i].ID = part[j].ID
			}
		}
		return nil
	}
	if len(c.Containers) > 0 {
		batch := append([]cef.Container(nil), c.Containers...)
		if err := ingest(batch); err != nil {
			return nil, fmt.Errorf("containers: %w", err)
		}
	}
	if pb.Trigger.OnPoll == "" {
		if c.Container != nil {
			return nil, fmt.Errorf("case %q gives a container, but playbook %s has no on_poll trigger; give inputs: instead", c.Name, pb.Name)
		}
		return nil, nil
	}
	if c.Container == nil {
		return nil, fmt.Errorf("playbook %s runs on_poll: give the case a container: (the one the run sees as container)", pb.Name)
	}
	batch := []cef.Container{*c.Container}
	if err := ingest(batch); err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	stored, err := st.Container(ctx, batch[0].ID)
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	return &stored, nil
}

func unknownPlaybook(name string, books map[string]*playbook.Playbook) string {
	names := slices.Sorted(maps.Keys(books))
	if len(names) == 0 {
		return fmt.Sprintf("no playbook %q: no playbooks are loaded", name)
	}
	return fmt.Sprintf("no playbook %q; loaded playbooks: %s", name, strings.Join(names, ", "))
}

// replay answers a case's action calls from its recording.
type replay struct {
	file string
	mu   sync.Mutex
	// calls are matched in order: the first unused recording with the
	// same asset, action and parameters answers a call. When every such
	// recording is used, the last one answers again (a read repeated in
	// a loop).
	calls  []Call
	used   []bool
	misses []string
}

// ErrNoRecording is wrapped by the error of a call the recording lacks.
var ErrNoRecording = errors.New("no recording")

func (r *replay) answer(ctx context.Context, a *providers.Asset, spec *providers.Spec, params providers.Values) (*providers.Result, error) {
	want := canonical(params)
	r.mu.Lock()
	defer r.mu.Unlock()
	last := -1
	for i, c := range r.calls {
		if c.Asset != a.Name || c.Action != spec.Name {
			continue
		}
		vals, err := spec.Bind(c.Params)
		if err != nil || canonical(vals) != want {
			continue
		}
		last = i
		if !r.used[i] {
			r.used[i] = true
			return resultCopy(c.Result), nil
		}
	}
	if last >= 0 {
		return resultCopy(r.calls[last].Result), nil
	}
	detail := fmt.Sprintf("%s.%s%s is not in %s; run the playbook against the asset (or goshawk emulate), then save the run as a test with goshawk runs save ID --to %s",
		a.Name, spec.Name, luaArgs(params), r.file, r.file)
	r.misses = append(r.misses, detail)
	return nil, fmt.Errorf("%w: %s", ErrNoRecording, detail)
}

func (r *replay) missed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.misses {
		out = append(out, "no recording: "+m)
	}
	return out
}

// resultCopy returns a deep copy of a recorded result, so a script that
// changes one answer cannot change the next.
func resultCopy(r providers.Result) *providers.Result {
	b, err := json.Marshal(r)
	if err != nil {
		cp := r
		return &cp
	}
	var out providers.Result
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	_ = d.Decode(&out)
	if out.Data == nil {
		out.Data = []any{}
	}
	if out.Summary == nil {
		out.Summary = map[string]any{}
	}
	return &out
}

// canonical is the comparable form of bound parameters: JSON with sorted
// keys and numbers in one notation.
func canonical(v providers.Values) string {
	b, err := json.Marshal(normalize(map[string]any(v)))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// luaArgs renders parameters the way a script writes them:
// {ip = "1.2.3.4", tag = true}.
func luaArgs(v providers.Values) string {
	if len(v) == 0 {
		return "{}"
	}
	parts := make([]string, 0, len(v))
	for _, k := range slices.Sorted(maps.Keys(v)) {
		b, err := json.Marshal(normalize(v[k]))
		if err != nil {
			b = []byte(fmt.Sprint(v[k]))
		}
		parts = append(parts, k+" = "+string(b))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
