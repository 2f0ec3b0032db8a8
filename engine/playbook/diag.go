package playbook

import (
	"github.com/goshawk/goshawk/engine/diag"
	"github.com/goshawk/goshawk/internal/hint"
)

// Diagnostic is one problem found in a playbook or its script; it is the
// engine's one diagnostic type, diag.Diagnostic.
type Diagnostic = diag.Diagnostic

// SortDiagnostics orders diagnostics by file, line, column and message.
func SortDiagnostics(ds []Diagnostic) { diag.Sort(ds) }

// Error returns the diagnostics as one *diag.Error, or nil when there are
// none.
func Error(ds []Diagnostic) error { return diag.Join(ds) }

// didYouMean returns `; did you mean "x"?` for the candidate nearest to
// name, or "" when none is close.
func didYouMean(name string, candidates []string) string {
	return hint.DidYouMean(name, candidates)
}
