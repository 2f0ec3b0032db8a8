package config

import (
	"sync"

	luabind "github.com/goshawk/goshawk/bindings/lua"
)

// luaKeywords are the reserved words of Lua 5.1, the language of playbook
// scripts: an asset named after one could not be written in a script.
var luaKeywords = []string{
	"and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
	"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
}

// reservedNames maps each name an asset can't take to why: the Lua
// keywords, and the globals the playbook runtime itself declares (read
// from the runtime, so a new global is reserved the day it is added).
var reservedNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, g := range luabind.Globals() {
		m[g] = "a global of the playbook runtime"
	}
	for _, k := range luaKeywords {
		m[k] = "a Lua keyword"
	}
	return m
})

// reservedName returns why name can't be an asset name, or "".
func reservedName(name string) string { return reservedNames()[name] }
