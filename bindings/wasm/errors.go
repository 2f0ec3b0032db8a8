package wasm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that Call wraps, so callers can tell a plugin's own error
// from a broken plugin or a limit, with errors.Is.
var (
	// ErrNotFound means the plugin isn't loaded or has no such function.
	ErrNotFound = errors.New("not found")
	// ErrTimeout means a call ran past the plugin's time limit.
	ErrTimeout = errors.New("time limit exceeded")
	// ErrMemory means an instance ran out of its memory limit.
	ErrMemory = errors.New("memory limit exceeded")
	// ErrCrashed means the instance trapped or exited during the call.
	ErrCrashed = errors.New("plugin crashed")
	// ErrBadResult means the plugin returned something the ABI doesn't
	// allow: invalid JSON, no envelope, or a buffer outside its memory.
	ErrBadResult = errors.New("plugin broke the ABI")
	// ErrClosed means the host was closed.
	ErrClosed = errors.New("plugin host is closed")
)

// FuncError is the message a plugin function returned in its
// {"error": "..."} envelope. The instance that returned it is healthy and
// stays in the pool.
type FuncError struct {
	Plugin   string
	Function string
	Message  string
}

func (e *FuncError) Error() string {
	return "plugin " + e.Plugin + ": " + e.Function + ": " + e.Message
}

// callError is a failed call. Its message stays on one line even when the
// cause is a multi-line wazero error with a wasm stack trace, and it unwraps
// to both the sentinel kind and the cause.
type callError struct {
	plugin, function string
	kind             error
	detail           string
	cause            error
}

func (e *callError) Error() string {
	return fmt.Sprintf("plugin %s: %s: %v: %s", e.plugin, e.function, e.kind, e.detail)
}

func (e *callError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// firstLine returns the first non-empty line of s, shortened to keep error
// messages readable.
func firstLine(s string) string {
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if len(line) > 200 {
			line = line[:200] + "..."
		}
		return line
	}
	return ""
}

// lineError keeps a message on one line while unwrapping to a cause whose
// own message may span many (wazero adds the wasm stack trace).
type lineError struct {
	msg   string
	cause error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.cause }
