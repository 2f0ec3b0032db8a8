// Package providers is the leaf of goshawk's dependency graph: the action
// spec, its parameters and results, and the registry of providers.
//
// Each provider (threatconnect, threatq) declares its actions once, as a
// table of Specs. That one table drives every surface: the Lua functions,
// `goshawk act`, `goshawk actions`, parameter validation before any network
// call, and playbook lint. Nothing is written per action outside the
// provider. A provider also declares its asset config variables with the same
// Param type, so config loading checks them the same way, and, when it
// ingests, how the engine drives that (IngestSpec).
//
// Opening an asset gives a Conn, the provider's own connection type; actions
// receive it typed through RunWith. Actions answer to SOAR's display names
// and to declared aliases, and ThreatQ's to Swimlane's grouped inputs (see
// docs/porting.md). docs/providers.md lists what a new provider needs.
//
// Around it: providers/internal/httpx is the one HTTP transport of the
// connectors, providers/redact removes secrets in the encodings they come
// back in, providers/fakekit is the emulators' shared test surface, and
// providers/providertest the conformance test every provider passes.
//
// Dependencies point one way: cmd -> engine -> bindings -> providers. This
// package imports only the standard library, providers/cef,
// providers/redact and internal/hint.
package providers
