package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/goshawk/goshawk/providers/cef"
)

// Kind is the SOAR kind of an action.
type Kind string

// The action kinds.
const (
	Investigate Kind = "investigate"
	Generic     Kind = "generic"
	Ingest      Kind = "ingest"
	Test        Kind = "test"
)

// Spec declares one action of a provider.
type Spec struct {
	Name    string
	Summary string
	// Doc says what the action sends and returns, and when to use it, for
	// `goshawk actions` and the docs.
	Doc string
	// Examples are calls a reader can copy; each binds (providertest
	// checks it).
	Examples []Example
	// Aliases are other names the action answers to, such as the SOAR
	// app's id for it ("hunt_host" for hunt_domain). Display forms with
	// spaces are accepted for every name without being listed here.
	Aliases []string
	// Grouped lists the Swimlane grouped inputs the action accepts:
	// json_body, parameters and path_parameters, each an object (or its
	// JSON text) whose members are the action's own parameters. A
	// json_body that is a list fills the parameter named by ListBody.
	Grouped  []string
	ListBody string
	Kind     Kind
	ReadOnly bool
	Params   []Param
	// Run performs the action. It sees only validated, typed parameters
	// and reports every outcome, including transport errors, as a Result.
	Run func(ctx context.Context, call *Call) *Result
}

// ActionNames returns every name s answers to in the form a script or a
// playbook writes it: its name, the same with spaces for underscores
// ("hunt ip"), and each alias in both forms, without repeats.
func ActionNames(s *Spec) []string {
	var out []string
	for _, n := range append([]string{s.Name}, s.Aliases...) {
		for _, v := range []string{n, strings.ReplaceAll(n, "_", " ")} {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// Example is one documented call of an action.
type Example struct {
	Summary string
	Params  map[string]any
}

// Call is what an action's Run receives.
type Call struct {
	Asset  string
	Conn   Conn // what Provider.Open returned for the asset
	Params Values
	Env    Env
}

// Conn is the open connection of one asset, closed when the asset is.
type Conn interface {
	Close() error
}

// RunWith adapts an action written against the provider's own connection
// type C to Spec.Run, so that actions receive their connection typed. The
// one type check is here: an asset opened by another provider gets a
// failed result naming both types, never a panic.
func RunWith[C Conn](run func(ctx context.Context, c C, call *Call) *Result) func(context.Context, *Call) *Result {
	return func(ctx context.Context, call *Call) *Result {
		c, ok := call.Conn.(C)
		if !ok {
			var want C
			return Failedf("asset %s: its connection is %T, not the %T this action needs; configure the asset with this action's provider", call.Asset, call.Conn, want)
		}
		return run(ctx, c, call)
	}
}

// NoConn is the connection of a provider that keeps no state between
// calls; closing it does nothing.
type NoConn struct{}

// Close does nothing.
func (NoConn) Close() error { return nil }

// Env carries what the caller lends an action.
type Env struct {
	Log *slog.Logger
	// Ingest is where an ingest action commits containers; nil when the
	// caller cannot ingest.
	Ingest cef.Sink
	Now    func() time.Time
}

// forCall fills the defaults and names the asset and action in every log
// line of the call, once: loggers built by engine/logx drop a repeated key,
// so a caller that named the asset already does not get it twice.
func (e Env) forCall(asset, action string) Env {
	e = e.withDefaults()
	e.Log = e.Log.With("asset", asset, "action", action)
	return e
}

func (e Env) withDefaults() Env {
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	return e
}

// The result statuses.
const (
	StatusSuccess = "success"
	StatusFailed  = "failed"
)

// Result is SOAR's action_result.
type Result struct {
	Status    string         `json:"status"`
	Message   string         `json:"message"`
	Parameter map[string]any `json:"parameter"`
	Data      []any          `json:"data"`
	Summary   map[string]any `json:"summary"`
	// Totals is SOAR's run-level summary, which SOAR prints as
	// summary.total_objects beside action_result.summary; here Summary is
	// action_result.summary, so these two keys live under totals.
	// Asset.Invoke sets it on every result.
	Totals *Totals `json:"totals,omitempty"`
}

// Totals counts the parameter sets a call processed. A goshawk call takes
// one set, so TotalObjects is 1 and TotalObjectsSuccessful is 1 or 0,
// exactly as SOAR reports an action run with one set of parameters.
type Totals struct {
	TotalObjects           int `json:"total_objects"`
	TotalObjectsSuccessful int `json:"total_objects_successful"`
}

// Succeeded returns a success result.
func Succeeded(msg string, data []any, summary map[string]any) *Result {
	if data == nil {
		data = []any{}
	}
	if summary == nil {
		summary = map[string]any{}
	}
	return &Result{Status: StatusSuccess, Message: msg, Data: data, Summary: summary}
}

// Failedf returns a failed result with a formatted message.
func Failedf(format string, args ...any) *Result {
	return &Result{Status: StatusFailed, Message: fmt.Sprintf(format, args...), Data: []any{}, Summary: map[string]any{}}
}

// OK reports whether the result is a success.
func (r *Result) OK() bool { return r.Status == StatusSuccess }

// Bind validates raw parameters against the spec; see Bind. Grouped
// inputs are opened first, so their members get exactly the validation of
// direct parameters.
func (s *Spec) Bind(raw map[string]any) (Values, error) {
	raw, err := s.Ungroup(raw)
	if err != nil {
		return nil, err
	}
	return Bind(s.Params, raw)
}

// Ungroup returns raw with the Swimlane grouped inputs the spec accepts
// (see Spec.Grouped) replaced by their members. A member also given
// directly, or in two groups, is a usage error naming both places.
func (s *Spec) Ungroup(raw map[string]any) (map[string]any, error) {
	if len(s.Grouped) == 0 {
		return raw, nil
	}
	var out map[string]any
	from := map[string]string{}
	for _, g := range s.Grouped {
		v, ok := raw[g]
		if !ok {
			continue
		}
		if out == nil {
			out = make(map[string]any, len(raw))
			for k, x := range raw {
				if !slices.Contains(s.Grouped, k) {
					out[k] = x
				}
			}
		}
		if str, isStr := v.(string); isStr {
			if err := json.Unmarshal([]byte(str), &v); err != nil {
				return nil, usageErr(g, "parameter %q must be a JSON object such as {\"id\": \"1\"}: %v", g, err)
			}
		}
		var members map[string]any
		switch x := v.(type) {
		case map[string]any:
			members = x
		case []any:
			if g == "json_body" && s.ListBody != "" {
				members = map[string]any{s.ListBody: x}
				break
			}
			return nil, usageErr(g, "parameter %q must be an object of parameters, got a list", g)
		default:
			return nil, usageErr(g, "parameter %q must be an object of parameters, got %T", g, v)
		}
		for k, x := range members {
			if _, direct := raw[k]; direct {
				return nil, usageErr(k, "parameter %q is given both directly and in %s; keep one", k, g)
			}
			if other, twice := from[k]; twice {
				return nil, usageErr(k, "parameter %q is given in both %s and %s; keep one", k, other, g)
			}
			from[k] = g
			out[k] = x
		}
	}
	if out == nil {
		return raw, nil
	}
	return out, nil
}

// Param returns the parameter called name.
func (s *Spec) Param(name string) (*Param, bool) {
	if i := findParam(s.Params, name); i >= 0 {
		return &s.Params[i], true
	}
	return nil, false
}
