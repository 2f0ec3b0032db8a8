package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/goshawk/goshawk/providers"
)

// writeLuaStubs prints type stubs (Lua language server annotations) for
// the providers' actions and, when given, the assets that use them, so an
// editor completes and checks tc.hunt_ip{...} while a playbook is written.
// They come from the same spec table as everything else.
func writeLuaStubs(w io.Writer, provs []*providers.Provider, assets map[string]string) {
	fmt.Fprintf(w, "---@meta\n-- goshawk %s: Lua type stubs generated from the connector specs. Do not edit.\n\n", version)
	fmt.Fprintf(w, "---@class goshawk.ActionResult\n---@field status \"success\"|\"failed\"\n---@field message string\n---@field parameter table<string, any>\n---@field data any[]\n---@field summary table<string, any>\n\n")
	for _, p := range provs {
		class := "goshawk." + p.Name
		fmt.Fprintf(w, "---%s\n---@class %s\n", p.Summary, class)
		for _, s := range p.Actions {
			fields := make([]string, 0, len(s.Params))
			for _, prm := range s.Params {
				opt := "?"
				if prm.Required {
					opt = ""
				}
				fields = append(fields, fmt.Sprintf("%s%s: %s", prm.Name, opt, prm.Type.LuaType()))
			}
			fmt.Fprintf(w, "---@field %s fun(params: {%s}): goshawk.ActionResult %s\n", s.Name, strings.Join(fields, ", "), s.Summary)
		}
		fmt.Fprintln(w)
	}
	for _, name := range slices.Sorted(maps.Keys(assets)) {
		fmt.Fprintf(w, "---@type goshawk.%s\n%s = {}\n", assets[name], name)
	}
}
