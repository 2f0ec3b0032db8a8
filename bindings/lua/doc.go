// Package lua is goshawk's Lua runtime for playbook scripts, built on
// gopher-lua: the sandbox, the pool of states, the conversion of values
// between Go and Lua, the one adapter that turns every provider action into
// a Lua function, and the stdlib (log, json, kv, containers, plugins, time).
//
// The engine compiles each script version once with Compile and runs it with
// Runtime.Run, which takes a pooled state, gives it a pristine global
// environment and a deadline, and returns the script's return value.
//
// # Sandbox
//
// A script sees base (without dofile, loadfile, getfenv, setfenv,
// collectgarbage, require, module), table, string (without dump), math, and
// os.time, os.date and os.clock. There is no io, debug, package or
// coroutine. Touching a removed name raises an error that names it, for
// example "io is not available in the playbook sandbox: scripts cannot touch
// files". print writes to the run log. load and loadstring compile source
// text only, in the run's own environment.
//
// Every run starts from pristine globals and library tables, so nothing a
// run sets, replaces or deletes (x = 1, string.foo = 1, table.insert = nil)
// is seen by another run. A pooled state builds those tables once and lends
// them to each run; after the run it checks the ones the script could reach
// and rebuilds any that is not exactly as built (reuse.go says how). Shared
// metatables are protected with __metatable.
//
// Limits: the run's context deadline stops any Lua code (SetContext), and
// the pattern functions, which run in Go, look at it as they go;
// Options.CallStackSize bounds recursion, so runaway recursion is a "stack
// overflow" error; Options.RegistryMaxSize bounds the value stack; the
// traceback kept with an error is bounded (a run of tail calls is one line
// of it); and every string the sandbox builds is capped at
// Options.MaxStringBytes: the .. operator (Compile routes it through a
// checked function), string.rep, string.format, string.gsub, table.concat,
// json.encode and load.
//
// string.find, match, gmatch and gsub are a port of Lua 5.1's, with its
// pattern language (%f and %b included) and the limits of later Lua
// versions: 200 nested pattern items, 32 captures.
//
// One limit is not enforced, and a playbook author who can write a script
// can exhaust the host through it: the memory held by tables (gopher-lua has
// no allocation hook).
//
// # Values
//
// ToLua and FromLua define the conversion, used for inputs, action results,
// json, kv, containers and plugins:
//
//   - Integers of magnitude up to 2^53 are exact Lua numbers and come back as
//     int64. Larger integers (int64, uint64, json.Number) become decimal
//     strings, because a Lua number would round them. Other numbers are
//     float64.
//   - A table with keys 1..n is an array ([]any); other tables are objects
//     (map[string]any) whose number keys are written in decimal.
//   - An empty table is an empty object, unless it came from a Go slice or a
//     JSON array or was made by json.array(): those stay arrays. So decoding
//     and encoding JSON keeps [] and {} apart.
//   - nil can't be stored in a Lua table, so a JSON null inside an array
//     leaves a hole, and the table converts back as an object with keys
//     "1", "3", ...; a null object member disappears.
//   - Functions, userdata and tables that contain themselves are errors.
//
// # Stdlib
//
//   - log.debug/info/warn/error(msg [, fields]) log to the run log, with
//     fields as attributes.
//   - json.encode(v) and json.decode(s) convert as above; json.encode sorts
//     object keys and doesn't escape <, > or &. json.array([t]) marks a table
//     as an array.
//   - kv.get(key) returns a string or nil; kv.set(key, value) stores a string
//     or number; kv.delete(key).
//   - containers.get(id), containers.update(id, patch), containers.list([filter]).
//   - plugins.<name>.<fn>(value) sends value to a WASM plugin as JSON and
//     returns its answer; a plugin error is raised with the plugin's message.
//   - time.now() is the run clock in Unix seconds, with a fraction.
//     time.format([t [, layout]]) formats Unix seconds t (default now) in
//     UTC. layout is a Go reference layout ("2006-01-02 15:04:05") or one of
//     the names rfc3339 (the default), rfc3339nano, rfc1123, rfc1123z,
//     rfc822, rfc822z, datetime, dateonly, timeonly, kitchen.
//
// Each asset of the playbook is a global table with one function per action
// of its provider: tc.hunt_ip{ip = input.ip} returns the action result
// {status, message, parameter, data, summary}.
package lua
