// Package diag is the one diagnostic type of goshawk: a problem in a file
// the user edits (goshawk.yaml, a playbook, its script, a test file),
// located at a 1-based line and column. The YAML decoder produces them, and
// they travel unchanged to `goshawk validate`'s output, hot-reload logs and
// GET /api/playbooks, so no caller ever parses an error's text to recover
// a position.
package diag

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// The severities.
const (
	SevError   = "error"
	SevWarning = "warning"
)

// Diagnostic is one problem located at File:Line:Col.
type Diagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Severity string `json:"severity"` // "error" (the default when empty) or "warning"
	Message  string `json:"message"`
}

// IsWarning reports whether d is only a warning.
func (d Diagnostic) IsWarning() bool { return d.Severity == SevWarning }

// String returns "file:line:col: message", the form editors and
// `goshawk validate` understand; a warning reads
// "file:line:col: warning: message". A diagnostic without a file (a
// problem of no particular file) is just its message.
func (d Diagnostic) String() string {
	msg := d.Message
	if d.IsWarning() {
		msg = "warning: " + msg
	}
	switch {
	case d.File == "":
		return msg
	case d.Line <= 0:
		return d.File + ": " + msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, max(d.Col, 1), msg)
}

// Error makes a Diagnostic usable as an error.
func (d Diagnostic) Error() string { return d.String() }

// Sort orders diagnostics by file, line, column and message.
func Sort(ds []Diagnostic) {
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

// HasErrors reports whether any diagnostic is an error.
func HasErrors(ds []Diagnostic) bool {
	for _, d := range ds {
		if !d.IsWarning() {
			return true
		}
	}
	return false
}

// Error is an error made of diagnostics. Get them back with errors.As or
// with From; Error() joins them one per line.
type Error struct {
	Diagnostics []Diagnostic
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Join returns ds as an *Error, or nil when ds holds no error (only
// warnings, or nothing).
func Join(ds []Diagnostic) error {
	if !HasErrors(ds) {
		return nil
	}
	return &Error{Diagnostics: ds}
}

// From returns the diagnostics err carries. An error that carries none
// becomes one diagnostic with no file whose message is err's text, so a
// caller can report every error the same way. From(nil) is nil.
func From(err error) []Diagnostic {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Diagnostics
	}
	var d Diagnostic
	if errors.As(err, &d) {
		return []Diagnostic{d}
	}
	return []Diagnostic{{Severity: SevError, Message: err.Error()}}
}
