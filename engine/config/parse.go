package config

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/engine/sched"
	"github.com/goshawk/goshawk/engine/yamlx"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
)

// The keys of goshawk.yaml.
var (
	topKeys = yamlx.Keys{
		{Name: "store"}, {Name: "playbooks"}, {Name: "plugins"}, {Name: "listen"}, {Name: "api_token"},
		{Name: "shutdown_grace"}, {Name: "assets"}, {Name: "plugin_limits"}, {Name: "retention"},
	}
	pluginLimitKeys = yamlx.Names("memory_mb", "timeout", "instances")
	retentionKeys   = yamlx.Names("runs", "containers")
	kind            = yamlx.Kind{Name: "config", Main: []string{"store", "listen", "assets"}}
)

// maxMemoryMB is what a 32-bit WebAssembly memory can hold.
const maxMemoryMB = 4096

// Parse is Load on bytes already read.
func Parse(path string, data []byte, reg *providers.Registry, lookup func(string) (string, bool)) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c := &Config{
		File: path, Dir: filepath.Dir(abs),
		Listen:        DefaultListen,
		ShutdownGrace: 30 * time.Second,
		Assets:        map[string]*Asset{},
		PluginLimits:  map[string]PluginLimits{},
		pos:           map[string]diag.Diagnostic{},
		topMissing:    map[string][]string{},
	}
	p := &parser{c: c, reg: reg}
	p.d = &yamlx.Decoder{File: path, Kind: kind, Env: lookup, Unset: p.unset}
	store, playbooks, plugins := "goshawk.db", "playbooks", "plugins"

	if root := p.d.Parse(data); root != nil {
		fields, _ := p.d.Mapping(nil, root, "", topKeys)
		for key, k := range fields.Key {
			c.pos[key] = diag.Diagnostic{File: path, Line: k.Line, Col: k.Column}
		}
		top := func(key string, fn func(n *yaml.Node)) {
			if n := fields.Get(key); n != nil {
				p.key = key
				fn(n)
				p.key = ""
			}
		}
		top("store", func(n *yaml.Node) { p.str(n, "store", &store) })
		top("playbooks", func(n *yaml.Node) { p.str(n, "playbooks", &playbooks) })
		top("plugins", func(n *yaml.Node) { p.str(n, "plugins", &plugins) })
		top("listen", func(n *yaml.Node) {
			c.pos["listen"] = diag.Diagnostic{File: path, Line: n.Line, Col: n.Column}
			v, ok := p.d.Scalar(n, "listen")
			if !ok || len(v.Missing) > 0 {
				return
			}
			if err := CheckListen(v.Text); err != nil {
				p.d.Errorf(n, "listen: %s", hideEnv(err.Error(), v))
				return
			}
			c.Listen = v.Text
		})
		top("api_token", func(n *yaml.Node) { p.str(n, "api_token", &c.APIToken) })
		top("shutdown_grace", func(n *yaml.Node) { p.positive(n, "shutdown_grace", &c.ShutdownGrace) })
		top("assets", p.assets)
		top("plugin_limits", p.pluginLimits)
		top("retention", p.retention)
	}
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Dir, p)
	}
	c.Store, c.Playbooks, c.Plugins = resolve(store), resolve(playbooks), resolve(plugins)
	if strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://") {
		c.Store = store // a database URL, not a path
	}
	for _, d := range p.d.Diags {
		if d.IsWarning() {
			c.Warnings = append(c.Warnings, d)
		}
	}
	diag.Sort(c.Warnings)
	slices.Sort(c.Missing)
	if p.d.HasErrors() {
		diag.Sort(p.d.Diags)
		return nil, diag.Join(p.d.Diags)
	}
	return c, nil
}

// parser decodes goshawk.yaml into a Config.
type parser struct {
	d   *yamlx.Decoder
	c   *Config
	reg *providers.Registry
	key string // the top-level key being decoded
	// asset is the asset being decoded, and assetKey its key being read.
	asset    *Asset
	assetKey string
}

// unset records a variable that is not set: the asset or top-level key
// being decoded needs it, and a warning says where it is read.
func (p *parser) unset(n *yaml.Node, what, name string) {
	use := "a command that uses " + what
	switch {
	case p.asset != nil:
		a := p.asset
		if a.missingKeys == nil {
			a.missingKeys = map[string]string{}
		}
		if _, dup := a.missingKeys[name]; !dup {
			a.Missing = append(a.Missing, name)
			a.missingKeys[name] = p.assetKey
		}
		use = "a command that opens asset " + a.Name
	case p.key != "":
		if !contains(p.c.topMissing[p.key], name) {
			p.c.topMissing[p.key] = append(p.c.topMissing[p.key], name)
		}
		if !contains(p.c.Missing, name) {
			p.c.Missing = append(p.c.Missing, name)
		}
	}
	p.d.Warnf(n, "%s: environment variable %s is not set; export it before %s", what, name, use)
}

func (p *parser) str(n *yaml.Node, what string, dst *string) bool {
	v, ok := p.d.Scalar(n, what)
	if ok && len(v.Missing) == 0 {
		*dst = v.Text
	}
	return ok && len(v.Missing) == 0
}

func (p *parser) positive(n *yaml.Node, what string, dst *time.Duration) {
	if v, ok := p.d.Duration(n, what); ok {
		if v <= 0 {
			p.d.Errorf(n, "%s must be positive, got %s", what, v)
			return
		}
		*dst = v
	}
}

var assetNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *parser) assets(n *yaml.Node) {
	entries, _ := p.d.Entries(n, "assets", "asset")
	for _, e := range entries {
		p.asset = nil
		if a := p.decodeAsset(e); a != nil {
			p.c.Assets[a.Name] = a
		}
	}
	p.asset = nil
}

func (p *parser) decodeAsset(e yamlx.Entry) *Asset {
	path := "assets." + e.Name
	if !assetNameRE.MatchString(e.Name) {
		p.d.Errorf(e.Key, "%s: asset name %q must be a Lua identifier: letters, digits and _, not starting with a digit", path, e.Name)
		return nil
	}
	if why := reservedName(e.Name); why != "" {
		p.d.Errorf(e.Key, "%s: asset name %q is %s, which the asset would hide from playbooks; choose another name", path, e.Name, why)
		return nil
	}
	names := p.reg.Names()
	provKey := yamlx.Key{Name: "provider", Required: true, Doc: "one of " + strings.Join(names, ", ")}
	if e.Value.Kind != yaml.MappingNode {
		p.d.Mapping(e.Key, e.Value, path, yamlx.Keys{provKey})
		return nil
	}
	var provNode *yaml.Node
	for i := 0; i+1 < len(e.Value.Content); i += 2 {
		if e.Value.Content[i].Value == "provider" {
			provNode = e.Value.Content[i+1]
		}
	}
	if yamlx.IsNull(provNode) {
		p.d.Mapping(e.Key, e.Value, path, yamlx.Keys{provKey})
		return nil
	}
	provName, ok := p.d.Str(provNode, path+".provider")
	if !ok {
		return nil
	}
	prov, ok := p.reg.Provider(provName)
	if !ok {
		p.d.Errorf(provNode, "%s.provider: unknown provider %q%s", path, provName, hint.OrList(provName, names, "known providers:"))
		return nil
	}

	// The seeds' spellings of config keys (prov.ConfigAliases: Swimlane's
	// clientid, SOAR's num_of_days) are accepted with a warning that gives
	// goshawk's name; a required key given by its alias is not missing.
	aliasOf := map[string]string{}
	for i := 0; i+1 < len(e.Value.Content); i += 2 {
		if name, aliased := prov.ConfigName(e.Value.Content[i].Value); aliased {
			aliasOf[name] = e.Value.Content[i].Value
		}
	}
	keys := yamlx.Keys{{Name: "provider"}}
	for _, cp := range prov.Config {
		_, viaAlias := aliasOf[cp.Name]
		keys = append(keys, yamlx.Key{Name: cp.Name, Required: cp.Required && !viaAlias, Doc: cp.Doc})
	}
	for _, alias := range slices.Sorted(maps.Keys(prov.ConfigAliases)) {
		keys = append(keys, yamlx.Key{Name: alias})
	}
	a := &Asset{Name: e.Name, Provider: prov, Raw: map[string]any{}, Line: e.Key.Line}
	p.asset = a
	before := p.d.ErrorCount()
	fields, _ := p.d.Mapping(e.Key, e.Value, path, keys)
	for _, name := range slices.Sorted(maps.Keys(aliasOf)) {
		alias := aliasOf[name]
		if fields.Key[name] != nil {
			p.d.Errorf(fields.Key[alias], "%s: %q and %q are the same variable; keep %q", path, alias, name, name)
			continue
		}
		p.d.Warnf(fields.Key[alias], "%s.%s: goshawk calls this %s; rename it", path, alias, name)
		fields.Key[name] = fields.Key[alias]
		if v := fields.Values[alias]; v != nil {
			fields.Values[name] = v
		}
	}
	params := make([]providers.Param, 0, len(prov.Config))
	for _, cp := range prov.Config {
		cp := cp
		n := fields.Get(cp.Name)
		if n == nil {
			params = append(params, cp)
			continue
		}
		p.assetKey = cp.Name
		what := path + "." + cp.Name
		v, ok := p.d.Scalar(n, what)
		if !ok {
			continue
		}
		if len(v.Missing) > 0 {
			// Checked when the variable is set; until then the asset
			// can't be opened (Ready).
			cp.Required = false
			params = append(params, cp)
			continue
		}
		params = append(params, cp)
		if val, ok := p.value(&cp, n, what, v); ok {
			a.Raw[cp.Name] = val
		}
	}
	if p.d.ErrorCount() > before {
		return nil
	}
	vals, err := providers.Bind(params, a.Raw)
	if err != nil {
		at := e.Key
		var pe *providers.ParamError
		if errors.As(err, &pe) && fields.Get(pe.Param) != nil {
			at = fields.Get(pe.Param)
		}
		p.d.Errorf(at, "%s: %s", path, err)
		return nil
	}
	a.Values = vals
	if prov.Ingest != nil {
		a.Poll = vals.Duration(prov.Ingest.ScheduleKey)
		if n := fields.Get(prov.Ingest.ScheduleKey); n != nil && a.Poll != 0 {
			// The scheduler refuses what it can't run; say so here, as
			// for a playbook's every:, instead of never polling.
			if _, err := sched.Every(a.Poll); err != nil {
				p.d.Errorf(n, "%s.%s: %v", path, prov.Ingest.ScheduleKey, err)
				return nil
			}
		}
	}
	return a
}

// value checks one asset config value with the provider's own parameter
// rules (Coerce and CheckValue, as an action parameter is checked) and
// returns it typed. Messages name the key, never a secret's value, and
// never a value that came from the environment.
func (p *parser) value(cp *providers.Param, n *yaml.Node, what string, v yamlx.Value) (any, bool) {
	if cp.Type == providers.String && cp.Required && strings.TrimSpace(v.Text) == "" {
		if cp.Secret {
			p.d.Errorf(n, "%s is empty; set it (it is a secret: use ${VAR} to read it from the environment)", what)
		} else {
			p.d.Errorf(n, "%s is empty; give it a value", what)
		}
		return nil, false
	}
	cv, err := cp.Coerce(v.Text)
	if err == nil {
		err = cp.CheckValue(cv)
		if err != nil {
			p.d.Errorf(n, "%s", checkMessage(cp, strings.TrimSuffix(what, "."+cp.Name), err, v))
			return nil, false
		}
		return cv, true
	}
	ti, _ := cp.Type.Info()
	got := v.Got(n)
	if cp.Secret && !v.FromEnv() {
		got = "a value that is not one (not shown: it is a secret)"
	}
	p.d.Errorf(n, "%s: must be %s, got %s", what, ti.Want, got)
	return nil, false
}

// checkMessage words a failed range, enum or Check for the config file:
// config variables are not "parameters", and neither a secret's value nor
// one from the environment is ever shown.
func checkMessage(cp *providers.Param, path string, err error, v yamlx.Value) string {
	if cp.Type == providers.Integer && cp.Min != nil && *cp.Min == 1 && cp.Max == nil {
		return fmt.Sprintf("%s: %s: Please provide a positive, non zero integer in config parameter %q", path, cp.Name, cp.Name)
	}
	msg := err.Error()
	msg = strings.Replace(msg, "Parameter '"+cp.Name+"'", cp.Name, 1)
	msg = strings.Replace(msg, "parameter ", "", 1)
	if cp.Secret && shows(msg, v.Text) {
		return fmt.Sprintf("%s: %s is not valid (value hidden: it is a secret)", path, cp.Name)
	}
	return path + ": " + hideEnv(msg, v)
}

// shows reports whether msg may show value: quoted, or as is when it is
// long enough not to be an ordinary word.
func shows(msg, value string) bool {
	value = strings.TrimSpace(value)
	return value != "" && (strings.Contains(msg, strconv.Quote(value)) || len(value) >= 4 && strings.Contains(msg, value))
}

// hideEnv replaces, in msg, a value that came from the environment with
// the names of its variables.
func hideEnv(msg string, v yamlx.Value) string {
	if !v.FromEnv() || !shows(msg, v.Text) {
		return msg
	}
	text := strings.TrimSpace(v.Text)
	msg = strings.ReplaceAll(msg, strconv.Quote(text), v.Got(nil))
	if len(text) >= 4 {
		msg = strings.ReplaceAll(msg, text, v.Got(nil))
	}
	return msg
}

// retention decodes retention: {runs: 30d, containers: 90d}: Go durations
// or whole days.
func (p *parser) retention(n *yaml.Node) {
	fields, ok := p.d.Mapping(nil, n, "retention", retentionKeys)
	if !ok {
		return
	}
	keep := func(key string, dst *time.Duration) {
		n := fields.Get(key)
		if n == nil {
			return
		}
		what := "retention." + key
		v, ok := p.d.Scalar(n, what)
		if !ok || len(v.Missing) > 0 {
			return
		}
		text, shown, got := strings.TrimSpace(v.Text), strings.TrimSpace(v.Text), yamlx.Describe(n)
		if v.FromEnv() {
			shown, got = v.Got(n), v.Got(n)
		}
		var d time.Duration
		if m := daysRE.FindStringSubmatch(text); m != nil {
			days, err := strconv.Atoi(m[1])
			if err != nil || days > maxRetentionDays {
				p.d.Errorf(n, "%s: %s is too long; keep at most %d days", what, shown, maxRetentionDays)
				return
			}
			d = time.Duration(days) * 24 * time.Hour
		} else if dur, err := time.ParseDuration(text); err == nil {
			if dur > maxRetentionDays*24*time.Hour {
				p.d.Errorf(n, "%s: %s is too long; keep at most %d days", what, shown, maxRetentionDays)
				return
			}
			d = dur
		} else {
			p.d.Errorf(n, "%s must be a number of days such as 30d or a duration such as 720h, got %s", what, got)
			return
		}
		if d < MinRetention {
			p.d.Errorf(n, "%s must be at least %s (or leave it out to keep records for ever), got %s", what, MinRetention, shown)
			return
		}
		*dst = d
	}
	keep("runs", &p.c.Retention.Runs)
	keep("containers", &p.c.Retention.Containers)
}

var daysRE = regexp.MustCompile(`^(\d+)d$`)

// maxRetentionDays keeps a retention far from overflowing a Duration.
const maxRetentionDays = 100 * 365

func (p *parser) pluginLimits(n *yaml.Node) {
	entries, _ := p.d.Entries(n, "plugin_limits", "plugin")
	for _, e := range entries {
		path := "plugin_limits." + e.Name
		p.c.pos[path] = diag.Diagnostic{File: p.c.File, Line: e.Key.Line, Col: e.Key.Column}
		fields, ok := p.d.Mapping(e.Key, e.Value, path, pluginLimitKeys)
		if !ok {
			continue
		}
		var l PluginLimits
		if v := fields.Get("timeout"); v != nil {
			p.positive(v, path+".timeout", &l.Timeout)
		}
		count := func(key string, hi int, why string, dst *int) {
			v := fields.Get(key)
			if v == nil {
				return
			}
			i, ok := p.d.Int(v, path+"."+key)
			switch {
			case !ok:
			case i <= 0:
				p.d.Errorf(v, "%s.%s must be at least 1, got %d", path, key, i)
			case hi > 0 && i > hi:
				p.d.Errorf(v, "%s.%s: %d exceeds %s", path, key, i, why)
			default:
				*dst = i
			}
		}
		count("memory_mb", maxMemoryMB, "the 4096 MiB a 32-bit WebAssembly memory can hold", &l.MemoryMB)
		count("instances", 0, "", &l.Instances)
		p.c.PluginLimits[e.Name] = l
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
