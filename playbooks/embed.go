// Package playbooks holds the playbooks goshawk ships: real workflows an
// analyst keeps, and what `goshawk demo` runs. A test lints every one
// against the real connector specs.
package playbooks

import "embed"

// FS holds the shipped playbooks and their scripts.
//
//go:embed *.yaml *.lua
var FS embed.FS
