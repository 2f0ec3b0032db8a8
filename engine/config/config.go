// Package config loads goshawk.yaml: strict decoding with file:line:col
// errors and did-you-mean hints, ${VAR} expansion from the environment, and
// per-provider checks of each asset driven by the provider's config spec.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
)

// FileName is the default config file name.
const FileName = "goshawk.yaml"

// Config is a loaded, validated goshawk.yaml.
type Config struct {
	// File is the path the config was read from; Dir is its folder, which
	// relative paths are resolved against.
	File, Dir string
	Store     string // SQLite file, absolute
	Playbooks string // folder of playbooks, absolute
	Plugins   string // folder of plugins, absolute
	Listen    string
	APIToken  string // secret
	// ShutdownGrace is how long serve lets in-flight runs finish.
	ShutdownGrace time.Duration
	Assets        map[string]*Asset
	PluginLimits  map[string]PluginLimits
}

// Asset is one configured asset.
type Asset struct {
	Name     string
	Provider *providers.Provider
	// Raw holds the expanded values as written; providers.OpenAsset binds
	// them. Values holds them bound and typed, defaults applied.
	Raw    map[string]any
	Values providers.Values
	// Poll is the interval of scheduled on_poll; 0 means none.
	Poll time.Duration
	Line int
}

// PluginLimits overrides the default limits of one plugin.
type PluginLimits struct {
	MemoryMB  int
	Timeout   time.Duration
	Instances int
}

// AssetNames returns the asset names, sorted.
func (c *Config) AssetNames() []string {
	names := make([]string, 0, len(c.Assets))
	for n := range c.Assets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Secrets returns every secret value in the config (the API token and each
// asset's secret variables), for redaction.
func (c *Config) Secrets() []string {
	var out []string
	if c.APIToken != "" {
		out = append(out, c.APIToken)
	}
	for _, a := range c.Assets {
		for _, p := range a.Provider.Config {
			if s := a.Values.String(p.Name); p.Secret && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// OpenAsset builds the provider connection of the named asset.
func (c *Config) OpenAsset(name string) (*providers.Asset, error) {
	a, ok := c.Assets[name]
	if !ok {
		return nil, c.unknownAsset(name)
	}
	return providers.OpenAsset(a.Name, a.Provider, a.Raw)
}

func (c *Config) unknownAsset(name string) error {
	names := c.AssetNames()
	if s := hint.Nearest(name, names); s != "" {
		return fmt.Errorf("no asset %q in %s; did you mean %q?", name, c.File, s)
	}
	if len(names) == 0 {
		return fmt.Errorf("no asset %q: %s declares no assets", name, c.File)
	}
	return fmt.Errorf("no asset %q in %s; its assets are: %s", name, c.File, strings.Join(names, ", "))
}

// IsLoopback reports whether the listen address only accepts local
// connections.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Find returns the config path: flag, then $GOSHAWK_CONFIG, then
// ./goshawk.yaml.
func Find(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if p := getenv("GOSHAWK_CONFIG"); p != "" {
		return p
	}
	return FileName
}

// Load reads and validates the config at path. lookup resolves ${VAR}; pass
// os.LookupEnv. Every problem found is reported, each as
// "file:line:col: message", joined.
func Load(path string, reg *providers.Registry, lookup func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s not found: create it (see README), or pass --config or set GOSHAWK_CONFIG", path)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, reg, lookup)
}

// Parse is Load on bytes already read.
func Parse(path string, data []byte, reg *providers.Registry, lookup func(string) (string, bool)) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	d := &decoder{file: path, lookup: lookup}
	c := &Config{
		File: path, Dir: filepath.Dir(abs),
		Listen:        "127.0.0.1:8470",
		ShutdownGrace: 30 * time.Second,
		Assets:        map[string]*Asset{},
		PluginLimits:  map[string]PluginLimits{},
	}
	store, playbooks, plugins := "goshawk.db", "playbooks", "plugins"

	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) > 0 {
		top := root.Content[0]
		d.mapping(top, "", []string{"store", "playbooks", "plugins", "listen", "api_token", "shutdown_grace", "assets", "plugin_limits"}, func(key string, kn, vn *yaml.Node) {
			switch key {
			case "store":
				d.str(vn, key, &store)
			case "playbooks":
				d.str(vn, key, &playbooks)
			case "plugins":
				d.str(vn, key, &plugins)
			case "listen":
				if d.str(vn, key, &c.Listen) {
					if _, _, err := net.SplitHostPort(c.Listen); err != nil {
						d.errorf(vn, "listen: %q is not host:port; write for example 127.0.0.1:8470", c.Listen)
					}
				}
			case "api_token":
				d.secretStr(vn, key, &c.APIToken)
			case "shutdown_grace":
				d.duration(vn, key, &c.ShutdownGrace)
			case "assets":
				d.assets(vn, reg, c)
			case "plugin_limits":
				d.pluginLimits(vn, c)
			}
		})
	}
	resolve := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(c.Dir, p)
	}
	c.Store, c.Playbooks, c.Plugins = resolve(store), resolve(playbooks), resolve(plugins)
	if len(d.errs) > 0 {
		return nil, errors.Join(d.errs...)
	}
	return c, nil
}

type decoder struct {
	file   string
	lookup func(string) (string, bool)
	errs   []error
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d:%d: %s", d.file, n.Line, n.Column, fmt.Sprintf(format, args...)))
}

// mapping walks a mapping node, reporting unknown keys with a hint and
// duplicate keys.
func (d *decoder) mapping(n *yaml.Node, where string, known []string, fn func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		d.errorf(n, "%s must be a mapping of key: value", orTop(where))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := kn.Value
		path := joinPath(where, key)
		if seen[key] {
			d.errorf(kn, "%s is given twice; keep one", path)
			continue
		}
		seen[key] = true
		if known != nil && !contains(known, key) {
			msg := fmt.Sprintf("unknown key %s", path)
			if s := hint.Nearest(key, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; valid keys: " + strings.Join(known, ", ")
			}
			d.errorf(kn, "%s", msg)
			continue
		}
		fn(key, kn, vn)
	}
}

func orTop(where string) string {
	if where == "" {
		return "the config"
	}
	return where
}

func joinPath(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var envRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// scalar returns the expanded scalar value of n. ${VAR} reads the
// environment; $$ is a literal $.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, not a %s", path, kindName(n))
		return "", false
	}
	ok := true
	out := envRE.ReplaceAllStringFunc(n.Value, func(m string) string {
		if m == "$$" {
			return "$"
		}
		name := m[2 : len(m)-1]
		v, set := d.lookup(name)
		if !set {
			d.errorf(n, "%s: environment variable %s is not set; export it or write the value in the file", path, name)
			ok = false
		}
		return v
	})
	return out, ok
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) bool {
	v, ok := d.scalar(n, path)
	if ok {
		*dst = v
	}
	return ok
}

func (d *decoder) secretStr(n *yaml.Node, path string, dst *string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value", path)
		return
	}
	d.str(n, path, dst)
}

func (d *decoder) duration(n *yaml.Node, path string, dst *time.Duration) {
	v, ok := d.scalar(n, path)
	if !ok {
		return
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur <= 0 {
		d.errorf(n, "%s: %q is not a positive duration; write for example 30s or 15m", path, v)
		return
	}
	*dst = dur
}

var assetNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedNames are Lua globals an asset name would shadow in playbooks.
var reservedNames = map[string]bool{
	"input": true, "container": true, "log": true, "json": true, "kv": true, "containers": true,
	"plugins": true, "time": true, "string": true, "table": true, "math": true, "os": true,
	"print": true, "pairs": true, "ipairs": true, "type": true, "error": true, "pcall": true,
}

func (d *decoder) assets(n *yaml.Node, reg *providers.Registry, c *Config) {
	d.mapping(n, "assets", nil, func(name string, kn, vn *yaml.Node) {
		path := "assets." + name
		if !assetNameRE.MatchString(name) || reservedNames[name] {
			d.errorf(kn, "%s: asset name %q must be a Lua identifier (letters, digits, _) and not a playbook global", path, name)
			return
		}
		if vn.Kind != yaml.MappingNode {
			d.errorf(vn, "%s must be a mapping with a provider key", path)
			return
		}
		var provNode *yaml.Node
		for i := 0; i+1 < len(vn.Content); i += 2 {
			if vn.Content[i].Value == "provider" {
				provNode = vn.Content[i+1]
			}
		}
		if provNode == nil {
			d.errorf(vn, "%s: missing provider; add provider: with one of %s", path, strings.Join(reg.Names(), ", "))
			return
		}
		provName, _ := d.scalar(provNode, path+".provider")
		p, ok := reg.Provider(provName)
		if !ok {
			msg := fmt.Sprintf("%s.provider: unknown provider %q", path, provName)
			if s := hint.Nearest(provName, reg.Names()); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			} else {
				msg += "; known providers: " + strings.Join(reg.Names(), ", ")
			}
			d.errorf(provNode, "%s", msg)
			return
		}
		known := []string{"provider"}
		for _, cp := range p.Config {
			known = append(known, cp.Name)
		}
		a := &Asset{Name: name, Provider: p, Raw: map[string]any{}, Line: kn.Line}
		nodes := map[string]*yaml.Node{}
		before := len(d.errs)
		d.mapping(vn, path, known, func(key string, kn, vn *yaml.Node) {
			if key == "provider" {
				return
			}
			nodes[key] = vn
			v, ok := d.scalar(vn, path+"."+key)
			if !ok {
				return
			}
			cp, _ := findConfigParam(p, key)
			val, err := configValue(cp, vn, v)
			if err != nil {
				d.errorf(vn, "%s.%s: %s", path, key, err)
				return
			}
			a.Raw[key] = val
		})
		for _, cp := range p.Config {
			if _, given := a.Raw[cp.Name]; !given && cp.Required && nodes[cp.Name] == nil {
				d.errorf(kn, "%s: missing required key %s (%s); add it under the asset", path, cp.Name, cp.Doc)
			}
		}
		if len(d.errs) > before {
			return
		}
		vals, err := providers.Bind(p.Config, a.Raw)
		if err != nil {
			var pe *providers.ParamError
			where := kn
			if errors.As(err, &pe) && nodes[pe.Param] != nil {
				where = nodes[pe.Param]
			}
			d.errorf(where, "%s: %s", path, configMessage(err, p))
			return
		}
		a.Values = vals
		a.Poll = vals.Duration("poll")
		c.Assets[name] = a
	})
}

func findConfigParam(p *providers.Provider, name string) (*providers.Param, bool) {
	for i := range p.Config {
		if p.Config[i].Name == name {
			return &p.Config[i], true
		}
	}
	return nil, false
}

// configValue turns a scalar into the Go value Bind expects, using the YAML
// tag so that `max_containers: -1` is a number and `"-1"` is a string the
// integer check still accepts. Secrets are kept out of messages.
func configValue(p *providers.Param, n *yaml.Node, v string) (any, error) {
	switch p.Type {
	case providers.Integer, providers.Number:
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return f, nil
		}
		return nil, fmt.Errorf("must be a number, got %q", v)
	case providers.Bool:
		switch strings.ToLower(v) {
		case "true", "yes", "on":
			return true, nil
		case "false", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("must be true or false, got %q", v)
	case providers.String:
		if p.Required && strings.TrimSpace(v) == "" {
			if p.Secret {
				return nil, errors.New("is empty; set it (it is a secret: use ${VAR} to read it from the environment)")
			}
			return nil, errors.New("is empty; give it a value")
		}
	}
	return v, nil
}

// configMessage rewrites a parameter error for the config file: config
// variables are not "parameters", and secret values are never echoed.
func configMessage(err error, p *providers.Provider) string {
	var pe *providers.ParamError
	if !errors.As(err, &pe) {
		return err.Error()
	}
	cp, _ := findConfigParam(p, pe.Param)
	if cp != nil && cp.Secret {
		return fmt.Sprintf("%s is not valid (value hidden: it is a secret)", pe.Param)
	}
	if cp != nil && cp.Type == providers.Integer && cp.Min != nil && *cp.Min == 1 {
		return fmt.Sprintf("%s: Please provide a positive, non zero integer in config parameter %q", pe.Param, pe.Param)
	}
	msg := strings.Replace(pe.Msg, "Parameter '"+pe.Param+"'", pe.Param, 1)
	return strings.Replace(msg, "parameter ", "", 1)
}

func (d *decoder) pluginLimits(n *yaml.Node, c *Config) {
	d.mapping(n, "plugin_limits", nil, func(name string, _, vn *yaml.Node) {
		path := "plugin_limits." + name
		var l PluginLimits
		d.mapping(vn, path, []string{"memory_mb", "timeout", "instances"}, func(key string, _, v *yaml.Node) {
			switch key {
			case "timeout":
				d.duration(v, path+"."+key, &l.Timeout)
			default:
				s, ok := d.scalar(v, path+"."+key)
				if !ok {
					return
				}
				i, err := strconv.Atoi(s)
				if err != nil || i <= 0 {
					d.errorf(v, "%s.%s: %q is not a positive integer", path, key, s)
					return
				}
				if key == "memory_mb" {
					if i > 4096 {
						d.errorf(v, "%s.memory_mb: %d exceeds the 4096 MiB a 32-bit WebAssembly memory can hold", path, i)
						return
					}
					l.MemoryMB = i
				} else {
					l.Instances = i
				}
			}
		})
		c.PluginLimits[name] = l
	})
}
