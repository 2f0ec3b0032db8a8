package config

import "github.com/goshawk/goshawk/providers"

// Providers maps each configured asset to its provider: what lint and
// playbook tests check calls against, without opening any asset.
func (c *Config) Providers() map[string]*providers.Provider {
	out := make(map[string]*providers.Provider, len(c.Assets))
	for name, a := range c.Assets {
		out[name] = a.Provider
	}
	return out
}
