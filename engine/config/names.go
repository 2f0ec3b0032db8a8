package config

import (
	"strings"
	"sync"

	luabind "github.com/goshawk/goshawk/bindings/lua"
)

// reservedNames maps each name an asset can't take to why. The lists are
// the playbook runtime's own (its globals, the globals its sandbox removes,
// Lua's keywords), so a name is reserved the day the runtime adds it.
var reservedNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for name := range luabind.Removed() {
		if !strings.Contains(name, ".") {
			m[name] = "a Lua global that the playbook sandbox removes"
		}
	}
	for _, g := range luabind.Globals() {
		m[g] = "a global of the playbook runtime"
	}
	for _, k := range luabind.Keywords() {
		m[k] = "a Lua keyword"
	}
	return m
})

// reservedName returns why name can't be an asset name, or "".
func reservedName(name string) string { return reservedNames()[name] }
