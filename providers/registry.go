package providers

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers/redact"
)

// Provider declares a kind of connector: its asset config variables and its
// actions.
type Provider struct {
	Name    string
	Summary string
	// Config declares the asset config variables that config loading checks.
	Config []Param
	// Open builds the connection of one asset from its validated config. It
	// must not touch the network: connecting is what test_connectivity does.
	Open    func(asset string, cfg Values) (Conn, error)
	Actions []Spec
	// Ingest declares how the engine drives the provider's ingest action;
	// nil means the provider does not ingest.
	Ingest *IngestSpec
	// ConfigAliases maps other spellings of config variables (the ones
	// SOAR's and Swimlane's forms print, such as "clientid") to goshawk's
	// names. Config loading accepts them with a warning naming goshawk's
	// key; OpenAsset accepts them as they are.
	ConfigAliases map[string]string
}

// IngestSpec declares that a provider ingests containers, and how the engine drives it.
type IngestSpec struct {
	Action      string // the ingest action ("on_poll"); must exist with Kind Ingest
	NowParam    string // its Bool parameter: look back and leave the checkpoint ("poll_now")
	CountParam  string // its Integer parameter: most containers to create ("container_count")
	ScheduleKey string // Duration key of the asset config: scheduled poll interval ("poll")
}

// Action returns the spec of the named action. Besides its name, an action
// answers to SOAR's display form of it ("hunt ip" for hunt_ip, any case)
// and to each of its Aliases in either form, so a playbook ported from
// SOAR or Swimlane names actions as it did there.
func (p *Provider) Action(name string) (*Spec, bool) {
	for i := range p.Actions {
		if p.Actions[i].Name == name {
			return &p.Actions[i], true
		}
	}
	want := ActionKey(name)
	for i := range p.Actions {
		s := &p.Actions[i]
		if ActionKey(s.Name) == want {
			return s, true
		}
		for _, a := range s.Aliases {
			if ActionKey(a) == want {
				return s, true
			}
		}
	}
	return nil, false
}

// ActionKey is the form action names are compared in: lower case, spaces
// and hyphens as underscores, so "Hunt IP", "hunt-ip" and hunt_ip agree.
func ActionKey(name string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return unicode.ToLower(r)
	}, strings.TrimSpace(name))
}

// ConfigName returns the config variable key names: itself, or the
// variable a ConfigAliases spelling stands for (aliased is then true).
func (p *Provider) ConfigName(key string) (name string, aliased bool) {
	if n, ok := p.ConfigAliases[key]; ok {
		return n, true
	}
	return key, false
}

// ActionNames returns the names of the provider's actions in declared order.
func (p *Provider) ActionNames() []string {
	names := make([]string, len(p.Actions))
	for i := range p.Actions {
		names[i] = p.Actions[i].Name
	}
	return names
}

// UnknownActionError names an action a provider doesn't have, with a hint.
//
// The hint prefers an action of the same verb (the word before the first
// underscore): create_indicators_list suggests create_indicators, not the
// nearer get_indicators_list, since a write mistaken for a read, or the
// other way, is the worse surprise.
func (p *Provider) UnknownActionError(name string) error {
	key := ActionKey(name)
	verb, _, _ := strings.Cut(key, "_")
	var same []string
	for _, n := range p.ActionNames() {
		if v, _, _ := strings.Cut(n, "_"); v == verb {
			same = append(same, n)
		}
	}
	if h := hint.DidYouMean(key, same); h != "" {
		return fmt.Errorf("provider %s has no action %q%s", p.Name, name, h)
	}
	return fmt.Errorf("provider %s has no action %q%s", p.Name, name, hint.OrList(key, p.ActionNames(), "its actions are:"))
}

// Registry holds the providers goshawk knows, by name. The CLI builds it
// from an explicit list; tests build small ones of their own.
type Registry struct {
	byName map[string]*Provider
}

// NewRegistry returns a registry holding ps.
func NewRegistry(ps ...*Provider) (*Registry, error) {
	r := &Registry{byName: map[string]*Provider{}}
	for _, p := range ps {
		if err := r.Register(p); err != nil {
			return nil, err
		}
	}
	return r, nil
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Register validates p's declarations and adds it. Registering a name twice
// is an error, never a silent overwrite.
func (r *Registry) Register(p *Provider) error {
	if p == nil || !nameRE.MatchString(p.Name) {
		return fmt.Errorf("providers: register: provider name must match %s", nameRE)
	}
	if _, dup := r.byName[p.Name]; dup {
		return fmt.Errorf("providers: register: provider %q is already registered", p.Name)
	}
	if p.Open == nil {
		return fmt.Errorf("providers: register %s: Open is nil", p.Name)
	}
	if err := checkParams(p.Name+" config", p.Config); err != nil {
		return err
	}
	guardSecrets(p.Config)
	index := make(map[string]*Spec, len(p.Actions))
	for i := range p.Actions {
		s := &p.Actions[i]
		where := p.Name + "." + s.Name
		switch {
		case !nameRE.MatchString(s.Name):
			return fmt.Errorf("providers: register %s: action name must match %s", where, nameRE)
		case index[s.Name] != nil:
			return fmt.Errorf("providers: register %s: action declared twice", where)
		case s.Run == nil:
			return fmt.Errorf("providers: register %s: Run is nil", where)
		}
		switch s.Kind {
		case Investigate, Generic, Ingest, Test:
		default:
			return fmt.Errorf("providers: register %s: unknown kind %q", where, s.Kind)
		}
		if err := checkParams(where, s.Params); err != nil {
			return err
		}
		index[s.Name] = s
	}
	if err := checkAliases(p); err != nil {
		return err
	}
	if err := checkIngest(p, index); err != nil {
		return err
	}
	r.byName[p.Name] = p
	return nil
}

// checkAliases refuses an action alias that another action already
// answers to, and a config alias for a variable that does not exist.
func checkAliases(p *Provider) error {
	owner := map[string]string{}
	for _, s := range p.Actions {
		owner[ActionKey(s.Name)] = s.Name
	}
	for _, s := range p.Actions {
		for _, a := range s.Aliases {
			if o, dup := owner[ActionKey(a)]; dup && o != s.Name {
				return fmt.Errorf("providers: register %s.%s: alias %q is already %s's", p.Name, s.Name, a, o)
			}
			owner[ActionKey(a)] = s.Name
		}
	}
	for alias, name := range p.ConfigAliases {
		if findParam(p.Config, name) < 0 {
			return fmt.Errorf("providers: register %s: config alias %q names %q, which is not a config variable", p.Name, alias, name)
		}
	}
	return nil
}

// checkIngest validates p.Ingest against the actions and config it names, so
// that the engine can drive any ingesting provider without knowing it.
func checkIngest(p *Provider, index map[string]*Spec) error {
	in := p.Ingest
	if in == nil {
		return nil
	}
	where := "providers: register " + p.Name + " ingest"
	s := index[in.Action]
	switch {
	case s == nil:
		return fmt.Errorf("%s: action %q is not declared", where, in.Action)
	case s.Kind != Ingest:
		return fmt.Errorf("%s: action %q has kind %q; it must be %q", where, in.Action, s.Kind, Ingest)
	}
	param := func(field, name string, t Type, params []Param, of string) error {
		i := findParam(params, name)
		if i < 0 {
			return fmt.Errorf("%s: %s %q is not a parameter of %s", where, field, name, of)
		}
		if params[i].Type != t {
			return fmt.Errorf("%s: %s %q has type %s; it must be %s", where, field, name, params[i].Type, t)
		}
		return nil
	}
	if err := param("NowParam", in.NowParam, Bool, s.Params, in.Action); err != nil {
		return err
	}
	if err := param("CountParam", in.CountParam, Integer, s.Params, in.Action); err != nil {
		return err
	}
	return param("ScheduleKey", in.ScheduleKey, Duration, p.Config, "the asset config")
}

// guardSecrets makes every Secret config variable refuse a value shorter
// than redact.MinLen. Such a secret cannot be kept out of logs and outputs:
// redacting three characters would blank them out of ordinary text, so it
// is refused where it is configured, with the reason, rather than printed
// later. The provider's own Check still runs after this one.
func guardSecrets(config []Param) {
	for i := range config {
		p := &config[i]
		if !p.Secret || p.Type != String {
			continue
		}
		name, check := p.Name, p.Check
		p.Check = func(v any) error {
			if s, _ := v.(string); strings.TrimSpace(s) != "" && len(s) < redact.MinLen {
				return fmt.Errorf("%s is shorter than %d characters; goshawk refuses a secret that short because it could not keep it out of logs without blanking ordinary text; use the full credential", name, redact.MinLen)
			}
			if check != nil {
				return check(v)
			}
			return nil
		}
	}
}

// checkParams validates parameter declarations at registration, so that a
// mistake in a spec table fails fast rather than at the first call.
func checkParams(where string, params []Param) error {
	seen := map[string]bool{}
	for i := range params {
		p := &params[i]
		if !nameRE.MatchString(p.Name) {
			return fmt.Errorf("providers: register %s: parameter name %q must match %s", where, p.Name, nameRE)
		}
		if seen[p.Name] {
			return fmt.Errorf("providers: register %s: parameter %q declared twice", where, p.Name)
		}
		seen[p.Name] = true
		if !p.Type.Known() {
			return fmt.Errorf("providers: register %s.%s: unknown type %q", where, p.Name, p.Type)
		}
		for _, c := range p.Contains {
			if !KnownContains(c) {
				return fmt.Errorf("providers: register %s.%s: unknown contains type %q", where, p.Name, c)
			}
		}
		if p.Default != nil {
			v, err := p.Coerce(p.Default)
			if err != nil || fmt.Sprintf("%T", v) != fmt.Sprintf("%T", p.Default) {
				return fmt.Errorf("providers: register %s.%s: default %v (%T) does not have type %s", where, p.Name, p.Default, p.Default, p.Type)
			}
		}
	}
	return nil
}

// Provider returns the named provider.
func (r *Registry) Provider(name string) (*Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Names returns the provider names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Providers returns the providers sorted by name.
func (r *Registry) Providers() []*Provider {
	out := make([]*Provider, 0, len(r.byName))
	for _, n := range r.Names() {
		out = append(out, r.byName[n])
	}
	return out
}

// Asset is one configured instance of a provider, with its open connection.
type Asset struct {
	Name     string
	Provider *Provider
	Config   Values
	Conn     Conn
	// Replay, when set, answers every call instead of the action: the
	// parameters are bound and checked exactly as for a real call, and
	// no connection is used. Playbook tests answer from recordings this
	// way. An error is a malformed call: the script raises it.
	Replay func(ctx context.Context, a *Asset, spec *Spec, params Values) (*Result, error)
}

// OpenAsset validates raw config against the provider's config variables and
// opens the asset. It does no network I/O.
func OpenAsset(name string, p *Provider, raw map[string]any) (*Asset, error) {
	raw, err := p.unalias(raw)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", name, err)
	}
	cfg, err := Bind(p.Config, raw)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", name, err)
	}
	conn, err := p.Open(name, cfg)
	if err != nil {
		return nil, fmt.Errorf("asset %s: %w", name, err)
	}
	if conn == nil {
		conn = NoConn{}
	}
	return &Asset{Name: name, Provider: p, Config: cfg, Conn: conn}, nil
}

// unalias renames ConfigAliases spellings to goshawk's keys. Both
// spellings of one variable is an error naming the two.
func (p *Provider) unalias(raw map[string]any) (map[string]any, error) {
	if len(p.ConfigAliases) == 0 {
		return raw, nil
	}
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = v
	}
	for k, v := range raw {
		n, aliased := p.ConfigName(k)
		if !aliased {
			continue
		}
		if _, both := raw[n]; both {
			return nil, fmt.Errorf("%q and %q are the same variable; keep %q", k, n, n)
		}
		delete(out, k)
		out[n] = v
	}
	return out, nil
}

// ErrUnknownAction is returned by Invoke for an action the provider lacks.
var ErrUnknownAction = errors.New("unknown action")

// Invoke validates raw parameters and runs the action. The error is non-nil
// only for a malformed call (unknown action, unknown parameter, wrong type,
// missing required parameter). An invalid value or any failure of the action
// itself is a failed Result.
func (a *Asset) Invoke(ctx context.Context, action string, raw map[string]any, env Env) (*Result, error) {
	spec, ok := a.Provider.Action(action)
	if !ok {
		return nil, fmt.Errorf("%w: %w", ErrUnknownAction, a.Provider.UnknownActionError(action))
	}
	vals, err := spec.Bind(raw)
	if err != nil {
		var pe *ParamError
		if errors.As(err, &pe) && !pe.Usage {
			r := Failedf("%s", pe.Msg)
			r.Parameter = raw
			r.Totals = totals(r)
			return r, nil
		}
		return nil, fmt.Errorf("%s.%s: %w", a.Name, action, err)
	}
	var res *Result
	if a.Replay != nil {
		if res, err = a.Replay(ctx, a, spec, vals); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", a.Name, action, err)
		}
	} else {
		res = spec.Run(ctx, &Call{Asset: a.Name, Conn: a.Conn, Params: vals, Env: env.forCall(a.Name, action)})
	}
	if res == nil {
		res = Failedf("%s.%s: the action returned no result", a.Name, action)
	}
	if res.Parameter == nil {
		res.Parameter = map[string]any(vals)
	}
	if res.Data == nil {
		res.Data = []any{}
	}
	if res.Summary == nil {
		res.Summary = map[string]any{}
	}
	res.Totals = totals(res)
	return res, nil
}

// totals is SOAR's run-level summary of one call: one parameter set
// processed, successful or not.
func totals(r *Result) *Totals {
	t := &Totals{TotalObjects: 1}
	if r.OK() {
		t.TotalObjectsSuccessful = 1
	}
	return t
}

// Close releases the asset's connection. An asset built without one (a
// replay) has nothing to close.
func (a *Asset) Close() error {
	if a.Conn == nil {
		return nil
	}
	return a.Conn.Close()
}
