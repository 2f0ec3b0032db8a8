// Package playbook is the playbook model of the engine: it decodes a
// playbook's YAML strictly, loads its Lua script, and lints both against the
// configured assets and loaded plugins. Every problem is a Diagnostic located
// at file:line:col, so `goshawk validate`, hot reload and editors all report
// the same thing.
//
// A playbook's inputs are declared with the providers package's Param, and
// run inputs are checked by the very code that checks action parameters.
package playbook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/providers"
)

// The defaults of a playbook's limits.
const (
	DefaultTimeout     = 60 * time.Second
	DefaultConcurrency = 4
	// DefaultQueue is how many runs of one playbook may wait for a free
	// concurrency slot before new ones are refused. It is a goshawk
	// addition to the SOAR model: without a bound, a webhook storm or a
	// large poll would queue runs without limit.
	DefaultQueue = 100
)

// Playbook is a validated playbook, ready to run. It is immutable once
// loaded: a hot reload builds a new Playbook and swaps it in, and runs in
// flight keep the one they started with.
type Playbook struct {
	Name        string
	Description string
	// File is the path of the YAML file, as given to Load.
	File    string
	Trigger Trigger
	// Inputs are in the order they are written in the file.
	Inputs  []Input
	Assets  []string
	Plugins []string
	// ScriptPath is the path of the Lua script file, or "" when the script
	// is inline (lua:).
	ScriptPath string
	// Source is the Lua source, parsed and linted; compile it once per
	// version.
	Source []byte
	// SourceName is the file name to compile Source under, so Lua errors
	// name the file the user edits: ScriptPath, or File for inline Lua.
	SourceName string
	// SourceLine is the line of File on which inline Lua starts (1 for a
	// script file). Add SourceLine-1 to a Lua line to get the file's line.
	SourceLine  int
	Timeout     time.Duration
	Concurrency int
	Queue       int
	// RetryInterrupted re-runs, once and on another node of a cluster, a
	// run whose node died before it finished.
	RetryInterrupted bool
	// Version is a short content hash of the YAML and the script; every run
	// record names it.
	Version string

	params            []providers.Param
	nameLine, nameCol int // where the name is set, for duplicate-name reports
}

// Trigger says when a playbook runs besides on demand. The zero Trigger
// means manual only.
type Trigger struct {
	// Schedule is a 5-field cron expression, "" for none.
	Schedule string
	// Cron is Schedule parsed in Timezone; nil when Schedule is "".
	Cron sched.Schedule
	// Every is a fixed interval, 0 for none.
	Every time.Duration
	// OnPoll names the asset whose new containers each start a run.
	OnPoll string
	// Webhook allows POST /api/playbooks/<name>/run.
	Webhook bool
	// Timezone is the IANA zone Schedule is evaluated in; "" means UTC.
	Timezone string
}

// Schedules returns the timed triggers as scheduler schedules: the cron
// schedule and the fixed interval, each when set.
func (t Trigger) Schedules() []sched.Schedule {
	var out []sched.Schedule
	if t.Cron != nil {
		out = append(out, t.Cron)
	}
	if t.Every > 0 {
		// Every was validated when the playbook was loaded.
		if s, err := sched.Every(t.Every); err == nil {
			out = append(out, s)
		}
	}
	return out
}

// Input declares one playbook input.
type Input struct {
	Name     string
	Type     providers.Type
	Contains []string
	Required bool
	Default  any // already of the Go type of Type
	Doc      string
}

// Params returns the inputs as provider parameters, in declared order.
func (p *Playbook) Params() []providers.Param {
	return append([]providers.Param(nil), p.params...)
}

func inputParams(inputs []Input) []providers.Param {
	params := make([]providers.Param, len(inputs))
	for i, in := range inputs {
		params[i] = providers.Param{
			Name:     in.Name,
			Type:     in.Type,
			Required: in.Required,
			Default:  in.Default,
			Doc:      in.Doc,
			Contains: in.Contains,
		}
	}
	return params
}

// CheckInputs validates raw run inputs against the declared inputs and
// returns them typed, with defaults applied. It uses the same rules as
// action parameters. The error wraps a *providers.ParamError naming the
// input; a raw value that is well-formed but invalid (an ip input "nope")
// has ParamError.Usage false.
func (p *Playbook) CheckInputs(raw map[string]any) (map[string]any, error) {
	vals, err := providers.Bind(p.params, raw)
	if err != nil {
		var pe *providers.ParamError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("playbook %s: invalid input: %w", p.Name, p.explain(pe, raw))
		}
		return nil, fmt.Errorf("playbook %s: inputs: %w", p.Name, err)
	}
	return map[string]any(vals), nil
}

// explain adds what was expected to a failed contains check, whose message
// alone ("Parameter 'ip' failed validation") follows SOAR but doesn't tell a
// user what to fix.
func (p *Playbook) explain(pe *providers.ParamError, raw map[string]any) error {
	if pe.Usage {
		return pe
	}
	for _, in := range p.Inputs {
		if in.Name == pe.Param && len(in.Contains) > 0 {
			if s, ok := raw[in.Name].(string); ok && !providers.MatchesAny(in.Contains, s) {
				return &explained{pe, fmt.Sprintf("%q is not a valid %s", s, strings.Join(in.Contains, " or "))}
			}
		}
	}
	return pe
}

type explained struct {
	*providers.ParamError
	detail string
}

func (e *explained) Error() string { return e.ParamError.Error() + ": " + e.detail }
func (e *explained) Unwrap() error { return e.ParamError }
