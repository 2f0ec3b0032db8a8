// Package providers is the leaf of goshawk's dependency graph: the action
// spec, its parameters and results, and the registry of providers.
//
// Each provider (threatconnect, threatq) declares its actions once, as a
// table of Specs. That one table drives every surface: the Lua functions,
// `goshawk act`, `goshawk actions`, parameter validation before any network
// call, and playbook lint. Nothing is written per action outside the
// provider. A provider also declares its asset config variables with the same
// Param type, so config loading checks them the same way.
//
// Dependencies point one way: cmd -> engine -> bindings -> providers. This
// package imports only the standard library and providers/cef.
package providers
