// Package config loads goshawk.yaml: strict decoding with file:line:col
// diagnostics and did-you-mean hints (the engine's one YAML decoder,
// engine/yamlx), ${VAR} expansion from the environment, and per-provider
// checks of each asset driven by the provider's config spec.
//
// A variable that is unset does not fail loading: only a command that uses
// what needs it fails, naming the variable. An asset records its unset
// variables in Missing and Ready reports them; the top-level keys record
// theirs in Config.Missing, which RequireServe and RequireStore check. Each
// unset variable is also a warning in Config.Warnings.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/engine/yamlx"
	"github.com/goshawk/goshawk/internal/hint"
	"github.com/goshawk/goshawk/providers"
)

// FileName is the default config file name.
const FileName = "goshawk.yaml"

// DefaultListen is the address serve listens on when the config names none.
const DefaultListen = "127.0.0.1:8470"

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
	// Retention is how long serve and goshawk prune keep history.
	Retention Retention

	// Missing names the unset environment variables of the top-level keys
	// (api_token, store, ...); the commands that use those keys refuse to
	// start (RequireServe, RequireStore).
	Missing []string
	// Warnings are problems that don't stop loading: each unset variable,
	// at its position.
	Warnings []diag.Diagnostic

	// where each top-level key and plugin_limits entry is written, and
	// which variables each top-level key lacks.
	pos        map[string]diag.Diagnostic
	topMissing map[string][]string
}

// Asset is one configured asset.
type Asset struct {
	Name     string
	Provider *providers.Provider
	// Raw holds the expanded values as written; providers.OpenAsset binds
	// them. Values holds them bound and typed, defaults applied. A key
	// whose variable is unset is in neither.
	Raw    map[string]any
	Values providers.Values
	// Poll is the interval of the scheduled poll (the provider's
	// Ingest.ScheduleKey); 0 means none.
	Poll time.Duration
	Line int
	// Missing names the environment variables this asset needs that are
	// unset; the asset can't be opened until they are exported.
	Missing []string
	// missingKeys tells, for each missing variable, the key that reads it.
	missingKeys map[string]string
}

// Ready returns nil when the asset can be opened, or an error that names
// each unset variable it needs and the key that reads it.
func (a *Asset) Ready() error {
	if len(a.Missing) == 0 {
		return nil
	}
	parts := make([]string, len(a.Missing))
	for i, v := range a.Missing {
		parts[i] = fmt.Sprintf("%s (%s: ${%s})", v, a.missingKeys[v], v)
	}
	them := "it"
	if len(parts) > 1 {
		them = "them"
	}
	return fmt.Errorf("asset %s needs %s; export %s", a.Name, strings.Join(parts, " and "), them)
}

// PluginLimits overrides the default limits of one plugin.
type PluginLimits struct {
	MemoryMB  int
	Timeout   time.Duration
	Instances int
}

// Retention is the retention: section. A zero duration keeps that kind of
// record for ever.
type Retention struct {
	// Runs keeps finished runs this long after they finished.
	Runs time.Duration
	// Containers keeps containers this long after they were ingested,
	// and longer while a kept run names them.
	Containers time.Duration
}

// MinRetention is the shortest retention accepted: a shorter one would
// prune records before anyone could read them.
const MinRetention = time.Hour

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

// OpenAsset builds the provider connection of the named asset. An asset
// whose variables are unset is refused with Ready's error.
func (c *Config) OpenAsset(name string) (*providers.Asset, error) {
	a, ok := c.Assets[name]
	if !ok {
		return nil, c.unknownAsset(name)
	}
	if err := a.Ready(); err != nil {
		return nil, err
	}
	return providers.OpenAsset(a.Name, a.Provider, a.Raw)
}

func (c *Config) unknownAsset(name string) error {
	names := c.AssetNames()
	if h := hint.DidYouMean(name, names); h != "" {
		return fmt.Errorf("no asset %q in %s%s", name, c.File, h)
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

// CheckListen returns why listen is not an address serve can listen on,
// or nil.
func CheckListen(listen string) error {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("%q is not host:port; write for example %s", listen, DefaultListen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q has port %q; a port is a number from 1 to 65535 (0 picks a free one)", listen, port)
	}
	return nil
}

// ErrInsecureListen refuses a non-loopback listen address without a token.
var ErrInsecureListen = errors.New("refusing to serve the HTTP API on a non-loopback address without api_token")

// ServeProblems returns what makes the config unfit for `goshawk serve`:
// a listen address serve can't use, or a non-loopback one without
// api_token. `goshawk validate` reports the same list, so the two never
// disagree.
func (c *Config) ServeProblems() []diag.Diagnostic {
	var out []diag.Diagnostic
	at := func(key, msg string) diag.Diagnostic {
		d, ok := c.pos[key]
		if !ok {
			d = diag.Diagnostic{File: c.File}
		}
		d.Severity, d.Message = diag.SevError, msg
		return d
	}
	if err := CheckListen(c.Listen); err != nil {
		out = append(out, at("listen", "listen: "+err.Error()))
	} else if !IsLoopback(c.Listen) && c.APIToken == "" && c.topMissing["api_token"] == nil {
		out = append(out, at("listen", fmt.Sprintf("%v: listen is %s; set api_token (for example api_token: ${GOSHAWK_API_TOKEN}) or listen on %s",
			ErrInsecureListen, c.Listen, DefaultListen)))
	}
	return out
}

// RequireServe returns nil when `goshawk serve` can start with this config:
// ServeProblems is empty and the top-level keys' variables are set. The
// error carries diagnostics (diag.From) and wraps ErrInsecureListen when
// that is the problem.
func (c *Config) RequireServe() error {
	ds := c.ServeProblems()
	for _, key := range slices.Sorted(maps.Keys(c.topMissing)) {
		ds = append(ds, c.needs(key))
	}
	if len(ds) == 0 {
		return nil
	}
	err := diag.Join(ds)
	for _, d := range ds {
		if strings.HasPrefix(d.Message, ErrInsecureListen.Error()) {
			return &insecureError{err}
		}
	}
	return err
}

type insecureError struct{ error }

func (e *insecureError) Unwrap() []error { return []error{e.error, ErrInsecureListen} }

// RequireStore returns nil when the store setting is usable: its variables,
// if any, are set.
func (c *Config) RequireStore() error {
	if c.topMissing["store"] == nil {
		return nil
	}
	return diag.Join([]diag.Diagnostic{c.needs("store")})
}

func (c *Config) needs(key string) diag.Diagnostic {
	d := c.pos[key]
	vars := c.topMissing[key]
	d.Severity = diag.SevError
	d.Message = fmt.Sprintf("%s needs the environment variable %s, which is not set; export it", key, strings.Join(vars, " and "))
	return d
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
// os.LookupEnv. Every problem found is reported: the error is a
// *diag.Error (see diag.From) whose diagnostics read "file:line:col:
// message".
func Load(path string, reg *providers.Registry, lookup func(string) (string, bool)) (*Config, error) {
	data, err := yamlx.ReadFile(path, "config")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s not found: create it (see README), or pass --config or set GOSHAWK_CONFIG", path)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data, reg, lookup)
}

// CheckPluginLimits warns about each plugin_limits entry that names no
// plugin in loaded (the names of the plugins found in the plugins folder).
func (c *Config) CheckPluginLimits(loaded []string) []diag.Diagnostic {
	var out []diag.Diagnostic
	for _, name := range slices.Sorted(maps.Keys(c.PluginLimits)) {
		if slices.Contains(loaded, name) {
			continue
		}
		d := c.pos["plugin_limits."+name]
		d.Severity = diag.SevWarning
		d.Message = fmt.Sprintf("plugin_limits.%s: no plugin %s is loaded (no %s.wasm in %s), so these limits apply to nothing%s",
			name, name, name, c.Plugins, hint.DidYouMean(name, loaded))
		out = append(out, d)
	}
	return out
}
