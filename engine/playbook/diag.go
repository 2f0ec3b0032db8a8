package playbook

import (
	"errors"
	"fmt"
	"sort"

	"github.com/goshawk/goshawk/providers"
)

// Diagnostic is one problem found in a playbook or its script, located at a
// 1-based line and column of File.
type Diagnostic struct {
	File    string
	Line    int
	Col     int
	Message string
}

// String returns the diagnostic as "file:line:col: message", the form
// editors and `goshawk validate` understand.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Message)
}

// Error makes a Diagnostic usable as an error.
func (d Diagnostic) Error() string { return d.String() }

// SortDiagnostics orders diagnostics by file, line, column and message.
func SortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Message < b.Message
	})
}

// Error joins diagnostics into one error, one per line, or returns nil when
// there are none.
func Error(ds []Diagnostic) error {
	if len(ds) == 0 {
		return nil
	}
	errs := make([]error, len(ds))
	for i, d := range ds {
		errs[i] = d
	}
	return errors.Join(errs...)
}

// hint returns `; did you mean "x"?` for the candidate nearest to name, or
// "" when none is close.
func hint(name string, candidates []string) string {
	if s := providers.Suggest(name, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}
