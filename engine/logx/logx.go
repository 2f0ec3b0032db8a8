// Package logx builds goshawk's structured loggers (log/slog): text on a
// terminal, JSON on request, and every known secret value redacted from
// messages and attributes before anything is written.
package logx

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Redacted replaces a secret value wherever it appears.
const Redacted = "[REDACTED]"

// Redactor replaces known secret values in strings. The zero value redacts
// nothing. It is safe for concurrent use; Add may be called at any time
// (a config reload brings new secrets).
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	r       *strings.Replacer
}

// NewRedactor returns a redactor for secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secret values. Values shorter than 4 bytes are ignored, since
// redacting them would mangle ordinary text and they protect nothing.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 4 && !contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Redacted)
	}
	r.r = strings.NewReplacer(pairs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// String returns s with every secret replaced.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Writer wraps w so that every write is redacted. Each Write must carry
// whole lines or whole documents, as the CLI's writes do.
func (r *Redactor) Writer(w io.Writer) io.Writer { return redactWriter{r, w} }

type redactWriter struct {
	r *Redactor
	w io.Writer
}

func (rw redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.r.String(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// New returns a logger writing to w in format "text" or "json", with
// secrets redacted from the message and every string attribute.
func New(w io.Writer, format string, level slog.Level, r *Redactor) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(r.String(a.Value.String()))
		} else if a.Value.Kind() == slog.KindAny {
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(r.String(err.Error()))
			}
		}
		return a
	}}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(messageRedactor{h, r})
}

// messageRedactor redacts the record's message, which ReplaceAttr never
// sees.
type messageRedactor struct {
	slog.Handler
	r *Redactor
}

func (m messageRedactor) Handle(ctx context.Context, rec slog.Record) error {
	rec.Message = m.r.String(rec.Message)
	return m.Handler.Handle(ctx, rec)
}

func (m messageRedactor) WithAttrs(as []slog.Attr) slog.Handler {
	return messageRedactor{m.Handler.WithAttrs(as), m.r}
}

func (m messageRedactor) WithGroup(name string) slog.Handler {
	return messageRedactor{m.Handler.WithGroup(name), m.r}
}
