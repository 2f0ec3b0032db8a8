// Package logx builds goshawk's structured loggers (log/slog): text on a
// terminal, JSON on request, and every known secret value redacted from
// messages and attributes before anything is written, in every encoding a
// secret takes on its way back from a server (see package redact).
//
// The loggers also keep lines parseable: each attribute key appears once in
// a line (the first value wins, so the engine's asset=tc is not repeated by
// a connector's), an attribute that would shadow the logger's own time,
// level, msg or source is written as fields.<key>, and durations are written
// the same way in text and JSON, as a Go duration string such as 1.5s or
// 12.346ms (rounded to the millisecond above a second, to the microsecond
// above a millisecond).
package logx

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goshawk/goshawk/providers/redact"
)

// Redacted replaces a secret value wherever it appears.
const Redacted = redact.Marker

// Redactor replaces known secret values in strings. The zero value redacts
// nothing. It is safe for concurrent use; Add may be called at any time
// (a config reload brings new secrets).
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	r       *strings.Replacer
	starts  *pairSet // how every form of every secret begins; nil: unknown
}

// NewRedactor returns a redactor for secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secret values, each with its encoded forms (JSON escapes, URL
// and form encoding, HTML escapes, base64 at any offset, as package redact
// lists them). Values shorter than redact.MinLen (4 bytes) are ignored,
// since redacting them would mangle ordinary text and they protect
// nothing; asset config refuses such secrets (providers.Register checks
// every Secret parameter), so none reaches here from a config.
func (r *Redactor) Add(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= redact.MinLen && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	var variants []string
	for _, s := range r.secrets {
		variants = append(variants, redact.Variants(s)...)
	}
	// Longest first, so a secret's encoded form is replaced whole.
	slices.SortStableFunc(variants, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(variants))
	r.starts = new(pairSet)
	for _, v := range variants {
		pairs = append(pairs, v, Redacted)
		if len(v) < 2 {
			r.starts = nil
		} else if r.starts != nil {
			r.starts.add(v[0], v[1])
		}
	}
	r.r = strings.NewReplacer(pairs...)
}

// pairSet holds two-byte strings: the first two bytes of every form of
// every secret. Text in which no two adjacent bytes are in the set holds
// no secret, and most text is told so in one pass of table lookups, far
// cheaper than running the replacer over it.
type pairSet [1 << 16 / 8]byte

func (p *pairSet) add(a, b byte) {
	i := uint16(a)<<8 | uint16(b)
	p[i>>3] |= 1 << (i & 7)
}

// mayHold reports whether s has two adjacent bytes that begin a form of a
// secret; when it has none, no secret is in s.
func (p *pairSet) mayHold(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		j := uint16(s[i])<<8 | uint16(s[i+1])
		if p[j>>3]&(1<<(j&7)) != 0 {
			return true
		}
	}
	return false
}

// String returns s with every secret replaced. Text that holds no secret,
// nearly all of it, is returned as is, without a copy.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep, starts := r.r, r.starts
	r.mu.RUnlock()
	if rep == nil || (starts != nil && !starts.mayHold(s)) || !redact.Changes(rep, s) {
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
		switch a.Value.Kind() {
		case slog.KindString:
			a.Value = slog.StringValue(r.String(a.Value.String()))
		case slog.KindDuration:
			a.Value = slog.StringValue(FormatDuration(a.Value.Duration()))
		case slog.KindAny:
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
	return slog.New(tidy{Handler: h, r: r})
}

// FormatDuration writes d as logs show it: a Go duration string, rounded
// to the millisecond from one second up and to the microsecond from one
// millisecond up, so 1.5s, 12.346ms and 850ns.
func FormatDuration(d time.Duration) string {
	switch a := d.Abs(); {
	case a >= time.Second:
		d = d.Round(time.Millisecond)
	case a >= time.Millisecond:
		d = d.Round(time.Microsecond)
	}
	return d.String()
}

// builtin are the keys the handlers write themselves.
var builtin = map[string]bool{slog.TimeKey: true, slog.LevelKey: true, slog.MessageKey: true, slog.SourceKey: true}

// tidy redacts the record's message, which ReplaceAttr never sees, and
// keeps each key once per line: an attribute whose key the logger already
// carries (from With) or that the record repeats is dropped, the first
// value winning, and one that would shadow a built-in key at the top level
// is renamed fields.<key>.
type tidy struct {
	slog.Handler
	r      *Redactor
	prefix string          // the open groups, "g1.g2."
	seen   map[string]bool // full keys added by With; never mutated once shared
}

func (t tidy) keep(a slog.Attr, seen map[string]bool) (slog.Attr, bool) {
	if a.Key == "" {
		return a, true // an inlined group, or an empty attribute slog drops
	}
	if t.prefix == "" && builtin[a.Key] {
		a.Key = "fields." + a.Key
	}
	k := t.prefix + a.Key
	if t.seen[k] || seen[k] {
		return a, false
	}
	seen[k] = true
	return a, true
}

func (t tidy) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, t.r.String(rec.Message), rec.PC)
	local := map[string]bool{}
	rec.Attrs(func(a slog.Attr) bool {
		if a, ok := t.keep(a, local); ok {
			out.AddAttrs(a)
		}
		return true
	})
	return t.Handler.Handle(ctx, out)
}

func (t tidy) WithAttrs(as []slog.Attr) slog.Handler {
	seen := maps.Clone(t.seen)
	if seen == nil {
		seen = map[string]bool{}
	}
	kept := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if a, ok := t.keep(a, seen); ok {
			kept = append(kept, a)
		}
	}
	// keep checked against t.seen and recorded in seen, a superset of it.
	return tidy{Handler: t.Handler.WithAttrs(kept), r: t.r, prefix: t.prefix, seen: seen}
}

func (t tidy) WithGroup(name string) slog.Handler {
	if name == "" {
		return t
	}
	return tidy{Handler: t.Handler.WithGroup(name), r: t.r, prefix: t.prefix + name + ".", seen: t.seen}
}

// Lazy returns h with its WithAttrs and WithGroup put off until a record
// is handled. A handler that formats attributes up front (slog's text and
// JSON handlers, and New's, which also checks their keys) does that work
// for every logger derived with With, even one whose lines its level
// drops: a run's logger and each action call's, whose debug lines the
// process log rarely shows. Enabled is h's own, since levels do not depend
// on attributes.
//
// The first line of a handler derived by WithAttrs alone goes to h as one
// record, its attributes first: a run's logger writes one line at the
// default level ("run finished"), for which formatting the attributes in
// a derived handler first cost more than the line. A second line applies
// the attributes and groups in order, once, and uses that handler from
// then on. Either way lines come out as from h.
func Lazy(h slog.Handler) slog.Handler {
	return &lazy{root: h, h: h}
}

type lazy struct {
	root  slog.Handler
	once  sync.Once
	build func() slog.Handler // nil once h is set
	h     slog.Handler

	// attrs are every attribute added since root when no group was
	// opened (grouped false); lines counts the records handled.
	attrs   []slog.Attr
	grouped bool
	lines   atomic.Int64
}

func (l *lazy) handler() slog.Handler {
	l.once.Do(func() {
		if l.build != nil {
			l.h, l.build = l.build(), nil
		}
	})
	return l.h
}

func (l *lazy) Enabled(ctx context.Context, level slog.Level) bool {
	return l.root.Enabled(ctx, level)
}

func (l *lazy) Handle(ctx context.Context, r slog.Record) error {
	if !l.grouped && l.attrs != nil && l.lines.Add(1) == 1 {
		out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		out.AddAttrs(l.attrs...)
		r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
		return l.root.Handle(ctx, out)
	}
	return l.handler().Handle(ctx, r)
}

func (l *lazy) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return l
	}
	d := &lazy{root: l.root, grouped: l.grouped, build: func() slog.Handler { return l.handler().WithAttrs(as) }}
	if !l.grouped {
		d.attrs = append(slices.Clip(l.attrs), as...)
	}
	return d
}

func (l *lazy) WithGroup(name string) slog.Handler {
	if name == "" {
		return l
	}
	return &lazy{root: l.root, grouped: true, build: func() slog.Handler { return l.handler().WithGroup(name) }}
}
